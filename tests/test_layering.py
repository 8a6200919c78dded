"""Imports flow one way: agents <- model <- {scenarios, dashboards} <- the CLI, and no circles.

The CLI (``scenarios/cli.py``) is the outermost layer: it wires the command modules and nothing
imports it back. The model never reaches for the experiment layer, the dashboards or their
libraries. And each command loads only what it uses: a short ``ketasim run`` loads no Dask,
DuckDB, Solara, SALib or plotly, and listing the commands loads no model.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "model", "scenarios", "dashboards")
CLI = "scenarios.cli"
# Libraries of the experiment layer, the dashboard and the command line: the agents and the
# model (one simulation run) never need them.
OUTER_LIBRARIES = ("dask", "distributed", "duckdb", "solara", "SALib", "plotly", "typer", "rich")
HEAVY_FOR_RUN = ("dask", "distributed", "duckdb", "solara", "SALib", "plotly")


def imported_modules(source: str, module: str) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, anywhere in the file.

    ``from P import name`` counts as importing ``P`` and ``P.name`` (``name`` may be a module);
    relative imports are resolved against ``module``'s package.
    """
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def project_modules() -> dict[str, set[str]]:
    """Module name -> what it imports, for every module of the four packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(p for p in rel.parts if p != "__init__") or package
            out[name] = imported_modules(path.read_text(), name)
    return out


def _within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(f"{r}.") for r in roots)


def layering_violations(modules: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the layering, as ``importer -> imported: why``."""
    problems = []
    for importer, imports in modules.items():
        for imported in sorted(imports):
            if imported == CLI and importer != CLI:
                problems.append(f"{importer} -> {imported}: nothing imports the CLI back")
            if _within(importer, ("agents",)) and _within(
                imported, ("model", "scenarios", "dashboards")
            ):
                problems.append(f"{importer} -> {imported}: agents import no outer layer")
            if _within(importer, ("model",)) and _within(imported, ("scenarios", "dashboards")):
                problems.append(f"{importer} -> {imported}: the model imports no outer layer")
            if _within(importer, ("agents", "model")) and _within(imported, OUTER_LIBRARIES):
                problems.append(f"{importer} -> {imported}: a simulation run needs no {imported}")
    return problems


def test_the_layering_holds():
    modules = project_modules()
    assert CLI in modules and "dashboards.lesson_cli" in modules, "the walk found the CLI"
    assert not layering_violations(modules)


@pytest.mark.parametrize(
    ("importer", "source", "why"),
    [
        ("dashboards.lesson_cli", "from scenarios.cli import app", "imports the CLI back"),
        ("scenarios.experiments_cli", "from scenarios import cli", "imports the CLI back"),
        ("scenarios.compare", "def f():\n    import scenarios.cli\n", "inside a function"),
        ("scenarios.batch", "from . import cli", "a relative import of the CLI"),
        ("agents.patient", "from model.params import Scenario", "agents import the model"),
        ("model.metrics", "from scenarios.loader import ScenarioError", "model imports scenarios"),
        ("model.model", "import dashboards.charts", "model imports dashboards"),
        ("model.billing", "import duckdb", "model imports the store's engine"),
        ("agents.pharma", "from plotly import graph_objects", "agents import plotly"),
    ],
)
def test_each_kind_of_circle_is_caught(importer, source, why):
    modules = {importer: imported_modules(source, importer)}
    assert layering_violations(modules), f"not caught: {why}"


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        ("scenarios.cli", "from scenarios import experiments_cli"),
        ("scenarios.cli", "from dashboards import lesson_cli"),
        ("dashboards.explore", "from model.model import KetasimModel"),
        ("model.model", "from agents.patient import Patient"),
        ("scenarios.experiments_cli", "from scenarios.cli_common import fail"),
    ],
)
def test_imports_that_flow_inwards_are_allowed(importer, source):
    assert not layering_violations({importer: imported_modules(source, importer)})


def _modules_loaded_by(argv: list[str]) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after ``ketasim ARGV``, in-process."""
    code = (
        "import json, sys\n"
        "from scenarios.cli import main\n"
        f"code = main({argv!r})\n"
        "print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    code, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code == 0, proc.stderr
    return set(modules)


def test_a_run_loads_no_experiment_or_dashboard_library():
    loaded = _modules_loaded_by(["run", "baseline", "--patients", "30", "--days", "3", "--json"])
    assert "mesa" in loaded and "numba" in loaded, "the run did run the model"
    assert not loaded & set(HEAVY_FOR_RUN), f"ketasim run loaded {loaded & set(HEAVY_FOR_RUN)}"


def test_listing_the_commands_loads_no_model():
    loaded = _modules_loaded_by(["--help"])
    assert "typer" in loaded
    assert not loaded & {"mesa", "numba", "pandas", *HEAVY_FOR_RUN}, sorted(loaded)
