"""``ketasim batch | compare | sensitivity | results | export``: the experiment commands.

Each command parses, calls one function of ``scenarios.experiments`` (or the store), and prints.
The commands are plain functions; ``scenarios.cli`` registers them. This module imports only
typer, rich and the CLI's shared helpers: Dask, DuckDB, SALib and plotly load inside the command
that uses them. Bad input of any kind is one line on stderr and exit 2, before anything runs or
is written; a store that cannot be written (locked, read-only, full) is one line and exit 1; a
batch with failed runs completes the others, lists the failures and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from scenarios.cli_common import console as out
from scenarios.cli_common import err_console as err
from scenarios.cli_common import fail as _fail
from scenarios.cli_common import fmt as _fmt
from scenarios.locations import DEFAULT_STORE

if TYPE_CHECKING:
    from model.metric_info import Unit
    from scenarios.compare import CompareResult, StrategyComparison

StoreOpt = Annotated[Path, typer.Option("--store", help="The DuckDB results file.")]
PatientsOpt = Annotated[int | None, typer.Option("--patients", help="Catchment size.")]
DaysOpt = Annotated[int | None, typer.Option("--days", help="Days to simulate.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed shared by every run.")]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Worker processes (default: one per core; 1: in-process)."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Address of a running Dask scheduler (tcp://HOST:PORT)."),
]


class _Bar:
    """A rich progress bar (runs done / total, time left) on stderr, drawn only on a terminal.

    It starts on first use and stops only if it started: a command that fails before running
    anything prints its one error line and nothing else.
    """

    def __init__(self, description: str, total: int | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("runs"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=err,
        )
        self.task = self.progress.add_task(description, total=total)
        self.started = False

    def update(self, done: int, total: int | None) -> None:
        """Show ``done`` of ``total`` runs."""
        if not self.started and err.is_terminal:
            self.progress.start()
            self.started = True
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        """Remove the live display (if it was drawn)."""
        if self.started:
            self.progress.stop()
            self.started = False


def batch(
    scenarios: Annotated[list[str], typer.Argument(help="Preset names or scenario TOML paths.")],
    replications: Annotated[
        int, typer.Option("--replications", "-r", help="Replications per scenario.")
    ],
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    store: StoreOpt = DEFAULT_STORE,
    patients: PatientsOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 0,
    claims: Annotated[bool, typer.Option("--claims", help="Store claims ledgers too.")] = False,
    run_timeout: Annotated[
        float | None,
        typer.Option("--run-timeout", help="Stop a run after this many seconds ('timeout')."),
    ] = None,
) -> None:
    """Run every (scenario, replication) pair missing from the store, and store it."""
    from scenarios.experiments import run_batch
    from scenarios.loader import ScenarioError
    from scenarios.store import StoreError

    bar = _Bar("batch")
    done = 0
    total = 0

    def on_start(to_run: int, skipped: int) -> None:
        nonlocal total
        total = to_run
        where = scheduler or f"{workers or 'one per core'} worker(s)"
        err.print(
            escape(f"batch: {to_run} runs to do, {skipped} already in {store}; running on {where}"),
            highlight=False,
        )

    def on_progress(outcomes) -> None:
        nonlocal done
        done += len(outcomes)
        bar.update(done, total)
        if not err.is_terminal:  # logs and pipes: one line per stored group instead of a bar
            bad = sum(o.status != "ok" for o in outcomes)
            print(f"stored {done}/{total} runs ({bad} not ok)", flush=True)

    try:
        result = run_batch(
            scenarios,
            replications,
            patients,
            days,
            seed,
            workers,
            scheduler,
            store,
            claims,
            run_timeout,
            on_start=on_start,
            progress=on_progress,
        )
    except StoreError as exc:
        bar.stop()
        _fail(str(exc), 1)
        return
    except ScenarioError as exc:
        bar.stop()
        _fail(str(exc))
        return
    except KeyboardInterrupt:
        bar.stop()
        _fail(f"interrupted: {done} runs were stored; run the same command again to resume", 130)
        return
    bar.stop()
    rep = result.report
    out.print(
        f"batch: {rep.ok} ok, {rep.failed} failed, {rep.timeout} timed out, "
        f"{rep.skipped} skipped (already stored) of {rep.total} runs in {rep.seconds:.1f} s "
        f"on {rep.workers} worker(s); store: {escape(str(store))}",
        highlight=False,
    )
    if rep.lost_tasks:
        out.print(
            f"batch: {rep.lost_tasks} task(s) lost a worker process; their runs were retried "
            "one by one (runs still failing are listed below)",
            highlight=False,
        )
    if rep.failures:
        table = Table(title="runs that did not finish (run the command again to retry them)")
        for col in ("scenario", "replication", "status", "error"):
            table.add_column(col)
        for name, r, status, error in rep.failures:
            table.add_row(escape(name), str(r), status, escape(error))
        out.print(table)
        raise typer.Exit(1)


def compare(
    base: Annotated[str, typer.Argument(help="The reference scenario.")],
    policies: Annotated[
        list[str],
        typer.Argument(help="One or more scenarios, each compared with the base."),
    ],
    replications: Annotated[int, typer.Option("--replications", "-r", help="Paired replications.")],
    patients: PatientsOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write a self-contained HTML report here (one policy)."),
    ] = None,
) -> None:
    """Compare policies with a base, paired by seed and replication (common random numbers).

    With several policies the base runs once, each policy is compared with it, and the
    efficiency frontier of all the strategies follows.
    """
    from scenarios.compare import compare_strategies
    from scenarios.loader import ScenarioError

    if report is not None and (report.is_dir() or report.suffix.lower() not in {".html", ".htm"}):
        _fail(f"--report {report}: expected an .html file path")
    if report is not None and len(policies) > 1:
        _fail(f"--report: the HTML report covers one policy; {len(policies)} were given")
    from model.catchment import lever_warnings
    from scenarios.loader import load_scenario

    try:
        arms = [load_scenario(name) for name in (base, *policies)]
    except ScenarioError as exc:
        _fail(str(exc))
        return
    for warning in dict.fromkeys(w for sc in arms for w in lever_warnings(sc, patients, days)):
        print(f"ketasim: warning: {warning}", file=sys.stderr)
    label = policies[0] if len(policies) == 1 else f"{len(policies)} policies"
    bar = _Bar(f"{label} vs {base}")
    try:
        result = compare_strategies(
            base,
            policies,
            replications,
            patients,
            days,
            seed,
            workers,
            scheduler,
            bar.update,
        )
    except ScenarioError as exc:
        bar.stop()
        _fail(str(exc))
        return
    bar.stop()
    if report is not None:
        from dashboards.report import compare_report

        try:
            compare_report(result.comparisons[0], report)
        except OSError as exc:
            _fail(f"--report {report}: cannot write ({exc.strerror or exc})", 1)
    if as_json:
        print(json.dumps(result.to_json_dict()))
        return
    for comparison in result.comparisons:
        _print_comparison(comparison)
    _print_frontier(result)
    if report is not None:
        out.print(f"wrote {escape(str(report))}", highlight=False)


def _print_comparison(result: CompareResult) -> None:
    """A comparison as a table of labelled metrics in their units, then the economics.

    Differences of shares are in percentage points; the verdict says whether the 95 % interval
    of the difference is good or bad news for that metric (``model.metric_info``).
    """
    from model.metric_info import change_verdict, format_difference, metric

    table = Table(
        title=f"{escape(result.policy)} vs {escape(result.base)}: {result.replications} paired "
        "replications "
        "(difference = policy - base, 95 % paired interval)",
        title_justify="left",
    )
    for col in ("metric", "unit", "base", "policy", "difference", "95 % interval", "verdict"):
        table.add_column(col, justify="left" if col in {"metric", "unit", "verdict"} else "right")
    for row in result.metrics.itertuples(index=False):
        m = metric(row.metric)
        table.add_row(
            m.label,
            m.unit.value,
            m.format(row.base_mean),
            m.format(row.policy_mean),
            format_difference(m.unit, row.diff_mean),
            _interval(m.unit, row.diff_ci_low, row.diff_ci_high),
            change_verdict(row.metric, row.diff_ci_low, row.diff_ci_high),
        )
    out.print(table)
    cost, qalys = metric("incremental_cost"), metric("incremental_qalys")
    out.print(
        f"{cost.label}: {format_difference(cost.unit, result.incremental_cost)} per patient; "
        f"{qalys.label}: {format_difference(qalys.unit, result.incremental_qalys)} per patient "
        "(health sector: payers + patients; both discounted at the scenario's rate)",
        highlight=False,
    )
    out.print(escape(result.icer_text()), highlight=False)
    nmb = metric("nmb")
    at = [f"${int(k):,}: {format_difference(nmb.unit, v)}" for k, v in result.nmb.items()]
    out.print(
        f"{nmb.label} per patient, at a willingness to pay per QALY of " + ", ".join(at),
        highlight=False,
    )


def _print_frontier(result: StrategyComparison) -> None:
    """The efficiency frontier as a table: each strategy's status and its ICER on the frontier."""
    from model.metric_info import Unit, format_value

    table = Table(
        title="Efficiency frontier (mean discounted cost and QALYs per patient; ICER against "
        "the strategy named)",
        title_justify="left",
    )
    for col in ("strategy", "cost", "QALYs", "status", "compared with", "ICER (USD per QALY)"):
        table.add_column(col, justify="right" if col in {"cost", "QALYs"} else "left")
    for row in result.frontier_records():
        icer = format_value(Unit.USD_PER_QALY, row["icer"])
        table.add_row(
            escape(row["strategy"]),
            format_value(Unit.USD_PER_PATIENT, row["cost"]),
            format_value(Unit.QALYS_PER_PATIENT, row["qalys"]),
            row["status"],
            escape(row["compared_with"] or "-"),
            icer if row["status"] != "dominated" else "-",
        )
    out.print(table)
    out.print(
        "Frontier: no other strategy or mix of strategies gives more QALYs for the money. "
        "Dominated: another strategy costs no more and gives no fewer QALYs. Extendedly "
        "dominated: its ICER is above that of the next more effective strategy, so a mix of "
        "its neighbours on the frontier does better. Read each frontier ICER against your "
        "willingness to pay per QALY.",
        highlight=False,
    )


