"""Prescribers: clinics that choose a business model by margin per clinical hour.

The three models (docs/ODD.md §1.2): ``infusion_cash`` (IV racemic ketamine, self-pay),
``rems_esketamine`` (branded esketamine under REMS, billed to payers) and ``integrated`` (drug
plus therapist in one programme). Each quarter a clinic re-evaluates its model by expected margin
per clinical hour under current payment rules, pharma detailing and professional norms, and
switches only when the gain beats its switching cost (inertia).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated

import mesa
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents import payments
from agents.calendar import DAYS_PER_WEEK
from agents.codes import BusinessModel, Code, PayerKind
from agents.payments import DosePayer
from agents.weeks import CHAIR_ROOM_SLACK, WeekBook, chair_week, week_time

Usd = Annotated[float, Field(ge=0.0, le=1_000_000.0, allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Hours = Annotated[float, Field(gt=0.0, le=24.0, allow_inf_nan=False)]


@dataclass
class Market:
    """What every clinic sees at one quarterly review, gathered once for all of them.

    Attributes:
        n_offering: Clinics currently offering each business model (kept up to date as clinics
            switch during the review, so later clinics see earlier switches).
        any_trained_therapist: Whether anyone can staff an integrated programme.
        arrivals_per_week: People starting to seek care per week, last quarter.
    """

    n_offering: Counter
    any_trained_therapist: bool
    arrivals_per_week: float


BUSINESS_MODEL_NAMES = {
    BusinessModel.INFUSION_CASH: "infusion_cash",
    BusinessModel.REMS_ESKETAMINE: "rems_esketamine",
    BusinessModel.INTEGRATED: "integrated",
}


class PrescriberParams(BaseModel):
    """Clinic supply, costs and behaviour (the scenario's ``[prescribers]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    n_per_1000_patients: Annotated[float, Field(gt=0.0, le=1000.0)] = Field(
        5.0, description="Ketamine/esketamine clinics per 1,000 TRD patients (assumption)."
    )
    n_chair_hours_per_week: Annotated[float, Field(gt=0.0, le=1000.0)] = Field(
        40.0,
        description="Chair-hours a week each clinic gives this catchment's patients (assumption).",
    )
    p_infusion_cash: Prob = Field(0.45, description="Initial share of infusion_cash clinics.")
    p_rems_esketamine: Prob = Field(0.45, description="Initial share of rems_esketamine clinics.")
    p_integrated: Prob = Field(0.10, description="Initial share of integrated clinics.")
    hours_iv_dose: Hours = Field(
        1.5, description="Chair-hours per IV infusion incl. recovery (40-min infusion)."
    )
    hours_esketamine_dose: Hours = Field(
        2.5, description="Chair-hours per esketamine session (REMS: >= 2 h observation)."
    )
    hours_coordination_per_dose: Hours = Field(
        0.75,
        description=(
            "Extra clinical hours per dose in an integrated programme (coordination, "
            "preparation, booking the therapist; assumption)."
        ),
    )
    usd_cash_iv_price: Usd = Field(
        500.0, description="Self-pay price per IV infusion, USD (surveys: $400-800)."
    )
    usd_iv_drug_cost: Usd = Field(
        15.0, description="Generic racemic ketamine and supplies per infusion, USD (assumption)."
    )
    usd_cost_per_chair_hour: Usd = Field(
        90.0, description="Staff and overhead per clinical hour, USD (assumption)."
    )
    usd_integration_session_cost: Usd = Field(
        130.0,
        description=(
            "What an integrated programme pays a trained therapist per session, USD (the "
            "average cash rate; assumption)."
        ),
    )
    usd_switching_cost_per_hour: Usd = Field(
        25.0,
        description=(
            "Margin gain per clinical hour needed before a clinic changes its model "
            "(retraining, certification, equipment: inertia; assumption)."
        ),
    )
    usd_sd_norm_per_hour: Usd = Field(
        30.0,
        description=(
            "Between-clinic SD of the professional-norm preference for integrated care, USD "
            "per hour (assumption)."
        ),
    )
    n_coordination_months_per_course: Annotated[float, Field(ge=0.0, le=60.0)] = Field(
        2.0,
        description=(
            "Months of care-coordination fee a clinic expects an integrated induction course to "
            "earn when it weighs the integrated model (assumption: about two months)."
        ),
    )
    hours_chair_per_integration_session: Hours = Field(
        3.0,
        description=(
            "Chair-hours of an integrated clinic's week that stand for one integration session "
            "when therapists count what a newly integrated clinic would send them in a year "
            "(their training signal; assumption)."
        ),
    )
    p_refer_therapy: Prob = Field(
        0.5,
        description="Chance a fragmented prescriber refers a patient to an outside therapist.",
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> PrescriberParams:
        total = self.p_infusion_cash + self.p_rems_esketamine + self.p_integrated
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"p_infusion_cash + p_rems_esketamine + p_integrated must equal 1 (got {total:g})"
            )
        return self


