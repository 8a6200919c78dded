"""Calibration against the stylised facts of docs/ODD.md (Reference), by virtual trials.

Tolerances are the targets': ±10 percentage points on response rates, 10-30 days for the
drug-only median time to relapse, and at least three times that with therapy in the window.
"""

import pytest

from agents.clinical import ClinicalParams
from model.trial import TrialProtocol, kaplan_meier_median, run_trial
from scenarios.api import trial

SERIES = [0, 3, 7, 10, 14, 17]


@pytest.fixture(scope="module")
def single():
    return trial("single_dose")


@pytest.fixture(scope="module")
def series():
    return trial("iv_series")


@pytest.fixture(scope="module")
def series_therapy():
    return trial("iv_series_therapy")


@pytest.mark.parametrize(("day", "target"), [("1", 0.52), ("3", 0.48), ("7", 0.40)])
def test_single_dose_response_curve_han_2016(single, day, target):
    got = single.response_rate[day]
    assert abs(got - target) <= 0.10, f"day {day}: response {got:.3f}, target {target} ± 0.10"


def test_single_dose_effect_mostly_gone_by_day_14_coyle_laws_2015(single):
    assert single.response_rate["14"] < single.response_rate["7"] - 0.10


def test_series_response_after_six_infusions(series):
    # ELEKT-D 55.4 %, Phillips 2019 59 %: 55-60 % ± 10 points.
    assert 0.45 <= series.responders_after_last_dose <= 0.70


def test_series_median_relapse_murrough_2013(series):
    assert series.median_days_to_relapse is not None
    assert 10 <= series.median_days_to_relapse <= 30, series.median_days_to_relapse


def test_therapy_in_the_window_slows_relapse_wilkinson_2017(series, series_therapy):
    drug_only = series.median_days_to_relapse
    with_therapy = series_therapy.median_days_to_relapse
    assert with_therapy is not None, "better, but not a permanent cure: most eventually relapse"
    assert with_therapy >= 3 * drug_only, (with_therapy, drug_only)
    # Around 12 weeks: we accept 8-20 weeks.
    assert 56 <= with_therapy <= 140, with_therapy


def test_not_a_permanent_cure(series_therapy):
    assert series_therapy.response_rate["180"] < series_therapy.response_rate["30"] - 0.2


def test_drug_non_responders_gain_little_from_added_therapy():
    """Wilkinson 2017's contrast: the added therapy helps responders, not non-responders."""

    def arm(p_responder: float, therapy: bool) -> float:
        proto = TrialProtocol(
            name="contrast",
            n_patients=1000,
            doses=SERIES,
            therapy=[d + 1.5 for d in SERIES] if therapy else [],
            report_days=[30],
            follow_up_days=60,
            seed=3,
            clinical=ClinicalParams(p_drug_responder=p_responder),
        )
        return run_trial(proto).response_rate["30"]

    gain_non = arm(0.0, True) - arm(0.0, False)
    gain_resp = arm(1.0, True) - arm(1.0, False)
    assert gain_non < 0.10, gain_non
    assert gain_resp > gain_non + 0.2, (gain_resp, gain_non)


def test_therapy_alone_is_modest_in_trd(series):
    alone = trial("therapy_alone")
    assert alone.response_rate["84"] < 0.5 * series.responders_after_last_dose


def test_esketamine_arm_is_close_to_iv():
    base = dict(name="x", n_patients=1000, doses=SERIES, report_days=[18], follow_up_days=30)
    iv = run_trial(TrialProtocol(**base, drug="iv_ketamine")).response_rate["18"]
    esk = run_trial(TrialProtocol(**base, drug="esketamine")).response_rate["18"]
    assert esk <= iv and iv - esk < 0.15


def test_the_window_lesson_pair():
    """The same session one day after a dose beats the same session two weeks later."""
    near = trial("window_next_day")
    far = trial("window_two_weeks")
    assert near.response_rate["28"] > far.response_rate["28"]


def test_kaplan_meier_median_with_censoring():
    import numpy as np

    times = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 10.0])
    observed = np.array([True, True, True, False, False, False])
    # S drops to 5/6, 4/6 = 0.667, then 3/6 = 0.5 at t = 3.
    assert kaplan_meier_median(times, observed) == 3.0
    assert kaplan_meier_median(times, np.zeros(6, dtype=bool)) is None
