"""What every ``ketasim`` command module shares: the consoles, the one-line failure, formatting.

The command modules (``scenarios.experiments_cli``, ``dashboards.lesson_cli``) and the CLI that
wires them (``scenarios.cli``) all import this module, and none of them imports another: the
CLI is the outermost layer and nothing imports it back. It imports only typer and rich, so
listing the commands or parsing a command line loads no model, no Dask and no DuckDB.
"""

from __future__ import annotations

import math
import sys

import typer
from rich.console import Console

console = Console()
"""Standard output (tables, results)."""
if not console.is_terminal:
    console = Console(width=200)  # logs and pipes: do not squeeze tables into 80 columns

err_console = Console(stderr=True)
"""Standard error (progress bars, notes about a run)."""


def fail(message: str, code: int = 2) -> None:
    """Print ``ketasim: error: MESSAGE`` as one line on stderr and exit with ``code``.

    Raises:
        typer.Exit: Always, with ``code`` (2: bad input; 1: a store or file that cannot be
            written; 130: interrupted).
    """
    print(f"ketasim: error: {' '.join(str(message).split())}", file=sys.stderr)
    raise typer.Exit(code)


def fmt(value: object) -> str:
    """A number for a table cell when it has no registered unit: 4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
