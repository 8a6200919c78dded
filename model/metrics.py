"""The metrics (docs/ODD.md §3.4): tallies at events, a tidy daily frame, an end-of-run summary.

Tallies are updated when something happens (a dose, a session, a claim); the daily sample reads
the population arrays with NumPy. Nothing iterates over every patient in Python.
"""

from __future__ import annotations

import math
from array import array

import numpy as np
import pandas as pd

from agents import clinical as cm
from agents.calendar import DAYS_PER_YEAR
from agents.codes import PAYER_NAMES, PayerKind, Silo
from agents.patient import CareCategory, DropReason, PathwayState
from agents.prescriber import BUSINESS_MODEL_NAMES, BusinessModel
from model.params import MetricsParams
from model.sessions import PendingDoses, cover_doses

SUMMARY_KEYS = (
    "scenario",
    "seed",
    "n_patients",
    "days",
    "integrated_delivery_rate",
    "mean_days_dose_to_therapy",
    "share_integrated",
    "share_drug_only",
    "share_therapy_only",
    "share_untreated",
    "share_dropped_out",
    "response_rate",
    "remission_rate",
    "relapse_rate_180d",
    "durable_remission_rate",
    "mean_severity",
    "qalys_per_patient",
    "spend_medical",
    "spend_behavioral",
    "spend_out_of_pocket",
    "spend_bundle",
    "pharma_revenue",
    "cost_per_durable_remission",
    "fragmentation_index",
    "mean_therapy_wait_days",
)
"""The keys of ``ketasim run --json``, in order: a contract other tools read."""


def discount_factor(t_days, rate_per_year: float):
    """Continuous-time discount factor at ``t_days`` for an annual rate."""
    if isinstance(t_days, np.ndarray):
        return (1.0 + rate_per_year) ** (-t_days / DAYS_PER_YEAR)
    return (1.0 + rate_per_year) ** (-float(t_days) / DAYS_PER_YEAR)


def _mean(values: list) -> float:
    """Mean of a list, NaN when empty (a drug-only world has no therapists)."""
    return float(np.mean(values)) if values else math.nan


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


class Tally:
    """Running tallies updated at events.

    Doses are counted by the day they were given; a dose is *covered* when a therapy or
    integration session follows it inside the window. A dose's window closes
    ``window_end_days`` after it, so the delivery rate counts only doses whose window has closed.
    """

    def __init__(self, days: int, params: MetricsParams) -> None:
        self.params = params
        size = days + 2
        self.doses_by_day = np.zeros(size, dtype=np.int64)
        self.covered_by_day = np.zeros(size, dtype=np.int64)
        self.doses_by_payer = np.zeros((len(PayerKind), size), dtype=np.int64)
        self.covered_by_payer = np.zeros((len(PayerKind), size), dtype=np.int64)
        self.delays = array("d")  # days from each dose to the first session after it
        self.n_sessions = 0
        self.n_missed = 0
        self.n_pa_requests = 0
        self.n_pa_denied = 0
        self.therapy_waits = array("d")
        self.n_waiting_for_therapy = 0
        self.disc_cost_cents = 0.0  # discounted health-sector spending, cents
        # The window and the largest delay counted, as the compiled session kernels take them.
        self.window = np.array(
            [params.window_start_days, params.window_end_days, params.max_delay_days]
        )

    def session(self, t: float, pending: PendingDoses, i: int, payer: int) -> int:
        """Count a session of row ``i`` at ``t`` against its pending doses; returns doses covered.

        The first session after a dose gives its delay; a session inside the window covers it; a
        session too early (the dosing session itself) leaves it pending so a later in-window
        session can still cover it (``model.sessions.cover_doses``, which updates ``pending``).
        """
        covered, n_delays = cover_doses(
            pending.times,
            pending.recorded,
            pending.count,
            pending.delays,
            self.covered_by_day,
            self.covered_by_payer,
            self.window,
            t,
            i,
            payer,
        )
        self.count_session(pending, n_delays)
        return covered

    def count_session(self, pending: PendingDoses, n_delays: int) -> None:
        """Count a session, and the ``n_delays`` delays ``cover_doses`` wrote for it."""
        self.n_sessions += 1
        if n_delays:
            self.delays.extend(pending.delays[:n_delays].tolist())

    def closed_rate(self, t: float, width: int | None = None) -> float:
        """Delivery rate among doses whose window closed by ``t``.

        With ``width``, only the last ``width`` days of such doses count (a rolling rate).
        """
        last = math.floor(t - self.params.window_end_days)
        if last < 0:
            return math.nan
        first = 0 if width is None else max(0, last - width + 1)
        doses = self.doses_by_day[first : last + 1].sum()
        return _ratio(float(self.covered_by_day[first : last + 1].sum()), float(doses))


