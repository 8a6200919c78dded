"""The ``ketasim`` command line (DESIGN §7): parse, validate, call one function, print.

Its flags and JSON keys are a contract other tools read. Every command exits non-zero with a
one-line reason on bad input, and writes nothing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scenarios import api
from scenarios.loader import ScenarioError, preset_names

app = typer.Typer(
    name="ketasim",
    help="Agent-based simulation of the institutions that deliver ketamine-assisted therapy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
scenarios_app = typer.Typer(help="List and show the preset scenarios.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")

console = Console()


def _fail(message: str, code: int = 2) -> None:
    """Print one line to stderr and exit."""
    print(f"ketasim: error: {message}", file=sys.stderr)
    raise typer.Exit(code)


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
) -> None:
    """Run one scenario and print its end-of-run summary."""
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
    table = Table(title=f"ketasim run {result.summary['scenario']} ({elapsed:.1f} s)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.summary.items():
        table.add_row(key, _fmt(value))
    console.print(table)
    if out is not None:
        console.print(
            f"wrote {out}/summary.json, daily.csv, patients.csv, claims.csv, by_payer.csv"
        )


@app.command()
def trial(
    protocol: Annotated[str, typer.Argument(help="A trial protocol TOML path (or bundled name).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a virtual clinical trial: fixed doses and sessions, no institutions in the way."""
    try:
        result = api.trial(protocol)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    if as_json:
        print(result.model_dump_json())
        return
    table = Table(title=f"virtual trial {result.name} (n = {result.n_patients})")
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
    for name in preset_names():
        sc = api.load_scenario(name)
        console.print(f"[bold]{name}[/bold]")
        console.print(f"  {' '.join(sc.description.split())}\n")


@scenarios_app.command("show")
def scenarios_show(
    scenario: Annotated[str, typer.Argument(help="A preset name or a scenario TOML path.")],
) -> None:
    """Print every parameter of a scenario as JSON (defaults filled in)."""
    try:
        sc = api.load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
        return
    print(json.dumps(sc.model_dump(mode="json"), indent=2))


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


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


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


# Command groups defined in other modules register themselves on `app` when imported here.
# (The CLI is the top-level wiring, so it may import from dashboards as well as scenarios.)
# --- command modules: one import line each ---
import scenarios.experiments_cli  # noqa: E402, F401, I001
import dashboards.lesson_cli  # noqa: E402, F401
# --- end of command modules ---


def console_main() -> None:
    """Console-script wrapper: exit with ``main``'s code."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
