"""Where patients find care: the clinics they hear of, and the therapists a referral calls.

A patient hears of a handful of clinics (``patients.n_candidate_clinics``) and a referral calls
a handful of therapists (``therapists.n_calls``), not the whole market (local referral
networks). The draws of who is heard of and of the taste shocks come from the ``choice`` and
``referral`` streams a block at a time (``DrawBlock``); the comparison runs compiled
(``model/search.py``) over the clinics' and therapists' arrays.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from agents.codes import BusinessModel
from model.kernels import ReferralKernel, SearchKernel
from model.streams import DrawBlock

if TYPE_CHECKING:
    from agents.patient import Patient
    from agents.prescriber import Prescriber
    from agents.therapist import Therapist


class CareSearch:
    """The searches of one run (``KetasimModel.search``)."""

    def __init__(self, model) -> None:
        scenario, population = model.scenario, model.population
        self.clinics: list[Prescriber] = model.prescribers
        self.therapists: list[Therapist] = model.therapists
        k_clinics, k_calls = scenario.patients.n_candidate_clinics, scenario.therapists.n_calls
        # Every clinic is heard of (in order) when there are no more than a patient hears of;
        # every therapist called when there are no more than a referral calls.
        self._hear_of_all = len(self.clinics) <= k_clinics
        self._call_all = len(self.therapists) <= k_calls
        self._no_picks = np.zeros((1, 1), dtype=np.int64)  # when every one is heard of
        clinic = self.clinics[0]  # one week book and model array for every clinic
        hours = np.array([clinic.hours_per_dose(bm) for bm in BusinessModel])
        self._clinic_kernel = SearchKernel(population, clinic.weeks, clinic.models, hours)
        self._chair_room = clinic.chair_room
        if self.therapists:
            first = self.therapists[0]
            self._therapist_kernel = ReferralKernel(population, first.weeks, first.networks)
            self._therapist_capacity = first.capacity  # the same for every therapist
        # At least one of each to draw among: with none, no block is ever drawn from.
        n_clinics, n_therapists = max(len(self.clinics), 1), max(len(self.therapists), 1)
        choice, referral = model.streams["choice"], model.streams["referral"]
        self.clinic_picks = DrawBlock(choice, "integers", 0, n_clinics, shape=(k_clinics,))
        self.taste_shocks = DrawBlock(choice, "gumbel", shape=(k_clinics + 1,))
        self.therapist_picks = DrawBlock(referral, "integers", 0, n_therapists, shape=(k_calls,))

    def clinics_heard_of(
        self,
        values: tuple[float, ...],
        earliest: float,
        now: float,
        tolerance: float,
        best_u: float,
    ) -> tuple[Prescriber | None, float, float, float]:
        """The best of the clinics a patient hears of (``search.best_clinic``), if any.

        Draws the distinct clinics heard of and the taste shocks, then finds the clinic of best
        utility above ``best_u``: a course's value by business model (``values``, NaN where
        this patient cannot have it), less the wait from ``now`` to its first free chair from
        ``earliest`` over ``tolerance``, plus its shock.

        Returns:
            ``(the clinic or None, its start, the best utility, the last shock)``: the last
            shock is therapy alone's.
        """
        kernel = self._clinic_kernel
        if kernel.stale():
            kernel.bind()
        picks, pick = self._heard_of(self.clinic_picks, self._hear_of_all)
        shocks, shock = self.taste_shocks.next_row()
        best, start, best_u = kernel.entry(
            *kernel.arrays, picks, pick, shocks, shock, len(self.clinics), self._hear_of_all,
            values[0], values[1], values[2], self._chair_room, earliest, now, tolerance, best_u,
        )  # fmt: skip
        clinic = self.clinics[best] if best >= 0 else None
        return clinic, start, best_u, shocks[shock, -1].item()

    def call_therapists(self, patient: Patient, ready: float) -> tuple[Therapist | None, float]:
        """A referral's calls (``search.best_therapist``): who offers the earliest slot.

        Those outside the network of the patient's payer count only for a patient who can pay
        cash; each offers its first free slot from ``ready``; calls stop at a slot no later
        than ``ready``.

        Returns:
            ``(the therapist or None, the slot's time or inf)``.
        """
        if not self.therapists:
            return None, math.inf
        kernel = self._therapist_kernel
        if kernel.stale():
            kernel.bind()
        picks, pick = self._heard_of(self.therapist_picks, self._call_all)
        best, slot = kernel.entry(
            *kernel.arrays, picks, pick, len(self.therapists), self._call_all,
            self._therapist_capacity, patient.can_pay_cash, patient.payer_kind, ready,
        )  # fmt: skip
        return (self.therapists[best] if best >= 0 else None), slot

    def _heard_of(self, picks: DrawBlock, everyone: bool) -> tuple[np.ndarray, int]:
        """The next row of draws of who is heard of; nothing is drawn when ``everyone`` is."""
        return (self._no_picks, 0) if everyone else picks.next_row()
