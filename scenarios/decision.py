"""Decision analysis: dominance, ICER intervals, the efficiency frontier, net benefit, PSA, VOI.

Pure functions of arrays (NumPy, pandas, SciPy; pygam for EVPPI): no model, no I/O. They serve
paired comparisons (``scenarios.compare``: one replication pair is one sample of the incremental
cost and QALYs) and probabilistic sensitivity analysis (one parameter draw is one row of
``costs[draw, strategy]`` and ``qalys[draw, strategy]``).

Conventions, as in the textbooks cited below:

* The cost-effectiveness plane has incremental QALYs on the x axis and incremental cost on the
  y axis (Black 1990, Medical Decision Making 10:212). Its quadrants are NE (more costly, more
  effective), SE (less costly, more effective: the new strategy dominates), SW (less costly,
  less effective) and NW (more costly, less effective: it is dominated).
* Costs are USD per patient and effects QALYs per patient; willingness to pay (WTP, lambda) is
  USD per QALY; net monetary benefit (NMB) is USD per patient.

References (named, not linked): Drummond, Sculpher, Claxton, Stoddart & Torrance, "Methods for
the Economic Evaluation of Health Care Programmes" (4th ed., 2015), ch. 4 and 11; Briggs,
Claxton & Sculpher, "Decision Modelling for Health Economic Evaluation" (2006), ch. 4, 7 and 8;
Briggs, Wonderling & Mooney 1997 (Health Economics 6:327) for bootstrapped ICER intervals;
Stinnett & Mullahy 1998 (Medical Decision Making 18:S68) for net benefit; Fenwick, Claxton &
Sculpher 2001 (Health Economics 10:779) for acceptability curves and the acceptability
frontier; Strong, Oakley & Brennan 2014 (Medical Decision Making 34:311) for regression-based
EVPPI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

IcerLabel = Literal["dominant", "dominated", "icer", "undefined"]
Quadrant = Literal["NE", "SE", "SW", "NW", "origin"]
QUADRANTS: tuple[Quadrant, ...] = ("NE", "SE", "SW", "NW", "origin")
"""The places a point of the cost-effectiveness plane can be (``origin``: both differences 0)."""
QUADRANT_MEANING: dict[Quadrant, str] = {
    "NE": "north-east: more costly, more effective",
    "SE": "south-east: no more costly, no less effective",
    "SW": "south-west: less costly, less effective",
    "NW": "north-west: no less costly, no more effective",
    "origin": "the origin: no difference in cost or QALYs",
}
"""What each quadrant means for the strategy compared (a point on an axis belongs to SE or NW:
see ``icer_label``)."""
_LABEL_OF_QUADRANT: dict[str, IcerLabel] = {
    "NE": "icer",
    "SW": "icer",
    "SE": "dominant",
    "NW": "dominated",
    "origin": "undefined",
    "": "undefined",
}
FrontierStatus = Literal["frontier", "dominated", "extendedly dominated"]
FEW_PAIRS = 10
"""Below this many pairs a percentile bootstrap interval is too narrow: resamples of n pairs
have n^n orderings but few distinct means, and their spread is that of a plug-in estimate,
about (n - 1)/n of the variance (Efron & Tibshirani 1993, "An Introduction to the Bootstrap",
ch. 5 and 13)."""
_BOOT_CELLS = 4_000_000
"""At most this many resampled values are held at once by ``icer_interval`` (memory bound)."""
TE_BASIS_PER_MARGIN = 5
"""Basis functions per margin of the two-parameter tensor-product smooth (mgcv's default)."""
EVPPI_MIN_DRAWS = 50
"""Fewer draws than this cannot support a spline metamodel (assumption: a smooth term has
up to 20 basis functions, so the fit needs a few times as many points)."""


# --------------------------------------------------------------------------------------------
# The cost-effectiveness plane and dominance
# --------------------------------------------------------------------------------------------


def _quadrant_names(d_cost: np.ndarray, d_qaly: np.ndarray) -> np.ndarray:
    """Quadrant of each (d_cost, d_qaly) point; "" where either is NaN.

    A point on an axis takes the dominance reading: no more costly and more effective, or less
    costly and no less effective, is SE (dominant); the mirror image is NW (dominated).
    """
    c = np.asarray(d_cost, dtype=float)
    q = np.asarray(d_qaly, dtype=float)
    conditions = [
        np.isnan(c) | np.isnan(q),
        (c == 0.0) & (q == 0.0),
        (c <= 0.0) & (q >= 0.0),
        (c >= 0.0) & (q <= 0.0),
        (c > 0.0) & (q > 0.0),
    ]
    return np.select(conditions, ["", "origin", "SE", "NW", "NE"], default="SW")


def plane_quadrant(d_cost: float, d_qaly: float) -> Quadrant | None:
    """Where an incremental (cost, QALY) point lies on the cost-effectiveness plane.

    Args:
        d_cost: Incremental cost (new - comparator), USD per patient.
        d_qaly: Incremental QALYs (new - comparator) per patient.

    Returns:
        "NE", "SE", "SW", "NW" or "origin" (see ``QUADRANT_MEANING``); None when either
        difference is NaN.
    """
    name = str(_quadrant_names(np.array([d_cost]), np.array([d_qaly]))[0])
    return None if name == "" else name  # type: ignore[return-value]


def icer_label(d_cost: float, d_qaly: float) -> IcerLabel:
    """What an incremental cost-effectiveness ratio means, or why there is none.

    ICER = d_cost / d_qaly is a decision statistic only when both differences have the same
    sign (Drummond et al. 2015, ch. 4):

    * ``"dominant"``: no more costly and more effective, or less costly and no less effective
      (SE quadrant): adopt, whatever the willingness to pay; no ratio is reported.
    * ``"dominated"``: no less costly and less effective, or more costly and no more effective
      (NW quadrant): reject; no ratio is reported.
    * ``"icer"``: more costly and more effective (NE: the ratio is the cost per QALY gained),
      or less costly and less effective (SW: the ratio is the saving per QALY lost; such a
      strategy is worth adopting when the ratio is above the willingness to pay).
    * ``"undefined"``: both differences zero, or either NaN.

    Args:
        d_cost: Incremental cost, USD per patient.
        d_qaly: Incremental QALYs per patient.
    """
    return _LABEL_OF_QUADRANT[str(_quadrant_names(np.array([d_cost]), np.array([d_qaly]))[0])]


def quadrant_shares(d_costs: np.ndarray, d_qalys: np.ndarray) -> dict[str, float]:
    """Share of (d_cost, d_qaly) points in each quadrant of the plane (NaN points left out).

    Returns:
        ``{quadrant: share}`` for every name in ``QUADRANTS``; the shares sum to 1, or are all
        0 when no point is defined.
    """
    names = _quadrant_names(np.asarray(d_costs, dtype=float), np.asarray(d_qalys, dtype=float))
    names = names[names != ""]
    if names.size == 0:
        return dict.fromkeys(QUADRANTS, 0.0)
    return {quad: float(np.mean(names == quad)) for quad in QUADRANTS}


@dataclass(frozen=True)
class IcerInterval:
    """A bootstrap interval of the ICER over paired replications, or why there is none.

    Attributes:
        low: Lower bound, USD per QALY (None when undefined).
        high: Upper bound, USD per QALY (None when undefined).
        level: Coverage, e.g. 0.95.
        n_pairs: Pairs with both differences defined (the bootstrap's sample size).
        n_boot: Bootstrap resamples drawn.
        quadrant_shares: Share of the resampled mean differences in each quadrant
            (``QUADRANTS``): how sure the plane is of the comparison's direction.
        reason: How the interval was computed, or why it is undefined.
    """

    low: float | None
    high: float | None
    level: float
    n_pairs: int
    n_boot: int
    quadrant_shares: dict[str, float]
    reason: str

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(low, high)``, or None when the interval is undefined."""
        if self.low is None or self.high is None:
            return None
        return (self.low, self.high)


def _finite_pairs(d_costs, d_qalys) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(d_costs, dtype=float).ravel()
    q = np.asarray(d_qalys, dtype=float).ravel()
    if c.shape != q.shape:
        raise ValueError(f"{c.size} cost differences but {q.size} QALY differences: give pairs")
    keep = np.isfinite(c) & np.isfinite(q)
    return c[keep], q[keep]


def icer_interval(
    d_costs: Sequence[float] | np.ndarray,
    d_qalys: Sequence[float] | np.ndarray,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> IcerInterval:
    """Percentile bootstrap interval of the ICER from paired replications.

    Each resample draws n replication pairs with replacement (keeping each pair's cost and
    QALY differences together) and takes the ratio of mean differences,
    ``ICER* = mean(d_cost*) / mean(d_qaly*)``; the interval is the (1 - level)/2 and
    (1 + level)/2 quantiles of ICER* (Briggs, Wonderling & Mooney 1997; Briggs, Claxton &
    Sculpher 2006, ch. 4). The ratio's interval means something only while the mean QALY
    difference keeps one sign: when resamples put it at zero or on both sides, the ratio is
    unbounded and jumps between "cost per QALY gained" and "saving per QALY lost", so the
    interval is undefined (read the plane's quadrant shares and net monetary benefit then).

    With mean QALY differences all positive, a negative bound means resamples where the
    strategy also saved money (dominant); with all negative, a negative bound means resamples
    where it also cost more (dominated).

    Args:
        d_costs: Incremental cost of each replication pair, USD per patient.
        d_qalys: Incremental QALYs of each pair (same order). Pairs with a NaN are left out.
        level: Coverage, in (0, 1).
        n_boot: Resamples, >= 100.
        seed: Seed of the resampling (the same inputs and seed give the same interval).

    Returns:
        The interval (``low``/``high`` None when undefined, with the reason) and the share of
        resampled means in each quadrant.

    Raises:
        ValueError: Unequal lengths, a level outside (0, 1) or fewer than 100 resamples.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level {level}: must be between 0 and 1")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"n_boot {n_boot}: must be a whole number >= 100")
    c, q = _finite_pairs(d_costs, d_qalys)
    n = c.size
    if n == 0:
        return IcerInterval(
            None, None, level, 0, 0, quadrant_shares(c, q), "no pair with both differences"
        )
    rng = np.random.default_rng(seed)
    mean_c = np.empty(n_boot)
    mean_q = np.empty(n_boot)
    step = max(1, _BOOT_CELLS // n)
    for start in range(0, n_boot, step):
        idx = rng.integers(0, n, size=(min(step, n_boot - start), n))
        mean_c[start : start + idx.shape[0]] = c[idx].mean(axis=1)
        mean_q[start : start + idx.shape[0]] = q[idx].mean(axis=1)
    shares = quadrant_shares(mean_c, mean_q)

    def undefined(reason: str) -> IcerInterval:
        return IcerInterval(None, None, level, n, n_boot, shares, reason)

    if n < 2:
        return undefined("fewer than 2 replication pairs: no interval")
    if np.all(mean_q == 0.0):
        return undefined("no QALY difference in any resample: the ratio is undefined")
    if mean_q.min() <= 0.0 <= mean_q.max():
        positive = float(np.mean(mean_q > 0.0))
        return undefined(
            f"the mean QALY difference is positive in {positive:.0%} of resamples and zero or "
            "negative in the rest: the ratio has no meaningful interval (read the plane and "
            "net monetary benefit)"
        )
    alpha = 1.0 - level
    low, high = np.quantile(mean_c / mean_q, [alpha / 2.0, 1.0 - alpha / 2.0])
    reason = (
        f"percentile bootstrap: {n_boot} resamples of {n} replication pairs, ratio of mean "
        "differences"
    )
    if n < FEW_PAIRS:
        reason += f"; with fewer than {FEW_PAIRS} pairs it understates the uncertainty"
    return IcerInterval(float(low), float(high), level, n, n_boot, shares, reason)


# --------------------------------------------------------------------------------------------
# Several strategies: the efficiency frontier
# --------------------------------------------------------------------------------------------


def efficiency_frontier(
    costs: Sequence[float] | np.ndarray,
    qalys: Sequence[float] | np.ndarray,
    names: Sequence[str],
) -> pd.DataFrame:
    """The cost-effectiveness (efficiency) frontier of mutually exclusive strategies.

    Strategies are sorted by cost (then by QALYs, most first). A strategy is **dominated**
    (strongly) when another is no more costly and no less effective, and better in one of the
    two; of two identical strategies the one named later is dominated by the earlier. Among
    the rest, ICER_k = (C_k - C_{k-1}) / (Q_k - Q_{k-1}) against the next cheaper one must rise
    with cost; a strategy whose ICER is higher than that of the next more effective one is
    **extendedly dominated** (a mix of its neighbours would give more QALYs for the money) and
    is removed, and the ICERs are recomputed until they rise (Drummond et al. 2015, ch. 4;
    Briggs, Claxton & Sculpher 2006, ch. 4). What remains is the **frontier**; the cheapest
    strategy on it is the reference (no ICER).

    Args:
        costs: Mean cost of each strategy, USD per patient.
        qalys: Mean QALYs of each strategy, per patient.
        names: Unique strategy names, in the order given.

    Returns:
        One row per strategy, sorted by cost: ``strategy``, ``cost``, ``qalys``, ``status``
        ("frontier" | "dominated" | "extendedly dominated"), ``compared_with`` (frontier:
        the next cheaper frontier strategy, missing for the first; extendedly dominated: the
        next cheaper frontier strategy; dominated: the least costly strategy that dominates
        it) and ``icer`` against ``compared_with`` in USD per QALY (NaN for the first
        frontier strategy and for dominated ones, which have no meaningful ratio).

    Raises:
        ValueError: Lengths differ, a name repeats, or a cost or QALY value is not finite.
    """
    c = np.asarray(costs, dtype=float).ravel()
    q = np.asarray(qalys, dtype=float).ravel()
    names = [str(n) for n in names]
    if not (c.size == q.size == len(names)) or c.size == 0:
        raise ValueError(
            f"{c.size} costs, {q.size} QALYs and {len(names)} names: give one of each per "
            "strategy (at least one)"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"strategy names repeat: {names}")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(q))):
        raise ValueError("every strategy needs a finite cost and QALY value")
    n = c.size
    order = sorted(range(n), key=lambda i: (c[i], -q[i], i))
    status: dict[int, FrontierStatus] = {}
    compared: dict[int, int | None] = {}
    icer: dict[int, float] = {}

    def dominates(j: int, i: int) -> bool:
        if c[j] > c[i] or q[j] < q[i]:
            return False
        return c[j] < c[i] or q[j] > q[i] or j < i

    for i in range(n):
        dominators = [j for j in order if j != i and dominates(j, i)]
        if dominators:
            status[i], compared[i], icer[i] = "dominated", dominators[0], math.nan
    frontier = [i for i in order if i not in status]

    def step_icer(frm: int, to: int) -> float:
        return float((c[to] - c[frm]) / (q[to] - q[frm]))

    removed = True
    while removed:
        removed = False
        for k in range(1, len(frontier) - 1):
            prev, here, nxt = frontier[k - 1], frontier[k], frontier[k + 1]
            if step_icer(prev, here) > step_icer(here, nxt):
                status[here] = "extendedly dominated"
                frontier.pop(k)
                removed = True
                break
    for k, i in enumerate(frontier):
        status[i] = "frontier"
        compared[i] = frontier[k - 1] if k > 0 else None
        icer[i] = step_icer(frontier[k - 1], i) if k > 0 else math.nan
    for i in order:
        if status[i] == "extendedly dominated":
            cheaper = [f for f in frontier if order.index(f) < order.index(i)]
            compared[i] = cheaper[-1]
            icer[i] = step_icer(cheaper[-1], i)
    return pd.DataFrame(
        {
            "strategy": [names[i] for i in order],
            "cost": [float(c[i]) for i in order],
            "qalys": [float(q[i]) for i in order],
            "status": [status[i] for i in order],
            "compared_with": [None if compared[i] is None else names[compared[i]] for i in order],
            "icer": [icer[i] for i in order],
        }
    )


# --------------------------------------------------------------------------------------------
# Net benefit and probabilistic sensitivity analysis
# --------------------------------------------------------------------------------------------


def net_monetary_benefit(
    costs: float | np.ndarray, qalys: float | np.ndarray, wtp: float | Sequence[float] | np.ndarray
) -> np.ndarray:
    """Net monetary benefit, NMB = lambda * QALYs - cost (Stinnett & Mullahy 1998).

    Args:
        costs: Costs, USD per patient (any shape, e.g. ``[draw, strategy]``).
        qalys: QALYs per patient, the same shape as ``costs``.
        wtp: Willingness to pay lambda, USD per QALY: a number or a 1-D grid.

    Returns:
        NMB in USD per patient, of shape ``wtp.shape + costs.shape`` (a grid adds a leading
        axis). Incremental inputs give the incremental NMB.
    """
    c = np.asarray(costs, dtype=float)
    q = np.asarray(qalys, dtype=float)
    if c.shape != q.shape:
        raise ValueError(f"costs {c.shape} and QALYs {q.shape} must have the same shape")
    lam = np.asarray(wtp, dtype=float)
    return lam.reshape(lam.shape + (1,) * q.ndim) * q - c


@dataclass(frozen=True)
class _Psa:
    costs: np.ndarray
    qalys: np.ndarray
    wtp: np.ndarray
    strategies: list


def _psa_inputs(costs, qalys, wtp_grid, strategies) -> _Psa:
    c = np.asarray(costs, dtype=float)
    q = np.asarray(qalys, dtype=float)
    if c.ndim != 2 or c.shape != q.shape or c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(
            f"costs {c.shape} and QALYs {q.shape}: give two arrays of shape [draw, strategy]"
        )
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(q))):
        raise ValueError("every draw needs a finite cost and QALY value for every strategy")
    lam = np.atleast_1d(np.asarray(wtp_grid, dtype=float))
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("wtp_grid: give a 1-D list of finite, non-negative USD per QALY")
    names = list(range(c.shape[1])) if strategies is None else list(strategies)
    if len(names) != c.shape[1] or len(set(names)) != len(names):
        raise ValueError(f"strategies {names}: give {c.shape[1]} unique names")
    return _Psa(c, q, lam, names)


