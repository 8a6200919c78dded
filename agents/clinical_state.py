"""Patient clinical state as arrays (one row a patient), advanced with the pure functions.

The agent-based model and the virtual-trial runner both keep their patients' clinical state in
one ``ClinicalState``: a struct of NumPy arrays. Events touch single rows; daily metrics read all
rows at once without a Python loop over patients (docs/ODD.md §1.2).
"""

from __future__ import annotations

import functools

import numpy as np

from agents import clinical as cm
from agents import clinical_rows as kernels
from agents.clinical import ClinicalParams


def _field(k: int) -> property:
    """A per-patient float field: row ``k`` of ``ClinicalState.floats`` (a view, not a copy)."""
    return property(lambda self: self.floats[k], doc=f"Row {k} of ``floats``.")


def _bad_row(i: int, size: int) -> str:
    return f"patient row {i} is out of range (rows 0 to {size - 1})"


class ClinicalState:
    """Clinical state of a population of patients, in structure-of-arrays form.

    Attributes:
        b, r, n: Structural layer values at ``t_update`` (0-1).
        b0, r0, n0: Baseline (pre-treatment) layer values.
        sev0: Baseline severity (0-60).
        sensitivity: Single-dose relief on b (0-1) for IV racemic ketamine.
        relief_last: Relief on b just after the last dose.
        t_last_dose: Time of the last dose, days (NaN for none).
        n_course: Doses in the current course.
        dose_ring: Times of recent doses, shape (N, K), NaN for none.
        t_update: Time the structural values were last advanced to.
        next_stress: Time of the next candidate stress event (thinned on arrival).
    """

    def __init__(self, b0, r0, n0, sensitivity, rel_dur, p: ClinicalParams) -> None:
        self.p = p
        b0 = np.asarray(b0, dtype=float)
        size = len(b0)
        # The per-patient floats live in one (field, patient) array so that a compiled one-row
        # update takes one array, not eleven (each costs time to hand over); each field is a
        # contiguous row of it, read and written through the properties below.
        self.floats = np.empty((kernels.N_FLOAT_FIELDS, size))
        self.b0[:] = b0
        self.r0[:] = np.asarray(r0, dtype=float)
        self.n0[:] = np.asarray(n0, dtype=float)
        self.sensitivity[:] = np.asarray(sensitivity, dtype=float)
        self.rel_dur[:] = np.asarray(rel_dur, dtype=float)
        self.b[:] = self.b0
        self.r[:] = self.r0
        self.n[:] = self.n0
        self.relief_last[:] = 0.0
        self.t_last_dose[:] = np.nan
        self.t_update[:] = 0.0
        self.sev0 = cm.severity(self.b0, self.r0, self.n0, p)
        self.n_course = np.zeros(size, dtype=np.int32)
        self.dose_ring = np.full((size, cm.N_RECENT_DOSES), np.nan)
        self.next_stress = np.full(size, np.inf)
        self._params = kernels.param_record(p)
        self._size = size

    @functools.cached_property
    def _rows(self) -> kernels.RowKernels:
        """The one-row kernels' entry points for these arrays (bound at the first row update)."""
        return kernels.row_kernels(self.floats, self.n_course, self.dose_ring, self._params)

    @property
    def params_record(self) -> np.ndarray:
        """The clinical parameters as the compiled kernels take them (``param_record``)."""
        return self._params

    def __getstate__(self) -> dict:
        # The compiled entry points are not data: a copy or pickle binds its own.
        state = self.__dict__.copy()
        state.pop("_rows", None)
        return state

    b = _field(kernels.B)
    r = _field(kernels.R)
    n = _field(kernels.N)
    b0 = _field(kernels.B0)
    r0 = _field(kernels.R0)
    n0 = _field(kernels.N0)
    sensitivity = _field(kernels.SENSITIVITY)
    rel_dur = _field(kernels.REL_DUR)
    relief_last = _field(kernels.RELIEF_LAST)
    t_last_dose = _field(kernels.T_LAST_DOSE)
    t_update = _field(kernels.T_UPDATE)

    def __len__(self) -> int:
        return self._size

    @functools.cached_property
    def baseline_totals(self) -> tuple[float, float, float, float]:
        """Sums over all rows of (sev0, b0, r0, n0): baselines never change, so summed once."""
        return (
            float(self.sev0.sum()),
            float(self.b0.sum()),
            float(self.r0.sum()),
            float(self.n0.sum()),
        )

    # -- reading -------------------------------------------------------------------------
    def relief(self, t, idx=slice(None)):
        """Acute relief on b at time ``t`` for rows ``idx``.

        Only rows whose relief can still be above zero are put through the Weibull curve (its
        power is the costly part): in a long run most treated patients were never dosed or are
        past ``relief_zero_ratio``, where the curve is exactly zero. Same values as evaluating
        every row.
        """
        dt = np.asarray(t - self.t_last_dose[idx], dtype=float)
        shape = dt.shape
        dt = dt.ravel()
        n_course = np.ravel(self.n_course[idx])
        rel_dur = np.ravel(self.rel_dur[idx])
        # NaN (never dosed) compares False: no relief.
        live = np.flatnonzero(
            dt < cm.relief_zero_ratio(self.p) * cm.relief_scale(n_course, rel_dur, self.p)
        )
        relief_last = np.ravel(self.relief_last[idx])[live]
        out = np.zeros(dt.shape)
        out[live] = cm.relief_at(relief_last, dt[live], n_course[live], rel_dur[live], self.p)
        return out.reshape(shape)

    def structural_at(self, t, idx=slice(None)):
        """Structural (b, r, n) at time ``t`` by closed-form drift (no stress events)."""
        n0 = self.n0[idx]
        stab = cm.stabilisation(self.n[idx], n0, self.p)
        dt = np.maximum(t - self.t_update[idx], 0.0)
        remaining = cm.drift_remaining(dt, stab, self.p)
        b = cm.drift_by(self.b[idx], self.b0[idx], remaining)
        r = cm.drift_by(self.r[idx], self.r0[idx], remaining)
        n = cm.drift_by(self.n[idx], n0, remaining)
        return b, r, n

    def severity_at(self, t: float, idx=slice(None)):
        """Severity (0-60) at time ``t`` for rows ``idx``; also returns the layers as felt.

        ``idx``: all rows, an array of row numbers or a boolean mask. The same values as
        ``structural_at`` and ``relief`` give (``tests/test_clinical_rows.py``), computed in two
        compiled passes around NumPy's exp and power (``clinical_rows.severity_many``).
        """
        if isinstance(idx, slice):
            rows = np.arange(self._size)[idx]
        else:
            idx = np.asarray(idx)
            if idx.dtype == bool:
                if idx.shape != (self._size,):
                    raise IndexError(f"row mask of shape {idx.shape} for {self._size} rows")
                rows = np.flatnonzero(idx)
            else:
                rows = idx.astype(np.int64, copy=False).ravel()
                if rows.size and not (rows.min() >= 0 and rows.max() < self._size):
                    bad = rows[(rows < 0) | (rows >= self._size)][0]
                    raise IndexError(_bad_row(int(bad), self._size))
        return kernels.severity_many(
            self.floats, self.n_course, self._params, self.p, float(t), rows
        )

    # -- writing -------------------------------------------------------------------------
    def advance(self, t, idx) -> None:
        """Advance rows ``idx`` to time ``t`` by drift (stress events are applied separately)."""
        b, r, n = self.structural_at(t, idx)
        self.b[idx], self.r[idx], self.n[idx] = b, r, n
        self.t_update[idx] = t

    def schedule_stress(self, t, idx, rng: np.random.Generator) -> None:
        """Draw the next candidate stress time for rows ``idx`` at the maximal hazard."""
        count = np.size(self.b0[idx])
        if self.p.rate_stress_per_day <= 0.0:
            self.next_stress[idx] = np.inf
            return
        gaps = rng.exponential(1.0 / self.p.rate_stress_per_day, count)
        self.next_stress[idx] = t + (gaps if np.ndim(self.b0[idx]) else float(gaps[0]))

    def stress_due(self, t, rng: np.random.Generator, active=None) -> np.ndarray:
        """Process candidate stress events due by ``t``; returns the rows that had one.

        Candidates arrive at the maximal hazard and are accepted with probability equal to the
        patient's stabilisation multiplier (thinning), which gives the narrative-lowered hazard.
        """
        due = self.next_stress <= t
        if active is not None:
            due &= active
        rows = np.flatnonzero(due)
        if rows.size == 0:
            return rows
        when = self.next_stress[rows]
        stab = np.empty(rows.size)
        kernels.stabilisations(self.floats, self._params, rows, stab)
        accept = rng.random(rows.size) < stab
        hit = rows[accept]
        # Each row at its own event time; a row appears once per pass: drift to it (NumPy's
        # exp), then the setback (``stress_setback``), compiled around the exp.
        hit_when = when[accept]
        dt = np.maximum(hit_when - self.t_update[hit], 0.0)
        remaining = cm.drift_remaining(dt, stab[accept], self.p)
        kernels.stress_rows(self.floats, self._params, hit, hit_when, remaining)
        gaps = rng.exponential(1.0 / self.p.rate_stress_per_day, rows.size)
        self.next_stress[rows] = when + gaps
        if np.any(self.next_stress[rows] <= t):
            # Two candidate events inside one interval: take the later ones in a second pass.
            later = np.zeros(len(self), dtype=bool)
            later[rows] = True
            hit = np.concatenate([hit, self.stress_due(t, rng, later)])
        return hit

    # -- one row at a time (the agent-based model's events) ------------------------------
    # Compiled kernels (clinical_rows) running the same pure functions: NumPy's per-call cost
    # would dominate single-row updates, and so would Python's calls. They are
    # called through their compiled entry points (``clinical_rows.row_kernels``), which skip
    # Numba's dispatch but convert a row number to an integer without asking; and compiled
    # code does not check indices (an exception raised inside it can corrupt memory in this
    # Numba). So each row number is checked here first: an ``int`` in range.

    def _row(self, i) -> int:
        """``i`` as a row number, or a clear error (the check behind each one-row method)."""
        if isinstance(i, bool | float) or not isinstance(i, int | np.integer):
            raise TypeError(f"a patient row must be an integer, got {i!r}")
        i = int(i)
        if not 0 <= i < self._size:
            raise IndexError(_bad_row(i, self._size))
        return i

    def relief_row(self, t: float, i: int) -> float:
        """Acute relief on b of row ``i`` at time ``t``."""
        if type(i) is not int or not 0 <= i < self._size:
            i = self._row(i)
        return self._rows.relief_row(self.floats, self.n_course, self._params, t, i)

    def severity_row(self, t: float, i: int) -> float:
        """Severity (0-60) of row ``i`` at time ``t`` (without changing its state)."""
        if type(i) is not int or not 0 <= i < self._size:
            i = self._row(i)
        return self._rows.severity_row(self.floats, self.n_course, self._params, t, i)

    def dose_row(self, t: float, i: int, rel_relief: float) -> None:
        """A dose at time ``t`` for row ``i`` (same maths as ``dose``)."""
        if type(i) is not int or not 0 <= i < self._size:
            i = self._row(i)
        self._rows.dose_row(
            self.floats, self.n_course, self.dose_ring, self._params, t, i, rel_relief
        )

    def session_row(self, t: float, i: int, relief: float | None = None) -> None:
        """A therapy/integration session at time ``t`` for row ``i`` (same maths as ``session``).

        ``relief`` is row ``i``'s acute relief at ``t`` when the caller has just read it
        (``relief_row``; drift does not change it), so it is not computed twice.
        """
        if type(i) is not int or not 0 <= i < self._size:
            i = self._row(i)
        rows = self._rows
        if relief is None:
            relief = rows.relief_row(self.floats, self.n_course, self._params, t, i)
        rows.session_row(self.floats, self.dose_ring, self._params, t, i, relief)

    # -- many rows at once (the trial runner) ----------------------------------------------

    def dose(self, t: float, i, rel_relief: float) -> None:
        """A ketamine or esketamine dose at time ``t`` for row(s) ``i``."""
        self.advance(t, i)
        last = self.t_last_dose[i]
        new_course = np.isnan(last) | (t - last > self.p.dur_course_gap_days)
        relief_now = self.relief(t, i)
        self.n_course[i] = np.where(new_course, 1, self.n_course[i] + 1)
        self.relief_last[i] = cm.relief_after_dose(
            relief_now, self.sensitivity[i] * rel_relief, self.p
        )
        self.t_last_dose[i] = t
        self.b[i] = cm.spontaneous_gain(self.b[i], self.p)
        ring = self.dose_ring[i]
        ring = np.roll(ring, 1, axis=-1)
        ring[..., 0] = t
        self.dose_ring[i] = ring

    def session(self, t: float, i) -> None:
        """A therapy/integration session at time ``t`` for row(s) ``i``."""
        self.advance(t, i)
        # Assumption: the window opens as wide as the drug acts on this patient (the same
        # synaptogenic response underlies relief and plasticity); Wilkinson 2017's drug
        # non-responders gained little from the added therapy.
        p_now = cm.plasticity(t, self.dose_ring[i], self.p) * self.sensitivity[i]
        acute = cm.is_acute_phase(t, self.t_last_dose[i], self.p)
        acute = np.where(np.isnan(self.t_last_dose[i]), False, acute)
        self.b[i], self.r[i], self.n[i] = cm.apply_session(
            self.b[i],
            self.r[i],
            self.n[i],
            self.b0[i],
            self.r0[i],
            self.n0[i],
            self.relief(t, i),
            p_now,
            acute,
            self.p,
        )