def _interval(unit: Unit, low: float, high: float) -> str:
    """A difference's interval, "low to high" in the metric's unit ("-" when undefined)."""
    from model.metric_info import format_difference

    low_text, high_text = format_difference(unit, low), format_difference(unit, high)
    return "-" if "-" in (low_text, high_text) else f"{low_text} to {high_text}"


def sensitivity(
    scenario: Annotated[str, typer.Argument(help="The scenario to vary.")],
    method: Annotated[str, typer.Option("--method", help="sobol or morris.")],
    param: Annotated[
        list[str],
        typer.Option(
            "--param", help="NAME=LOW:HIGH; NAME a dotted path, e.g. policy.rel_therapy_rate."
        ),
    ],
    replications: Annotated[
        int, typer.Option("--replications", "-r", help="Runs per sample point (averaged).")
    ] = 1,
    samples: Annotated[
        int, typer.Option("--samples", help="SALib N (Sobol: a power of two).")
    ] = 16,
    metric: Annotated[
        str, typer.Option("--metric", help="The summary metric to explain.")
    ] = "integrated_delivery_rate",
    patients: PatientsOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the indices as JSON.")] = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write a tornado chart (HTML) here.")
    ] = None,
) -> None:
    """Morris screening or Sobol indices of a metric over scenario parameters (SALib)."""
    from scenarios.loader import ScenarioError
    from scenarios.sensitivity import sensitivity as run_sensitivity

    if chart is not None and (chart.is_dir() or chart.suffix.lower() not in {".html", ".htm"}):
        _fail(f"--chart {chart}: expected an .html file path")
    bar = _Bar(f"{method} {scenario}")
    try:
        result = run_sensitivity(
            scenario,
            param,
            method,
            metric,
            samples,
            replications,
            patients,
            days,
            seed,
            workers,
            scheduler,
            bar.update,
        )
    except ScenarioError as exc:
        bar.stop()
        _fail(str(exc))
        return
    bar.stop()
    if chart is not None:
        from dashboards.report import sensitivity_report

        try:
            sensitivity_report(result, chart)
        except OSError as exc:
            _fail(f"--chart {chart}: cannot write ({exc.strerror or exc})", 1)
    if as_json:
        print(json.dumps(result.to_json_dict()))
        return
    table = Table(
        title=f"{result.method} sensitivity of {result.metric} in {escape(result.scenario)} "
        f"({len(result.points)} points x {result.replications} replication(s))"
    )
    for col in result.indices.columns:
        table.add_column(col, justify="left" if col == "param" else "right")
    for row in result.indices.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    out.print(table)
    if chart is not None:
        out.print(f"wrote {escape(str(chart))}", highlight=False)


