"""``ketasim batch | compare | sensitivity | results | export`` (DESIGN §7).

Each command parses, calls one function of ``scenarios.experiments`` (or the store), and prints.
Importing this module registers the commands on ``scenarios.cli.app``. Bad input of any kind is
one line on stderr and exit 2, before anything runs or is written; a store that cannot be
written (locked, read-only, full) is one line and exit 1; a batch with failed runs completes the
others, lists the failures and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from scenarios.cli import app
from scenarios.loader import ScenarioError
from scenarios.store import DEFAULT_STORE, StoreError

out = Console()
if not out.is_terminal:
    out = Console(width=200)  # logs and pipes: do not squeeze tables into 80 columns
err = Console(stderr=True)

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


def _fail(message: str, code: int = 2) -> None:
    print(f"ketasim: error: {' '.join(str(message).split())}", file=sys.stderr)
    raise typer.Exit(code)


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


@app.command()
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

    bar = _Bar("batch")
    done = 0
    total = 0

    def on_start(to_run: int, skipped: int) -> None:
        nonlocal total
        total = to_run
        where = scheduler or f"{workers or 'one per core'} worker(s)"
        err.print(
            f"batch: {to_run} runs to do, {skipped} already in {store}; running on {where}",
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
        f"on {rep.workers} worker(s); store: {store}",
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
            table.add_row(name, str(r), status, error)
        out.print(table)
        raise typer.Exit(1)


@app.command()
def compare(
    base: Annotated[str, typer.Argument(help="The reference scenario.")],
    policy: Annotated[str, typer.Argument(help="The scenario compared with it.")],
    replications: Annotated[int, typer.Option("--replications", "-r", help="Paired replications.")],
    patients: PatientsOpt = None,
    days: DaysOpt = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None,
) -> None:
    """Compare two scenarios, paired by seed and replication (common random numbers)."""
    from scenarios.compare import compare_on

    if report is not None and (report.is_dir() or report.suffix.lower() not in {".html", ".htm"}):
        _fail(f"--report {report}: expected an .html file path")
    from model.catchment import lever_warnings
    from scenarios.loader import load_scenario

    try:
        arms = [load_scenario(base), load_scenario(policy)]
    except ScenarioError as exc:
        _fail(str(exc))
        return
    for warning in dict.fromkeys(w for sc in arms for w in lever_warnings(sc, patients, days)):
        print(f"ketasim: warning: {warning}", file=sys.stderr)
    bar = _Bar(f"{policy} vs {base}")
    try:
        result = compare_on(
            base,
            policy,
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
            compare_report(result, report)
        except OSError as exc:
            _fail(f"--report {report}: cannot write ({exc.strerror or exc})", 1)
    if as_json:
        print(json.dumps(result.to_json_dict()))
        return
    table = Table(
        title=f"{result.policy} - {result.base}: {result.replications} paired replications"
    )
    for col in ("metric", "base", "policy", "difference", "95 % CI"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for row in result.metrics.itertuples(index=False):
        table.add_row(
            row.metric,
            _fmt(row.base_mean),
            _fmt(row.policy_mean),
            _fmt(row.diff_mean),
            f"[{_fmt(row.diff_ci_low)}, {_fmt(row.diff_ci_high)}]",
        )
    out.print(table)
    icer = "-" if result.icer is None else f"{result.icer:,.0f}"
    out.print(
        f"incremental cost {result.incremental_cost:,.2f} USD/patient, incremental QALYs "
        f"{result.incremental_qalys:.5f}/patient (discounted, health-sector), ICER {icer} "
        "USD/QALY; NMB " + ", ".join(f"@{k}: {v:,.2f}" for k, v in result.nmb.items()),
        highlight=False,
    )
    if report is not None:
        out.print(f"wrote {report}")


@app.command()
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
        title=f"{result.method} sensitivity of {result.metric} in {result.scenario} "
        f"({len(result.points)} points x {result.replications} replication(s))"
    )
    for col in result.indices.columns:
        table.add_column(col, justify="left" if col == "param" else "right")
    for row in result.indices.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    out.print(table)
    if chart is not None:
        out.print(f"wrote {chart}")


@app.command()
def results(
    store: StoreOpt = DEFAULT_STORE,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List what a results store holds."""
    from scenarios.store import Store

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
    table = Table(title=f"{store}: " + ", ".join(f"{n} {k} rows" for k, n in counts.items()))
    for col in ("scenario", "hash", "patients", "days", "seed", "ok", "failed", "timeout"):
        table.add_column(col, justify="left" if col in {"scenario", "hash"} else "right")
    table.add_column("replications")
    table.add_column("last finished (UTC)")
    table.add_column("code version")
    for r in overview.itertuples(index=False):
        table.add_row(
            r.scenario, r.scenario_hash, str(r.n_patients), str(r.days), str(r.seed), str(r.ok),
            str(r.failed), str(r.timeout), f"{r.first_replication}-{r.last_replication}",
            f"{r.last_finished:%Y-%m-%d %H:%M}", str(r.code_versions),
        )  # fmt: skip
    out.print(table)


@app.command()
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
    from scenarios.store import Store

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
        out.print(f"wrote {path}", highlight=False)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
