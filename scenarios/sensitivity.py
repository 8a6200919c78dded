"""Global sensitivity analysis with SALib: Morris screening and Sobol indices.

A parameter is a dotted scenario path (``policy.rel_therapy_rate``,
``clinical.p_session_synergy_gain``) with a range ``LOW:HIGH``. SALib draws the sample; each
sample point becomes a validated scenario and runs ``replications`` times through the batch
engine, with the same seed and replications at every point (common random numbers, so
differences between points come from the parameters, not from noise); the output is the mean of
the chosen metric over those replications. Every sample point is validated before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from model.metrics import SUMMARY_KEYS
from model.params import Scenario
from scenarios.batch import RunOutcome, execute, make_specs
from scenarios.loader import ScenarioError, load_scenario

METHODS = ("sobol", "morris")
METRICS = (
    *(k for k in SUMMARY_KEYS if k not in {"scenario", "seed", "n_patients", "days"}),
    "cost_per_patient_discounted",
)
"""Metrics a sensitivity analysis can explain: every numeric summary metric."""
EXCLUDED_BLOCKS = {"run"}
"""Run settings (patients, days, seed) are set by flags, not sampled."""


@dataclass(frozen=True)
class ParamRange:
    """A scenario parameter to vary and its range."""

    name: str  # dotted path, e.g. "policy.rel_therapy_rate"
    low: float
    high: float
    integer: bool  # whole-number field: sampled values are rounded


@dataclass(frozen=True)
class SensitivityResult:
    """Indices per parameter, ranked most influential first, and the runs behind them.

    Attributes:
        scenario: The scenario varied.
        method: 'sobol' or 'morris'.
        metric: The output explained.
        replications: Runs per sample point (their mean is the output).
        samples: SALib's base sample size N.
        indices: One row per parameter. Sobol: S1, S1_conf, ST, ST_conf. Morris: mu, mu_star,
            mu_star_conf, sigma. Plus ``low``, ``high`` and ``rank`` (1 = most influential by
            ST or mu_star).
        points: One row per sample point: the parameter values and the output.
    """

    scenario: str
    method: str
    metric: str
    replications: int
    samples: int
    indices: pd.DataFrame
    points: pd.DataFrame

    @property
    def importance(self) -> str:
        """The index the ranking uses."""
        return "ST" if self.method == "sobol" else "mu_star"

    def to_json_dict(self) -> dict:
        """A JSON-ready dict (NaN becomes null)."""
        rows = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in self.indices.to_dict(orient="records")
        ]
        return {
            "scenario": self.scenario,
            "method": self.method,
            "metric": self.metric,
            "replications": self.replications,
            "samples": self.samples,
            "n_points": len(self.points),
            "n_runs": len(self.points) * self.replications,
            "ranked_by": self.importance,
            "params": rows,
        }


def _field(name: str):
    """The pydantic field at a dotted path under ``Scenario``, or a one-line error."""
    parts = name.split(".")
    if len(parts) < 2 or not all(parts):
        raise ScenarioError(
            f"--param {name}: expected a dotted parameter path such as policy.rel_therapy_rate"
        )
    model: type[BaseModel] = Scenario
    field = None
    for i, part in enumerate(parts):
        if i == 0 and part in EXCLUDED_BLOCKS:
            raise ScenarioError(f"--param {name}: run settings are set by --patients/--days")
        field = model.model_fields.get(part)
        if field is None:
            where = ".".join(parts[:i]) or "the scenario"
            known = ", ".join(sorted(k for k in model.model_fields if k not in EXCLUDED_BLOCKS))
            raise ScenarioError(
                f"--param {name}: unknown parameter '{part}' in {where} (known: {known})"
            )
        ann = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
                raise ScenarioError(f"--param {name}: '{part}' is a value, not a parameter table")
            model = ann
    return field


def parse_param(text: str) -> ParamRange:
    """Parse ``NAME=LOW:HIGH`` into a checked ``ParamRange`` (one-line ``ScenarioError``)."""
    name, eq, rng = text.partition("=")
    name = name.strip()
    if not eq or not name:
        raise ScenarioError(f"--param {text}: expected NAME=LOW:HIGH")
    low_s, colon, high_s = rng.partition(":")
    if not colon:
        raise ScenarioError(f"--param {text}: expected a range LOW:HIGH after '='")
    field = _field(name)
    ann = field.annotation
    if ann is bool or ann not in (int, float):
        kind = getattr(ann, "__name__", str(ann))
        raise ScenarioError(f"--param {name}: not a numeric parameter (it is {kind})")
    try:
        low, high = float(low_s), float(high_s)
    except ValueError:
        raise ScenarioError(f"--param {text}: LOW and HIGH must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ScenarioError(f"--param {text}: LOW and HIGH must be finite numbers")
    integer = ann is int
    if integer and (low != int(low) or high != int(high)):
        raise ScenarioError(f"--param {text}: {name} is a whole number; give whole-number bounds")
    if not low < high:
        raise ScenarioError(f"--param {text}: empty or inverted range (LOW must be below HIGH)")
    return ParamRange(name, low, high, integer)


def apply_params(base: Scenario, values: dict[str, float]) -> Scenario:
    """A validated copy of ``base`` with dotted-path parameters set (whole numbers rounded)."""
    data = base.model_dump()
    for name, value in values.items():
        parts = name.split(".")
        field = _field(name)
        node = data
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = round(float(value)) if field.annotation is int else float(value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        ctx = err.get("ctx") or {}
        if ctx and "error" not in ctx:
            bounds = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ctx.items())
            msg = f"value {err.get('input')!r} is out of range (allowed: {bounds})"
        else:
            msg = err["msg"]
        raise ScenarioError(f"parameter {loc or '(scenario)'}: {msg}") from None


def _problem(params: Sequence[ParamRange]) -> dict:
    return {
        "num_vars": len(params),
        "names": [p.name for p in params],
        "bounds": [[p.low, p.high] for p in params],
    }


def sample(method: str, params: Sequence[ParamRange], samples: int, seed: int = 0) -> np.ndarray:
    """SALib's sample matrix: Sobol (Saltelli, first and total order) or Morris trajectories."""
    problem = _problem(params)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, samples, calc_second_order=False, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, samples, num_levels=4, seed=seed)
    raise ScenarioError(f"--method {method}: expected one of {', '.join(METHODS)}")


