"""One patient's clinical update, compiled: the pure functions of ``clinical`` run by Numba.

The agent-based model updates one row of ``ClinicalState`` per dose, session and attendance
check: a few hundred thousand times a year per 100,000 patients, so the update is compiled
(docs/performance.md gives what it saves).

Nothing here restates the clinical model. The kernels below only read a row, call the pure
functions of ``agents.clinical`` (registered with Numba, so the same source is compiled) and
write the row back. The element-wise helpers of ``clinical`` that branch on NumPy arrays get
their plain-float branch here, since a row is always floats. ``tests/test_clinical_rows.py``
checks every kernel against the same pure functions run by Python, to the bit.

Compiling happens once per process (``warm_up``, before a model's first run). The result is
cached on disk (``__pycache__``), keyed, unlike Numba's own cache, on ``clinical.py`` as well as
this file, so a process that finds it loads the kernels in a fraction of a second and a change
to the clinical maths is never run stale (see ``_install_cache_locators``).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numba
import numpy as np
from numba import njit
from numba.core import caching
from numba.extending import overload, register_jitable

from agents import clinical as cm
from agents.clinical import ClinicalParams


def _install_cache_locators() -> bool:
    """Have Numba's cache key this module's kernels on the clinical maths' source too.

    Numba's cache checks only the source file that defines a function (here, this one), but
    the kernels are mostly ``agents/clinical.py``'s functions: a change there alone would load
    stale maths from the cache. Numba's own locators (the ``__pycache__`` next to this file, or
    the user-wide cache when that is not writable), limited to the functions of this module and
    of those that compile its kernels into their own (``key_cache_on_maths``), get the SHA-256
    of the sources each module's functions compile in (``_KEYED_MODULES``) added to their
    source stamp. Returns False, and the kernels are then compiled afresh in every process,
    when Numba's locator API is not as expected.
    """
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    names = ("InTreeCacheLocator", "UserWideCacheLocator")
    bases = [getattr(caching, name, None) for name in names]
    if not isinstance(classes, list) or any(base is None for base in bases):
        return False
    if getattr(numba.config, "CACHE_LOCATOR_CLASSES", None):
        return False  # the user chose the locators: ours would not be asked
    for base in reversed(bases):
        classes.insert(0, _keyed_on_maths(base, _KEYED_MODULES))
    return True


def _keyed_on_maths(base: type, digests: dict[str, str]) -> type:
    """Numba's locator ``base``, for the functions of the modules in ``digests`` only.

    Each such function's source stamp gets its module's digest of its sources added.
    """

    class Locator(base):
        def get_source_stamp(self):
            return (super().get_source_stamp(), self.maths)

        @classmethod
        def from_function(cls, py_func, py_file):
            maths = digests.get(py_func.__module__)
            if maths is None:
                return None  # someone else's function: Numba's usual locators
            locator = super().from_function(py_func, py_file)
            if locator is not None:
                locator.maths = maths
            return locator

    Locator.__name__ = Locator.__qualname__ = f"ClinicalMaths{base.__name__}"
    return Locator


def maths_digest(*sources) -> str:
    """SHA-256 of ``clinical.py``, this file and ``sources`` (paths), in that order."""
    paths = (cm.__file__, __file__, *sources)
    return hashlib.sha256(b"".join(Path(path).read_bytes() for path in paths)).hexdigest()


# Module -> the digest of the sources its compiled functions are built from.
_KEYED_MODULES = {__name__: maths_digest()}
_CACHE = _install_cache_locators()


def key_cache_on_maths(module: str, *sources) -> bool:
    """Key the on-disk cache of ``module``'s compiled functions on the clinical maths too.

    For a module whose kernels call this one's (``model.sessions``): without it, a change to
    ``clinical.py`` alone would load its stale kernels. ``sources`` are the paths of any other
    files whose compiled functions the module's kernels call (Numba would not notice a change
    there either). Returns the ``cache`` flag its kernels should be compiled with (False when
    the locators could not be installed).
    """
    _KEYED_MODULES[module] = maths_digest(*sources)
    return _CACHE


# Rows of ``ClinicalState.floats`` (one row per per-patient float).
B, R, N, B0, R0, N0, SENSITIVITY, REL_DUR, RELIEF_LAST, T_LAST_DOSE, T_UPDATE = range(11)
N_FLOAT_FIELDS = 11

# ``ClinicalParams`` as the kernels see it: a NumPy record with the same field names, so that
# ``p.shape_relief`` reads the same in compiled code. (A one-element structured array is far
# cheaper to hand over at each call than a named tuple of Python floats.)
_PARAM_DTYPE = np.dtype([(name, np.float64) for name in ClinicalParams.model_fields])


def param_record(p: ClinicalParams) -> np.ndarray:
    """``p`` as the one-element structured array the kernels take (whole floats for ints)."""
    record = np.zeros(1, dtype=_PARAM_DTYPE)
    for name in ClinicalParams.model_fields:
        record[name] = float(getattr(p, name))
    return record


# -- the plain-float branch of clinical's element-wise helpers ---------------------------------


@overload(cm._exp)
def _exp_float(x):
    return lambda x: math.exp(x)


@overload(cm._maximum)
def _maximum_float(a, b):
    return lambda a, b: a if a >= b else b


@overload(cm._minimum)
def _minimum_float(a, b):
    return lambda a, b: a if a <= b else b


@overload(cm._clip)
def _clip_float(x, lo, hi):
    return lambda x, lo, hi: lo if x < lo else hi if x > hi else x


@overload(cm._where)
def _where_float(cond, a, b):
    return lambda cond, a, b: a if cond else b


for _pure in (
    cm.severity,
    cm.relief_scale,
    cm.relief_at,
    cm.relief_ratio,
    cm.relief_survival,
    cm.relief_after_dose,
    cm.effective_b,
    cm._plasticity_pulse_one,
    cm.plasticity_one,
    cm.spontaneous_gain,
    cm.session_gain,
    cm.loosening,
    cm.apply_session,
    cm.stabilisation,
    cm.drift_remaining,
    cm.drift_exponent,
    cm.drift_by,
    cm.stress_setback,
    cm.p_attend,
):
    register_jitable(_pure)


# -- reading a row --------------------------------------------------------------------------


@register_jitable
def row_relief(f, n_course, p, t, i):
    """Acute relief on b of row ``i`` at ``t`` (for compiled callers; ``relief_row``)."""
    last = f[T_LAST_DOSE, i]
    if last != last:  # NaN: never dosed
        return 0.0
    return cm.relief_at(f[RELIEF_LAST, i], t - last, n_course[i], f[REL_DUR, i], p)


@register_jitable
def _drifted(f, p, t, i):
    b, r, n = f[B, i], f[R, i], f[N, i]
    dt = t - f[T_UPDATE, i]
    if dt > 0.0:
        n0 = f[N0, i]
        remaining = cm.drift_remaining(dt, cm.stabilisation(n, n0, p), p)
        b = cm.drift_by(b, f[B0, i], remaining)
        r = cm.drift_by(r, f[R0, i], remaining)
        n = cm.drift_by(n, n0, remaining)
    return b, r, n


@register_jitable
def _advance(f, p, t, i):
    b, r, n = _drifted(f, p, t, i)
    f[B, i], f[R, i], f[N, i] = b, r, n
    f[T_UPDATE, i] = t
    return b, r, n


# -- the kernels ----------------------------------------------------------------------------


@njit(cache=_CACHE)
def relief_row(f, n_course, params, t, i):
    """Acute relief on b of row ``i`` at time ``t``."""
    return row_relief(f, n_course, params[0], t, i)


@njit(cache=_CACHE)
def severity_row(f, n_course, params, t, i):
    """Severity of row ``i`` at time ``t``, by drift and relief (the row is not changed)."""
    p = params[0]
    b, r, n = _drifted(f, p, t, i)
    return cm.severity(cm.effective_b(b, row_relief(f, n_course, p, t, i)), r, n, p)


@njit(cache=_CACHE)
def dose_row(f, n_course, ring, params, t, i, rel_relief):
    """A dose at time ``t`` for row ``i``: drift, relief, course count, gain, dose ring."""
    row_dose(f, n_course, ring, params[0], t, i, rel_relief)


@register_jitable
def row_dose(f, n_course, ring, p, t, i, rel_relief):
    """``dose_row`` with the parameters as a record (for other compiled callers)."""
    b, _, _ = _advance(f, p, t, i)
    last = f[T_LAST_DOSE, i]
    relief_now = row_relief(f, n_course, p, t, i)
    new_course = last != last or t - last > p.dur_course_gap_days
    n_course[i] = 1 if new_course else n_course[i] + 1
    f[RELIEF_LAST, i] = cm.relief_after_dose(relief_now, f[SENSITIVITY, i] * rel_relief, p)
    f[T_LAST_DOSE, i] = t
    f[B, i] = cm.spontaneous_gain(b, p)
    for k in range(ring.shape[1] - 1, 0, -1):
        ring[i, k] = ring[i, k - 1]
    ring[i, 0] = t


@njit(cache=_CACHE)
def session_row(f, ring, params, t, i, relief):
    """A therapy/integration session at time ``t`` for row ``i``: the gated layer gains.

    ``relief`` is the row's acute relief at ``t`` (``relief_row``; drift does not change it).
    """
    row_session(f, ring, params[0], t, i, relief)


@register_jitable
def row_session(f, ring, p, t, i, relief):
    """``session_row`` with the parameters as a record (for other compiled callers)."""
    b, r, n = _advance(f, p, t, i)
    last = f[T_LAST_DOSE, i]
    p_now = cm.plasticity_one(t, ring[i], p) * f[SENSITIVITY, i]
    acute = last == last and 0.0 <= t - last < p.dur_acute_days
    f[B, i], f[R, i], f[N, i] = cm.apply_session(
        b, r, n, f[B0, i], f[R0, i], f[N0, i], relief, p_now, acute, p
    )


# -- many rows: the daily sample's severity, in two compiled passes around NumPy ---------------
# The powers and exponentials are left to NumPy, whose vectorised exp is not the C library's
# (they differ in the last bit on this machine's AVX-512): the daily severities stay the values
# ``structural_at`` and ``relief`` give. The passes do the gathers and the arithmetic around
# them, which NumPy would do in ~25 temporaries.


@njit(cache=_CACHE)
def severity_exponents(f, n_course, params, t, rows, zero_ratio, exponent, live, ratio):
    """Pass 1 over ``rows``: drift exponents, and relief ratios where relief may be above zero.

    The positions (in ``rows``) of those whose relief may be above zero go to ``live``, their
    ratios to ``ratio``; returns how many there are.
    """
    p = params[0]
    n_live = 0
    for j in range(rows.size):
        i = rows[j]
        stab = cm.stabilisation(f[N, i], f[N0, i], p)
        exponent[j] = cm.drift_exponent(cm._maximum(t - f[T_UPDATE, i], 0.0), stab, p)
        since_dose = t - f[T_LAST_DOSE, i]
        # As ``ClinicalState.relief``: rows past the curve's zero (or never dosed: NaN) skip it.
        if since_dose < zero_ratio * cm.relief_scale(n_course[i], f[REL_DUR, i], p):
            live[n_live] = j
            ratio[n_live] = cm.relief_ratio(since_dose, n_course[i], f[REL_DUR, i], p)
            n_live += 1
    return n_live


@njit(cache=_CACHE)
def severity_layers(f, params, rows, remaining, live, survival, n_live, sev, b_eff, r, n):
    """Pass 2 over ``rows``: drifted layers, felt b and severity, from pass 1's NumPy results."""
    p = params[0]
    k = 0
    for j in range(rows.size):
        i = rows[j]
        left = remaining[j]
        b = cm.drift_by(f[B, i], f[B0, i], left)
        r[j] = cm.drift_by(f[R, i], f[R0, i], left)
        n[j] = cm.drift_by(f[N, i], f[N0, i], left)
        relief = 0.0
        if k < n_live and live[k] == j:
            relief = f[RELIEF_LAST, i] * survival[k]  # ``relief_at``: last relief x survival
            k += 1
        b_eff[j] = cm.effective_b(b, relief)
        sev[j] = cm.severity(b_eff[j], r[j], n[j], p)


