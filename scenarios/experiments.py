"""The experiment layer's Python API: what the commands do, callable from Python.

``load_scenario``, ``run``, ``batch``, ``compare`` (one policy), ``compare_strategies`` (one or
more, with the efficiency frontier) and ``sensitivity`` mirror ``ketasim run``, ``batch``,
``compare`` and ``sensitivity``; ``run_model`` is a plain keyword function returning
one run's summary dict, for SALib or the EMA Workbench to call directly.

Parameters are addressed by dotted paths (``policy.rel_therapy_rate``); as keyword arguments
the dots become double underscores (``policy__rel_therapy_rate=1.2``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.params import Scenario
from scenarios import api
from scenarios.batch import (
    BatchError,
    BatchReport,
    Cluster,
    RunOutcome,
    check_settings,
    execute,
    make_specs,
    needs_cluster,
)
from scenarios.compare import CompareResult, StrategyComparison, compare, compare_strategies
from scenarios.loader import ScenarioError
from scenarios.sensitivity import SensitivityResult, apply_params, sensitivity
from scenarios.store import DEFAULT_STORE, Store, runs_frame

__all__ = [
    "DEFAULT_STORE",
    "BatchError",
    "BatchRun",
    "CompareResult",
    "ScenarioError",
    "SensitivityResult",
    "StrategyComparison",
    "batch",
    "compare",
    "compare_strategies",
    "load_scenario",
    "run",
    "run_batch",
    "run_model",
    "sensitivity",
]


def _dotted(params: dict[str, float]) -> dict[str, float]:
    """Keyword names (``policy__rel_therapy_rate``) as dotted paths (``policy.rel_...``)."""
    return {k.replace("__", "."): v for k, v in params.items()}


def load_scenario(scenario: Scenario | str | Path = "baseline", **params: float) -> Scenario:
    """A preset or file, with numeric parameters overridden by keyword (validated).

    Example: ``load_scenario("baseline", policy__rel_therapy_rate=1.2)``.
    """
    sc = scenario if isinstance(scenario, Scenario) else api.load_scenario(scenario)
    return apply_params(sc, _dotted(params)) if params else sc


def run(
    scenario: Scenario | str | Path = "baseline",
    n_patients: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    replication: int = 0,
    keep_claims: bool = True,
    **params: float,
) -> api.RunResult:
    """One run: summary dicts and the daily, patient, claims and payer frames."""
    return api.run(
        load_scenario(scenario, **params), n_patients, days, seed, replication, keep_claims
    )


def run_model(
    *,
    rng: int | np.random.Generator | None = None,
    scenario: str | Scenario = "baseline",
    n_patients: int | None = None,
    days: int | None = None,
    replication: int = 0,
    **params: float,
) -> dict:
    """Run once and return the summary dict: the function SALib or the EMA Workbench calls.

    Args:
        rng: The seed: an int, a NumPy ``Generator`` (one integer is drawn from it), or None for
            the scenario's own seed.
        scenario: Preset name, path or ``Scenario``.
        n_patients: Catchment size (default: the scenario's).
        days: Days simulated (default: the scenario's).
        replication: Replication index (common random numbers: same seed and replication, same
            draws).
        **params: Numeric scenario parameters, dotted paths with ``__`` for ``.``, e.g.
            ``policy__rel_therapy_rate=1.2``.

    Returns:
        The extended summary: every ``ketasim run --json`` key plus
        ``cost_per_patient_discounted``, ``spend_total``, ``perspective``, ``discount_rate``.
    """
    if isinstance(rng, np.random.Generator):
        seed = int(rng.integers(0, 2**63 - 1))
    elif rng is None:
        seed = None
    else:
        seed = int(rng)
    sc = load_scenario(scenario, **params)
    return api.run(sc, n_patients, days, seed, replication, keep_claims=False).extended


@dataclass(frozen=True)
class BatchRun:
    """What ``run_batch`` did: counts and failures, and the ``runs`` rows of the batch."""

    report: BatchReport
    runs: pd.DataFrame
    store: Path | None


def run_batch(
    scenarios: Sequence[Scenario | str | Path],
    replications: int,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    store: str | Path | None = DEFAULT_STORE,
    claims: bool = False,
    run_timeout: float | None = None,
    on_start: Callable[[int, int], None] | None = None,
    progress: Callable[[list[RunOutcome]], None] | None = None,
) -> BatchRun:
    """Run every (scenario, replication) pair missing from the store and write it there.

    Everything is validated, and the store opened, before anything runs; runs already finished
    in the store (same scenario hash, replication, patients, days and seed) are skipped, so an
    interrupted batch resumes. Each finished task is written in one transaction by this process.

    Args:
        scenarios: Presets, paths or ``Scenario`` objects.
        replications: Replications per scenario (replication r runs with ``seed``, ``r``).
        n_patients: Catchment size (default: each scenario's).
        days: Days simulated (default: each scenario's).
        seed: Seed shared by all runs.
        workers: Worker processes (1: in this process); None: one per core.
        scheduler: Address of a running Dask scheduler instead of local workers.
        store: The DuckDB file; None keeps nothing but the returned ``runs`` rows.
        claims: Also store each run's claims ledger.
        run_timeout: Seconds a run may take before it is stopped and recorded as 'timeout'.
        on_start: Called as ``on_start(to_run, skipped)`` once runs are about to start.
        progress: Called with each finished group of outcomes (after it is stored).

    Returns:
        Counts, failures and the batch's ``runs`` rows.

    Raises:
        ScenarioError: Bad input, an unreachable scheduler, or a store that cannot be written
            (``StoreError``); nothing is written in those cases.
    """
    if not scenarios:
        raise ScenarioError("give at least one scenario")
    check_settings(workers, scheduler, run_timeout)
    loaded = [s if isinstance(s, Scenario) else api.load_scenario(s) for s in scenarios]
    specs = make_specs(
        loaded, replications, n_patients, days, seed, keep_patients=True, keep_claims=claims
    )
    db = Store(store) if store is not None else None
    collected: list[pd.DataFrame] = []
    cluster: Cluster | None = None
    try:
        done = db.finished_ids(specs) if db is not None else set()
        todo = [s for s in specs if s.run_id not in done]
        if todo and needs_cluster(workers, scheduler):
            # Connect before announcing anything: an unreachable scheduler is one error line.
            try:
                cluster = Cluster(workers, scheduler)
            except BatchError:
                if db is not None:
                    db.discard_if_new_and_empty()
                raise
        if on_start is not None:
            on_start(len(todo), len(specs) - len(todo))

        def deliver(outcomes: list[RunOutcome]) -> None:
            if db is not None:
                db.write(outcomes)
            else:
                collected.append(runs_frame(outcomes))
            if progress is not None:
                progress(outcomes)

        report = execute(todo, deliver, workers, scheduler, run_timeout, cluster)
        report.total = len(specs)
        report.skipped = len(specs) - len(todo)
        if db is not None:
            ids = [s.run_id for s in specs]
            runs = db.query(
                "SELECT * FROM runs WHERE run_id IN (SELECT unnest(?)) "
                "ORDER BY scenario, replication",
                [ids],
            )
        else:
            runs = pd.concat(collected, ignore_index=True) if collected else runs_frame([])
        return BatchRun(report, runs, Path(store) if store is not None else None)
    finally:
        if cluster is not None:
            cluster.close()
        if db is not None:
            db.close()


def batch(
    scenarios: Sequence[Scenario | str | Path],
    replications: int,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    store: str | Path | None = DEFAULT_STORE,
    claims: bool = False,
    run_timeout: float | None = None,
) -> pd.DataFrame:
    """``run_batch`` returning just the batch's ``runs`` rows (one per run, with status)."""
    return run_batch(
        scenarios, replications, n_patients, days, seed, workers, scheduler, store, claims,
        run_timeout,
    ).runs  # fmt: skip


def read_store(store: str | Path = DEFAULT_STORE, table: str = "runs") -> pd.DataFrame:
    """A whole table of a store (``runs``, ``daily``, ``patients``, ``claims``, ``scenarios``)."""
    if table not in {"runs", "daily", "patients", "claims", "scenarios"}:
        raise ScenarioError(f"unknown store table '{table}'")
    with Store(store, read_only=True) as db:
        if table not in db.tables() and table != "scenarios":
            return pd.DataFrame()
        return db.query(f"SELECT * FROM {table}")