def analyse(
    method: str, params: Sequence[ParamRange], x: np.ndarray, y: np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """SALib's indices as a frame, ranked (1 = most influential)."""
    problem = _problem(params)
    if method == "sobol":
        from SALib.analyze import sobol

        cols, key = ("S1", "S1_conf", "ST", "ST_conf"), "ST"
        if np.ptp(y) == 0.0:
            # No output variance at all: nothing to apportion (SALib would divide by zero).
            res = {c: np.zeros(len(params)) for c in cols}
        else:
            res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
    else:
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=4, seed=seed)
        cols, key = ("mu", "mu_star", "mu_star_conf", "sigma"), "mu_star"
    frame = pd.DataFrame({c: np.asarray(res[c], dtype=float) for c in cols})
    frame.insert(0, "param", [p.name for p in params])
    frame.insert(1, "low", [p.low for p in params])
    frame.insert(2, "high", [p.high for p in params])
    frame = frame.sort_values(key, ascending=False, na_position="last", kind="stable")
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame.reset_index(drop=True)


def check_request(
    method: str, params: Sequence[ParamRange], metric: str, samples: int, replications: int
) -> None:
    """Validate everything but the sample points; one-line ``ScenarioError``."""
    if method not in METHODS:
        raise ScenarioError(f"--method {method}: expected one of {', '.join(METHODS)}")
    if not params:
        raise ScenarioError("give at least one --param NAME=LOW:HIGH")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise ScenarioError("--param: each parameter may be given once")
    if metric not in METRICS:
        raise ScenarioError(f"--metric {metric}: unknown metric (one of: {', '.join(METRICS)})")
    if samples < 2 or samples > 1_000_000:
        raise ScenarioError(f"--samples {samples}: must be between 2 and 1000000")
    if method == "sobol" and samples & (samples - 1):
        raise ScenarioError(f"--samples {samples}: Sobol sampling needs a power of two")
    if replications < 1:
        raise ScenarioError(f"--replications {replications}: must be >= 1")


