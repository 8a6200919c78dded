"""The compiled one-row updates (agents/clinical_rows.py) against the pure functions, to the bit.

The kernels compile ``agents.clinical``'s own functions, so these tests check the plumbing: the
row read and written back, the float branch of the element-wise helpers, the parameters handed
over as a record, and that Numba's arithmetic is Python's (no fused multiply-adds, the same
``exp`` and ``pow``). The reference below is the row update as it was written in Python before it
was compiled.
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


class PythonRows:
    """One-row updates in plain Python over a ``ClinicalState``'s arrays (the reference)."""

    def __init__(self, state: ClinicalState) -> None:
        self.s = state
        self.p = state.p

    def relief(self, t: float, i: int) -> float:
        s = self.s
        last = float(s.t_last_dose[i])
        if last != last:
            return 0.0
        return cm.relief_at(
            float(s.relief_last[i]), t - last, int(s.n_course[i]), float(s.rel_dur[i]), self.p
        )

    def drifted(self, t: float, i: int) -> tuple[float, float, float]:
        s, p = self.s, self.p
        b, r, n = float(s.b[i]), float(s.r[i]), float(s.n[i])
        dt = t - float(s.t_update[i])
        if dt > 0.0:
            n0 = float(s.n0[i])
            remaining = cm.drift_remaining(dt, cm.stabilisation(n, n0, p), p)
            b = cm.drift_by(b, float(s.b0[i]), remaining)
            r = cm.drift_by(r, float(s.r0[i]), remaining)
            n = cm.drift_by(n, n0, remaining)
        return b, r, n

    def advance(self, t: float, i: int) -> tuple[float, float, float]:
        b, r, n = self.drifted(t, i)
        self.s.b[i], self.s.r[i], self.s.n[i] = b, r, n
        self.s.t_update[i] = t
        return b, r, n

    def severity(self, t: float, i: int) -> float:
        b, r, n = self.drifted(t, i)
        return cm.severity(cm.effective_b(b, self.relief(t, i)), r, n, self.p)

    def dose(self, t: float, i: int, rel: float) -> None:
        s, p = self.s, self.p
        b, _, _ = self.advance(t, i)
        last = float(s.t_last_dose[i])
        relief_now = self.relief(t, i)
        new_course = last != last or t - last > p.dur_course_gap_days
        s.n_course[i] = 1 if new_course else int(s.n_course[i]) + 1
        s.relief_last[i] = cm.relief_after_dose(relief_now, float(s.sensitivity[i]) * rel, p)
        s.t_last_dose[i] = t
        s.b[i] = cm.spontaneous_gain(b, p)
        ring = s.dose_ring[i]
        ring[1:] = ring[:-1].copy()
        ring[0] = t

    def session(self, t: float, i: int) -> None:
        s, p = self.s, self.p
        relief = self.relief(t, i)
        b, r, n = self.advance(t, i)
        last = float(s.t_last_dose[i])
        # ``sum`` of Python floats, as the pulses were added before plasticity was compiled.
        pulses = [cm.plasticity_pulse(t - d, p) for d in s.dose_ring[i].tolist()]
        p_now = min(sum(pulses), 1.0) * float(s.sensitivity[i])
        acute = last == last and 0.0 <= t - last < p.dur_acute_days
        s.b[i], s.r[i], s.n[i] = cm.apply_session(
            b, r, n, float(s.b0[i]), float(s.r0[i]), float(s.n0[i]), relief, p_now, acute, p
        )


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
def test_compiled_rows_match_the_pure_functions_to_the_bit(name):
    """Random doses, sessions (some in the acute phase, some in the window) and reads."""
    p = PARAMS[name]
    rng = np.random.default_rng(11)
    traits = cm.draw_baselines(rng, 40, p)
    compiled = ClinicalState(*traits, p)
    reference = PythonRows(ClinicalState(*traits, p))
    t = 0.0
    for _ in range(4000):
        t += rng.exponential(0.2)
        i = int(rng.integers(40))
        kind = rng.integers(4)
        if kind == 0:
            rel = float(rng.choice([1.0, 0.95, 2.0]))
            compiled.dose_row(t, i, rel)
            reference.dose(t, i, rel)
            # The integration session: in the acute phase, inside the window, or later.
            at = t + float(rng.choice([0.05, 1.0, 2.5, 9.0]))
            compiled.session_row(at, i)
            reference.session(at, i)
        elif kind == 1:
            # As a patient's session: with the relief just read for attendance.
            compiled.session_row(t, i, compiled.relief_row(t, i))
            reference.session(t, i)
        else:
            assert compiled.relief_row(t, i) == reference.relief(t, i)
            assert compiled.severity_row(t, i) == reference.severity(t, i)
    ours, theirs = _fields(compiled), _fields(reference.s)
    for field in ours:
        np.testing.assert_array_equal(ours[field], theirs[field], err_msg=field, strict=True)
    assert compiled.n_course.max() > 1, "some courses should have had several doses"


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


def _stress_due_in_numpy(state, t, rng, active=None):
    """The NumPy stress pass that ``ClinicalState.stress_due`` compiled (the reference)."""
    due = state.next_stress <= t
    if active is not None:
        due &= active
    rows = np.flatnonzero(due)
    if rows.size == 0:
        return rows
    when = state.next_stress[rows]
    stab = cm.stabilisation(state.n[rows], state.n0[rows], state.p)
    accept = rng.random(rows.size) < stab
    hit = rows[accept]
    # Stress events at each row's own time: drift to it, then each layer set back.
    state.advance(when[accept], hit)
    state.b[hit] = cm.stress_setback(state.b[hit], state.b0[hit], state.p)
    state.r[hit] = cm.stress_setback(state.r[hit], state.r0[hit], state.p)
    state.n[hit] = cm.stress_setback(state.n[hit], state.n0[hit], state.p)
    gaps = rng.exponential(1.0 / state.p.rate_stress_per_day, rows.size)
    state.next_stress[rows] = when + gaps
    if np.any(state.next_stress[rows] <= t):
        later = np.zeros(len(state), dtype=bool)
        later[rows] = True
        hit = np.concatenate([hit, _stress_due_in_numpy(state, t, rng, later)])
    return hit


@pytest.mark.parametrize("name", list(PARAMS))
def test_compiled_stress_matches_the_numpy_pass_to_the_bit(name):
    """``stress_due`` (compiled drift and setback around NumPy) is the NumPy pass, to the bit."""
    p = PARAMS[name].model_copy(update={"rate_stress_per_day": 0.05})
    rng = np.random.default_rng(4)
    ours = ClinicalState(*cm.draw_baselines(rng, 200, p), p)
    ours.schedule_stress(0.0, np.arange(200), rng)
    theirs = copy.deepcopy(ours)
    draws_ours, draws_theirs = np.random.default_rng(9), np.random.default_rng(9)
    t, hits = 0.0, 0
    for step in range(600):
        t += rng.exponential(0.5)
        i = int(rng.integers(200))
        for state in (ours, theirs):
            state.dose_row(t, i, 1.0)
            state.session_row(t + 0.7, i)
        active = rng.random(200) < 0.8 if step % 3 else None
        got = ours.stress_due(t + 1.0, draws_ours, active)
        expected = _stress_due_in_numpy(theirs, t + 1.0, draws_theirs, active)
        np.testing.assert_array_equal(got, expected, strict=True)
        np.testing.assert_array_equal(ours.floats, theirs.floats, strict=True)
        np.testing.assert_array_equal(ours.next_stress, theirs.next_stress, strict=True)
        hits += got.size
    assert hits > 100
