"""Paired comparison of two scenarios: differences with 95 % intervals, ICER, net monetary benefit.

Both arms run replications ``0..R-1`` with the same seed, so replication ``r`` of the base and of
the policy share every random draw (common random numbers) and their difference is due to the
policy alone. Intervals are paired t intervals over the per-replication differences. Costs are
health-sector (payers + patients) and, like QALYs, discounted at the scenario's rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from model.metrics import SUMMARY_KEYS
from model.params import Scenario
from scenarios.batch import RunOutcome, execute, make_specs
from scenarios.loader import ScenarioError, load_scenario

METRIC_KEYS = tuple(k for k in SUMMARY_KEYS if k not in {"scenario", "seed", "n_patients", "days"})
"""Every numeric summary metric a comparison reports (``ketasim run --json`` keys)."""
COST_KEY = "cost_per_patient_discounted"
QALY_KEY = "qalys_per_patient"
WTP_THRESHOLDS = (50_000, 100_000, 150_000)
"""Willingness-to-pay per QALY for net monetary benefit, USD: the range US analyses commonly
report (Neumann, Cohen & Weinstein 2014, NEJM 371:796)."""


@dataclass(frozen=True)
class CompareResult:
    """A paired comparison of ``policy`` against ``base``.

    Attributes:
        base: Base scenario name.
        policy: Policy scenario name.
        replications: Paired replications.
        runs: One row per (arm in {"base", "policy"}, replication): the extended summary.
        metrics: One row per metric: base_mean, policy_mean, diff_mean (policy - base),
            diff_ci_low, diff_ci_high (95 % paired t interval; NaN when undefined).
        daily: Tidy daily rows of both arms, with column ``arm``.
        incremental_cost: Mean policy - base discounted health-sector cost per patient, USD.
        incremental_qalys: Mean policy - base discounted QALYs per patient.
        icer: incremental_cost / incremental_qalys, USD per QALY; None when the QALY
            difference is zero.
        nmb: Net monetary benefit per patient at each threshold: lambda * dQ - dC.
    """

    base: str
    policy: str
    replications: int
    runs: pd.DataFrame
    metrics: pd.DataFrame
    daily: pd.DataFrame
    incremental_cost: float
    incremental_qalys: float
    icer: float | None
    nmb: dict[str, float]

    def to_json_dict(self) -> dict:
        """The ``ketasim compare --json`` object (a contract other tools read); NaN becomes null."""
        metrics = {
            row.metric: {
                k: _num(getattr(row, k))
                for k in ("base_mean", "policy_mean", "diff_mean", "diff_ci_low", "diff_ci_high")
            }
            for row in self.metrics.itertuples(index=False)
        }
        return {
            "base": self.base,
            "policy": self.policy,
            "replications": self.replications,
            "metrics": metrics,
            "incremental_cost": _num(self.incremental_cost),
            "incremental_qalys": _num(self.incremental_qalys),
            "icer": _num(self.icer),
            "nmb": {k: _num(v) for k, v in self.nmb.items()},
        }

    def icer_text(self) -> str:
        """The ICER in words, with the quadrant of the cost-effectiveness plane it sits in.

        A negative ICER alone is ambiguous (more QALYs for less money, or fewer for less), and
        a positive one can mean paying for QALYs or saving money by losing them.
        """
        d_cost, d_qaly = self.incremental_cost, self.incremental_qalys
        if self.icer is None or math.isnan(d_qaly) or math.isnan(d_cost):
            return "ICER undefined (no QALY difference)."
        if d_qaly > 0 and d_cost <= 0:
            return "The policy dominates: more QALYs at lower cost."
        if d_qaly < 0 and d_cost >= 0:
            return "The policy is dominated: fewer QALYs at higher cost."
        if d_qaly > 0:
            return f"ICER ${self.icer:,.0f} per QALY gained."
        return f"ICER ${self.icer:,.0f} per QALY: saves money but loses QALYs."


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _as_scenario(scenario: Scenario | str) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def paired_interval(diffs: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and paired t interval of per-replication differences (NaN pairs dropped).

    Returns (mean, low, high); the interval is NaN with fewer than two pairs, and collapses to
    the mean when every difference is the same.
    """
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan, math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2.0, d.size - 1)) * sd / math.sqrt(d.size)
    return mean, mean - half, mean + half


