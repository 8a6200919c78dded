"""Virtual clinical trials: a cohort, fixed dose and session times, no institutions in the way.

This is how the clinical model is calibrated against the targets of docs/ODD.md §1.1
(``ketasim trial``). Every patient receives every dose and attends every session; the cohort is
advanced on a fine time grid with the same pure functions the agent-based model uses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents import clinical as cm
from agents.clinical import ClinicalParams
from agents.clinical_state import ClinicalState
from model.streams import Streams

GRID_STEP_DAYS = 0.25
"""Resolution of the trial's time grid, days (relapse times are known to within 6 hours)."""


class Drug(StrEnum):
    """The drug of a trial arm."""

    IV_KETAMINE = "iv_ketamine"
    ESKETAMINE = "esketamine"
    NONE = "none"


Day = Annotated[float, Field(ge=0.0, le=3650.0, allow_inf_nan=False)]


class TrialProtocol(BaseModel):
    """A virtual-trial protocol (a ``ketasim trial`` TOML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(min_length=1, max_length=200, description="Name of the trial arm.")
    n_patients: Annotated[int, Field(ge=1, le=1_000_000)] = Field(1000, description="Cohort size.")
    drug: Drug = Field(
        Drug.IV_KETAMINE, strict=False, description="iv_ketamine | esketamine | none."
    )
    doses: list[Day] = Field(default_factory=list, max_length=1000, description="Dose times.")
    therapy: list[Day] = Field(
        default_factory=list, max_length=1000, description="Therapy session times, days."
    )
    report_days: list[Day] = Field(
        default_factory=list, max_length=1000, description="Days at which to report outcomes."
    )
    follow_up_days: Annotated[float, Field(gt=0.0, le=3650.0, allow_inf_nan=False)] = Field(
        180.0, description="Length of follow-up, days from the first dose (day 0)."
    )
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = Field(0, description="Random seed.")
    clinical: ClinicalParams = Field(
        default_factory=ClinicalParams, description="Overrides of the clinical parameters."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrialProtocol:
        if self.drug is Drug.NONE and self.doses:
            raise ValueError("doses must be empty when drug = 'none'")
        if self.drug is not Drug.NONE and not self.doses:
            raise ValueError(f"drug = '{self.drug}' needs at least one dose time in doses")
        late = [
            d for d in (*self.doses, *self.therapy, *self.report_days) if d > self.follow_up_days
        ]
        if late:
            raise ValueError(
                f"every dose, therapy and report day must be <= follow_up_days "
                f"({self.follow_up_days:g}); got {max(late):g}"
            )
        keys = [_day_key(d) for d in self.report_days]
        if len(set(keys)) < len(keys):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(
                f"report_days must be distinct (to 1e-6 days); repeated: {', '.join(twice[:5])}"
            )
        return self


class TrialResult(BaseModel):
    """The outcome of a virtual trial (the ``ketasim trial --json`` contract)."""

    name: str
    n_patients: int
    response_rate: dict[str, float]
    remission_rate: dict[str, float]
    responders_after_last_dose: float
    median_days_to_relapse: float | None


def _day_key(day: float) -> str:
    """A report day as a JSON key: to the microday the runner resolves, no trailing zeros.

    ``7.0`` -> ``"7"``, ``100.2501`` -> ``"100.2501"``; two days give the same key only when
    they round to the same microday, which the protocol's validation refuses.
    """
    return f"{round(day, 6):.6f}".rstrip("0").rstrip(".")


def kaplan_meier_median(times: np.ndarray, observed: np.ndarray) -> float | None:
    """Kaplan-Meier median survival time; None when survival never falls to 0.5.

    Args:
        times: Event or censoring time per subject.
        observed: True where the event happened, False where censored.
    """
    if times.size == 0:
        return None
    order = np.lexsort((~observed, times))  # events before censorings at tied times
    times, observed = times[order], observed[order]
    at_risk = times.size
    surv = 1.0
    for t in np.unique(times):
        here = times == t
        events = int(np.sum(observed[here]))
        if events:
            surv *= 1.0 - events / at_risk
            if surv <= 0.5:
                return float(t)
        at_risk -= int(np.sum(here))
    return None


def run_trial(protocol: TrialProtocol) -> TrialResult:
    """Run a virtual trial and report response, remission and time to relapse."""
    p = protocol.clinical
    streams = Streams(protocol.seed, replication=0)
    traits = cm.draw_baselines(streams["patient_traits"], protocol.n_patients, p)
    state = ClinicalState(*traits, p)
    rng_stress = streams["stress"]
    everyone = np.arange(protocol.n_patients)
    state.schedule_stress(0.0, everyone, rng_stress)
    rel = p.rel_esketamine_relief if protocol.drug is Drug.ESKETAMINE else 1.0

    events = sorted(
        [(t, 0, "dose") for t in protocol.doses] + [(t, 1, "session") for t in protocol.therapy]
    )
    last_dose = max(protocol.doses) if protocol.doses else None
    responder_day = None if last_dose is None else last_dose + 1.0
    grid = np.arange(0.0, protocol.follow_up_days + 1e-9, GRID_STEP_DAYS)
    checkpoints = set(np.round(grid, 6)) | {round(d, 6) for d in protocol.report_days}
    if responder_day is not None and responder_day <= protocol.follow_up_days:
        checkpoints.add(round(responder_day, 6))
    times = sorted(checkpoints)

    response_rate: dict[str, float] = {}
    remission_rate: dict[str, float] = {}
    responders = np.zeros(protocol.n_patients, dtype=bool)
    relapse_time = np.full(protocol.n_patients, np.nan)
    report = {round(d, 6) for d in protocol.report_days}
    k = 0
    for t in times:
        while k < len(events) and events[k][0] <= t:
            t_ev, _, kind = events[k]
            state.stress_due(t_ev, rng_stress)
            if kind == "dose":
                state.dose(t_ev, everyone, rel)
            else:
                state.session(t_ev, everyone)
            k += 1
        state.stress_due(t, rng_stress)
        sev, *_ = state.severity_at(t)
        resp = cm.is_response(sev, state.sev0, p)
        if t in report:
            response_rate[_day_key(t)] = float(np.mean(resp))
            remission_rate[_day_key(t)] = float(np.mean(cm.is_remission(sev, p)))
        if responder_day is not None and abs(t - responder_day) < 1e-9:
            responders = resp.copy()
        elif responder_day is not None and t > responder_day:
            lost = responders & ~resp & np.isnan(relapse_time)
            relapse_time[lost] = t - last_dose

    # Report days in the order given, whatever the grid did.
    response_rate = {
        _day_key(d): response_rate[_day_key(round(d, 6))] for d in protocol.report_days
    }
    remission_rate = {
        _day_key(d): remission_rate[_day_key(round(d, 6))] for d in protocol.report_days
    }
    median = None
    share = 0.0
    if responder_day is not None and responder_day <= protocol.follow_up_days:
        share = float(np.mean(responders))
        observed = ~np.isnan(relapse_time[responders])
        t_event = np.where(observed, relapse_time[responders], protocol.follow_up_days - last_dose)
        median = kaplan_meier_median(t_event, observed)
    return TrialResult(
        name=protocol.name,
        n_patients=protocol.n_patients,
        response_rate=response_rate,
        remission_rate=remission_rate,
        responders_after_last_dose=share,
        median_days_to_relapse=median,
    )