class Prescriber(mesa.Agent):
    """A ketamine/esketamine clinic.

    Attributes:
        business_model: Its current model.
        norm_preference: Its professional-norm preference for integrated care, USD per hour.
        weeks: The week book of chair-hours booked, this clinic's at row ``row``.
        models: Every clinic's business model by row (this one's at ``row``).
        capacity_hours: Chair-hours a week (the scenario's, read once like a dose's hours).
        n_switches: Times it changed model.
    """

    def __init__(
        self,
        model: mesa.Model,
        business_model: BusinessModel,
        norm_preference: float,
        weeks: WeekBook | None = None,
        row: int = 0,
        models: np.ndarray | None = None,
    ) -> None:
        super().__init__(model)
        self.weeks = WeekBook(1, 1, np.float64) if weeks is None else weeks
        self.row = row
        # Every clinic's business model by row, for compiled searches (written with it).
        self.models = np.zeros(1, dtype=np.int8) if models is None else models
        self.business_model = business_model
        self.norm_preference = norm_preference
        self.n_switches = 0
        # A model's scenario is fixed for its life, so the chair-hours of a dose under each
        # business model are read once, not at each of the run's hundreds of thousands of
        # bookings and searches for a chair.
        self._hours_of = {bm: self.hours_per_dose(bm) for bm in BusinessModel}
        self.capacity_hours: float = model.scenario.prescribers.n_chair_hours_per_week
        # The week's room a dose must fit in (``chair_week``), with a numeric slack.
        self.chair_room = self.capacity_hours + CHAIR_ROOM_SLACK

    @property
    def business_model(self) -> BusinessModel:
        """Its current business model."""
        return self._business_model

    @business_model.setter
    def business_model(self, value: BusinessModel) -> None:
        self._business_model = value
        self.models[self.row] = value

    @property
    def revenue(self) -> float:
        """Revenue received over the run, USD (the model posts each day's payments)."""
        return self.model.claims.revenue_of(self)

    def hours_per_dose(self, business_model: BusinessModel | None = None) -> float:
        """Clinical hours one dose takes under a business model."""
        pp = self.model.scenario.prescribers
        bm = self.business_model if business_model is None else business_model
        match bm:
            case BusinessModel.INFUSION_CASH:
                return pp.hours_iv_dose
            case BusinessModel.REMS_ESKETAMINE:
                return pp.hours_esketamine_dose
            case BusinessModel.INTEGRATED:
                drug_hours = (
                    pp.hours_iv_dose
                    if self.model.scenario.policy.bundled_payment
                    else pp.hours_esketamine_dose
                )
                return drug_hours + pp.hours_coordination_per_dose
            case _:
                raise ValueError(f"unknown business model {bm!r}")

    def dose_hours(self) -> float:
        """Chair-hours a dose takes under the current business model."""
        return self._hours_of[self.business_model]

    # -- capacity ----------------------------------------------------------------------
    def next_chair_time(self, earliest: float, hours: float | None = None) -> float:
        """Earliest time at or after ``earliest`` whose week has room for one dose.

        An empty week always takes one dose, even one longer than the week's chair-hours: a
        clinic that open fewer hours than a dose lasts overruns its week rather than never
        dosing (assumption; without it the search would never end).
        """
        need = self._hours_of[self.business_model] if hours is None else hours
        first = int(earliest // DAYS_PER_WEEK)
        return week_time(
            earliest, chair_week(self.weeks.counts, self.row, need, self.chair_room, first)
        )

    def book(self, at: float, hours: float | None = None) -> None:
        """Book the chair-hours of one dose in the week of ``at``."""
        week = int(at // DAYS_PER_WEEK)
        need = self._hours_of[self.business_model] if hours is None else hours
        weeks = self.weeks
        if week >= weeks.counts.shape[1]:
            weeks.reach(week)
        weeks.counts[self.row, week] += need

    @property
    def booked_hours(self) -> dict[int, float]:
        """Chair-hours booked by week, for the weeks with any (a copy: ``book`` books)."""
        return self.weeks.booked(self.row)

    # -- the quarterly review -------------------------------------------------------------
    def expected_margin_per_hour(self, bm: BusinessModel, market: Market | None = None) -> float:
        """Expected margin per clinical hour of a model under current payment rules.

        Margin per hour of a dose, times the share of arriving patients the model can serve
        (a demand proxy), plus non-monetary preferences: detailing for REMS, professional norms
        for integrated care. Integrated care is impossible where no therapist is trained or
        therapy does not exist.

        Args:
            bm: The business model to value.
            market: The review's market snapshot; gathered afresh when None.
        """
        model = self.model
        if market is None:
            market = model.market_snapshot()
        pp = model.scenario.prescribers
        policy = model.scenario.policy
        mix = model.payer_mix  # share of patients by PayerKind
        cash_share = model.cash_share_by_payer  # share able to pay cash, by PayerKind
        payers = {p.kind: p for p in model.payers}
        hours = self.hours_per_dose(bm)
        per_dose_cost = pp.usd_cost_per_chair_hour * hours
        n_doses = model.scenario.patients.n_induction_doses
        # Competition: the catchment's demand for a model is shared among the clinics offering
        # it (this one included), so chair-hours fill less as more clinics crowd into one model.
        n_rivals = market.n_offering[bm] + (0 if bm is self.business_model else 1)
        demand_hours = market.arrivals_per_week * n_doses * hours
        fill = min(1.0, demand_hours / (n_rivals * self.capacity_hours))

        cash = pp.usd_cash_iv_price
        match bm:
            case BusinessModel.INFUSION_CASH:
                eligible = sum(mix[k] * cash_share[k] for k in PayerKind)
                income = payments.clinic_income_per_dose(
                    DosePayer.IV_CASH, 0.0, 0.0, 0.0, n_doses, cash
                )
                revenue = income - pp.usd_iv_drug_cost
                value = (revenue - per_dose_cost) / hours * eligible
            case BusinessModel.REMS_ESKETAMINE:
                value = 0.0
                for kind, payer in payers.items():
                    approve = 1.0 - payer.p_denial
                    rev = self._income_per_dose(DosePayer.ESKETAMINE, payer, n_doses)
                    value += mix[kind] * approve * (rev - per_dose_cost) / hours
            case BusinessModel.INTEGRATED:
                if not policy.therapy_available or not market.any_trained_therapist:
                    return float("-inf")
                value = 0.0
                for kind, payer in payers.items():
                    if policy.bundled_payment:
                        rev = self._income_per_dose(DosePayer.IN_BUNDLE, payer, n_doses)
                        rev -= pp.usd_iv_drug_cost + pp.usd_integration_session_cost
                        approve = 1.0
                    else:
                        rev = self._income_per_dose(DosePayer.ESKETAMINE, payer, n_doses)
                        rev -= pp.usd_integration_session_cost
                        if self.bills_therapy(payer):
                            rev += payer.allowed(Code.PSYCHOTHERAPY_90837)
                        approve = 1.0 - payer.p_denial
                        if policy.coordination_payment:
                            # The coordination fee of the months a course lasts, spread over
                            # its doses.
                            months = pp.n_coordination_months_per_course
                            rev += months * payer.allowed(Code.CARE_COORDINATION) / n_doses
                    value += mix[kind] * approve * (rev - per_dose_cost) / hours
                uninsured = mix[PayerKind.UNINSURED] * cash_share[PayerKind.UNINSURED]
                cash_margin = cash - pp.usd_iv_drug_cost - per_dose_cost
                value += uninsured * cash_margin / hours
            case _:
                raise ValueError(f"unknown business model {bm!r}")
        return float(value * fill + self._preference(bm))

    def _preference(self, bm: BusinessModel) -> float:
        """Non-monetary pulls, USD per hour: detailing toward REMS, norms toward integration."""
        match bm:
            case BusinessModel.REMS_ESKETAMINE:
                return self.model.pharma.detailing_bonus_per_hour()
            case BusinessModel.INTEGRATED:
                return (
                    self.model.scenario.policy.usd_integrated_norm_per_hour + self.norm_preference
                )
            case BusinessModel.INFUSION_CASH:
                return 0.0
            case _:
                raise ValueError(f"unknown business model {bm!r}")

    def _income_per_dose(self, payment: DosePayer, payer, n_doses: int) -> float:
        """What this clinic receives for a dose paid as ``payment`` by ``payer``'s member, USD.

        Payer and patient together (``payments.clinic_income_per_dose``).
        """
        return payments.clinic_income_per_dose(
            payment,
            payer.allowed(Code.IV_KETAMINE_INFUSION),
            payer.allowed(Code.ESKETAMINE_SESSION_G2083),
            payer.allowed(Code.BUNDLED_EPISODE),
            n_doses,
            self.model.scenario.prescribers.usd_cash_iv_price,
        )

    def bills_therapy(self, payer) -> bool:
        """Whether this programme is paid by ``payer`` for the sessions it provides.

        The rule is ``payments.programme_bills_therapy``.
        """
        scenario = self.model.scenario
        return payments.programme_bills_therapy(
            scenario.policy.carve_out,
            payer.allowed(Code.PSYCHOTHERAPY_90837),
            scenario.therapists.usd_admin_burden,
            scenario.prescribers.usd_integration_session_cost,
        )

    def review_business_model(self, market: Market | None = None) -> None:
        """Switch to the model with the best expected margin if the gain beats inertia.

        Args:
            market: The review's market snapshot (updated here when this clinic switches);
                gathered afresh when None.
        """
        if market is None:
            market = self.model.market_snapshot()
        pp = self.model.scenario.prescribers
        values = {bm: self.expected_margin_per_hour(bm, market) for bm in BusinessModel}
        best = max(values, key=values.__getitem__)
        current = values[self.business_model]
        if best != self.business_model and values[best] - current > pp.usd_switching_cost_per_hour:
            market.n_offering[self.business_model] -= 1
            market.n_offering[best] += 1
            self.business_model = best
            self.n_switches += 1
