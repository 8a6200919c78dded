"""Therapists: weekly capacity, payer networks by rate vs reservation rate, integration training.

Outside an integrated programme a referred patient gets the next free slot, and the plasticity
window has usually closed by then; inside one, the programme books slots 1-3 days after each
dose with a therapist trained in ketamine integration.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left
from typing import Annotated

import mesa
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agents import payments
from agents.calendar import DAYS_PER_WEEK, WEEKS_PER_YEAR
from agents.codes import Code, PayerKind
from agents.weeks import WeekBook, free_week, week_time

Usd = Annotated[float, Field(ge=0.0, le=1_000_000.0, allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class TherapistParams(BaseModel):
    """Therapist supply and decisions (the scenario's ``[therapists]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    n_per_1000_patients: Annotated[float, Field(gt=0.0, le=1000.0)] = Field(
        12.0,
        description=(
            "Therapists serving the catchment per 1,000 treatment-resistant patients "
            "(assumption; scaled by the therapist-supply lever)."
        ),
    )
    n_slots_per_week: Annotated[int, Field(ge=1, le=60)] = Field(
        6,
        description=(
            "Weekly sessions each therapist can give this catchment's TRD patients (the rest of "
            "the caseload is other patients; assumption)."
        ),
    )
    rel_slots_rate_elasticity: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        1.5,
        description=(
            "Elasticity of the hours therapists give insured TRD patients to the payer rate "
            "multiplier (higher rates draw hours into insured practice; assumption)."
        ),
    )
    usd_cash_rate: Usd = Field(
        130.0, description="Cash rate per 60-min session, USD (surveys: $100-200, mean $130)."
    )
    usd_median_reservation: Usd = Field(
        115.0,
        description="Median rate a therapist needs to join a network, USD/session (assumption).",
    )
    sd_log_reservation: Annotated[float, Field(ge=0.0, le=2.0)] = Field(
        0.2, description="Between-therapist SD of log reservation rate."
    )
    usd_admin_burden: Usd = Field(
        20.0,
        description=(
            "Administrative cost of network participation per session (billing, prior auth, "
            "audits), USD (assumption)."
        ),
    )
    p_trained_initial: Prob = Field(
        0.1, description="Share of therapists trained in ketamine integration at the start."
    )
    usd_training_cost: Usd = Field(
        4000.0,
        description="Cost of ketamine-integration training incl. time off, USD (assumption).",
    )
    usd_integration_premium: Usd = Field(
        30.0,
        description="Extra income per integration session over an ordinary one, USD (assumption).",
    )
    dur_training_payback_years: Annotated[float, Field(gt=0.0, le=30.0)] = Field(
        3.0, description="Years over which a therapist weighs training income (assumption)."
    )
    p_training_fill_gain: Prob = Field(
        0.1,
        description=(
            "Extra income per integration session from slots that would otherwise go empty "
            "(programmes book trained therapists first), as a share of the cash rate "
            "(assumption)."
        ),
    )
    dur_referral_delay_days: Annotated[float, Field(ge=0.0, le=365.0)] = Field(
        7.0,
        description="Mean delay to act on an outside referral (calls, intake paperwork), days.",
    )
    dur_carve_out_referral_extra_days: Annotated[float, Field(ge=0.0, le=365.0)] = Field(
        7.0,
        description=(
            "Extra delay of a referral that crosses into a carved-out behavioural plan "
            "(separate network, intake and authorisation; assumption)."
        ),
    )
    p_carve_out_referral_loss: Prob = Field(
        0.3,
        description=(
            "Share of medical prescribers' referrals lost when therapy is carved out (no shared "
            "network directory or care management; behavioural visits are 3.5x more often out "
            "of network: RTI 2024; assumption on the size)."
        ),
    )
    n_calls: Annotated[int, Field(ge=1, le=100)] = Field(
        6,
        description=(
            "Therapists a referred patient contacts (Malowney 2015: only 26 % of callers got a "
            "psychiatry appointment)."
        ),
    )


