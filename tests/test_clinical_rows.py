"""The compiled one-row updates (agents/clinical_rows.py) and the clinical state's passes.

The kernels compile ``agents.clinical``'s own functions, so these tests check the plumbing: the
row read and written back, the float branch of the element-wise helpers, the parameters handed
over as a record; a row's update must agree with the vectorised update the trial runner uses.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from agents import clinical as cm
from agents.clinical import ClinicalParams
from agents.clinical_state import ClinicalState

P_DEFAULT = ClinicalParams()
PARAMS = {
    "default": P_DEFAULT,
    "fast drift, strong sessions": ClinicalParams(
        rate_drift_per_day=0.5, p_session_base_gain=0.5, p_session_synergy_gain=1.0
    ),
    "no drift, short relief": ClinicalParams(rate_drift_per_day=0.0, dur_relief_days=0.5),
    "vanishing relief scale": ClinicalParams(dur_relief_days=1e-300, shape_relief=0.5),
}


def _fields(state: ClinicalState) -> dict[str, np.ndarray]:
    names = ("b", "r", "n", "relief_last", "t_last_dose", "t_update", "n_course", "dose_ring")
    return {name: getattr(state, name).copy() for name in names}


@pytest.mark.parametrize("name", list(PARAMS))
def test_a_rows_update_is_the_trial_runners_update_of_that_row(name):
    """Random doses, sessions (some in the acute phase, some in the window) and reads.

    The agent-based model updates one row at a time, compiled (``dose_row``, ``session_row``);
    the virtual-trial runner updates many at once with NumPy (``dose``, ``session``). Both
    compose the same pure functions of ``agents.clinical``, so a patient must come out the same.
    """
    p = PARAMS[name]
    rng = np.random.default_rng(11)
    traits = cm.draw_baselines(rng, 40, p)
    rows, many = ClinicalState(*traits, p), ClinicalState(*traits, p)
    t = 0.0
    for _ in range(4000):
        t += rng.exponential(0.2)
        i = int(rng.integers(40))
        one = np.array([i])
        kind = rng.integers(4)
        if kind == 0:
            rel = float(rng.choice([1.0, 0.95, 2.0]))
            rows.dose_row(t, i, rel)
            many.dose(t, one, rel)
            # The integration session: in the acute phase, inside the window, or later.
            at = t + float(rng.choice([0.05, 1.0, 2.5, 9.0]))
            rows.session_row(at, i)
            many.session(at, one)
        elif kind == 1:
            # As a patient's session: with the relief just read for attendance.
            rows.session_row(t, i, rows.relief_row(t, i))
            many.session(t, one)
        else:
            assert rows.relief_row(t, i) == pytest.approx(float(many.relief(t, one)[0]), abs=1e-12)
            severity = cm.severity(*_felt(many, t, one), p)
            assert rows.severity_row(t, i) == pytest.approx(float(severity[0]), abs=1e-12)
    ours, theirs = _fields(rows), _fields(many)
    for field in ours:
        np.testing.assert_allclose(
            ours[field], theirs[field], rtol=1e-12, atol=1e-15, err_msg=field
        )
    assert rows.n_course.max() > 1, "some courses should have had several doses"


def _felt(state, t, idx):
    """The layers as felt at ``t`` (relief taken off b), the vectorised way."""
    b, r, n = state.structural_at(t, idx)
    return cm.effective_b(b, state.relief(t, idx)), r, n


def test_plasticity_one_adds_like_pythons_sum():
    """``plasticity_one`` (compiled with the rows) adds the pulses exactly as ``sum`` does."""
    rng = np.random.default_rng(5)
    for _ in range(5000):
        t = float(rng.uniform(0.0, 30.0))
        doses = [float(d) for d in t - rng.exponential(2.0, 4)]
        doses[int(rng.integers(4))] = math.nan
        expected = min(sum(cm.plasticity_pulse(t - d, P_DEFAULT) for d in doses), 1.0)
        assert cm.plasticity_one(t, doses, P_DEFAULT) == expected


def test_fields_are_views_of_one_array_and_survive_copies():
    """The kernels write ``floats``; every named field must read the same memory, also after
    a pickle or deep copy (a Dask worker's or a dashboard's model)."""
    state = ClinicalState(*cm.draw_baselines(np.random.default_rng(0), 5, P_DEFAULT), P_DEFAULT)
    for clone in (state, pickle.loads(pickle.dumps(state)), copy.deepcopy(state)):
        clone.dose_row(3.0, 2, 1.0)
        assert clone.t_last_dose[2] == 3.0 and clone.t_update[2] == 3.0
        assert clone.b[2] < clone.b0[2], "the dose's small gain is seen through ``b``"
    assert np.isnan(state.t_last_dose[[0, 1, 3, 4]]).all()


@pytest.mark.parametrize("name", list(PARAMS))
def test_compiled_severity_matches_the_numpy_layers_to_the_bit(name):
    """``severity_at`` (two compiled passes) gives what ``structural_at`` and ``relief`` give."""
    p = PARAMS[name]
    rng = np.random.default_rng(2)
    state = ClinicalState(*cm.draw_baselines(rng, 300, p), p)
    state.schedule_stress(0.0, np.arange(300), rng)
    t = 0.0
    for _ in range(1500):
        t += rng.exponential(0.3)
        i = int(rng.integers(300))
        state.dose_row(t, i, 1.0)
        state.session_row(t + float(rng.choice([0.05, 1.0, 4.0])), i)
        state.stress_due(t, rng)
    rows = np.flatnonzero(rng.random(300) < 0.7)
    for when in (t, t + 0.5, t + 5.0, t + 60.0):
        for idx in (rows, slice(None), rng.random(300) < 0.5):
            b, r, n = state.structural_at(when, idx)
            b_eff = cm.effective_b(b, state.relief(when, idx))
            expected = (cm.severity(b_eff, r, n, p), b_eff, r, n)
            for ours, theirs in zip(state.severity_at(when, idx), expected, strict=True):
                np.testing.assert_array_equal(ours, theirs, strict=True)
    if p.dur_relief_days >= 1.0:
        assert np.count_nonzero(state.relief(t, rows)) > 0, "some rows should still feel relief"


def test_kernel_cache_is_keyed_on_the_clinical_maths():
    """The on-disk cache of the kernels must miss when the sources they compile in change.

    Numba's own key is only the defining file (``clinical_rows.py``); the kernels compile
    ``clinical.py``'s functions, so its hash is part of their cache's source stamp; so is
    ``clinical_rows.py``'s and ``agents/weeks.py``'s for the model's kernels, which compile
    them, and ``model/sessions.py``'s for the dose kernel, which compiles its functions too.
    """
    import hashlib
    from pathlib import Path

    from numba.core import caching

    from agents import calendar, payments, weeks
    from agents import clinical_rows as kernels
    from model import doses, outcomes, search, sessions

    def digest(*paths):
        return hashlib.sha256(b"".join(Path(p).read_bytes() for p in paths)).hexdigest()

    assert kernels._CACHE, "Numba's locator API changed: the kernels are no longer cached"
    maths = digest(cm.__file__, kernels.__file__)
    assert kernels.dose_row._cache._impl.locator.get_source_stamp()[1] == maths
    rules = (cm.__file__, kernels.__file__, weeks.__file__, calendar.__file__)
    for kernel in (search.best_clinic, search.best_therapist):
        assert kernel._cache._impl.locator.get_source_stamp()[1] == digest(*rules)
    with_payments = digest(*rules, payments.__file__)
    assert sessions.attend_therapy._cache._impl.locator.get_source_stamp()[1] == with_payments
    with_sessions = digest(
        cm.__file__, kernels.__file__, sessions.__file__, weeks.__file__, calendar.__file__,
        payments.__file__,
    )  # fmt: skip
    assert doses.give_dose._cache._impl.locator.get_source_stamp()[1] == with_sessions
    py_func, py_file = kernels.dose_row.py_func, kernels.__file__
    before = kernels._keyed_on_maths(caching.InTreeCacheLocator, {kernels.__name__: "before"})
    after = kernels._keyed_on_maths(caching.InTreeCacheLocator, {kernels.__name__: "after"})
    stamp = before.from_function(py_func, py_file).get_source_stamp()
    assert stamp != after.from_function(py_func, py_file).get_source_stamp()
    # Other modules' functions keep Numba's usual locators.
    assert before.from_function(outcomes.record_day.py_func, outcomes.__file__) is None


def test_bad_rows_are_refused_before_compiled_code_runs():
    """Compiled code does not check indices: a bad row is an IndexError, and nothing changes."""
    state = ClinicalState(*cm.draw_baselines(np.random.default_rng(1), 5, P_DEFAULT), P_DEFAULT)
    before = _fields(state)
    calls = [
        lambda: state.dose_row(1.0, 5, 1.0),
        lambda: state.session_row(1.0, -1),
        lambda: state.relief_row(1.0, 1_000_000),
        lambda: state.severity_row(1.0, 9),
        lambda: state.severity_at(1.0, np.array([0, 5])),
        lambda: state.severity_at(1.0, np.array([-1])),
        lambda: state.severity_at(1.0, np.ones(4, dtype=bool)),
    ]
    for call in calls:
        with pytest.raises(IndexError, match="row"):
            call()
    for name, values in _fields(state).items():
        np.testing.assert_array_equal(values, before[name], err_msg=name)
    assert state.severity_at(1.0, np.array([], dtype=int))[0].shape == (0,)


def test_rows_that_are_not_integers_are_refused_and_numpy_integers_taken():
    """The kernels' entry points would truncate a float row (2.7 -> 2): refused before them."""
    state = ClinicalState(*cm.draw_baselines(np.random.default_rng(1), 5, P_DEFAULT), P_DEFAULT)
    before = _fields(state)
    calls = (
        lambda row: state.dose_row(1.0, row, 1.0),
        lambda row: state.session_row(1.0, row),
        lambda row: state.relief_row(1.0, row),
        lambda row: state.severity_row(1.0, row),
    )
    for bad in (2.7, 2.0, np.float64(2.0), True, "2", None):
        for call in calls:
            with pytest.raises(TypeError, match="must be an integer"):
                call(bad)
    for name, values in _fields(state).items():
        np.testing.assert_array_equal(values, before[name], err_msg=name)
    twin = copy.deepcopy(state)
    state.dose_row(1.0, np.int64(2), 1.0)
    state.session_row(2.0, np.int32(2))
    twin.dose_row(1.0, 2, 1.0)
    twin.session_row(2.0, 2)
    for name, values in _fields(state).items():
        np.testing.assert_array_equal(values, _fields(twin)[name], err_msg=name)
    assert state.relief_row(2.5, np.int16(2)) == twin.relief_row(2.5, 2) > 0.0