def results(
    store: StoreOpt = DEFAULT_STORE,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List what a results store holds."""
    from scenarios.store import Store, StoreError

    try:
        with Store(store, read_only=True) as db:
            overview = db.overview()
            counts = db.tables()
    except StoreError as exc:
        _fail(str(exc), 1)
        return
    if as_json:
        print(overview.to_json(orient="records", date_format="iso"))
        return
    rows = ", ".join(f"{n} {k} rows" for k, n in counts.items())
    table = Table(title=f"{escape(str(store))}: {rows}")
    for col in ("scenario", "hash", "patients", "days", "seed", "ok", "failed", "timeout"):
        table.add_column(col, justify="left" if col in {"scenario", "hash"} else "right")
    table.add_column("replications")
    table.add_column("last finished (UTC)")
    table.add_column("code version")
    for r in overview.itertuples(index=False):
        table.add_row(
            escape(r.scenario), r.scenario_hash, str(r.n_patients), str(r.days), str(r.seed),
            str(r.ok), str(r.failed), str(r.timeout), f"{r.first_replication}-{r.last_replication}",
            f"{r.last_finished:%Y-%m-%d %H:%M}", escape(str(r.code_versions)),
        )  # fmt: skip
    out.print(table)


def export(
    parquet: Annotated[
        Path | None, typer.Option("--parquet", help="Write every table as Parquet here.")
    ] = None,
    cea: Annotated[
        Path | None,
        typer.Option("--cea", help="Write per-replication cost/QALY rows (cea.csv) here."),
    ] = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Export a store: Parquet tables, and/or long-format cost-effectiveness rows (CSV)."""
    from scenarios.store import Store, StoreError

    if parquet is None and cea is None:
        _fail("give --parquet DIR and/or --cea DIR")
    try:
        with Store(store, read_only=True) as db:
            written = []
            if parquet is not None:
                written += db.export_parquet(parquet)
            if cea is not None:
                written += db.export_cea(cea)
    except StoreError as exc:
        _fail(str(exc), 1)
        return
    for path in written:
        out.print(f"wrote {escape(str(path))}", highlight=False)
