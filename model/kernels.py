"""The compiled steps' plumbing: binding a kernel to a run's arrays, entry points, warm-up.

The kernels themselves live beside what they do (``model/sessions.py``, ``doses.py``,
``search.py``, ``postings.py``, ``outcomes.py``; the clinical rows in ``agents/clinical_rows.py``)
and compile the rules of ``agents/`` into their own code. Each module keys its on-disk cache on
the files whose functions it compiles in (``clinical_rows.key_cache_on_maths``, the locator
every kernel module shares, agents' included), so a change to a rule never runs stale.

This module holds what connects them to a run:

* ``BoundKernel``: a kernel called through the entry point compiled for a run's array types
  (Numba's dispatcher would work out every argument's type at each call), with the run's arrays
  passed first; one subclass per kernel the model calls at events names its arrays and the types
  of its scalar arguments.
* ``warm_up_kernels``: every kernel compiled (or loaded from the cache) once per process, before
  a model's first run, so that compiling never falls inside a run.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from agents import clinical as cm
from agents import clinical_rows as rows
from model import doses, outcomes, postings, search, sessions
from model.sessions import PendingDoses

# Numba's types of the kernels' scalar arguments (``BoundKernel.scalars``).
F8, I8, B1 = numba.float64, numba.int64, numba.boolean
_DRAWS_I8 = numba.types.Array(numba.int64, 2, "C")  # a block of draws (model/streams.py)
_DRAWS_F8 = numba.types.Array(numba.float64, 2, "C")


@functools.cache
def compiled_for(kernel, signature: tuple):
    """``kernel`` compiled for ``signature`` (loaded from the on-disk cache when there).

    Called through this entry point, not the dispatcher, which would work out the types of
    every argument at each call (see ``clinical_rows.row_kernels``).
    """
    return kernel.compile(signature)


class BoundKernel:
    """A compiled kernel's entry point and the run's arrays it takes first, in order.

    The caller passes ``*arrays`` and then the scalar arguments to ``entry`` (one Python call
    fewer than a method around it), after ``bind`` when ``stale``: at the first call, and again
    after the pending doses grow or the week book widens (new arrays). A pickle or copy of the
    model leaves the bound arrays and the entry point behind and binds again at its first call.
    Subclasses name the kernel, the types of its scalar arguments and its arrays.
    """

    kernel = None
    scalars: tuple = ()

    def __init__(self, population, weeks, tally=None) -> None:
        self._population = population
        self._weeks = weeks  # the WeekBook the kernel books in
        self._tally = tally
        self.arrays: tuple = ()
        self.entry = None
        self._times = None  # the pending doses' times the arrays were bound with
        self._counts = None  # and the week book's counts

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(arrays=(), entry=None, _times=None, _counts=None)
        return state

    def stale(self) -> bool:
        """Whether ``bind`` must run before the next call."""
        return (
            self._population.pending.times is not self._times
            or self._weeks.counts is not self._counts
        )

    def bind(self) -> None:
        """Read the arrays and find the entry point compiled for their types."""
        self.arrays = self._arrays()
        self._times = self._population.pending.times
        self._counts = self._weeks.counts
        types = tuple(numba.typeof(a) for a in self.arrays) + self.scalars
        self.entry = compiled_for(type(self).kernel, types)

    def _arrays(self) -> tuple:
        raise NotImplementedError


def _clinical_arrays(population) -> tuple:
    """The clinical state's arrays a one-row update takes (``clinical_rows``), in order."""
    c = population.clinical
    return (c.floats, c.n_course, c.dose_ring, c.params_record)