class Therapist(mesa.Agent):
    """A psychotherapist with a weekly booking book.

    Attributes:
        reservation_rate: Least payer rate (net of admin burden) it accepts, USD.
        in_network: Payer kinds whose network it has joined.
        trained: Whether it is trained in ketamine integration.
        integration_sessions: Integration sessions given in the current year.
        weeks: The week book this therapist's bookings are kept in, at row ``row``.
        networks: Every therapist's networks, a row each and a column per payer kind.
    """

    def __init__(
        self,
        model: mesa.Model,
        reservation_rate: float,
        trained: bool,
        weeks: WeekBook | None = None,
        row: int = 0,
        networks: np.ndarray | None = None,
    ) -> None:
        super().__init__(model)
        self.reservation_rate = reservation_rate
        self.trained = trained
        self.weeks = WeekBook(1, 1) if weeks is None else weeks
        self.row = row
        # Every therapist's networks by row and payer kind, for compiled searches (written
        # with ``in_network``).
        self.networks = np.zeros((1, len(PayerKind)), dtype=bool) if networks is None else networks
        self.in_network = frozenset()
        self.integration_sessions = 0

    @property
    def in_network(self) -> frozenset[PayerKind]:
        """Payer kinds whose network it has joined."""
        return self._in_network

    @in_network.setter
    def in_network(self, kinds) -> None:
        self._in_network = frozenset(kinds)
        self.networks[self.row] = [kind in self._in_network for kind in PayerKind]

    @property
    def booked(self) -> dict[int, int]:
        """Sessions booked by week, for the weeks with any (a copy: ``book`` books)."""
        return self.weeks.booked(self.row)

    @property
    def revenue(self) -> float:
        """Revenue received over the run, USD (the model posts each day's payments)."""
        return self.model.claims.revenue_of(self)

    @functools.cached_property
    def capacity(self) -> int:
        """Sessions a week for this catchment: more when payers pay more (labour supply).

        Computed once: it depends only on the run's (frozen) scenario, and booking searches
        read it for every week they look at.
        """
        tp = self.model.scenario.therapists
        rel = self.model.scenario.policy.rel_therapy_rate
        return max(
            1,
            round(tp.n_slots_per_week * max(0.0, 1.0 + tp.rel_slots_rate_elasticity * (rel - 1.0))),
        )

    def next_free_slot(self, earliest: float) -> float:
        """Earliest bookable time at or after ``earliest`` (weeks fill in order)."""
        week = free_week(self.weeks.counts, self.row, self.capacity, int(earliest // DAYS_PER_WEEK))
        return week_time(earliest, week)

    def book(self, at: float) -> None:
        """Take one slot in the week of ``at``."""
        week = int(at // DAYS_PER_WEEK)
        book = self.weeks
        if week >= book.counts.shape[1]:
            book.reach(week)
        book.counts[self.row, week] += 1
        pool = self.model.pool
        if pool is not None:
            pool.note_booking(self, week)

    def booked_in(self, week: int) -> int:
        """Sessions booked in ``week``."""
        return self.weeks.booked_in(self.row, week)

    # -- yearly decisions ------------------------------------------------------------------
    def review_networks(self) -> None:
        """Join each payer's network whose rate, net of admin burden, clears the reservation.

        The test is ``payments.joins_network``.
        """
        burden = self.model.scenario.therapists.usd_admin_burden
        self.in_network = {
            payer.kind
            for payer in self.model.payers
            if payments.joins_network(
                payer.allowed(Code.PSYCHOTHERAPY_90837), burden, self.reservation_rate
            )
        }

    def review_training(self, demand: float, n_trained: int) -> bool:
        """Train in ketamine integration when the expected extra income covers the cost.

        Expected integration sessions a year are what integrated programmes booked in the last
        year shared among trained therapists (one more counting this one), and at least what a
        single integrated clinic would send; training pays when premium x sessions over the
        payback period covers the cost net of any subsidy.

        Args:
            demand: Integration sessions booked in the last year (the market signal, the same
                for every therapist reviewing this year).
            n_trained: Therapists trained so far, this year's earlier trainees included.

        Returns:
            Whether this therapist trained now.
        """
        tp = self.model.scenario.therapists
        if self.trained or not self.model.scenario.policy.therapy_available:
            return False
        per_therapist = min(demand / (n_trained + 1), WEEKS_PER_YEAR * self.capacity)
        income = tp.usd_integration_premium * per_therapist * tp.dur_training_payback_years
        # Trained therapists also fill slots that would otherwise go empty: a trained
        # therapist is booked first by integrated programmes.
        fill = tp.p_training_fill_gain
        income += tp.usd_cash_rate * fill * per_therapist * tp.dur_training_payback_years
        cost = max(tp.usd_training_cost - self.model.scenario.policy.usd_training_subsidy, 0.0)
        self.trained = income >= cost
        return self.trained


class TherapistPool:
    """Which therapists have a free slot in a week: the integration-booking look-up.

    An integrated programme books the first therapist with a free slot in the week, in circular
    order from a random start, trained therapists first (``KetasimModel.integration_therapist``).
    Scanning every therapist would make each booking cost grow with the catchment (therapists
    scale with patients), so the pool keeps, for each week asked about, the sorted positions of
    the therapists with a free slot (all, and trained), updated on every booking;
    a look-up is then a binary search, with the same answer as the scan.

    Capacity is the same for every therapist and fixed for a run (the scenario is frozen).
    Training changes the trained lists: call ``rebuild`` after the yearly review.
    """

    def __init__(self, therapists: list[Therapist]) -> None:
        self.therapists = therapists
        self._position = {t: k for k, t in enumerate(therapists)}  # by object: copies stay valid
        self._capacity = therapists[0].capacity if therapists else 1
        # week -> (free positions, free trained positions), both sorted.
        self._weeks: dict[int, tuple[list[int], list[int]]] = {}

    def rebuild(self) -> None:
        """Forget every week's lists (after training changes, or to drop past weeks)."""
        self._weeks.clear()

    def _lists(self, week: int) -> tuple[list[int], list[int]]:
        lists = self._weeks.get(week)
        if lists is None:
            cap = self._capacity
            free = [k for k, t in enumerate(self.therapists) if t.booked_in(week) < cap]
            trained = [k for k in free if self.therapists[k].trained]
            lists = self._weeks[week] = (free, trained)
        return lists

    def first_free(self, at: float, start: int) -> Therapist | None:
        """The first therapist with a free slot in the week of ``at``, trained ones first.

        Positions are searched circularly from ``start``; None when every slot is taken.
        """
        free, trained = self._lists(int(at // DAYS_PER_WEEK))
        for positions in (trained, free):
            if positions:
                j = bisect_left(positions, start)
                return self.therapists[positions[j if j < len(positions) else 0]]
        return None

    def note_booking(self, therapist: Therapist, week: int) -> None:
        """A slot was taken: drop the therapist from the week's lists once full."""
        lists = self._weeks.get(week)
        if lists is None or therapist.booked_in(week) < self._capacity:
            return
        k = self._position[therapist]
        for positions in lists:
            j = bisect_left(positions, k)
            if j < len(positions) and positions[j] == k:
                del positions[j]


def draw_reservation(rng, params: TherapistParams) -> float:
    """A therapist's reservation rate, USD per session (log-normal around the median)."""
    return params.usd_median_reservation * math.exp(rng.normal(0.0, params.sd_log_reservation))
