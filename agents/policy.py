"""The policy levers (the scenario's ``[policy]`` table): what an analyst changes most.

Each lever is read by the agents whose incentives it changes: payers (benefit design, prior
authorisation, carve-out, bundles), prescribers (margins), therapists (rates, training subsidy),
pharma (patent) and the integrated programmes (session timing).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Usd = Annotated[float, Field(ge=0.0, le=1_000_000.0, allow_inf_nan=False)]


class IntegrationTiming(StrEnum):
    """When integrated programmes book the integration session after a dose."""

    WINDOW = "window"  # 1-3 days after the dose, inside the plasticity window
    ACUTE = "acute"  # during the dosing session itself (acute dissociative phase)


class PolicyLevers(BaseModel):
    """Reimbursement and benefit levers (docs/ODD.md §3.3).

    Where each lever acts in the code: docs/architecture.md.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    carve_out: bool = Field(
        True,
        description=(
            "Behavioural-health carve-out: therapy is paid from a separate behavioural budget "
            "that never sees the medical budget's savings (common in US Medicaid and employer "
            "plans)."
        ),
    )
    bundled_payment: bool = Field(
        False, description="Payers pay integrated programmes one episode bundle (drug + therapy)."
    )
    usd_bundle_per_episode: Usd = Field(
        7000.0,
        description=(
            "Bundled episode payment, USD per induction episode (assumption: priced near the "
            "fee-for-service cost of IV ketamine plus ten sessions plus coordination)."
        ),
    )
    coordination_payment: bool = Field(
        False, description="Payers pay a monthly care-coordination code to integrated programmes."
    )
    usd_coordination_per_month: Usd = Field(
        160.0,
        description="Care-coordination payment, USD per patient-month (near CMS 99492/99493).",
    )
    rel_therapy_rate: Annotated[float, Field(ge=0.1, le=5.0, allow_inf_nan=False)] = Field(
        1.0,
        description=(
            "Multiplier on payers' psychotherapy rates (parity: medical visits are paid 21.7 % "
            "more, RTI 2024, so ~1.22)."
        ),
    )
    prior_auth: bool = Field(True, description="Payers require prior authorisation for esketamine.")
    p_pa_denial: Prob = Field(
        0.15, description="Initial share of prior-authorisation requests denied (assumption)."
    )
    dur_pa_delay_days: Annotated[float, Field(ge=0.0, le=365.0, allow_inf_nan=False)] = Field(
        10.0, description="Mean prior-authorisation decision delay, days (assumption)."
    )
    n_session_cap: Annotated[int, Field(ge=0, le=200)] = Field(
        20, description="Psychotherapy sessions a year a payer covers per patient."
    )
    p_cost_share: Prob = Field(
        0.2, description="Patients' coinsurance on covered services (share of the allowed amount)."
    )
    covers_iv_ketamine: bool = Field(
        False, description="Payers cover IV racemic ketamine (off-label; mostly not covered)."
    )
    rel_therapist_supply: Annotated[float, Field(ge=0.1, le=10.0, allow_inf_nan=False)] = Field(
        1.0, description="Multiplier on the number of therapists in the catchment."
    )
    usd_training_subsidy: Usd = Field(
        0.0, description="Subsidy towards a therapist's ketamine-integration training, USD."
    )
    patent_expiry_day: Annotated[float, Field(ge=0.0, le=100_000.0, allow_inf_nan=False)] = Field(
        100_000.0,
        description=(
            "Day the esketamine patent expires and generics enter (Orange Book listings expire "
            "2027-2040: in force for the run by default)."
        ),
    )
    therapy_available: bool = Field(
        True, description="Whether psychotherapy exists at all (False: a drug-only world)."
    )
    integration_timing: IntegrationTiming = Field(
        IntegrationTiming.WINDOW,
        strict=False,
        description="When integrated programmes hold the integration session: window | acute.",
    )
    usd_integrated_norm_per_hour: Annotated[
        float, Field(ge=-1000.0, le=1000.0, allow_inf_nan=False)
    ] = Field(
        0.0,
        description=(
            "Professional-norm bonus prescribers attach to integrated care, USD per clinical "
            "hour (guidelines, training culture; assumption)."
        ),
    )