class TherapyKernel(BoundKernel):
    """``sessions.attend_therapy`` on a run's arrays (``KetasimModel.therapy_session``)."""

    kernel = sessions.attend_therapy
    # The types of its scalar arguments, t to book_from.
    scalars = (F8, I8, F8, I8, I8, B1, B1, I8, I8, I8, I8, I8, F8)

    def _arrays(self) -> tuple:
        pop, tally = self._population, self._tally
        pending = pop.pending
        return (
            *_clinical_arrays(pop),
            pop.adherence,
            pop.sessions,
            pop.therapy_org,
            pop.therapy_silos,
            pop.split_orgs,
            pending.times,
            pending.recorded,
            pending.count,
            pending.delays,
            tally.covered_by_day,
            tally.covered_by_payer,
            tally.window,
            self._weeks.counts,
        )


class DoseKernel(BoundKernel):
    """``doses.give_dose`` on a run's arrays (``KetasimModel.give_dose``)."""

    kernel = doses.give_dose
    # The types of its scalar arguments, t to book_from.
    scalars = (F8, I8, F8, I8, I8, F8, I8, F8, F8, F8)

    def _arrays(self) -> tuple:
        pop = self._population
        pending = pop.pending
        return (
            *_clinical_arrays(pop),
            pop.drug_org,
            pop.drug_silos,
            pop.split_orgs,
            pending.times,
            pending.recorded,
            pending.count,
            self._weeks.counts,
        )


class ReferralKernel(BoundKernel):
    """``search.best_therapist`` on a run's therapists (``CareSearch.call_therapists``)."""

    kernel = search.best_therapist
    # After the bound arrays: the block of draws and its row, then n_therapists to ready.
    scalars = (_DRAWS_I8, I8, I8, B1, I8, B1, I8, F8)

    def __init__(self, population, weeks, networks) -> None:
        super().__init__(population, weeks)
        self._networks = networks

    def _arrays(self) -> tuple:
        return (self._weeks.counts, self._networks)


class SearchKernel(BoundKernel):
    """``search.best_clinic`` on a run's clinics (``CareSearch.clinics_heard_of``)."""

    kernel = search.best_clinic
    # After the bound arrays: the two blocks of draws and their rows, then n_clinics to best_u.
    scalars = (_DRAWS_I8, I8, _DRAWS_F8, I8, I8, B1, F8, F8, F8, F8, F8, F8, F8, F8)

    def __init__(self, population, weeks, models, needs) -> None:
        super().__init__(population, weeks)
        self._models = models
        self._needs = needs

    def _arrays(self) -> tuple:
        return (self._models, self._weeks.counts, self._needs)


def one_row() -> tuple:
    """Arrays of one patient, of the types a run's are (for warm-up and tests).

    ``(clinical floats, course counts, dose ring, parameters, pending doses, billing
    organisations, budget bits, split flags)``.
    """
    f = np.zeros((rows.N_FLOAT_FIELDS, 1))
    f[rows.T_LAST_DOSE] = np.nan
    return (
        f,
        np.zeros(1, dtype=np.int32),
        np.full((1, cm.N_RECENT_DOSES), np.nan),
        rows.param_record(cm.ClinicalParams()),
        PendingDoses(1),
        np.full(1, -1, dtype=np.int64),
        np.zeros(1, dtype=np.int8),
        np.zeros(1, dtype=bool),
    )


def _bound_types(arrays: tuple, kernel: type[BoundKernel]) -> tuple:
    return tuple(numba.typeof(a) for a in arrays) + kernel.scalars


def _warm_up_session() -> None:
    f, n_course, ring, params, pending, orgs, silos, split = one_row()
    pending.add(0, 1.0, 60.0)
    arrays = (
        f, n_course, ring, params, np.ones(1), np.full((2, 1), -1, dtype=np.int64), orgs, silos,
        split, pending.times, pending.recorded, pending.count, pending.delays,
        np.zeros(4, dtype=np.int64), np.zeros((4, 4), dtype=np.int64), np.array([0.5, 7.0, 60.0]),
        np.zeros((1, 2), dtype=np.int64),
    )  # fmt: skip
    entry = compiled_for(TherapyKernel.kernel, _bound_types(arrays, TherapyKernel))
    entry(*arrays, 2.0, 0, 0.0, 0, 10, True, True, 1, 2, 7, 0, 6, 3.0)