def severity_many(f, n_course, params, p: ClinicalParams, t: float, rows: np.ndarray):
    """Severity, felt b, r and n of ``rows`` at time ``t`` (``ClinicalState.severity_at``).

    ``params`` is ``p`` as ``param_record`` gives it.
    """
    zero_ratio = cm.relief_zero_ratio(p)
    size = rows.size
    exponent, ratio = np.empty(size), np.empty(size)
    live = np.empty(size, dtype=np.int64)
    n_live = severity_exponents(f, n_course, params, t, rows, zero_ratio, exponent, live, ratio)
    # ``drift_remaining`` (the exp of its exponent) and ``relief_survival``, on NumPy arrays.
    remaining = np.exp(exponent)
    survival = cm.relief_survival(ratio[:n_live], p)
    sev, b_eff, r, n = np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    severity_layers(f, params, rows, remaining, live, survival, n_live, sev, b_eff, r, n)
    return sev, b_eff, r, n


# -- a day's stress events, around NumPy's draws and exp ----------------------------------------


@njit(cache=_CACHE)
def stabilisations(f, params, rows, out):
    """``stabilisation`` of each of ``rows`` (into ``out``)."""
    p = params[0]
    for j in range(rows.size):
        i = rows[j]
        out[j] = cm.stabilisation(f[N, i], f[N0, i], p)