def sensitivity(
    scenario: Scenario | str,
    params: Sequence[ParamRange | str],
    method: str = "sobol",
    metric: str = "integrated_delivery_rate",
    samples: int = 16,
    replications: int = 1,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int = 0,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SensitivityResult:
    """Run a Morris or Sobol analysis of ``metric`` over ``params``.

    Args:
        scenario: The scenario varied (preset name, path or ``Scenario``).
        params: ``ParamRange`` objects or ``NAME=LOW:HIGH`` strings.
        method: 'sobol' (first-order and total indices) or 'morris' (elementary effects).
        metric: The summary metric explained.
        samples: SALib's N: Sobol runs N * (D + 2) points (N a power of two), Morris
            N * (D + 1) (N trajectories); D = number of parameters.
        replications: Runs per point; the output is their mean.
        n_patients: Catchment size (default: the scenario's).
        days: Days simulated (default: the scenario's).
        seed: Seed of every run and of SALib's sampler.
        workers: Worker processes (1: in this process); None: one per core.
        scheduler: A Dask scheduler address instead of local workers.
        progress: Called as ``progress(done, total)`` after each finished run.

    Returns:
        Indices and the sample points.

    Raises:
        ScenarioError: Bad input (found before anything runs) or failed runs.
    """
    if scheduler is not None and workers == 1:
        workers = None  # the in-process default gives way to an explicit scheduler
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ranges = [p if isinstance(p, ParamRange) else parse_param(p) for p in params]
    check_request(method, ranges, metric, samples, replications)
    x = sample(method, ranges, samples, seed)
    # Validate every point (and the run settings) before running any of them: nothing runs on
    # bad input, e.g. a range that breaks a cross-field rule somewhere inside it.
    points = [
        apply_params(base, dict(zip([p.name for p in ranges], row, strict=True))) for row in x
    ]
    specs = []
    for i, sc in enumerate(points):
        specs += make_specs([sc], replications, n_patients, days, seed, False, False, str(i))
    results: dict[int, list[float]] = {}
    done = 0

    def collect(batch: list[RunOutcome]) -> None:
        nonlocal done
        for o in batch:
            if o.status == "ok":
                value = (o.summary or {}).get(metric)
                results.setdefault(int(o.spec.tag), []).append(
                    math.nan if value is None else float(value)
                )
            done += 1
            if progress is not None:
                progress(done, len(specs))

    report = execute(specs, collect, workers=workers, scheduler=scheduler)
    if report.failures:
        name, rep, status, error = report.failures[0]
        raise ScenarioError(
            f"{len(report.failures)} of {len(specs)} runs did not finish; first: {name} "
            f"replication {rep} {status}: {error}"
        )
    y = np.array([np.mean(results[i]) for i in range(len(points))], dtype=float)
    if np.isnan(y).any():
        raise ScenarioError(
            f"--metric {metric}: undefined (null) at {int(np.isnan(y).sum())} of {len(y)} sample "
            "points; choose another metric or longer runs (--days)"
        )
    indices = analyse(method, ranges, x, y, seed)
    frame = pd.DataFrame(x, columns=[p.name for p in ranges])
    for p in ranges:
        if p.integer:
            frame[p.name] = frame[p.name].round().astype(int)
    frame[metric] = y
    return SensitivityResult(base.name, method, metric, replications, samples, indices, frame)