def ceac(
    costs: np.ndarray,
    qalys: np.ndarray,
    wtp_grid: Sequence[float] | np.ndarray,
    strategies: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Cost-effectiveness acceptability curves: P(strategy has the highest NMB) at each WTP.

    For each lambda, the share of draws in which a strategy's NMB = lambda * Q - C is the
    highest of all strategies; a tie splits the draw equally between the tied strategies, so
    each row sums to 1 (Fenwick, Claxton & Sculpher 2001; Briggs, Claxton & Sculpher 2006,
    ch. 8).

    Args:
        costs: ``[draw, strategy]`` costs, USD per patient.
        qalys: ``[draw, strategy]`` QALYs per patient.
        wtp_grid: Willingness to pay values, USD per QALY (>= 0).
        strategies: Column names (default 0, 1, ...).

    Returns:
        Probabilities in [0, 1]: index ``wtp``, one column per strategy.
    """
    psa = _psa_inputs(costs, qalys, wtp_grid, strategies)
    out = np.empty((psa.wtp.size, psa.costs.shape[1]))
    for row, lam in enumerate(psa.wtp):
        nmb = net_monetary_benefit(psa.costs, psa.qalys, lam)
        best = nmb == nmb.max(axis=1, keepdims=True)
        out[row] = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    return pd.DataFrame(out, index=pd.Index(psa.wtp, name="wtp"), columns=psa.strategies)


def ceaf(
    costs: np.ndarray,
    qalys: np.ndarray,
    wtp_grid: Sequence[float] | np.ndarray,
    strategies: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The cost-effectiveness acceptability frontier: the optimal strategy at each WTP.

    The optimal strategy is the one with the highest expected NMB, E[lambda * Q - C] (ties:
    the first listed); the frontier gives its probability of being cost-effective, which can
    be below that of another strategy when NMB is skewed (Fenwick, Claxton & Sculpher 2001).

    Args:
        costs: ``[draw, strategy]`` costs, USD per patient.
        qalys: ``[draw, strategy]`` QALYs per patient.
        wtp_grid: Willingness to pay values, USD per QALY (>= 0).
        strategies: Strategy names (default 0, 1, ...).

    Returns:
        One row per WTP: ``wtp``, ``strategy`` (optimal), ``expected_nmb`` (its mean NMB, USD
        per patient) and ``probability_cost_effective`` (its acceptability).
    """
    psa = _psa_inputs(costs, qalys, wtp_grid, strategies)
    curves = ceac(psa.costs, psa.qalys, psa.wtp, psa.strategies).to_numpy()
    expected = net_monetary_benefit(psa.costs.mean(axis=0), psa.qalys.mean(axis=0), psa.wtp)
    best = expected.argmax(axis=1)
    rows = np.arange(psa.wtp.size)
    return pd.DataFrame(
        {
            "wtp": psa.wtp,
            "strategy": [psa.strategies[b] for b in best],
            "expected_nmb": expected[rows, best],
            "probability_cost_effective": curves[rows, best],
        }
    )


def evpi(costs: np.ndarray, qalys: np.ndarray, wtp_grid: Sequence[float] | np.ndarray) -> pd.Series:
    """Expected value of perfect information per patient at each WTP.

    EVPI(lambda) = E_theta[max_s NMB_s(theta)] - max_s E_theta[NMB_s(theta)]: what a decision
    maker would pay per patient to decide after learning every uncertain input (Briggs,
    Claxton & Sculpher 2006, ch. 7). It is >= 0 (a sample estimate too).

    Args:
        costs: ``[draw, strategy]`` costs, USD per patient.
        qalys: ``[draw, strategy]`` QALYs per patient.
        wtp_grid: Willingness to pay values, USD per QALY (>= 0).

    Returns:
        EVPI in USD per patient, indexed by ``wtp``.
    """
    psa = _psa_inputs(costs, qalys, wtp_grid, None)
    values = np.empty(psa.wtp.size)
    for row, lam in enumerate(psa.wtp):
        nmb = net_monetary_benefit(psa.costs, psa.qalys, lam)
        values[row] = nmb.max(axis=1).mean() - nmb.mean(axis=0).max()
    return pd.Series(np.maximum(values, 0.0), index=pd.Index(psa.wtp, name="wtp"), name="evpi")


def population_evpi(
    evpi_per_patient: float | pd.Series | np.ndarray,
    patients_per_year: float,
    years: int = 1,
    discount_rate: float = 0.0,
) -> float | pd.Series | np.ndarray:
    """EVPI for the population the decision affects.

    Population EVPI = EVPI per patient * sum_{t=0}^{years-1} N / (1 + r)^t, with N patients a
    year over the decision's lifetime (Briggs, Claxton & Sculpher 2006, ch. 7).

    Args:
        evpi_per_patient: EVPI per patient, USD (a number, or per WTP).
        patients_per_year: Patients facing the decision each year (> 0).
        years: Years the decision stands (>= 1).
        discount_rate: Annual discount rate of later cohorts, in [0, 1).

    Returns:
        USD for the whole population, the same shape as ``evpi_per_patient``.
    """
    if not (math.isfinite(patients_per_year) and patients_per_year > 0):
        raise ValueError(f"patients_per_year {patients_per_year}: must be a positive number")
    if isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise ValueError(f"years {years}: must be a whole number >= 1")
    if not 0.0 <= discount_rate < 1.0:
        raise ValueError(f"discount_rate {discount_rate}: must be in [0, 1)")
    cohorts = sum(patients_per_year / (1.0 + discount_rate) ** t for t in range(years))
    return evpi_per_patient * cohorts


# --------------------------------------------------------------------------------------------
# EVPPI by a regression metamodel
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvppiResult:
    """EVPPI of one parameter group at each WTP.

    Attributes:
        parameters: The group's parameter names.
        method: The metamodel, named (regression, terms, how smoothing was chosen).
        evppi: EVPPI per patient, USD, indexed by ``wtp``, clipped to [0, EVPI].
        evppi_unclipped: The metamodel's estimate before clipping.
        evpi: EVPI per patient at the same WTP values (the upper bound).
        note: What the clipping changed ("" when nothing).
    """

    parameters: tuple[str, ...]
    method: str
    evppi: pd.Series
    evppi_unclipped: pd.Series
    evpi: pd.Series
    note: str


def _gam_fitted(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fitted values of a Gaussian GAM of y on the columns of x (the terms ``_gam_terms`` says)."""
    import pygam

    if np.ptp(y) == 0.0:
        return y.astype(float).copy()
    k = x.shape[1]
    penalties = np.logspace(-3.0, 3.0, 11)
    if k == 1:
        terms = pygam.s(0)
    elif k == 2:
        # 5 basis functions a margin, as mgcv's te() default that Strong, Oakley & Brennan used;
        # pygam's 10 make each fit about 10x slower for no gain on smooth PSA surfaces.
        terms = pygam.te(0, 1, n_splines=TE_BASIS_PER_MARGIN)
        # One penalty for both margins (11 fits, not 121): each margin's knots span its own
        # range, so a shared penalty treats them alike whatever their units.
        penalties = np.column_stack([penalties, penalties])
    else:
        terms = pygam.s(0)
        for j in range(1, k):
            terms = terms + pygam.s(j)
    gam = pygam.LinearGAM(terms).gridsearch(x, y, lam=penalties, progress=False)
    return np.asarray(gam.predict(x), dtype=float)


def _gam_terms(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"a penalised cubic regression spline s({names[0]})"
    if len(names) == 2:
        return (
            f"a tensor-product spline te({names[0]}, {names[1]}) of {TE_BASIS_PER_MARGIN} basis "
            "functions a margin (interactions included)"
        )
    return (
        "an additive model " + " + ".join(f"s({n})" for n in names) + " (main effects only: "
        "interactions between the parameters are not captured, which can understate EVPPI)"
    )


def evppi(
    costs: np.ndarray,
    qalys: np.ndarray,
    params: np.ndarray | pd.DataFrame | pd.Series,
    wtp_grid: Sequence[float] | np.ndarray,
    method: Literal["gam"] = "gam",
    strategies: Sequence[str] | None = None,
) -> EvppiResult:
    """Expected value of partial perfect information of a parameter group, by regression.

    EVPPI(lambda) = E_phi[max_s E(NMB_s | phi)] - max_s E[NMB_s] for the parameter group phi.
    The inner conditional expectation is a regression metamodel fitted to the PSA draws
    (Strong, Oakley & Brennan 2014): with incremental NMB against the first strategy,
    INB_s = lambda * dQ_s - dC_s, and E(INB_s | phi) = lambda * E(dQ_s | phi) - E(dC_s | phi),
    so dQ_s and dC_s are each regressed on phi once and the fits combined for every lambda:
    EVPPI = mean_n max(0, max_s g_s(phi_n)) - max(0, max_s mean_n g_s(phi_n)). The
    regression is a Gaussian GAM (pygam ``LinearGAM``, smoothing chosen by generalised
    cross-validation over 11 penalties from 0.001 to 1000): one smooth term for one
    parameter, a tensor-product smooth for two, an additive model for more. Parameters that
    do not vary are dropped (they carry no information).

    Regression noise can put the estimate slightly below 0 or above EVPI (which bounds it);
    it is clipped to [0, EVPI] and ``note`` says where and by how much.

    Args:
        costs: ``[draw, strategy]`` costs, USD per patient.
        qalys: ``[draw, strategy]`` QALYs per patient.
        params: The group's draws, ``[draw]`` or ``[draw, parameter]`` (a DataFrame's
            column names, or a Series' name, name the parameters).
        wtp_grid: Willingness to pay values, USD per QALY (>= 0).
        method: ``"gam"`` (the only method).
        strategies: Strategy names (default 0, 1, ...); the first is the reference.

    Returns:
        EVPPI per patient at each WTP, with EVPI and the method named.

    Raises:
        ValueError: Shapes that do not match, non-finite values, fewer than
            ``EVPPI_MIN_DRAWS`` draws, or an unknown method.
    """
    if method != "gam":
        raise ValueError(f"method {method!r}: the only method is 'gam'")
    psa = _psa_inputs(costs, qalys, wtp_grid, strategies)
    if isinstance(params, pd.DataFrame):
        names = [str(col) for col in params.columns]
    elif isinstance(params, pd.Series):
        names = [str(params.name if params.name is not None else "x0")]
    else:
        names = None
    x = np.asarray(params, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    names = names or [f"x{j}" for j in range(x.shape[1])]
    draws = psa.costs.shape[0]
    if x.ndim != 2 or x.shape[0] != draws or x.shape[1] == 0:
        raise ValueError(f"params {x.shape}: give [draw] or [draw, parameter] with {draws} draws")
    if not np.all(np.isfinite(x)):
        raise ValueError("params: every draw needs finite parameter values")
    if draws < EVPPI_MIN_DRAWS:
        raise ValueError(f"{draws} draws: EVPPI by regression needs at least {EVPPI_MIN_DRAWS}")
    full_evpi = evpi(psa.costs, psa.qalys, psa.wtp)
    varying = [j for j in range(x.shape[1]) if np.ptp(x[:, j]) > 0.0]
    d_cost = psa.costs[:, 1:] - psa.costs[:, :1]
    d_qaly = psa.qalys[:, 1:] - psa.qalys[:, :1]
    if not varying or d_cost.shape[1] == 0:
        fit_c, fit_q = np.zeros_like(d_cost), np.zeros_like(d_qaly)
        described = "none needed: the parameters do not vary, or there is one strategy (EVPPI 0)"
    else:
        xv = x[:, varying]
        fit_c = np.column_stack([_gam_fitted(xv, d_cost[:, s]) for s in range(d_cost.shape[1])])
        fit_q = np.column_stack([_gam_fitted(xv, d_qaly[:, s]) for s in range(d_qaly.shape[1])])
        described = _gam_terms([names[j] for j in varying])
    raw = np.empty(psa.wtp.size)
    for row, lam in enumerate(psa.wtp):
        inb = np.column_stack([np.zeros(draws), net_monetary_benefit(fit_c, fit_q, lam)])
        raw[row] = inb.max(axis=1).mean() - inb.mean(axis=0).max()
    index = pd.Index(psa.wtp, name="wtp")
    unclipped = pd.Series(raw, index=index, name="evppi_unclipped")
    clipped = pd.Series(np.clip(raw, 0.0, full_evpi.to_numpy()), index=index, name="evppi")
    changed = np.abs(clipped.to_numpy() - raw)
    note = ""
    if np.any(changed > 0.0):
        note = (
            f"clipped to [0, EVPI] at {int(np.sum(changed > 0.0))} of {raw.size} WTP values "
            f"(largest change ${changed.max():,.2f} per patient): regression noise"
        )
    return EvppiResult(
        parameters=tuple(names),
        method=(
            "regression metamodel (Strong, Oakley & Brennan 2014): incremental costs and QALYs "
            f"against strategy {psa.strategies[0]} each regressed on the group by a Gaussian "
            f"GAM (pygam LinearGAM) with {described}, smoothing by generalised cross-validation"
        ),
        evppi=clipped,
        evppi_unclipped=unclipped,
        evpi=full_evpi,
        note=note,
    )
