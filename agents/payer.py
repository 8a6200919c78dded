"""Payers: benefit designs, prior authorisation, carve-out budgets and the quarterly tightening.

A payer pays claims under its benefit design, from a medical or a behavioural budget (a
carve-out), or from one combined budget (carve-in). Each quarter each budget compares its
spending, net of the savings it can see within its horizon, with its target; a budget over target
tightens (prior authorisation for the drug, the session cap for therapy). This is the
quarterly-earnings pressure of docs/ODD.md §2 and §3.3.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

import mesa
from pydantic import BaseModel, ConfigDict, Field

from agents import payments
from agents.calendar import DAYS_PER_MONTH_ROUNDED
from agents.codes import Code, PayerKind, Silo

Usd = Annotated[float, Field(ge=0.0, le=1_000_000.0, allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PosRel = Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)]


class PayerParams(BaseModel):
    """Fee schedule and budget behaviour of payers (the scenario's ``[payers]`` table).

    Allowed amounts are commercial rates; each payer kind pays a multiple of them. Verify exact
    rates before quoting them as current (docs/ODD.md §3.2).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    usd_psych_eval: Usd = Field(250.0, description="Psychiatric evaluation 90791, USD.")
    # Medicare 2024 ~$150 for 90837; commercial rates are often lower for behavioural care
    # (RTI 2024: medical visits paid 21.7 % more).
    usd_psychotherapy: Usd = Field(
        120.0, description="Psychotherapy 60 min (90837), USD (fee schedule, secondary)."
    )
    usd_esketamine_session: Usd = Field(
        450.0,
        description=(
            "Esketamine session with >= 2 h observation (G2082/G2083-like), USD, excluding the "
            "drug (assumption near 2020 CMS rates)."
        ),
    )
    usd_iv_ketamine: Usd = Field(
        450.0, description="IV ketamine infusion allowed amount where covered, USD (assumption)."
    )
    p_cost_share_medicaid: Prob = Field(
        0.02, description="Medicaid cost sharing (nominal copays; the policy lever sets others)."
    )
    rel_rate_commercial: PosRel = Field(
        1.0, description="Commercial rates relative to the schedule."
    )
    rel_rate_medicaid: PosRel = Field(
        0.7, description="Medicaid rates relative to the schedule (assumption; Medicaid pays less)."
    )
    rel_rate_medicare: PosRel = Field(
        1.15, description="Medicare rates relative to the schedule (Medicare 90837 ~$150)."
    )
    usd_target_medical_pmpq: Usd = Field(
        450.0,
        description="Medical budget target for this catchment, USD per member per quarter.",
    )
    usd_target_behavioral_pmpq: Usd = Field(
        150.0,
        description="Behavioural budget target for this catchment, USD per member per quarter.",
    )
    usd_offset_per_remission_month: Usd = Field(
        250.0,
        description=(
            "Other medical costs avoided per patient-month in remission, USD (depression raises "
            "total medical costs; assumption)."
        ),
    )
    dur_horizon_years_commercial: Annotated[float, Field(gt=0.0, le=50.0)] = Field(
        2.0, description="Commercial payers' planning horizon, years (member churn)."
    )
    dur_horizon_years_medicaid: Annotated[float, Field(gt=0.0, le=50.0)] = Field(
        1.5, description="Medicaid plans' horizon, years (high churn)."
    )
    dur_horizon_years_medicare: Annotated[float, Field(gt=0.0, le=50.0)] = Field(
        5.0, description="Medicare's horizon, years (members rarely leave)."
    )
    dur_benefit_years: Annotated[float, Field(gt=0.0, le=50.0)] = Field(
        3.0, description="Years over which the savings of a remission accrue (assumption)."
    )
    p_denial_step: Prob = Field(0.05, description="Rise in PA denial rate per tightening.")
    p_denial_max: Prob = Field(0.6, description="Highest PA denial rate a payer will set.")
    n_cap_step: Annotated[int, Field(ge=0, le=50)] = Field(
        2, description="Sessions cut from the yearly cap per behavioural tightening."
    )
    n_cap_min: Annotated[int, Field(ge=0, le=200)] = Field(
        6, description="Least session cap a payer will set."
    )
    p_loosen_below_target: Prob = Field(
        0.8, description="A budget under this share of target relaxes one step."
    )


class FeeTerms(NamedTuple):
    """A payer's cost share and the fees a patient's out-of-pocket estimates read, USD."""

    share: float
    iv_fee: float
    session_fee: float  # the esketamine session (G2083)
    drug_price: float
    bundle_fee: float
    therapy_fee: float  # psychotherapy (90837)


NO_PAYER = FeeTerms(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
"""The terms of an uninsured patient: nothing is shared, nothing is allowed."""


class Payer(mesa.Agent):
    """An insurer with a benefit design and one or two budgets.

    Attributes:
        kind: Which kind of coverage it provides.
        p_denial: Current prior-authorisation denial rate.
        dur_pa_delay_days: Current mean PA decision delay.
        n_session_cap: Current yearly psychotherapy session cap.
        n_members: Members in the catchment.
    """

    def __init__(self, model: mesa.Model, kind: PayerKind, n_members: int) -> None:
        super().__init__(model)
        policy = model.scenario.policy
        self.kind = kind
        self.n_members = n_members
        self.p_denial = policy.p_pa_denial if policy.prior_auth else 0.0
        self.dur_pa_delay_days = policy.dur_pa_delay_days if policy.prior_auth else 0.0
        self.n_session_cap = policy.n_session_cap
        self.quarter_spend = {Silo.MEDICAL: 0.0, Silo.BEHAVIORAL: 0.0, Silo.BUNDLE: 0.0}
        self.quarter_remission_days = 0.0
        self.n_tightenings = 0
        self._fees: dict[Code, float] = {}  # allowed amounts worked out so far (``allowed``)

    # -- benefit design ------------------------------------------------------------------
    @property
    def rel_rate(self) -> float:
        """This payer's rates relative to the fee schedule."""
        pp = self.model.scenario.payers
        match self.kind:
            case PayerKind.COMMERCIAL:
                return pp.rel_rate_commercial
            case PayerKind.MEDICAID:
                return pp.rel_rate_medicaid
            case PayerKind.MEDICARE:
                return pp.rel_rate_medicare
            case _:
                raise ValueError(f"no rates for payer kind {self.kind!r}")

    @property
    def horizon_years(self) -> float:
        """How far ahead this payer values savings (member churn)."""
        pp = self.model.scenario.payers
        match self.kind:
            case PayerKind.COMMERCIAL:
                return pp.dur_horizon_years_commercial
            case PayerKind.MEDICAID:
                return pp.dur_horizon_years_medicaid
            case PayerKind.MEDICARE:
                return pp.dur_horizon_years_medicare
            case _:
                raise ValueError(f"no horizon for payer kind {self.kind!r}")

    @property
    def cost_share(self) -> float:
        """Share of the allowed amount the patient pays (``payments.cost_share``)."""
        return payments.cost_share(
            self.kind,
            self.model.scenario.payers.p_cost_share_medicaid,
            self.model.scenario.policy.p_cost_share,
        )

    def allowed(self, code: Code) -> float:
        """Allowed amount for a code, USD: the payer's whole payment before cost sharing.

        The rule is ``payments.allowed_fee``. Fees come from the scenario, fixed for the
        model's life, so each is worked out once (a run asks hundreds of thousands of times);
        the drug's is the manufacturer's current price, read each time.
        """
        fee = self._fees.get(code)
        if fee is None:
            price = self.model.pharma.price_per_session
            fee = payments.allowed_fee(code, self._schedule_usd(code), self.rel_rate, price)
            if code is not Code.ESKETAMINE_DRUG:
                self._fees[code] = fee
        return fee

    def _schedule_usd(self, code: Code) -> float:
        """The fee schedule's amount for a code, USD, before the payer kind's rate multiplier."""
        pp = self.model.scenario.payers
        policy = self.model.scenario.policy
        match code:
            case Code.PSYCH_EVAL_90791:
                return pp.usd_psych_eval
            case Code.PSYCHOTHERAPY_90837:
                return pp.usd_psychotherapy * policy.rel_therapy_rate
            case Code.ESKETAMINE_SESSION_G2083:
                return pp.usd_esketamine_session
            case Code.IV_KETAMINE_INFUSION:
                return pp.usd_iv_ketamine
            case Code.ESKETAMINE_DRUG:
                return 0.0  # not on the schedule: paid at the manufacturer's price
            case Code.CARE_COORDINATION:
                return policy.usd_coordination_per_month
            case Code.BUNDLED_EPISODE:
                return policy.usd_bundle_per_episode
            case _:
                raise ValueError(f"no fee for code {code!r}")

    def fee_terms(self) -> FeeTerms:
        """The cost share and fees a patient's out-of-pocket estimates read."""
        return FeeTerms(
            self.cost_share,
            self.allowed(Code.IV_KETAMINE_INFUSION),
            self.allowed(Code.ESKETAMINE_SESSION_G2083),
            self.allowed(Code.ESKETAMINE_DRUG),
            self.allowed(Code.BUNDLED_EPISODE),
            self.allowed(Code.PSYCHOTHERAPY_90837),
        )

    def silo_for(self, code: Code) -> Silo:
        """Which budget pays a code (``payments.budget_for``)."""
        return Silo(payments.budget_for(code, self.model.scenario.policy.carve_out))

    def requires_prior_auth(self) -> bool:
        """Whether esketamine needs prior authorisation now."""
        return self.model.scenario.policy.prior_auth

    def decide_prior_auth(self) -> tuple[bool, float]:
        """Decide a PA request: (approved, decision delay in days)."""
        rng = self.model.streams["prior_auth"]
        delay = rng.exponential(self.dur_pa_delay_days) if self.dur_pa_delay_days > 0 else 0.0
        return bool(rng.random() >= self.p_denial), float(delay)

    # -- the quarterly review ------------------------------------------------------------
    def review_quarter(self) -> None:
        """Tighten a budget that ran over target, relax one well under it.

        The medical budget credits the medical savings of remission it can see within its
        horizon; under a carve-out the behavioural budget sees none of them, and under a
        carve-in the two budgets are one.
        """
        pp = self.model.scenario.payers
        policy = self.model.scenario.policy
        members = max(self.n_members, 1)
        horizon_share = min(1.0, self.horizon_years / pp.dur_benefit_years)
        offset = (
            self.quarter_remission_days / DAYS_PER_MONTH_ROUNDED * pp.usd_offset_per_remission_month
        )
        offset *= horizon_share
        medical = self.quarter_spend[Silo.MEDICAL] + self.quarter_spend[Silo.BUNDLE] - offset
        behavioral = self.quarter_spend[Silo.BEHAVIORAL]
        target_med = pp.usd_target_medical_pmpq * members
        target_beh = pp.usd_target_behavioral_pmpq * members
        if not policy.carve_out:
            medical += behavioral
            target_med += target_beh
            behavioral, target_beh = 0.0, 0.0
        if policy.prior_auth:
            if medical > target_med:
                self.p_denial = min(pp.p_denial_max, self.p_denial + pp.p_denial_step)
                self.n_tightenings += 1
            elif medical < pp.p_loosen_below_target * target_med:
                self.p_denial = max(policy.p_pa_denial, self.p_denial - pp.p_denial_step)
        # Under a carve-in the combined budget governs the session cap too.
        over_beh = behavioral > target_beh if policy.carve_out else medical > target_med
        under_beh = (
            behavioral < pp.p_loosen_below_target * target_beh
            if policy.carve_out
            else medical < pp.p_loosen_below_target * target_med
        )
        if over_beh:
            self.n_session_cap = max(pp.n_cap_min, self.n_session_cap - pp.n_cap_step)
            self.n_tightenings += 1
        elif under_beh:
            self.n_session_cap = min(policy.n_session_cap, self.n_session_cap + pp.n_cap_step)
        self.quarter_spend = dict.fromkeys(self.quarter_spend, 0.0)
        self.quarter_remission_days = 0.0
