"""The compiled dose (model/doses.py) against the Python it replaced, to the bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.codes import PartyKind
from model.model import KetasimModel
from model.sessions import PendingDoses
from scenarios.api import build
from tests.test_sessions import _fingerprint


def _python_dose(self, patient, t, rel_relief, billing, book_from):
    """``KetasimModel.give_dose`` done the way it was before: the Python methods in turn."""
    _, esketamine, _ = patient._dose_terms()
    i = patient.idx
    self.population.clinical.dose_row(t, i, rel_relief)
    # Its bill: each payment noted and its biller tracked, then the course's fees.
    payments, in_bundle, _ = self._dose_plan(patient, esketamine)
    for plan, code, payee_kind, silo in payments:
        payee = self.pharma if payee_kind is PartyKind.PHARMA else patient.prescriber
        self._note(t, i, plan, self._slot_of[payee])
        if silo is not None:
            self._track_billing(patient, code, payee_kind, payee, silo)
    self._pay_course_fees(patient, t, in_bundle, self._coordinated(patient))
    # The care, and the dose among those a session may cover.
    self._note_care(t, i, -1)
    self.population.pending.add(i, t, self._max_delay)
    if math.isnan(book_from):
        return math.nan
    clinic = patient.prescriber
    at = clinic.next_chair_time(book_from)
    clinic.book(at)
    return at


# Every route and way of paying for a dose: cash infusions, esketamine's fee and drug,
# integrated courses in a bundle and with the monthly coordination fee.
PRESETS = ["baseline", "bundled_payment", "coordination_payment", "integrated_ideal"]


@pytest.mark.parametrize("preset", PRESETS)
def test_compiled_doses_run_as_the_python_did(preset, monkeypatch):
    """A run with the compiled dose equals one with the Python path, every frame."""
    ours = build(preset, n_patients=1500, days=300, seed=3)
    ours.run()
    monkeypatch.setattr(KetasimModel, "give_dose", _python_dose)
    theirs = build(preset, n_patients=1500, days=300, seed=3)
    theirs.run()
    assert int(theirs.population.n_doses.sum()) > 500, "the runs should give many doses"
    assert _fingerprint(ours) == _fingerprint(theirs)


def test_narrow_books_and_pending_rows_widen_and_change_nothing():
    """Chairs, sessions and pending doses that outgrow their arrays: the same run."""
    ours = build("integrated_ideal", n_patients=1500, days=200, seed=8)
    chairs, weeks = ours.prescribers[0].weeks, ours.therapists[0].weeks
    chairs.counts = np.zeros((chairs.counts.shape[0], 1))  # before anything is booked
    weeks.counts = np.zeros((weeks.counts.shape[0], 1), dtype=np.int64)
    ours.population.pending = PendingDoses(ours.population.n, width=1)
    ours.run()
    assert chairs.counts.shape[1] > 200 / 7 and weeks.counts.shape[1] > 200 / 7
    assert ours.population.pending.times.shape[1] > 1
    theirs = build("integrated_ideal", n_patients=1500, days=200, seed=8)
    theirs.run()
    assert _fingerprint(ours) == _fingerprint(theirs)


def test_a_dose_plan_that_tracks_more_than_the_clinics_fee_is_refused(monkeypatch):
    """The compiled step tracks one biller a dose: another plan is a clear error."""
    model = build("baseline", n_patients=300, days=30, seed=1)
    plan = model._plan_dose

    def two_trackers(route, payer, esketamine):
        payments, in_bundle = plan(route, payer, esketamine)
        return payments + payments, in_bundle

    monkeypatch.setattr(model, "_plan_dose", two_trackers)
    with pytest.raises(ValueError, match="track more than its clinic's fee"):
        model.run()


def test_prescriber_utilisation_is_the_mean_of_the_clinics():
    """The daily row's utilisation, read from the week book, is each clinic's, averaged."""
    model = build("baseline", n_patients=2000, days=100, seed=2)
    model.run_until(60.5)
    for t in (model.time, 7.0, 1000.0):  # now, a past week, a week past the book's end
        each = float(np.mean([clinic.utilisation(t) for clinic in model.prescribers]))
        assert model.prescriber_utilisation(t) == each
    assert model.prescriber_utilisation(model.time) > 0.0