@njit(cache=_CACHE)
def stress_rows(f, params, rows, when, remaining):
    """Stress events on ``rows`` at times ``when``: drift to then, then the setback.

    ``remaining`` is each row's drift factor to its event (``drift_remaining``, from NumPy): the
    rows are advanced to their events (``ClinicalState.advance``) and each layer is then set
    back (``stress_setback``).
    """
    p = params[0]
    for j in range(rows.size):
        i = rows[j]
        left = remaining[j]
        b = cm.drift_by(f[B, i], f[B0, i], left)
        r = cm.drift_by(f[R, i], f[R0, i], left)
        n = cm.drift_by(f[N, i], f[N0, i], left)
        f[T_UPDATE, i] = when[j]
        f[B, i] = cm.stress_setback(b, f[B0, i], p)
        f[R, i] = cm.stress_setback(r, f[R0, i], p)
        f[N, i] = cm.stress_setback(n, f[N0, i], p)


class RowKernels(NamedTuple):
    """The one-row kernels compiled for one set of state arrays, called without dispatch."""

    relief_row: Callable
    severity_row: Callable
    dose_row: Callable
    session_row: Callable


def row_kernels(f, n_course, ring, params) -> RowKernels:
    """The one-row kernels' compiled entry points for arrays of the types of these.

    Numba's dispatcher works out the types of a call's arguments and looks up the machine code
    for them at every call: most of a one-row update's cost, a few hundred thousand times a
    run. The entry point of the code compiled for these types (from the on-disk cache
    when there) skips that; it still converts each argument, and refuses an array of another
    type (``TypeError``) rather than misread it. Scalars are converted: ``t`` to a float, ``i``
    to an integer, so callers pass an ``int`` row (``ClinicalState`` checks it).
    """
    t, i = numba.float64, numba.int64
    f_t, course_t = numba.typeof(f), numba.typeof(n_course)
    ring_t, params_t = numba.typeof(ring), numba.typeof(params)
    return RowKernels(
        relief_row.compile((f_t, course_t, params_t, t, i)),
        severity_row.compile((f_t, course_t, params_t, t, i)),
        dose_row.compile((f_t, course_t, ring_t, params_t, t, i, t)),
        session_row.compile((f_t, ring_t, params_t, t, i, t)),
    )


@functools.cache
def warm_up() -> None:
    """Compile the kernels now, once per process, rather than inside a run's first dose."""
    f = np.zeros((N_FLOAT_FIELDS, 1))
    f[T_LAST_DOSE] = np.nan
    n_course = np.zeros(1, dtype=np.int32)
    ring = np.full((1, cm.N_RECENT_DOSES), np.nan)
    params = param_record(ClinicalParams())
    dose_row(f, n_course, ring, params, 1.0, 0, 1.0)
    session_row(f, ring, params, 2.0, 0, relief_row(f, n_course, params, 2.0, 0))
    relief_row(f, n_course, params, 3.0, 0)
    severity_row(f, n_course, params, 4.0, 0)
    severity_many(f, n_course, params, ClinicalParams(), 5.0, np.zeros(1, dtype=np.int64))
    one = np.zeros(1, dtype=np.int64)
    stab = np.empty(1)
    stabilisations(f, params, one, stab)
    stress_rows(f, params, one, np.full(1, 6.0), stab)