def test_entry_points_refuse_arrays_of_another_type():
    """Called without Numba's dispatch, a kernel must still refuse, not misread, a wrong array."""
    from agents import clinical_rows as kernels

    state = ClinicalState(*cm.draw_baselines(np.random.default_rng(1), 5, P_DEFAULT), P_DEFAULT)
    rows = kernels.row_kernels(state.floats, state.n_course, state.dose_ring, state._params)
    assert rows.relief_row(state.floats, state.n_course, state._params, 1.0, 0) == 0.0
    with pytest.raises(TypeError):
        rows.relief_row(state.floats.astype(np.float32), state.n_course, state._params, 1.0, 0)
    with pytest.raises(TypeError):
        rows.dose_row(
            state.floats,
            state.n_course.astype(np.int64),
            state.dose_ring,
            state._params,
            1.0,
            0,
            1.0,
        )


def _stress_world(n=6):
    """Treated rows without drift, whose next candidate stress events the test states.

    The hazard is tiny, so a row's next candidate after an event falls far beyond the test.
    """
    changes = {"rate_drift_per_day": 0.0, "rate_stress_per_day": 1e-9}
    p = P_DEFAULT.model_copy(update=changes)
    state = ClinicalState(*cm.draw_baselines(np.random.default_rng(3), n, p), p)
    for i in range(n):  # every row treated once: some structural gain to lose
        state.dose_row(1.0, i, 1.0)
        state.session_row(2.0, i)
    return state