class DailyRecorder:
    """Builds the tidy daily frame, one row a day, from the model's state."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def sample(self, model, t: float) -> None:
        """Take the day's sample (called once a day, after the day's events)."""
        pop = model.population
        tally = model.tally
        mp = model.scenario.metrics
        clin = pop.clinical
        treated = np.flatnonzero(pop.treated)
        sev, b_eff, r, n = clin.severity_at(t, treated)
        resp = cm.is_response(sev, clin.sev0[treated], clin.p)
        remit = cm.is_remission(sev, clin.p)
        model.update_outcomes(t, treated, resp, remit)

        n_all = pop.n
        sev0_all, b0_all, r0_all, n0_all = clin.baseline_totals
        sev_total = sev.sum() + (sev0_all - clin.sev0[treated].sum())
        b_total = b_eff.sum() + (b0_all - clin.b0[treated].sum())
        r_total = r.sum() + (r0_all - clin.r0[treated].sum())
        n_total = n.sum() + (n0_all - clin.n0[treated].sum())
        cats = pop.category_counts()
        sought = max(int(cats[1:].sum()), 1)
        ledger = model.ledger
        waits = tally.therapy_waits
        row = {
            "day": round(t),
            "integrated_delivery_rate": tally.closed_rate(t),
            "integrated_delivery_rate_rolling": tally.closed_rate(t, mp.dur_rolling_days),
            "doses_cumulative": int(tally.doses_by_day.sum()),
            "sessions_cumulative": tally.n_sessions,
            "mean_days_dose_to_therapy": mean_or_nan(tally.delays),
            "share_integrated": cats[CareCategory.INTEGRATED] / sought,
            "share_drug_only": cats[CareCategory.DRUG_ONLY] / sought,
            "share_therapy_only": cats[CareCategory.THERAPY_ONLY] / sought,
            "share_untreated": cats[CareCategory.UNTREATED] / sought,
            "share_dropped_out": cats[CareCategory.DROPPED_OUT] / sought,
            "n_sought_care": int(cats[1:].sum()),
            "n_treated": int(treated.size),
            "response_rate": _ratio(float(resp.sum()), float(treated.size)),
            "remission_rate": _ratio(float(remit.sum()), float(treated.size)),
            "mean_severity": sev_total / n_all,
            "mean_b": b_total / n_all,
            "mean_r": r_total / n_all,
            "mean_n": n_total / n_all,
            "spend_medical": ledger.paid_by_silo[Silo.MEDICAL] / 100.0,
            "spend_behavioral": ledger.paid_by_silo[Silo.BEHAVIORAL] / 100.0,
            "spend_out_of_pocket": ledger.paid_by_silo[Silo.OUT_OF_POCKET] / 100.0,
            "spend_bundle": ledger.paid_by_silo[Silo.BUNDLE] / 100.0,
            "pharma_revenue": model.pharma_revenue_cents / 100.0,
            "pharma_detailing": model.pharma.total_detailing,
            "drug_price_per_session": model.pharma.price_per_session,
            "therapy_waitlist": tally.n_waiting_for_therapy,
            "mean_therapy_wait_days": mean_or_nan(waits),
            "prescriber_utilisation": model.prescriber_utilisation(t),
            "therapists_in_network_share": _mean(
                [len(th.in_network) > 0 for th in model.therapists]
            ),
            "therapists_trained_share": _mean([th.trained for th in model.therapists]),
            "pa_denial_rate": float(np.mean([p.p_denial for p in model.payers])),
            "session_cap": float(np.mean([p.n_session_cap for p in model.payers])),
        }
        for state in PathwayState:
            row[f"n_{state.name.lower()}"] = int(pop.state_counts[state])
        mix = model.business_model_counts()
        for bm in BusinessModel:
            row[f"clinics_{BUSINESS_MODEL_NAMES[bm]}"] = int(mix[bm])
        self.rows.append(row)

    def frame(self, scenario: str, replication: int, seed: int) -> pd.DataFrame:
        """The daily series as a tidy frame."""
        df = pd.DataFrame(self.rows)
        df.insert(0, "seed", seed)
        df.insert(0, "replication", replication)
        df.insert(0, "scenario", scenario)
        return df


def mean_or_nan(values: array) -> float:
    """Mean of a growing ``array('d')`` of waits or delays, NaN when there are none.

    Read without copying (``np.frombuffer``), but no Python frame ever holds the view: while a
    view exists the array cannot grow, and a sampling profiler (Dask workers run one) can keep
    a finished frame, and its locals, alive for a while. Hence ``np.add.reduce`` (a C call)
    rather than ``np.mean`` (whose Python helper binds the view to a local); it is the same
    pairwise sum divided by the count, so the value is ``np.mean``'s to the bit.
    """
    n = len(values)
    if n == 0:
        return math.nan
    return float(np.add.reduce(np.frombuffer(values, dtype=np.float64)) / n)


def summarise(model) -> dict:
    """The end-of-run summary: the ``ketasim run --json`` object."""
    pop = model.population
    tally = model.tally
    mp = model.scenario.metrics
    days = model.days
    last = model.daily.rows[-1]
    cats = pop.category_counts()
    sought = max(int(cats[1:].sum()), 1)
    treated = pop.treated
    n_treated = int(treated.sum())

    responded = ~np.isnan(pop.first_response_day)
    observed = responded & (pop.first_response_day <= days - mp.dur_relapse_window_days)
    relapsed = observed & (pop.relapse_day - pop.first_response_day <= mp.dur_relapse_window_days)
    durable_cohort = pop.durable_checked
    n_durable = int((pop.durable_remission & durable_cohort).sum())
    ledger = model.ledger
    total_spend = ledger.total_paid_cents() / 100.0
    both = pop.got_dose & pop.got_session & (pop.drug_org >= 0) & (pop.therapy_org >= 0)
    frag = pop.fragmented()[both]
    summary = {
        "scenario": model.scenario.name,
        "seed": model.seed,
        "n_patients": pop.n,
        "days": days,
        "integrated_delivery_rate": tally.closed_rate(days),
        "mean_days_dose_to_therapy": mean_or_nan(tally.delays),
        "share_integrated": cats[CareCategory.INTEGRATED] / sought,
        "share_drug_only": cats[CareCategory.DRUG_ONLY] / sought,
        "share_therapy_only": cats[CareCategory.THERAPY_ONLY] / sought,
        "share_untreated": cats[CareCategory.UNTREATED] / sought,
        "share_dropped_out": cats[CareCategory.DROPPED_OUT] / sought,
        "response_rate": _ratio(float((pop.responding & treated).sum()), n_treated),
        "remission_rate": _ratio(float((pop.remitting & treated).sum()), n_treated),
        "relapse_rate_180d": _ratio(float(relapsed.sum()), float(observed.sum())),
        "durable_remission_rate": _ratio(float(n_durable), float(durable_cohort.sum())),
        "mean_severity": last["mean_severity"],
        "qalys_per_patient": float(pop.qalys.sum() / pop.n),
        "spend_medical": ledger.paid_by_silo[Silo.MEDICAL] / 100.0,
        "spend_behavioral": ledger.paid_by_silo[Silo.BEHAVIORAL] / 100.0,
        "spend_out_of_pocket": ledger.paid_by_silo[Silo.OUT_OF_POCKET] / 100.0,
        "spend_bundle": ledger.paid_by_silo[Silo.BUNDLE] / 100.0,
        "pharma_revenue": model.pharma_revenue_cents / 100.0,
        "cost_per_durable_remission": _ratio(total_spend, float(n_durable)),
        "fragmentation_index": float(frag.mean()) if frag.size else math.nan,
        "mean_therapy_wait_days": mean_or_nan(tally.therapy_waits),
    }
    return {k: _jsonable(summary[k]) for k in SUMMARY_KEYS}


def summarise_extended(model) -> dict:
    """The summary plus the discounted economics used by comparisons.

    Costs are from the health-sector perspective (payers + patients), discounted at the
    scenario's rate like the QALYs; both are per patient in the catchment.
    """
    out = summarise(model)
    out["cost_per_patient_discounted"] = model.tally.disc_cost_cents / 100.0 / model.population.n
    out["spend_total"] = model.ledger.total_paid_cents() / 100.0
    out["perspective"] = "health sector (payers + patients)"
    out["discount_rate"] = model.scenario.metrics.p_discount_per_year
    return out


def _jsonable(value):
    """NaN becomes None (JSON null); NumPy scalars become Python numbers."""
    if isinstance(value, str | int) and not isinstance(value, bool | np.integer):
        return value
    if isinstance(value, np.integer):
        return int(value)
    value = float(value)
    return None if math.isnan(value) else value


def patient_frame(model) -> pd.DataFrame:
    """Per-patient outcomes, one row a patient (severity as of now: the run's end, or its pause)."""
    pop = model.population
    clin = pop.clinical
    t = float(model.time)
    sev, _b_eff, _r, _n = clin.severity_at(t)
    treated = pop.treated
    sev = np.where(treated, sev, clin.sev0)
    return pd.DataFrame(
        {
            "scenario": model.scenario.name,
            "replication": model.replication,
            "seed": model.seed,
            "patient": np.arange(pop.n),
            "payer": pd.Series(pop.payer_kind).map({int(k): v for k, v in PAYER_NAMES.items()}),
            "can_pay_cash": pop.can_pay_cash,
            "pathway_state": pd.Series(pop.state).map(
                {int(s): s.name.lower() for s in PathwayState}
            ),
            "care_category": pd.Series(pop.categories()).map(
                {int(c): c.name.lower() for c in CareCategory}
            ),
            "start_day": pop.start_day,
            "n_doses": pop.n_doses,
            "n_sessions": pop.n_sessions,
            "n_doses_in_window": pop.n_doses_in_window,
            "baseline_severity": clin.sev0,
            "final_severity": sev,
            "in_response": pop.responding & treated,
            "in_remission": pop.remitting & treated,
            "first_response_day": pop.first_response_day,
            "relapse_day": pop.relapse_day,
            "durable_remission": np.where(pop.durable_checked, pop.durable_remission, np.nan),
            "qalys": pop.qalys,
            "spend_usd": pop.spend_cents / 100.0,
            "drop_reason": pd.Series(pop.drop_reason).map(
                {int(r): r.name.lower() for r in DropReason}
            ),
        }
    )


def payer_frame(model) -> pd.DataFrame:
    """Equity: headline rates split by payer type, one row a payer type."""
    pop = model.population
    tally = model.tally
    last = math.floor(model.days - model.scenario.metrics.window_end_days)
    rows = []
    cats = pop.categories()
    for kind in PayerKind:
        mask = pop.payer_kind == kind
        sought = mask & pop.sought
        doses = tally.doses_by_payer[kind, : max(last + 1, 0)].sum()
        covered = tally.covered_by_payer[kind, : max(last + 1, 0)].sum()
        durable = mask & pop.durable_checked
        rows.append(
            {
                "scenario": model.scenario.name,
                "replication": model.replication,
                "seed": model.seed,
                "payer": PAYER_NAMES[kind],
                "n_patients": int(mask.sum()),
                "share_sought_care": _ratio(float(sought.sum()), float(mask.sum())),
                "share_treated": _ratio(float((mask & pop.treated).sum()), float(sought.sum())),
                "share_integrated": _ratio(
                    float((cats[mask] == CareCategory.INTEGRATED).sum()), float(sought.sum())
                ),
                "integrated_delivery_rate": _ratio(float(covered), float(doses)),
                "durable_remission_rate": _ratio(
                    float((pop.durable_remission & durable).sum()), float(durable.sum())
                ),
                "spend_per_patient": _ratio(
                    float(pop.spend_cents[mask].sum()) / 100.0, float(mask.sum())
                ),
            }
        )
    return pd.DataFrame(rows)
