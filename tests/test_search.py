"""The search for care (model/search.py): which clinic wins, which therapist a referral reaches.

Each case states the clinics' values, waits and taste shocks (or the therapists' networks and
week books) and the expected choice follows from the rule: utility = value - wait / tolerance
+ shock, the best above the outside option; the earliest slot among the therapists called.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from model.search import best_clinic, best_therapist
from scenarios.api import build

MODELS = np.array([0, 1, 2], dtype=np.int8)  # clinic c runs business model c
NEEDS = np.array([1.5, 2.5, 3.25])  # chair-hours a dose by business model
ROOM, EARLIEST, NOW, TOLERANCE = 40.0, 3.0, 0.0, 7.0
NO_PICKS = np.zeros((1, 1), dtype=np.int64)


def _search(values, shocks=(0.0, 0.0, 0.0), chairs=None, best_u=-3.0, picks=None):
    """``best_clinic`` over the three clinics (all heard of unless ``picks`` is a row)."""
    chairs = np.zeros((3, 4)) if chairs is None else chairs
    everyone = picks is None
    picks = NO_PICKS if everyone else np.array([picks], dtype=np.int64)
    shock_row = np.array([[*shocks, 0.0]])
    return best_clinic(
        MODELS, chairs, NEEDS, picks, 0, shock_row, 0, 3, everyone, *values, ROOM, EARLIEST,
        NOW, TOLERANCE, best_u,
    )  # fmt: skip


def test_the_clinic_of_best_value_wins_and_starts_at_the_earliest_day():
    clinic, start, u = _search((-1.0, -0.5, -2.0))
    assert (clinic, start) == (1, EARLIEST)
    assert u == pytest.approx(-0.5 - EARLIEST / TOLERANCE)


def test_a_course_the_patient_cannot_have_is_passed_over():
    clinic, _, _ = _search((-1.0, math.nan, -2.0))
    assert clinic == 0


def test_a_full_week_pushes_the_start_and_the_wait_can_lose_the_clinic():
    chairs = np.zeros((3, 4))
    chairs[1, 0] = 39.0  # 39 + 2.5 chair-hours would exceed the week's 40
    clinic, start, u = _search((-1.0, -0.5, -2.0), chairs=chairs)
    # Clinic 1 would start on day 7: -0.5 - 7/7 = -1.5 < clinic 0's -1 - 3/7.
    assert (clinic, start) == (0, EARLIEST)
    assert u == pytest.approx(-1.0 - EARLIEST / TOLERANCE)
    clinic, start, _ = _search((-1.0, 0.0, -2.0), chairs=chairs)
    assert (clinic, start) == (1, 7.0), "a better value still wins, a week later"


def test_an_empty_week_takes_a_dose_longer_than_the_week():
    tiny = best_clinic(
        MODELS, np.zeros((3, 2)), NEEDS, NO_PICKS, 0, np.zeros((1, 4)), 0, 3, True,
        math.nan, math.nan, 0.0, 1.0, EARLIEST, NOW, TOLERANCE, -3.0,
    )  # fmt: skip
    assert tiny[:2] == (2, EARLIEST), "3.25 hours in a 1-hour week: it still doses once"
    booked = np.zeros((3, 2))
    booked[2, 0] = 0.5
    later = best_clinic(
        MODELS, booked, NEEDS, NO_PICKS, 0, np.zeros((1, 4)), 0, 3, True,
        math.nan, math.nan, 0.0, 1.0, EARLIEST, NOW, TOLERANCE, -3.0,
    )  # fmt: skip
    assert later[:2] == (2, 7.0), "once a week has a booking, a dose must fit its room"


def test_a_taste_shock_can_tip_the_choice():
    clinic, _, _ = _search((-1.0, -0.5, -2.0), shocks=(0.6, 0.0, 0.0))
    assert clinic == 0


def test_below_the_outside_option_nobody_wins():
    clinic, start, u = _search((-5.0, -5.0, -5.0), best_u=-3.0)
    assert (clinic, u) == (-1, -3.0) and math.isnan(start)


def test_a_clinic_heard_of_twice_counts_once_and_shocks_go_in_order_of_the_distinct():
    # Heard of: 2, 2 (again), 0. Clinic 2 gets the first shock, clinic 0 the second (9.0).
    clinic, _, _ = _search((-1.0, -0.5, -0.2), shocks=(0.0, 9.0, 0.0), picks=[2, 2, 0])
    assert clinic == 0
    clinic, _, _ = _search((-1.0, -0.5, -0.2), shocks=(0.0, 0.0, 9.0), picks=[2, 2, 0])
    assert clinic == 2, "the third shock belongs to no one: only two were heard of"


# -- a referral's calls ----------------------------------------------------------------------

CAPACITY, KIND = 2, 1  # sessions a week; the patient's payer kind


def _calls(weeks, networks, cash=False, ready=8.0, picks=None):
    everyone = picks is None
    picks = NO_PICKS if everyone else np.array([picks], dtype=np.int64)
    return best_therapist(
        np.array(weeks, dtype=np.int64), np.array(networks, dtype=bool), picks, 0, len(weeks),
        everyone, CAPACITY, cash, KIND, ready,
    )  # fmt: skip


# Week 1 holds day 8 (ready). Therapist 0 is full in weeks 1-2, therapist 1 in week 1.
WEEKS = [[0, 2, 2, 0], [0, 2, 0, 0], [0, 0, 0, 0]]
IN_NETWORK = [[False, True, False, False]] * 3


def test_the_earliest_slot_offered_wins():
    assert _calls(WEEKS, IN_NETWORK) == (2, 8.0)
    assert _calls(WEEKS[:2], IN_NETWORK[:2]) == (1, 14.0), "next week's start"


def test_out_of_network_therapists_count_only_for_a_patient_who_can_pay_cash():
    networks = [[False, True, False, False]] * 2 + [[True, False, True, True]]
    assert _calls(WEEKS, networks) == (1, 14.0)
    assert _calls(WEEKS, networks, cash=True) == (2, 8.0)
    nobody = [[False] * 4] * 3
    assert _calls(WEEKS, nobody) == (-1, math.inf)


def test_calls_stop_at_the_first_slot_that_is_ready():
    free = [[0, 0, 0, 0]] * 3
    assert _calls(free, IN_NETWORK, picks=[1, 0, 2]) == (1, 8.0)


def test_business_model_counts_follow_the_clinics():
    """The clinics' row array of business models counts what the clinics say, after switches."""
    model = build("bundled_payment", n_patients=3000, days=200, seed=2)
    model.run()
    assert sum(c.n_switches for c in model.prescribers) > 0, "some clinics should have switched"
    by_clinic = Counter(int(c.business_model) for c in model.prescribers)
    counts = model.business_model_counts()
    assert [counts[bm] for bm in range(len(counts))] == [by_clinic[bm] for bm in range(3)]
