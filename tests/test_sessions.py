"""A therapy session: the doses it covers and the compiled session outside a programme.

Each case states a patient, a payer and a therapist's week, and the expected result follows
from the rules (who pays: ``agents/payments.py``; the window; the week book).
"""

from __future__ import annotations

import hashlib
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from agents import clinical_rows as rows
from agents.patient import PathwayState, SessionOutcome
from model.kernels import one_row
from model.sessions import (
    ATTENDED,
    MISSED,
    UNPAID,
    PendingDoses,
    attend_therapy,
    cover_doses,
)
from scenarios.api import build


def _fingerprint(model) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(model.summary_extended(), sort_keys=True, default=str).encode())
    for frame in (model.daily_frame(), model.claims_frame(), model.patient_frame()):
        h.update(frame.to_csv().encode())
    h.update(model.payer_frame().to_csv().encode())
    return h.hexdigest()


# -- the doses a session may cover (PendingDoses, cover_doses) ------------------------------

WINDOW = np.array([0.5, 7.0, 30.0])  # covered from 0.5 to 7 days after a dose; delays to 30


def _cover(pending, t, i=0, payer=1, days=200):
    by_day = np.zeros(days, dtype=np.int64)
    by_payer = np.zeros((4, days), dtype=np.int64)
    covered, n = cover_doses(
        pending.times, pending.recorded, pending.count, pending.delays, by_day, by_payer, WINDOW,
        t, i, payer,
    )  # fmt: skip
    return covered, pending.delays[:n].tolist(), by_day, by_payer


def test_a_session_too_soon_records_the_delay_and_leaves_the_dose_for_a_later_one():
    pending = PendingDoses(1)
    pending.add(0, 10.0, 60.0)
    covered, delays, _, _ = _cover(pending, 10.2)  # the dosing session itself
    assert (covered, delays) == (0, [pytest.approx(0.2)])
    assert pending.of(0) == [(10.0, True)], "still pending, its delay recorded"
    covered, delays, by_day, by_payer = _cover(pending, 12.0)
    assert (covered, delays) == (1, []), "covered now; the delay was recorded already"
    assert by_day[10] == 1 and by_payer[1, 10] == 1, "counted on the dose's day and payer"
    assert pending.of(0) == []


@pytest.mark.parametrize(
    ("session", "covered", "delays"),
    [
        (12.0, 1, [2.0]),  # inside the window
        (10.5, 1, [0.5]),  # at its start
        (17.0, 1, [7.0]),  # at its end
        (30.0, 0, [20.0]),  # after it: a delay, no cover
        (45.0, 0, []),  # past the largest delay counted
    ],
)
def test_a_session_after_a_dose_covers_it_only_inside_the_window(session, covered, delays):
    pending = PendingDoses(1)
    pending.add(0, 10.0, 60.0)
    got, got_delays, _, _ = _cover(pending, session)
    assert (got, got_delays) == (covered, delays)
    assert pending.of(0) == [], "a dose is done with once the window is reached"


def test_a_dose_after_the_session_stays_pending_and_two_doses_are_covered_together():
    pending = PendingDoses(1)
    pending.add(0, 0.0, 60.0)
    pending.add(0, 3.0, 60.0)
    pending.add(0, 9.0, 60.0)
    covered, delays, _, _ = _cover(pending, 5.0)
    assert (covered, delays) == (2, [5.0, 2.0])
    assert pending.of(0) == [(9.0, False)]


def test_old_doses_are_forgotten_and_full_rows_grow():
    pending = PendingDoses(2, width=1)
    pending.add(0, 0.0, 30.0)
    pending.add(0, 40.0, 30.0)  # the first is over 30 days old: forgotten, no room needed
    assert pending.of(0) == [(40.0, False)] and pending.times.shape[1] == 1
    pending.add(0, 45.0, 30.0)  # no room: the rows double, the entries kept
    assert pending.of(0) == [(40.0, False), (45.0, False)] and pending.times.shape[1] == 2
    assert pending.of(1) == []


# -- a session outside a programme, compiled (attend_therapy) -------------------------------

ORG, NETWORK_BIT, CASH_BIT = 7, 1 << 1, 1 << 2


def _session_world(used=(0, 0), booked=(0, 0, 0)):
    """One patient (adherence 0.9, never dosed) and one therapist's week book."""
    f, n_course, ring, params, pending, orgs, silos, split = one_row()
    f[[rows.B, rows.R, rows.N, rows.B0, rows.R0, rows.N0], 0] = 0.6  # a depressed patient
    sessions = np.array([[used[0]], [used[1]]], dtype=np.int64)
    arrays = (
        f, n_course, ring, params, np.array([0.9]), sessions, orgs, silos, split,
        pending.times, pending.recorded, pending.count, pending.delays,
        np.zeros(800, dtype=np.int64), np.zeros((4, 800), dtype=np.int64), WINDOW,
        np.array([booked], dtype=np.int64),
    )  # fmt: skip
    return arrays, pending


