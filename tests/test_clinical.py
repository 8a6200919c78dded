"""Unit tests of the pure clinical functions, one mechanism each."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from agents import clinical as cm
from agents.clinical import ClinicalParams

P = ClinicalParams()


def test_plasticity_is_zero_before_the_dose_and_in_the_acute_phase():
    assert cm.plasticity_pulse(-1.0, P) == 0.0
    assert cm.plasticity_pulse(0.0, P) == 0.0
    assert cm.plasticity_pulse(P.dur_acute_days * 0.9, P) == 0.0


def test_plasticity_peaks_at_24h_and_halves_every_half_life():
    peak = cm.plasticity_pulse(P.dur_plasticity_peak_days, P)
    assert peak == pytest.approx(1.0)
    one_half_life = P.dur_plasticity_peak_days + P.dur_plasticity_half_life_days
    assert cm.plasticity_pulse(one_half_life, P) == pytest.approx(0.5)
    # The window closes within about two weeks.
    assert cm.plasticity_pulse(14.0, P) < 0.1


def test_plasticity_pulses_add_and_cap_at_one():
    one = cm.plasticity(5.0, [2.0, np.nan], P)
    two = cm.plasticity(5.0, [2.0, 0.0], P)
    assert two > one, "a second recent dose should widen the window"
    assert cm.plasticity(3.0, [2.0, 2.0, 2.0], P) == pytest.approx(1.0)


def test_plasticity_vectorises_over_patients():
    doses = np.array([[0.0, np.nan], [np.nan, np.nan]])
    out = cm.plasticity(np.array([1.0, 1.0]), doses, P)
    assert out.shape == (2,)
    assert out[0] == pytest.approx(1.0) and out[1] == 0.0


def test_relief_fades_after_a_single_dose():
    week = cm.relief_at(0.9, 7.0, 1, 1.0, P)
    fortnight = cm.relief_at(0.9, 14.0, 1, 1.0, P)
    assert 0.0 < fortnight < week < 0.9, "relief should fade over days to weeks"


def test_repeated_doses_lengthen_relief_up_to_the_cap():
    single = cm.relief_scale(1, 1.0, P)
    sixth = cm.relief_scale(6, 1.0, P)
    assert sixth > single
    assert cm.relief_scale(50, 1.0, P) == pytest.approx(
        cm.relief_scale(P.n_course_dose_cap, 1.0, P)
    )


def test_relief_after_dose_never_exceeds_one_and_never_falls():
    for now, sens in [(0.0, 0.9), (0.5, 0.2), (0.95, 0.95)]:
        after = cm.relief_after_dose(now, sens, P)
        assert max(now, sens) <= after <= 1.0


def test_same_session_in_the_window_gains_several_times_more():
    inside = cm.session_gain(1.0, False, P)
    outside = cm.session_gain(0.0, False, P)
    assert inside > 3 * outside, "a session at peak plasticity should do several times more"


def test_gating_b_before_r_before_n():
    b0, r0, n0 = 0.7, 0.6, 0.6
    # Same session, same plasticity; b loosened by relief in one case only.
    _, r_loose, _ = cm.apply_session(b0, r0, n0, b0, r0, n0, 0.8, 1.0, False, P)
    _, r_tight, _ = cm.apply_session(b0, r0, n0, b0, r0, n0, 0.0, 1.0, False, P)
    assert r_loose < r_tight, "work on r should scale with how far b is loosened"
    # n moves more once r has moved.
    _, _, n_after_r = cm.apply_session(b0, 0.3, n0, b0, r0, n0, 0.8, 1.0, False, P)
    _, _, n_before_r = cm.apply_session(b0, r0, n0, b0, r0, n0, 0.8, 1.0, False, P)
    assert n_after_r < n_before_r, "work on n should scale with how far r has moved"


def test_gains_multiply_rather_than_add():
    """Drug relief alone moves no structure; therapy alone moves a little; both move most."""
    b0, r0, n0 = 0.7, 0.6, 0.6

    def total_change(relief, plast):
        b, r, n = b0, r0, n0
        for _ in range(6):
            b, r, n = cm.apply_session(b, r, n, b0, r0, n0, relief, plast, False, P)
        return (b0 - b) + (r0 - r) + (n0 - n)

    therapy_alone = total_change(0.0, 0.0)
    both = total_change(0.85, 1.0)
    window_only = total_change(0.0, 1.0)
    assert both > therapy_alone + (window_only - therapy_alone) + 1e-6, (
        "the combined effect should exceed the sum of the parts"
    )


def test_acute_phase_session_gains_little_and_can_harm_the_narrative():
    b0, r0, n0 = 0.7, 0.6, 0.6
    b_acute, _, n_acute = cm.apply_session(b0, r0, n0, b0, r0, n0, 0.8, 0.0, True, P)
    b_window, _, n_window = cm.apply_session(b0, r0, n0, b0, r0, n0, 0.8, 1.0, False, P)
    assert b0 - b_acute < (b0 - b_window) / 5
    assert n_acute > n_window
    assert n_acute > n0 - 0.01, "the acute session should not improve the narrative layer"


def test_narrative_change_slows_drift_and_stress():
    stab_none = cm.stabilisation(0.6, 0.6, P)
    stab_full = cm.stabilisation(0.1, 0.6, P)
    assert stab_none == pytest.approx(1.0)
    assert stab_full < 0.2
    slow = cm.drift(0.3, 0.7, 30.0, stab_full, P)
    fast = cm.drift(0.3, 0.7, 30.0, stab_none, P)
    assert 0.3 < slow < fast < 0.7
    assert cm.stress_hazard(stab_full, P) < cm.stress_hazard(stab_none, P)


def test_stress_setback_loses_part_of_the_gain():
    assert cm.stress_setback(0.3, 0.7, P) == pytest.approx(0.3 + P.p_stress_setback * 0.4)


def test_relief_driven_disengagement_and_preparation():
    calm = cm.p_attend(0.9, 0.0, False, P)
    relieved = cm.p_attend(0.9, 0.9, False, P)
    prepared = cm.p_attend(0.9, 0.9, True, P)
    assert relieved < calm, "fast relief should lower attendance"
    assert relieved < prepared <= calm, "an integrated programme's preparation should counter it"


def test_severity_response_and_remission():
    sev0 = cm.severity(0.7, 0.6, 0.6, P)
    assert 0 < sev0 < 60
    assert cm.is_response(0.5 * sev0, sev0, P)
    assert not cm.is_response(0.51 * sev0, sev0, P)
    assert cm.is_remission(10.0, P) and not cm.is_remission(10.1, P)


def test_baselines_are_within_bounds_and_reproducible():
    a = cm.draw_baselines(np.random.default_rng(3), 500, P)
    b = cm.draw_baselines(np.random.default_rng(3), 500, P)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    b0, r0, n0, sens, rel_dur = a
    for layer in (b0, r0, n0, sens):
        assert np.all((layer >= 0) & (layer <= 1))
    assert np.all(rel_dur > 0) and math.isfinite(rel_dur.max())


def test_params_reject_weights_not_summing_to_one():
    with pytest.raises(ValidationError, match="w_b"):
        ClinicalParams(w_b=0.5, w_r=0.2, w_n=0.2)


def test_params_reject_unknown_keys_and_bad_types():
    with pytest.raises(ValidationError):
        ClinicalParams.model_validate({"w_bb": 0.1})
    with pytest.raises(ValidationError):
        ClinicalParams.model_validate({"w_b": "0.6"})


@pytest.mark.parametrize("shape", [0.5, 1.0, 2.5, 5.0])
def test_relief_is_exactly_zero_past_the_zero_ratio_and_not_before(shape):
    p = ClinicalParams(shape_relief=shape)
    scale = cm.relief_scale(3, 1.7, p)
    edge = cm.relief_zero_ratio(p) * scale
    past = np.linspace(edge, 50.0 * edge, 200)
    assert np.all(cm.relief_at(1.0, past, 3, 1.7, p) == 0.0)
    # A little short of the edge relief is still above zero: the edge is not set too early.
    assert cm.relief_at(1.0, np.array([0.9 * edge]), 3, 1.7, p)[0] > 0.0


def test_population_relief_skipping_decayed_rows_equals_evaluating_every_row():
    from agents.clinical_state import ClinicalState

    rng = np.random.default_rng(11)
    n = 3000
    state = ClinicalState(*cm.draw_baselines(rng, n, P), P)
    state.t_last_dose[:] = np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0.0, 900.0, n))
    state.relief_last[:] = rng.uniform(0.0, 1.0, n)
    state.n_course[:] = rng.integers(1, 9, n)
    for t in (0.0, 450.0, 900.0, 2000.0):
        dt = t - state.t_last_dose
        full = np.where(
            np.isnan(dt),
            0.0,
            cm.relief_at(state.relief_last, dt, state.n_course, state.rel_dur, P),
        )
        assert np.array_equal(state.relief(t), full)
        rows = np.flatnonzero(rng.random(n) < 0.5)
        assert np.array_equal(state.relief(t, rows), full[rows])
        mask = rng.random(n) < 0.5
        assert np.array_equal(state.relief(t, mask), full[mask])
        assert state.relief(t, int(rows[0])) == full[rows[0]]
    assert 0 < np.count_nonzero(state.relief(900.0)) < n
