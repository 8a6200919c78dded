"""A dose (model/doses.py): the compiled step's clinical update, biller, pending entry and chair.

Each case states a patient, a clinic's week book and the dose's billing, and the expected
result follows from the rules: the dose is noted among those a session may cover, the drug's
biller is written when the dose's payments name one, and the next dose gets the first week
with room for its chair-hours.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents import clinical_rows as rows
from model.doses import give_dose
from model.kernels import one_row
from model.sessions import PendingDoses
from scenarios.api import build
from tests.test_sessions import _fingerprint

ORG, BIT, NEED, ROOM = 7, 1 << 0, 2.5, 40.0


def _dose_world(chairs=(0.0, 0.0, 0.0), width=8):
    """One patient (never dosed) and one clinic's week book of chair-hours."""
    f, n_course, ring, params, _, orgs, silos, split = one_row()
    f[[rows.B, rows.R, rows.N, rows.B0, rows.R0, rows.N0], 0] = 0.6
    f[rows.SENSITIVITY, 0] = 0.5
    f[rows.REL_DUR, 0] = 1.0
    pending = PendingDoses(1, width=width)
    arrays = (
        f, n_course, ring, params, orgs, silos, split, pending.times, pending.recorded,
        pending.count, np.array([chairs]),
    )  # fmt: skip
    return arrays, pending


def _give(arrays, t=1.0, org=ORG, book_from=4.0):
    return give_dose(*arrays, t, 0, 1.0, org, BIT, 60.0, 0, NEED, ROOM, book_from)


def test_a_dose_updates_the_patient_notes_the_biller_and_books_the_next_chair():
    arrays, pending = _dose_world()
    f, n_course, _, _, orgs, silos, split, *_, chairs = arrays
    assert _give(arrays) == (True, 4.0), "book_from's own week has room"
    assert (f[rows.T_LAST_DOSE, 0], n_course[0]) == (1.0, 1)
    assert f[rows.RELIEF_LAST, 0] > 0.0, "a dose brings relief"
    assert pending.of(0) == [(1.0, False)], "a session may now cover it"
    assert (orgs[0], silos[0], split[0]) == (ORG, BIT, False)
    assert chairs[0].tolist() == [NEED, 0.0, 0.0]
    assert _give(arrays, t=4.0, book_from=8.0) == (True, 8.0)
    assert n_course[0] == 2, "the second dose of the course"
    assert chairs[0].tolist() == [NEED, NEED, 0.0]


def test_a_dose_whose_payments_name_no_biller_writes_none():
    arrays, _ = _dose_world()
    _give(arrays, org=-1)
    orgs, silos = arrays[4], arrays[5]
    assert (orgs[0], silos[0]) == (-1, 0)


@pytest.mark.parametrize(
    ("booked", "expected"),
    [
        ((0.0, ROOM, 0.0), 4.0),  # day 4's week is empty
        ((ROOM - NEED + 0.01, 0.0, 0.0), 7.0),  # no room for 2.5 more: next week
        ((ROOM - NEED, 0.0, 0.0), 4.0),  # exactly the room left
        ((ROOM, ROOM, 0.0), 14.0),  # two full weeks
    ],
)
def test_the_next_dose_takes_the_first_week_with_room(booked, expected):
    arrays, _ = _dose_world(chairs=booked)
    assert _give(arrays) == (True, expected)


def test_no_booking_when_none_is_due_or_the_week_lies_past_the_book():
    arrays, _ = _dose_world()
    assert math.isnan(_give(arrays, book_from=math.nan)[1])
    arrays, _ = _dose_world(chairs=(ROOM, ROOM, ROOM))
    done, at = _give(arrays)
    assert done and math.isnan(at), "the caller widens the book and books"
    assert arrays[-1][0].tolist() == [ROOM, ROOM, ROOM]


def test_a_full_pending_row_changes_nothing_until_it_grows():
    arrays, _ = _dose_world(width=1)
    _give(arrays, t=1.0, book_from=math.nan)
    before = [a.copy() for a in arrays]
    done, at = _give(arrays, t=2.0)
    assert not done and math.isnan(at), "the caller grows the pending doses and calls again"
    for a, b in zip(arrays, before, strict=True):
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


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
    plan = model.claims.plan_dose

    def two_trackers(route, payer, esketamine):
        payments, in_bundle = plan(route, payer, esketamine)
        return payments + payments, in_bundle

    monkeypatch.setattr(model.claims, "plan_dose", two_trackers)
    with pytest.raises(ValueError, match="track more than its clinic's fee"):
        model.run()


def test_prescriber_utilisation_is_the_mean_share_of_the_weeks_chair_hours_booked():
    model = build("baseline", n_patients=400, days=10, seed=1)
    assert len(model.prescribers) == 2
    counts = model.prescribers[0].weeks.counts
    counts[:] = 0.0
    counts[0, 1], counts[1, 1] = 20.0, 10.0  # of 40 chair-hours a week each
    assert model.prescriber_utilisation(8.0) == pytest.approx((0.5 + 0.25) / 2)
    assert model.prescriber_utilisation(1.0) == 0.0
    assert model.prescriber_utilisation(10_000.0) == 0.0, "past the book: nothing booked"