def _warm_up_dose() -> None:
    f, n_course, ring, params, pending, orgs, silos, split = one_row()
    arrays = (f, n_course, ring, params, orgs, silos, split)
    arrays += (pending.times, pending.recorded, pending.count, np.zeros((1, 2)))
    entry = compiled_for(DoseKernel.kernel, _bound_types(arrays, DoseKernel))
    entry(*arrays, 1.0, 0, 1.0, 7, 2, 60.0, 0, 1.0, 20.0, 4.0)


def _warm_up_search() -> None:
    arrays = (np.zeros((1, 2), dtype=np.int64), np.zeros((1, 4), dtype=bool))
    entry = compiled_for(ReferralKernel.kernel, _bound_types(arrays, ReferralKernel))
    entry(*arrays, np.zeros((1, 2), dtype=np.int64), 0, 1, True, 6, True, 0, 3.0)
    arrays = (np.zeros(1, dtype=np.int8), np.zeros((1, 2)), np.ones(3))
    entry = compiled_for(SearchKernel.kernel, _bound_types(arrays, SearchKernel))
    entry(
        *arrays, np.zeros((1, 2), dtype=np.int64), 0, np.zeros((1, 3)), 0, 1, False,
        1.0, np.nan, 0.5, 20.0, 3.0, 1.0, 10.0, -1.0,
    )  # fmt: skip


def _warm_up_postings() -> None:
    flag, count = np.zeros(1, dtype=bool), np.zeros(1, dtype=np.int32)
    i8, f8 = np.zeros(1, dtype=np.int64), np.zeros(1)
    postings.count_care(
        f8.copy(), i8.copy(), i8.copy(), np.zeros(1, dtype=np.int8), flag.copy(), f8.copy(),
        count.copy(), flag.copy(), count.copy(), flag.copy(), count.copy(), flag.copy(),
        i8.copy(), np.zeros((1, 1), dtype=np.int64), i8.copy(),
    )  # fmt: skip
    pair = np.zeros((1, 2), dtype=np.int64)
    columns = [np.empty(0, dtype=t) for t in (np.float64, np.int32, np.int8, np.int32)]
    columns += [np.empty(0, dtype=np.int8)] * 4 + [np.empty(0, dtype=np.int64)]
    postings.post(
        f8.copy(), i8.copy(), i8.copy(), i8.copy(), i8.copy(), pair.copy(), pair.copy(),
        pair.copy(), pair.copy(), np.zeros((1, 2)), np.full((1, 2), -1, dtype=np.int64),
        i8.copy(), i8.copy(), i8.copy(), f8.copy(), 2, 3, i8.copy(), f8.copy(), i8.copy(),
        np.zeros((1, 4)), np.zeros(4, dtype=np.int64), np.zeros(3, dtype=np.int64),
        np.zeros(3, dtype=np.int64), np.zeros(2), 1.03, False, 0, *columns,
    )  # fmt: skip


def _warm_up_outcomes() -> None:
    one, yes, col = np.zeros(1, dtype=np.int64), np.ones(1, dtype=bool), np.zeros(1)
    outcomes.record_day(
        1.0, one, yes, yes, 1.0, 1.0, 1.0, 1.0, 1.0, col.copy(), col.copy(), col.copy(),
        yes.copy(), yes.copy(), yes.copy(), yes.copy(), col.copy(), np.zeros(1, dtype=np.int8),
        one.copy(), one.copy(),
    )  # fmt: skip


@functools.cache
def warm_up_kernels() -> None:
    """Compile every kernel now, for the arrays a run binds: once per process.

    A few seconds the first time (less when the on-disk cache has them); called by every new
    model, so that compiling never falls inside a run (the first day's doses, a timed benchmark,
    a run with a time limit). Later calls cost nothing.
    """
    rows.warm_up()
    _warm_up_outcomes()
    _warm_up_postings()
    _warm_up_session()
    _warm_up_dose()
    _warm_up_search()