def _attend(arrays, t=3.0, draw=0.5, cap=20, in_network=True, cash=False, book_from=10.0):
    return attend_therapy(
        *arrays, t, 0, draw, 1, cap, in_network, cash, NETWORK_BIT, CASH_BIT, ORG, 0, 2, book_from
    )


def _copies(arrays):
    return [a.copy() for a in arrays]


def _unchanged(arrays, before) -> bool:
    return all(
        np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        for a, b in zip(arrays, before, strict=True)
    )


def test_a_session_is_missed_when_the_draw_is_not_below_adherence():
    arrays, _ = _session_world()
    before = _copies(arrays)
    assert _attend(arrays, draw=0.9)[0] == MISSED  # p(attend) = adherence 0.9 without relief
    assert _unchanged(arrays, before)
    assert _attend(arrays, draw=0.89)[0] == ATTENDED


def test_in_network_within_the_cap_the_payer_pays_and_the_year_counts_it():
    arrays, _ = _session_world(used=(0, 19))
    b_before = arrays[0][rows.B, 0]
    outcome, by_payer, covered, _, at, filled = _attend(arrays)
    assert (outcome, by_payer, covered) == (ATTENDED, True, 0)
    sessions, orgs, silos = arrays[5], arrays[6], arrays[7]
    assert sessions[:, 0].tolist() == [0, 20], "year 0, its 20th covered session"
    assert (orgs[0], silos[0]) == (ORG, NETWORK_BIT), "billed by the therapist to the payer"
    assert arrays[0][rows.B, 0] < b_before, "the session's gain"
    assert (at, filled) == (10.0, False), "next session in book_from's own week, not yet full"
    assert arrays[-1][0].tolist() == [0, 1, 0]


def test_over_the_cap_a_patient_who_can_pays_cash_and_one_who_cannot_is_not_seen():
    arrays, _ = _session_world(used=(0, 20))
    outcome, by_payer, *_ = _attend(arrays, cash=True)
    assert (outcome, by_payer) == (ATTENDED, False)
    assert arrays[5][:, 0].tolist() == [0, 20], "a cash session uses nothing of the cap"
    assert arrays[7][0] == CASH_BIT
    arrays, _ = _session_world(used=(0, 20))
    before = _copies(arrays)
    outcome, *_, at, _ = _attend(arrays, cash=False)
    assert outcome == UNPAID and math.isnan(at)
    assert _unchanged(arrays, before)


def test_out_of_network_the_payer_does_not_pay_and_a_new_year_restarts_the_cap():
    arrays, _ = _session_world(used=(0, 20))
    assert _attend(arrays, in_network=False, cash=True)[1] is False
    arrays, _ = _session_world(used=(0, 20))
    assert _attend(arrays, t=366.0, book_from=373.0)[1] is True, "year 1: nothing used yet"
    assert arrays[5][:, 0].tolist() == [1, 1]


def test_the_next_session_goes_to_the_first_week_with_a_free_slot():
    arrays, _ = _session_world(booked=(0, 2, 1))  # capacity 2: week 1 full, week 2 half
    *_, at, filled = _attend(arrays, book_from=10.0)
    assert (at, filled) == (14.0, True), "week 2's start, which is then full"
    arrays, _ = _session_world(booked=(0, 2, 2))
    *_, at, filled = _attend(arrays, book_from=10.0)
    assert math.isnan(at) and not filled, "past the book's last week: the caller widens it"
    assert arrays[-1][0].tolist() == [0, 2, 2]
    arrays, _ = _session_world()
    assert math.isnan(_attend(arrays, book_from=math.nan)[4]), "no session left to book"


def test_a_session_covers_the_dose_before_it_and_hands_back_the_delay():
    arrays, pending = _session_world()
    pending.add(0, 1.0, 60.0)
    _, _, covered, n_delays, _, _ = _attend(arrays, t=3.0)
    assert (covered, n_delays) == (1, 1) and pending.delays[0] == 2.0
    assert arrays[13][1] == 1 and arrays[14][1, 1] == 1, "by the dose's day, and payer kind 1"


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
        len(model.claims.journal[0]),
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
    assert (len(model.claims.journal[0]), model.tally.n_sessions) == before[4:]
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