def test_a_stress_event_sets_each_layer_back_by_the_setback_share():
    state = _stress_world()
    # Stabilisation below one would thin the candidates: with the narrative layer at its
    # baseline (no loosening) it is one, and every candidate due is a stress event.
    state.n[:] = state.n0
    state.next_stress[:] = [5.0, 9.0, np.inf, 5.0, 12.0, 3.0]
    before = {name: getattr(state, name).copy() for name in ("b", "r", "n")}
    hit = state.stress_due(10.0, np.random.default_rng(0))
    assert sorted(hit.tolist()) == [0, 1, 3, 5], "the rows due by day 10"
    was_hit = np.isin(np.arange(6), hit)
    setback = state.p.p_stress_setback
    for name in ("b", "r", "n"):
        was, baseline = before[name], getattr(state, name + "0")
        expected = np.where(was_hit, was + setback * (baseline - was), was)
        np.testing.assert_allclose(getattr(state, name), expected, rtol=1e-12, err_msg=name)
    assert (state.b[hit] > before["b"][hit]).all(), "a setback moves b back toward baseline"
    assert (state.next_stress[hit] > 10.0).all(), "each had its next candidate drawn"
    assert state.next_stress[2] == np.inf and state.next_stress[4] == 12.0, "not due: untouched"


def test_only_active_rows_take_their_stress_events():
    state = _stress_world()
    state.n[:] = state.n0
    state.next_stress[:] = 5.0
    active = np.array([True, False, True, False, False, False])
    hit = state.stress_due(10.0, np.random.default_rng(0), active)
    assert sorted(hit.tolist()) == [0, 2]
    assert (state.next_stress[[1, 3, 4, 5]] == 5.0).all()


def test_narrative_change_thins_the_stress_events():
    # A loosened narrative layer lowers the hazard: candidates are accepted with probability
    # equal to the stabilisation multiplier, so about that share of the due rows is hit.
    state = _stress_world(n=4000)
    state.n[:] = state.n0 * (1.0 - 0.5 * state.p.p_full_narrative_change)
    stab = cm.stabilisation(state.n, state.n0, state.p)
    assert 0.2 < stab.mean() < 0.8
    state.next_stress[:] = 5.0
    hit = state.stress_due(5.0, np.random.default_rng(1))
    assert hit.size / 4000 == pytest.approx(stab.mean(), abs=0.03)
