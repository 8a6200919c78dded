"""The ``ketasim`` command line: parse, validate, call one function, print.

Its flags and JSON keys are a contract other tools read. Every command exits non-zero with a
one-line reason on bad input, and writes nothing.

This module is the outermost layer and the only place that wires commands: the command modules
(``scenarios.experiments_cli``, ``dashboards.lesson_cli``) define plain functions and never import
it. Each command imports what it needs when it runs, so ``ketasim run`` loads the model and not
Dask, DuckDB, Solara, SALib or plotly.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dashboards import lesson_cli
from model.metric_info import metric
from scenarios import experiments_cli
from scenarios.cli_common import console
from scenarios.cli_common import fail as _fail

app = typer.Typer(
    name="ketasim",
    help="Agent-based simulation of the institutions that deliver ketamine-assisted therapy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
scenarios_app = typer.Typer(help="List and show the preset scenarios.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="A preset name or a scenario TOML path.")],
    patients: Annotated[int | None, typer.Option("--patients", help="Catchment size.")] = None,
    days: Annotated[int | None, typer.Option("--days", help="Days to simulate.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write daily, patient and claims files here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print each metric's definition under the table.")
    ] = False,
) -> None:
    """Run one scenario and print its end-of-run summary."""
    from scenarios import api
    from scenarios.loader import ScenarioError

    if explain and as_json:
        _fail("--explain defines the table's rows; the --json keys are defined in docs/outputs.md")
    try:
        from model.catchment import lever_warnings

        for warning in lever_warnings(api.load_scenario(scenario), patients, days):
            print(f"ketasim: warning: {warning}", file=sys.stderr)
        started = time.perf_counter()
        result = api.run(scenario, patients, days, seed, keep_claims=out is not None)
        elapsed = time.perf_counter() - started
        if out is not None:
            api.write_run(result, out)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(result.summary))
        return
    _print_summary(result.summary, f"{elapsed:.1f} s", explain)
    if out is not None:
        console.print(
            f"wrote {escape(str(out))}/summary.json, daily.csv, patients.csv, claims.csv, "
            "by_payer.csv",
            highlight=False,
        )


_IDENTIFIERS = ("scenario", "seed", "n_patients", "days")


def _print_summary(summary: dict, took: str, explain: bool) -> None:
    """The end-of-run summary as a table of labels, values, units and periods.

    Labels, units, periods and definitions come from ``model.metric_info``; with ``explain``
    each metric's definition (what is counted, over which denominator) follows the table.
    """
    table = Table(
        title=f"ketasim run {escape(summary['scenario'])}: {summary['n_patients']:,} patients, "
        f"{summary['days']:,} days, seed {summary['seed']} ({took})",
        title_justify="left",
    )
    for col in ("metric", "value", "unit", "period"):
        table.add_column(col, justify="right" if col == "value" else "left")
    shown = [metric(key) for key in summary if key not in _IDENTIFIERS]
    for m in shown:
        table.add_row(m.label, m.format(summary[m.name]), m.unit.value, m.period)
    console.print(table)
    if explain:
        for m in shown:
            console.print(f"[bold]{m.label}[/bold] ({m.name}): {m.definition}", highlight=False)
    else:
        console.print(
            "'-': undefined in this run (e.g. no durable remissions yet). --explain defines "
            "each row; docs/outputs.md defines every --json key and output column.",
            highlight=False,
        )


@app.command()
def trial(
    protocol: Annotated[str, typer.Argument(help="A trial protocol TOML path (or bundled name).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a virtual clinical trial: fixed doses and sessions, no institutions in the way."""
    from scenarios import api
    from scenarios.loader import ScenarioError

    try:
        result = api.trial(protocol)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(result.model_dump_json())
        return
    table = Table(title=f"virtual trial {escape(result.name)} (n = {result.n_patients})")
    table.add_column("day", justify="right")
    table.add_column("response", justify="right")
    table.add_column("remission", justify="right")
    for day, share in result.response_rate.items():
        table.add_row(day, f"{share:.1%}", f"{result.remission_rate[day]:.1%}")
    console.print(table)
    console.print(
        f"responders one day after the last dose: {result.responders_after_last_dose:.1%}"
    )
    median = result.median_days_to_relapse
    console.print(
        "median days from last dose to relapse (Kaplan-Meier): "
        + ("not reached" if median is None else f"{median:g}")
    )


@scenarios_app.command("list")
def scenarios_list() -> None:
    """List the preset scenarios with what each represents."""
    from scenarios import api
    from scenarios.loader import preset_names

    for name in preset_names():
        sc = api.load_scenario(name)
        console.print(f"[bold]{name}[/bold]")
        console.print(f"  {' '.join(sc.description.split())}\n")


@scenarios_app.command("show")
def scenarios_show(
    scenario: Annotated[str, typer.Argument(help="A preset name or a scenario TOML path.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the parameters as JSON instead.")
    ] = False,
) -> None:
    """Print every parameter of a scenario as annotated TOML that `ketasim run` accepts."""
    from scenarios import api
    from scenarios.loader import ScenarioError
    from scenarios.scenario_file import annotated_toml

    try:
        sc = api.load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(json.dumps(sc.model_dump(mode="json"), indent=2))
        return
    print(annotated_toml(sc), end="")


@app.command()
def dashboard(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Serve the Solara dashboard (Explore, Compare, Learn).

    This process becomes the server (``os.execve``): its PID is the server's, so Ctrl-C or one
    kill of that PID stops the server and frees the port. A port already in use is refused
    before anything starts.
    """
    import os
    import socket

    app_path = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            probe.bind((host, port))
    except OSError as exc:
        _fail(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})")
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    cmd = [sys.executable, "-m", "solara", "run", str(app_path), "--host", host]
    cmd += ["--port", str(port), "--production", "--no-open"]
    console.print(f"serving ketasim on http://{host}:{port}  (Ctrl-C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning usage errors into one line and an exit code."""
    try:
        code = app(args=argv, standalone_mode=False, prog_name="ketasim")
    except typer.Abort:
        print("ketasim: aborted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.TyperException as exc:
        # Usage errors (unknown option, bad value, missing argument): one line, exit 2.
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 0
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"ketasim: error: {' '.join(message.split())}", file=sys.stderr)
        return 2
    return int(code or 0) if isinstance(code, int) else 0


# The commands other modules define, registered here (the order is the order of --help).
app.command()(experiments_cli.batch)
app.command()(experiments_cli.compare)
app.command()(experiments_cli.sensitivity)
app.command()(experiments_cli.results)
app.command()(experiments_cli.export)
app.command("lesson")(lesson_cli.lesson)


def console_main() -> None:
    """Console-script wrapper: exit with ``main``'s code.

    Before exiting it moves every object to the collector's permanent generation
    (``gc.freeze``), so the interpreter's last collections at exit skip the objects of the
    model, NumPy, pandas and Numba instead of walking them all: a large share of a short run's
    wall time otherwise (``docs/performance.md``, start-up). Exit handlers still run and open
    files are still flushed and closed.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console_main()
