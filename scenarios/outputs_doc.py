"""``docs/outputs.md``: every output column and code, written from the registry and a real run.

The page lists the files ``ketasim run --out`` writes and the ``--json`` objects of ``run`` and
``compare``, each column with its unit and definition (``model.metric_info``) and every code
with its meaning. The columns are those a small run really writes, in their order, so the page
cannot describe a column that no longer exists or miss a new one; ``tests/test_outputs_doc.py``
fails when the file in the repository differs from what this module writes.

    uv run python -m scenarios.outputs_doc           # rewrite docs/outputs.md
    uv run python -m scenarios.outputs_doc --check   # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from model.metric_info import CODES, Column, Metric, Unit

DOC = Path(__file__).resolve().parents[1] / "docs" / "outputs.md"


@dataclass(frozen=True)
class OutputFile:
    """One output: its name, what a row is, and its columns in order."""

    name: str
    rows: str
    columns: tuple[str, ...]


_ROWS = {
    "summary.json": "One JSON object, the end-of-run summary: exactly the keys of "
    "`ketasim run --json`, in this order (a contract other tools read). `null` where a metric "
    "is undefined (e.g. no durable remissions yet).",
    "daily.csv": "One row a simulated day, sampled after the day's events. Each metric has the "
    "summary's definition evaluated on that day ('the end' and 'the last day' are that day): "
    "quantities over the run count from day 0 to that day.",
    "patients.csv": "One row a person in the catchment, as at the end of the run.",
    "claims.csv": "One row a claim in the ledger (every payment, and every denied prior "
    "authorisation), in the order written. Money is conserved: the claims paid sum to what "
    "providers and pharma received, to the cent.",
    "by_payer.csv": "One row a coverage kind (equity): the headline rates among people of "
    "that coverage.",
    "compare --json": "`ketasim compare BASE POLICY --json`: one object. `metrics` holds, for "
    "each metric of `ketasim run --json` (less the identifiers), `base_mean`, `policy_mean`, "
    "`diff_mean` (policy - base) and the 95 % paired t interval `diff_ci_low`, `diff_ci_high`, "
    "in that metric's unit; then the economics below. `nmb` is an object keyed by the "
    'willingness to pay per QALY in USD (`"50000"`, `"100000"`, `"150000"`). With one '
    "policy the object also holds the ICER's reading (label, quadrant, bootstrap interval) and "
    "the efficiency frontier of the two strategies.",
    "compare --json (several policies)": "`ketasim compare BASE POLICY POLICY... --json`: "
    "each policy is compared with one run of the base on the same seeds (common random "
    "numbers), and the efficiency frontier covers every strategy.",
    "compare --json frontier": "One row per strategy of the `frontier` list, sorted by cost "
    "(then by QALYs, most first): strongly dominated strategies are removed first, then "
    "extendedly dominated ones, until the ICERs along the frontier rise with cost.",
}


def describe(file: str, name: str) -> Column | Metric:
    """What column (or JSON key) ``name`` of output ``file`` holds, from its registry.

    Raises:
        KeyError: The column is not registered (a new output must be registered).
    """
    from scenarios.compare import json_field

    return json_field(file, name)


def real_outputs() -> list[OutputFile]:
    """The outputs of a small run and a small comparison, with the columns they really have."""
    from scenarios import api
    from scenarios.compare import JSON_FRONTIER, JSON_ONE, JSON_SEVERAL, compare_strategies

    result = api.run("bundled_payment", n_patients=60, days=10, seed=0, keep_claims=True)
    frames = {
        "daily.csv": result.daily,
        "patients.csv": result.patients,
        "claims.csv": result.claims,
        "by_payer.csv": result.by_payer,
    }
    outputs = [OutputFile("summary.json", _ROWS["summary.json"], tuple(result.summary))]
    outputs += [OutputFile(name, _ROWS[name], tuple(df.columns)) for name, df in frames.items()]
    one = compare_strategies("baseline", ["bundled_payment"], 2, 30, 5, workers=1).to_json_dict()
    several = compare_strategies(
        "baseline", ["bundled_payment", "carve_in"], 2, 30, 5, workers=1
    ).to_json_dict()
    for name, keys in (
        (JSON_ONE, tuple(k for k in one if k != "metrics")),
        (JSON_SEVERAL, tuple(several)),
        (JSON_FRONTIER, tuple(several["frontier"][0])),
    ):
        outputs.append(OutputFile(name, _ROWS[name], keys))
    return outputs


def _unit(entry: Column | Metric) -> str:
    match entry.unit:
        case Unit.SHARE:
            return "share (0-1)"
        case Unit.RATE:
            return "share per year (0-1)"
        case Unit.CODE:
            return f"code: [{entry.codes}](#{_anchor(entry.codes)})"
        case _:
            return entry.unit.value


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(outputs: list[OutputFile]) -> str:
    """The Markdown page for ``outputs``."""
    lines = [
        "# Outputs: every column, its unit and every code",
        "",
        "<!-- Written by `uv run python -m scenarios.outputs_doc` from model/metric_info.py and",
        "     the columns a real run writes; tests/test_outputs_doc.py fails when it is out of",
        "     date. Edit the registry, then rewrite this page; do not edit it by hand. -->",
        "",
        "`ketasim run SCENARIO --out DIR` writes `summary.json`, `daily.csv`, `patients.csv`, "
        "`claims.csv` and `by_payer.csv` into DIR (all at once: an interrupted write leaves "
        "none). The CSV files start with the columns `scenario`, `replication` and `seed`. "
        "Shares are proportions from 0 to 1 (the tables of `ketasim "
        "run` print them as percentages); money is US dollars, undiscounted unless the "
        "definition says otherwise; an empty cell (CSV) or `null` (JSON) is a value that is "
        "undefined, e.g. a rate whose denominator is zero. `ketasim run --explain` prints the "
        "summary's definitions beside its values. A batch's DuckDB store holds the same "
        "columns ([experiments.md](experiments.md)).",
        "",
        "Contents: "
        + ", ".join(f"[{o.name}](#{_anchor(o.name)})" for o in outputs)
        + ", [codes](#codes).",
    ]
    for out in outputs:
        file = out.name
        lines += ["", f"## {out.name}", "", out.rows, ""]
        lines += ["| column | unit | definition |", "|---|---|---|"]
        for name in out.columns:
            entry = describe(file, name)
            period = ""
            if isinstance(entry, Metric) and entry.period != "-" and file != "daily.csv":
                period = f" ({entry.period})"
            lines.append(
                f"| `{name}` | {_cell(_unit(entry))} | {_cell(entry.definition)}{period} |"
            )
    lines += [
        "",
        "## Codes",
        "",
        "Coded columns hold these names (the same names in the store and the dashboard).",
    ]
    for list_name, meanings in CODES.items():
        used = [
            f"`{o.name}` {name}"
            for o in outputs
            for name in o.columns
            if getattr(describe(o.name, name), "codes", None) == list_name
        ]
        where = "; used by " + ", ".join(used) if used else ""
        if list_name == "business_model":
            where = "; the `clinics_*` columns of `daily.csv` count clinics by these"
        lines += ["", f"### {list_name}", "", f"The names of `{list_name}`{where}.", ""]
        lines += ["| code | meaning |", "|---|---|"]
        lines += [f"| `{code}` | {_cell(meaning)} |" for code, meaning in meanings.items()]
    return "\n".join(lines) + "\n"


def _anchor(heading: str) -> str:
    return "".join(c for c in heading.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``docs/outputs.md``, or with ``--check`` only say whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when it is out of date")
    args = parser.parse_args(argv)
    text = render(real_outputs())
    if args.check:
        current = DOC.read_text() if DOC.is_file() else ""
        if current != text:
            print(f"{DOC} is out of date: run python -m scenarios.outputs_doc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
