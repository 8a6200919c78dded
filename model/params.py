"""The typed scenario a model run takes: one strict pydantic model made of per-family blocks.

Each block is defined beside the code that reads it (Starsim's habit: one parameter block per
module, rejecting unknown keys); this module composes them. ``scenarios/`` loads TOML files into
it; nothing here reads files.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.clinical import ClinicalParams
from agents.patient import PatientParams
from agents.payer import PayerParams
from agents.pharma import PharmaParams
from agents.policy import PolicyLevers
from agents.prescriber import PrescriberParams
from agents.therapist import TherapistParams

Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Utility = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class RunSettings(BaseModel):
    """Size, length and seed of a run (the ``[run]`` table; CLI flags override)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    n_patients: Annotated[int, Field(ge=1, le=10_000_000)] = Field(
        2000, description="Treatment-resistant people in the catchment, all present from day 0."
    )
    days: Annotated[int, Field(ge=1, le=36_500)] = Field(
        365, description="Length of the run, days."
    )
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = Field(0, description="Random seed.")


class MetricsParams(BaseModel):
    """Definitions behind the reported metrics (the ``[metrics]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    window_start_days: Annotated[float, Field(ge=0.0, le=60.0)] = Field(
        0.5, description="A session counts as in the window from this long after a dose, days."
    )
    window_end_days: Annotated[float, Field(gt=0.0, le=60.0)] = Field(
        7.0, description="... until this long after the dose, days (a week: the plasticity window)."
    )
    max_delay_days: Annotated[float, Field(gt=0.0, le=365.0)] = Field(
        60.0,
        description="Dose-to-therapy delays longer than this count as 'no session followed'.",
    )
    p_discount_per_year: Prob = Field(
        0.03, description="Discount rate for costs and QALYs, per year (health-sector convention)."
    )
    # Sapin et al. 2004 (EQ-5D) utilities.
    u_remission: Utility = Field(0.85, description="Utility in remission (Sapin 2004).")
    u_response: Utility = Field(0.72, description="Utility in response (Sapin 2004).")
    u_nonresponse: Utility = Field(0.58, description="Utility treated, no response (Sapin 2004).")
    u_untreated: Utility = Field(0.33, description="Utility in an untreated episode (Sapin 2004).")
    dur_durable_days: Annotated[float, Field(gt=0.0, le=3650.0)] = Field(
        180.0, description="Durable remission: in remission this long after starting treatment."
    )
    dur_relapse_window_days: Annotated[float, Field(gt=0.0, le=3650.0)] = Field(
        180.0, description="Relapse counted within this long after first response, days."
    )
    dur_rolling_days: Annotated[int, Field(ge=1, le=365)] = Field(
        28, description="Width of the rolling window of the daily delivery-rate series, days."
    )

    @model_validator(mode="after")
    def _window_ordered(self) -> MetricsParams:
        if self.window_start_days >= self.window_end_days:
            raise ValueError("window_start_days must be less than window_end_days")
        return self


class Scenario(BaseModel):
    """A complete, validated scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field("baseline", min_length=1, max_length=100, description="Scenario name.")
    description: str = Field("", max_length=5000, description="What policy it represents and why.")
    run: RunSettings = Field(default_factory=RunSettings)
    policy: PolicyLevers = Field(default_factory=PolicyLevers)
    clinical: ClinicalParams = Field(default_factory=ClinicalParams)
    patients: PatientParams = Field(default_factory=PatientParams)
    prescribers: PrescriberParams = Field(default_factory=PrescriberParams)
    therapists: TherapistParams = Field(default_factory=TherapistParams)
    payers: PayerParams = Field(default_factory=PayerParams)
    pharma: PharmaParams = Field(default_factory=PharmaParams)
    metrics: MetricsParams = Field(default_factory=MetricsParams)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        policy = self.policy
        if not policy.therapy_available and self.prescribers.p_integrated > 0.0:
            raise ValueError(
                "prescribers.p_integrated must be 0 when policy.therapy_available is false "
                "(no integrated programme without therapy)"
            )
        if not policy.therapy_available and (policy.bundled_payment or policy.coordination_payment):
            raise ValueError(
                "policy.bundled_payment and policy.coordination_payment need "
                "policy.therapy_available = true"
            )
        return self

    def with_run(self, **changes) -> Scenario:
        """A copy with ``[run]`` fields replaced (validated)."""
        run = RunSettings.model_validate({**self.run.model_dump(), **changes})
        return self.model_copy(update={"run": run})
