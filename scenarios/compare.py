"""Paired comparisons of scenarios: differences with 95 % intervals, ICER, net monetary benefit.

Every arm runs replications ``0..R-1`` with the same seed, so replication ``r`` of the base and
of each policy share every random draw (common random numbers) and their difference is due to
the policy alone. Intervals of metrics are paired t intervals over the per-replication
differences; the ICER's interval is a bootstrap of the replication pairs, read with its
dominance label and quadrant (``scenarios.decision``). With several policies, the base runs
once and the strategies' mean costs and QALYs give the efficiency frontier. Costs are
health-sector (payers + patients) and, like QALYs, discounted at the scenario's rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from model.metric_info import Column, Metric, Unit, column
from model.metrics import SUMMARY_KEYS
from model.params import Scenario
from scenarios.batch import RunOutcome, execute, make_specs
from scenarios.decision import (
    QUADRANT_MEANING,
    IcerInterval,
    IcerLabel,
    Quadrant,
    efficiency_frontier,
    icer_interval,
    icer_label,
    net_monetary_benefit,
    plane_quadrant,
)
from scenarios.loader import ScenarioError, load_scenario

METRIC_KEYS = tuple(k for k in SUMMARY_KEYS if k not in {"scenario", "seed", "n_patients", "days"})
"""Every numeric summary metric a comparison reports (``ketasim run --json`` keys)."""
COST_KEY = "cost_per_patient_discounted"
QALY_KEY = "qalys_per_patient"
WTP_THRESHOLDS = (50_000, 100_000, 150_000)
"""Willingness-to-pay per QALY for net monetary benefit, USD: the range US analyses commonly
report (Neumann, Cohen & Weinstein 2014, NEJM 371:796)."""

JSON_ONE = "compare --json"
JSON_SEVERAL = "compare --json (several policies)"
JSON_FRONTIER = "compare --json frontier"
JSON_FIELDS: dict[str, dict[str, Column]] = {
    JSON_ONE: {
        c.name: c
        for c in (
            Column(
                "icer_label",
                Unit.TEXT,
                "What the ICER means: `dominant` (no more costly and more effective, or less "
                "costly and no less effective: adopt, no ratio applies), `dominated` (no less "
                "costly and less effective, or more costly and no more effective), `icer` (both "
                "differences of one sign: the ratio is a cost per QALY gained in the north-east "
                "quadrant, a saving per QALY lost in the south-west), `undefined` (no difference "
                "in cost or QALYs).",
            ),
            Column(
                "icer_quadrant",
                Unit.TEXT,
                "Where the mean difference lies on the cost-effectiveness plane (x incremental "
                "QALYs, y incremental cost): `NE` more costly and more effective, `SE` no more "
                "costly and no less effective, `SW` less costly and less effective, `NW` no less "
                "costly and no more effective, `origin` no difference; null when undefined.",
            ),
            Column(
                "icer_ci",
                Unit.USD_PER_QALY,
                "[low, high]: the 95 % percentile bootstrap interval of the ICER (2,000 "
                "resamples of the replication pairs, ratio of mean differences, seed 0). null "
                "with fewer than 2 pairs or when the resampled mean QALY difference is zero or "
                "changes sign (the ratio then has no meaningful interval). With more QALYs a "
                "bound at or below 0 means dominant; with fewer QALYs, dominated.",
            ),
            Column("icer_ci_note", Unit.TEXT, "How `icer_ci` was computed, or why it is null."),
            Column(
                "quadrant_shares",
                Unit.SHARE,
                "Share of the bootstrap's resampled mean differences in each quadrant: an "
                "object keyed `NE`, `SE`, `SW`, `NW`, `origin` (as `icer_quadrant`), summing to "
                "1: how sure the plane is of the comparison's direction.",
            ),
            Column(
                "frontier",
                Unit.TEXT,
                "The efficiency frontier of the base and the policy: a list of rows, "
                "[below](#compare---json-frontier).",
            ),
        )
    },
    JSON_SEVERAL: {
        c.name: c
        for c in (
            Column("policies", Unit.TEXT, "The policies' names, each compared with the base."),
            Column(
                "comparisons",
                Unit.TEXT,
                "One object per policy, in the order given: the one-policy object above "
                "without `frontier`. The base's runs serve every comparison.",
            ),
            Column(
                "frontier",
                Unit.TEXT,
                "The efficiency frontier of all the strategies, base included: a list of rows, "
                "[below](#compare---json-frontier).",
            ),
        )
    },
    JSON_FRONTIER: {
        c.name: c
        for c in (
            Column(
                "strategy",
                Unit.TEXT,
                "The scenario's name (a name given twice gets its position, e.g. `baseline (2)`).",
            ),
            Column(
                "cost",
                Unit.USD_PER_PATIENT,
                "Mean discounted health-sector cost per patient over the replications.",
            ),
            Column("qalys", Unit.QALYS_PER_PATIENT, "Mean discounted QALYs per patient."),
            Column(
                "status",
                Unit.TEXT,
                "`frontier` (no strategy or mix of strategies gives more QALYs for the money), "
                "`dominated` (another costs no more and gives no fewer QALYs; of two identical "
                "strategies the later one) or `extendedly dominated` (its ICER is above that "
                "of the next more effective strategy, so a mix of its neighbours does better).",
            ),
            Column(
                "compared_with",
                Unit.TEXT,
                "The strategy the ICER is against: the next cheaper frontier strategy (null for "
                "the cheapest); for a dominated one, the least costly strategy dominating it.",
            ),
            Column(
                "icer",
                Unit.USD_PER_QALY,
                "Cost minus that of `compared_with`, over QALYs minus its QALYs; null for the "
                "cheapest frontier strategy and for dominated ones. Frontier ICERs rise with "
                "cost; adopt the most costly frontier strategy whose ICER is within the "
                "willingness to pay per QALY.",
            ),
        )
    },
}
"""What the keys of ``ketasim compare --json`` that the metric registry does not hold mean,
by object (one policy, several policies, a frontier row); ``json_field`` reads them."""


def json_field(file: str, name: str) -> Column | Metric:
    """What key ``name`` of a compare JSON object (``JSON_*``) or another output file holds."""
    entry = JSON_FIELDS.get(file, {}).get(name)
    if entry is not None:
        return entry
    return column(JSON_ONE if file in JSON_FIELDS else file, name)


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
        interval = self.icer_interval
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
            "icer_label": self.icer_label,
            "icer_quadrant": self.icer_quadrant,
            "icer_ci": None if interval.bounds is None else list(interval.bounds),
            "icer_ci_note": interval.reason,
            "quadrant_shares": interval.quadrant_shares,
        }

    @property
    def pairs(self) -> pd.DataFrame:
        """One row per replication pair (policy - base, discounted, per patient).

        Columns: ``replication``, ``incremental_cost`` (USD) and ``incremental_qalys``.
        """
        wide = self.runs.pivot_table(
            index="replication", columns="arm", values=[COST_KEY, QALY_KEY]
        )
        if wide.empty or not {"base", "policy"} <= set(wide.columns.get_level_values("arm")):
            return pd.DataFrame(columns=["replication", "incremental_cost", "incremental_qalys"])
        return pd.DataFrame(
            {
                "incremental_cost": wide[(COST_KEY, "policy")] - wide[(COST_KEY, "base")],
                "incremental_qalys": wide[(QALY_KEY, "policy")] - wide[(QALY_KEY, "base")],
            }
        ).reset_index()

    @property
    def icer_label(self) -> IcerLabel:
        """What the ICER means: ``decision.icer_label`` of the mean differences."""
        return icer_label(self.incremental_cost, self.incremental_qalys)

    @property
    def icer_quadrant(self) -> Quadrant | None:
        """Quadrant of the mean difference on the cost-effectiveness plane (None if undefined)."""
        return plane_quadrant(self.incremental_cost, self.incremental_qalys)

    @cached_property
    def icer_interval(self) -> IcerInterval:
        """95 % percentile bootstrap interval of the ICER over the replication pairs."""
        pairs = self.pairs
        return icer_interval(pairs["incremental_cost"], pairs["incremental_qalys"])

    def icer_text(self) -> str:
        """The ICER in words: its dominance label and quadrant, its interval and the plane.

        A negative ratio is never printed as a cost per QALY: a dominant or dominated policy is
        named as such, and a south-west ratio reads as the saving per QALY lost.
        """
        d_cost, d_qaly = self.incremental_cost, self.incremental_qalys
        quadrant = self.icer_quadrant
        where = "" if quadrant is None else f" ({QUADRANT_MEANING[quadrant]})"
        match self.icer_label:
            case "undefined" if quadrant is None:
                head = "ICER undefined: the cost or QALY difference is missing."
            case "undefined":
                head = "ICER undefined: no difference in cost or QALYs."
            case "dominant":
                head = f"The policy dominates{where}; no ICER is reported."
            case "dominated":
                head = f"The policy is dominated{where}; no ICER is reported."
            case "icer":
                head = f"ICER {_ratio_text(d_cost / d_qaly, d_qaly)}{where}."
            case _:
                raise ValueError(f"unknown ICER label {self.icer_label!r}")
        interval = self.icer_interval
        level = f"{100.0 * interval.level:.0f} %"
        if interval.bounds is None:
            tail = f" No {level} interval: {interval.reason}."
        else:
            reading = _interval_text(*interval.bounds, d_qaly)
            tail = f" {level} interval: {reading} ({interval.reason})."
        shares = [f"{q} {v:.0%}" for q, v in interval.quadrant_shares.items() if v > 0.0]
        if shares and interval.n_pairs >= 2:
            tail += " Resampled mean differences by quadrant: " + ", ".join(shares) + "."
        return head + tail


def _interval_text(low: float, high: float, d_qaly: float) -> str:
    """An ICER interval in words: "$a to $b per QALY gained", "dominant to $b per QALY gained"."""
    low_text, high_text = _ratio_text(low, d_qaly), _ratio_text(high, d_qaly)
    if low_text == high_text and low_text in {"dominant", "dominated"}:
        return f"{low_text} throughout"
    unit = " per QALY gained" if d_qaly > 0 else " saved per QALY lost"
    return f"{low_text.removesuffix(unit)} to {high_text}"


def _ratio_text(ratio: float, d_qaly: float) -> str:
    """A cost-effectiveness ratio read the way its QALY difference points.

    With more QALYs, a positive ratio is the cost per QALY gained and a ratio <= 0 means the
    policy cost no more (dominant); with fewer QALYs, a positive ratio is the saving per QALY
    lost and a ratio <= 0 means it saved nothing (dominated).
    """
    if d_qaly > 0:
        return "dominant" if ratio <= 0 else f"${ratio:,.0f} per QALY gained"
    return "dominated" if ratio <= 0 else f"${ratio:,.0f} saved per QALY lost"


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
    return compare_strategies(
        base, [policy], replications, n_patients, days, seed, workers, scheduler, progress
    ).comparisons[0]


@dataclass(frozen=True)
class StrategyComparison:
    """Several policies, each compared with one base run on the same seeds, and their frontier.

    Attributes:
        base: Base scenario name.
        policies: Policy scenario names, in the order given.
        replications: Paired replications (the base's runs serve every comparison).
        comparisons: One paired comparison per policy, in the order given.
        frontier: ``decision.efficiency_frontier`` of every strategy (base included) at its
            mean discounted cost and QALYs per patient over the replications; strategies are
            named by ``strategies`` (a repeated name gets its position appended).
    """

    base: str
    policies: tuple[str, ...]
    replications: int
    comparisons: tuple[CompareResult, ...]
    frontier: pd.DataFrame

    @property
    def strategies(self) -> tuple[str, ...]:
        """The names the frontier uses: the base, then each policy."""
        return strategy_names([self.base, *self.policies])

    @property
    def pairs(self) -> pd.DataFrame:
        """Every comparison's replication pairs, with column ``strategy`` (the policy)."""
        return pd.concat(
            [
                c.pairs.assign(strategy=name)
                for c, name in zip(self.comparisons, self.strategies[1:], strict=True)
            ],
            ignore_index=True,
        )

    def frontier_records(self) -> list[dict]:
        """The frontier as JSON-ready rows (missing values as None)."""
        return [
            {
                "strategy": row.strategy,
                "cost": _num(row.cost),
                "qalys": _num(row.qalys),
                "status": row.status,
                "compared_with": None if pd.isna(row.compared_with) else row.compared_with,
                "icer": _num(row.icer),
            }
            for row in self.frontier.itertuples(index=False)
        ]

    def to_json_dict(self) -> dict:
        """The ``ketasim compare --json`` object.

        With one policy: that comparison's object plus ``frontier``. With several: ``base``,
        ``policies``, ``replications``, ``comparisons`` (one comparison object per policy,
        without ``frontier``) and ``frontier``.
        """
        if len(self.comparisons) == 1:
            return self.comparisons[0].to_json_dict() | {"frontier": self.frontier_records()}
        return {
            "base": self.base,
            "policies": list(self.policies),
            "replications": self.replications,
            "comparisons": [c.to_json_dict() for c in self.comparisons],
            "frontier": self.frontier_records(),
        }


def strategy_names(names: Sequence[str]) -> tuple[str, ...]:
    """Unique strategy names: a name seen before gets its position appended, ``"x (2)"``."""
    out: list[str] = []
    for position, name in enumerate(names, start=1):
        out.append(name if name not in out else f"{name} ({position})")
    return tuple(out)


def compare_strategies(
    base: Scenario | str,
    policies: Sequence[Scenario | str],
    replications: int,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StrategyComparison:
    """Compare each policy with the base, paired by replication, and find the frontier.

    The base and every policy run replications ``0..R-1`` with one seed on the batch engine
    (``scenarios.batch.execute``), so each policy's difference from the base is paired
    (common random numbers) and the base runs once for all of them.

    Args:
        base: The reference scenario (preset name, path or ``Scenario``).
        policies: One or more scenarios compared with it.
        replications: Paired replications (>= 2 for intervals).
        n_patients: Catchment size (default: each scenario's own ``[run]`` setting).
        days: Days simulated (default: each scenario's own).
        seed: Seed shared by every arm.
        workers: Local worker processes (None: one per core; 1: in this process).
        scheduler: Address of a running Dask scheduler instead.
        progress: Called as ``progress(done, total)`` after each finished run.

    Returns:
        One comparison per policy and the efficiency frontier of all the strategies.

    Raises:
        ScenarioError: Bad input (no policy, unknown scenario, bad settings) or a failed run.
    """
    if isinstance(policies, str | Scenario) or len(policies) == 0:
        raise ScenarioError("give at least one policy to compare with the base (a list)")
    sc_base = _as_scenario(base)
    sc_policies = [_as_scenario(p) for p in policies]
    arms = {"base": sc_base} | {f"policy {i}": sc for i, sc in enumerate(sc_policies)}
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
    base_runs = [("base", o) for tag, o in outcomes if tag == "base"]
    comparisons = tuple(
        build_result(
            sc_base.name,
            sc.name,
            replications,
            base_runs + [("policy", o) for tag, o in outcomes if tag == f"policy {i}"],
        )
        for i, sc in enumerate(sc_policies)
    )
    names = strategy_names([sc_base.name, *(sc.name for sc in sc_policies)])
    means = [_arm_means(comparisons[0], "base")] + [_arm_means(c, "policy") for c in comparisons]
    if not all(math.isfinite(v) for pair in means for v in pair):
        raise ScenarioError("a strategy has no finite mean cost or QALYs: no frontier")
    frontier = efficiency_frontier([m[0] for m in means], [m[1] for m in means], names)
    return StrategyComparison(
        base=sc_base.name,
        policies=tuple(sc.name for sc in sc_policies),
        replications=replications,
        comparisons=comparisons,
        frontier=frontier,
    )


def _arm_means(result: CompareResult, arm: str) -> tuple[float, float]:
    """Mean discounted cost and QALYs per patient of one arm over its replications."""
    rows = result.runs[result.runs["arm"] == arm]
    cost = pd.to_numeric(rows[COST_KEY], errors="coerce").mean()
    qalys = pd.to_numeric(rows[QALY_KEY], errors="coerce").mean()
    return float(cost), float(qalys)


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
    nmb = {str(lam): float(net_monetary_benefit(d_cost, d_qaly, lam)) for lam in WTP_THRESHOLDS}
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
