"""The compiled therapy session (model/sessions.py) against the Python it replaced, to the bit."""

from __future__ import annotations

import hashlib
import json
import math
from array import array
from types import SimpleNamespace

import numpy as np
import pytest

from agents import clinical as cm
from agents.patient import PathwayState, SessionOutcome
from model.model import KetasimModel
from model.sessions import PendingDoses, cover_doses
from scenarios.api import build


def _python_cover(t, pending, payer, by_day, by_payer, delays, window):
    """``Tally.session`` as it was in Python: ``pending`` a list of ``[dose time, recorded]``."""
    start, end, max_delay = window
    covered = 0
    keep = []
    for entry in pending:
        d, recorded = entry
        delay = t - d
        if delay < 0.0:
            keep.append(entry)
            continue
        if not recorded:
            if delay <= max_delay:
                delays.append(delay)
            entry[1] = True
        if start <= delay <= end:
            by_day[int(d)] += 1
            by_payer[payer, int(d)] += 1
            covered += 1
        elif delay < start:
            keep.append(entry)
    pending[:] = keep
    return covered


def _python_add(pending, t, horizon):
    """``record_dose``'s pending list as it was in Python."""
    if pending and t - pending[0][0] > horizon:
        pending[:] = [e for e in pending if t - e[0] <= horizon]
    pending.append([t, False])


@pytest.mark.parametrize("seed", range(5))
def test_pending_doses_and_their_cover_match_the_python_lists(seed):
    """Random doses and sessions for a few patients, through both, from a width of one.

    The arrays start one entry wide, so they grow several times on the way.
    """
    rng = np.random.default_rng(seed)
    n, days = 4, 200
    window = np.array([0.5, 7.0, 30.0])
    ours = PendingDoses(n, width=1)
    theirs: list[list[list]] = [[] for _ in range(n)]
    by_day, by_payer = np.zeros(days + 2, dtype=np.int64), np.zeros((4, days + 2), dtype=np.int64)
    ref_day, ref_payer = by_day.copy(), by_payer.copy()
    delays, ref_delays = array("d"), array("d")
    t = 0.0
    for _ in range(600):
        t += float(rng.exponential(0.3))
        if t >= days:
            break
        i, payer = int(rng.integers(n)), int(rng.integers(4))
        if rng.random() < 0.5:
            ours.add(i, t, 30.0)
            _python_add(theirs[i], t, 30.0)
        else:
            # A session booked a little in the past or future of the clock (an event's time).
            at = t + float(rng.uniform(-0.5, 0.5))
            covered, k = cover_doses(
                ours.times, ours.recorded, ours.count, ours.delays, by_day, by_payer, window, at,
                i, payer,
            )  # fmt: skip
            delays.extend(ours.delays[:k].tolist())
            assert covered == _python_cover(
                at, theirs[i], payer, ref_day, ref_payer, ref_delays, window
            )
        for row in range(n):
            assert ours.of(row) == [(d, r) for d, r in theirs[row]]
    assert ours.times.shape[1] > 1, "the arrays should have grown"
    assert delays == ref_delays
    assert np.array_equal(by_day, ref_day) and np.array_equal(by_payer, ref_payer)
    assert delays, "some delays should have been recorded"
    assert ref_day.sum() > 0, "some doses should have been covered"


def _python_session(self, patient, therapist, t, book_from):
    """``KetasimModel.therapy_session`` done the way it was before: the Python methods."""
    relief = self.population.clinical.relief_row(t, patient.idx)
    p = cm.p_attend(patient.adherence, relief, False, self.scenario.clinical)
    if self.adherence_draws.next() >= p:
        return SessionOutcome.MISSED, math.nan
    if not self.bill_session(patient, t):
        return SessionOutcome.UNPAID, math.nan
    self.population.clinical.session_row(t, patient.idx, relief)
    self.record_session(patient, t)
    if math.isnan(book_from):
        return SessionOutcome.ATTENDED, math.nan
    at = therapist.next_free_slot(book_from)
    therapist.book(at)
    return SessionOutcome.ATTENDED, at