def summarise_pairs(runs: pd.DataFrame, metrics: tuple[str, ...] = METRIC_KEYS) -> pd.DataFrame:
    """Per-metric arm means and the paired difference with its 95 % interval."""
    base = runs[runs["arm"] == "base"].set_index("replication").sort_index()
    policy = runs[runs["arm"] == "policy"].set_index("replication").sort_index()
    common = base.index.intersection(policy.index)
    rows = []
    for metric in metrics:
        b = pd.to_numeric(base.loc[common, metric], errors="coerce").to_numpy(dtype=float)
        p = pd.to_numeric(policy.loc[common, metric], errors="coerce").to_numpy(dtype=float)
        mean, low, high = paired_interval(p - b)
        rows.append(
            {
                "metric": metric,
                "base_mean": float(np.nanmean(b)) if np.isfinite(b).any() else math.nan,
                "policy_mean": float(np.nanmean(p)) if np.isfinite(p).any() else math.nan,
                "diff_mean": mean,
                "diff_ci_low": low,
                "diff_ci_high": high,
            }
        )
    return pd.DataFrame(rows)


def compare(
    base: Scenario | str,
    policy: Scenario | str,
    replications: int,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> CompareResult:
    """Run ``replications`` paired replications of two scenarios and compare them.

    Args:
        base: The reference scenario (preset name, path or ``Scenario``).
        policy: The scenario compared against it.
        replications: Paired replications (>= 2 for intervals).
        n_patients: Catchment size (default: each scenario's own ``[run]`` setting).
        days: Days simulated (default: each scenario's own).
        seed: Seed shared by both arms.
        workers: Worker processes; 1 runs in this process, sequentially (safe from a
            background thread); more uses a Dask LocalCluster.
        progress: Called as ``progress(done, total)`` after each finished run, in the calling
            thread.

    Returns:
        The comparison.

    Raises:
        ScenarioError: Bad input (unknown scenario, bad settings) or a run that failed.
    """
    return compare_on(base, policy, replications, n_patients, days, seed, workers, None, progress)


def compare_on(
    base: Scenario | str,
    policy: Scenario | str,
    replications: int,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CompareResult:
    """``compare`` on ``workers`` local processes (None: one per core) or a Dask ``scheduler``."""
    sc_base, sc_policy = _as_scenario(base), _as_scenario(policy)
    arms = {"base": sc_base, "policy": sc_policy}
    specs = []
    for arm, sc in arms.items():
        # Specs are made per arm (and tagged) so comparing a scenario with itself runs both arms.
        specs += make_specs([sc], replications, n_patients, days, seed, False, False, arm)
    outcomes: list[tuple[str, RunOutcome]] = []
    total = len(specs)

    def collect(batch: list[RunOutcome]) -> None:
        for o in batch:
            outcomes.append((o.spec.tag, o))
            if progress is not None:
                progress(len(outcomes), total)

    report = execute(specs, collect, workers=workers, scheduler=scheduler)
    if report.failures:
        name, rep, status, error = report.failures[0]
        raise ScenarioError(
            f"{len(report.failures)} of {total} runs did not finish; first: {name} "
            f"replication {rep} {status}: {error}"
        )
    return build_result(sc_base.name, sc_policy.name, replications, outcomes)


def build_result(
    base: str, policy: str, replications: int, outcomes: list[tuple[str, RunOutcome]]
) -> CompareResult:
    """Assemble a ``CompareResult`` from finished outcomes labelled by arm."""
    outcomes = sorted(outcomes, key=lambda ao: (ao[0], ao[1].spec.replication))
    runs = pd.DataFrame(
        [
            {"arm": arm, "replication": o.spec.replication, **(o.summary or {})}
            for arm, o in outcomes
        ]
    )
    daily = pd.concat(
        [o.daily.assign(arm=arm) for arm, o in outcomes if o.daily is not None],
        ignore_index=True,
    )
    metrics = summarise_pairs(runs)
    econ = summarise_pairs(runs, (COST_KEY, QALY_KEY)).set_index("metric")
    d_cost = float(econ.loc[COST_KEY, "diff_mean"])
    d_qaly = float(econ.loc[QALY_KEY, "diff_mean"])
    icer = None if d_qaly == 0.0 or math.isnan(d_qaly) else d_cost / d_qaly
    nmb = {str(lam): lam * d_qaly - d_cost for lam in WTP_THRESHOLDS}
    return CompareResult(
        base=base,
        policy=policy,
        replications=replications,
        runs=runs,
        metrics=metrics,
        daily=daily,
        incremental_cost=d_cost,
        incremental_qalys=d_qaly,
        icer=icer,
        nmb=nmb,
    )