def _fingerprint(model) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(model.summary_extended(), sort_keys=True, default=str).encode())
    for frame in (model.daily_frame(), model.claims_frame(), model.patient_frame()):
        h.update(frame.to_csv().encode())
    h.update(model.payer_frame().to_csv().encode())
    return h.hexdigest()


@pytest.mark.parametrize("preset", ["baseline", "therapy_parity", "carve_in"])
def test_compiled_sessions_run_as_the_python_did(preset, monkeypatch):
    """A run with the compiled session equals one with the Python path, every frame."""
    ours = build(preset, n_patients=1500, days=300, seed=3)
    ours.run()
    counts = {}
    original = KetasimModel.therapy_session

    def counted(self, patient, therapist, t, book_from):
        outcome, at = original(self, patient, therapist, t, book_from)
        counts[outcome] = counts.get(outcome, 0) + 1
        return outcome, at

    monkeypatch.setattr(KetasimModel, "therapy_session", counted)
    counted_run = build(preset, n_patients=1500, days=300, seed=3)
    counted_run.run()
    # Every outcome happened, so each branch of the kernel was compared.
    assert counts.get(SessionOutcome.ATTENDED, 0) > 100
    assert counts.get(SessionOutcome.MISSED, 0) > 10
    monkeypatch.setattr(KetasimModel, "therapy_session", _python_session)
    theirs = build(preset, n_patients=1500, days=300, seed=3)
    theirs.run()
    assert _fingerprint(ours) == _fingerprint(theirs) == _fingerprint(counted_run)


def test_an_unpaid_session_stops_therapy_for_cost(monkeypatch):
    """Nobody pays (no network, cap or cash): the kernel says so and changes nothing."""
    model = build("baseline", n_patients=3000, days=200, seed=4)
    model.run_until(120)
    patient = next(
        p
        for p in model._patients
        if p is not None
        and p.therapist is not None
        and p.therapy_ongoing
        and not p.integrated_sessions
        and p.state is PathwayState.IN_TREATMENT
    )
    patient.can_pay_cash = False
    patient.therapist.in_network = set()
    before = (
        model.population.sessions.copy(),
        model.population.therapy_org.copy(),
        model.population.clinical.floats.copy(),
        patient.therapist.weeks.counts.copy(),
        len(model._journal[0]),
        model.tally.n_sessions,
    )
    # Always attends.
    monkeypatch.setattr(model, "adherence_draws", SimpleNamespace(next=lambda: 0.0))
    outcome, at = model.therapy_session(patient, patient.therapist, model.time, model.time + 7)
    assert outcome is SessionOutcome.UNPAID and math.isnan(at)
    after = (
        model.population.sessions,
        model.population.therapy_org,
        model.population.clinical.floats,
        patient.therapist.weeks.counts,
    )
    for old, new in zip(before[:4], after, strict=True):
        assert np.array_equal(old, new, equal_nan=True)
    assert (len(model._journal[0]), model.tally.n_sessions) == before[4:]
    # The patient's own handler then stops therapy for cost.
    patient.attend_session()
    assert not patient.therapy_ongoing and patient.sessions_left == 0


def test_a_week_book_one_week_wide_widens_and_changes_nothing():
    """Bookings past the week book's end widen it, in Python and from the compiled step."""
    ours = build("therapy_parity", n_patients=1500, days=200, seed=6)
    weeks = ours.therapists[0].weeks
    rows = weeks.counts.shape[0]
    weeks.counts = np.zeros((rows, 1), dtype=np.int64)  # before anything is booked
    ours.run()
    assert weeks.counts.shape[1] > 200 / 7, "the book should have widened"
    assert all(t.weeks is weeks for t in ours.therapists)
    theirs = build("therapy_parity", n_patients=1500, days=200, seed=6)
    theirs.run()
    assert _fingerprint(ours) == _fingerprint(theirs)


def test_payer_kinds_are_numbered_from_zero():
    """Patients look their payer kind up by value in a tuple (agents/patient.py)."""
    from agents.codes import PayerKind
    from agents.patient import _PAYER_KINDS

    assert [int(kind) for kind in PayerKind] == list(range(len(PayerKind)))
    assert all(_PAYER_KINDS[int(kind)] is kind for kind in PayerKind)
