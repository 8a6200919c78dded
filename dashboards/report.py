"""Self-contained HTML reports: plotly.js is inlined (no CDN), so a report opens offline.

``write_report`` takes a title, paragraphs, tables and figures and writes one HTML file
atomically (a temporary file, then a rename: a failed write leaves no half-written report).
``compare_report`` and ``sensitivity_report`` assemble the standard reports.
"""

from __future__ import annotations

import html
import math
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from dashboards import charts
from dashboards import compare_charts as cc
from dashboards import metric_format as fmt

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.note { color: #555; font-size: 0.9em; }
"""


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table_html(frame: pd.DataFrame) -> str:
    """A frame as a plain HTML table (numbers formatted to 4 significant digits)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(
    title: str,
    sections: Sequence[tuple[str, Sequence[str | pd.DataFrame | go.Figure]]],
) -> str:
    """The report as one HTML string, plotly.js inlined once, before the first figure."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by ketasim.</p>",
    ]
    js_done = False
    for heading, items in sections:
        if heading:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
        for item in items:
            if isinstance(item, go.Figure):
                parts.append(
                    pio.to_html(
                        item,
                        full_html=False,
                        include_plotlyjs=not js_done,  # True inlines the whole library
                        config={"displaylogo": False},
                    )
                )
                js_done = True
            elif isinstance(item, pd.DataFrame):
                parts.append(table_html(item))
            elif item:
                parts.append(f"<p>{html.escape(str(item))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    path: str | Path,
    title: str,
    sections: Sequence[tuple[str, Sequence[str | pd.DataFrame | go.Figure]]],
) -> Path:
    """Write a self-contained report atomically; raises ``OSError`` if it cannot be written."""
    path = Path(path)
    text = render(title, sections)
    parent = path.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ketasim-report-", suffix=".html", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def metrics_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """A comparison's metrics as people read them: label, unit, values, definition.

    Args:
        metrics: ``metric``, ``base_mean``, ``policy_mean``, ``diff_mean``, ``diff_ci_low``,
            ``diff_ci_high`` (a ``CompareResult.metrics`` frame).
    """
    rows = []
    for r in metrics.itertuples(index=False):
        rows.append(
            {
                "metric": fmt.label(r.metric),
                "unit, period": fmt.unit_text(r.metric),
                "base": fmt.value_text(r.metric, r.base_mean),
                "policy": fmt.value_text(r.metric, r.policy_mean),
                "difference": fmt.diff_text(r.metric, r.diff_mean),
                "95 % interval": f"{fmt.diff_text(r.metric, r.diff_ci_low)} to "
                f"{fmt.diff_text(r.metric, r.diff_ci_high)}",
                "definition": fmt.definition(r.metric),
            }
        )
    return pd.DataFrame(rows)


def compare_report(result, path: str | Path) -> Path:
    """The HTML report of a ``scenarios.compare.CompareResult``."""
    names = {"base": result.base, "policy": result.policy}
    icer = (
        "not defined (no QALY difference)"
        if result.icer is None
        else f"{fmt.value_text('icer', result.icer)} per QALY"
    )
    econ = (
        f"Incremental cost {fmt.diff_text('incremental_cost', result.incremental_cost)} and "
        f"incremental QALYs {fmt.diff_text('incremental_qalys', result.incremental_qalys)} per "
        "patient (discounted, health-sector perspective: payers + patients); ICER "
        f"{icer}. Net monetary benefit per patient: "
        + ", ".join(
            f"${float(k):,.0f}/QALY: {fmt.diff_text('nmb', v)}" for k, v in result.nmb.items()
        )
        + "."
    )
    idr = "integrated_delivery_rate"
    sections = [
        (
            "",
            [
                f"{result.policy} compared with {result.base}: {result.replications} paired "
                "replications (common random numbers: replication r of both arms shares its "
                "seed). Intervals are 95 % paired t intervals of the difference.",
            ],
        ),
        ("Headline: integrated, well-timed delivery", [
            f"{fmt.label(idr)} ({fmt.unit_text(idr)}): {fmt.definition(idr)}",
            cc.arms_time_series(result.daily, "integrated_delivery_rate", names),
            cc.paired_difference(result.daily, "integrated_delivery_rate"),
        ]),
        ("All metrics", [
            metrics_table(result.metrics),
            charts.diff_forest_figure(result.metrics, result.base, result.policy),
        ]),
        ("Economics", [econ, cc.ce_plane(result.runs)]),
        ("Severity", [
            f"{fmt.label('mean_severity')} ({fmt.unit_text('mean_severity')}): "
            f"{fmt.definition('mean_severity')}",
            cc.arms_time_series(result.daily, "mean_severity", names),
        ]),
    ]  # fmt: skip
    return write_report(path, f"ketasim compare: {result.policy} vs {result.base}", sections)


def sensitivity_report(result, path: str | Path) -> Path:
    """The HTML report (tornado chart and table) of a ``SensitivityResult``."""
    text = (
        f"{result.method.capitalize()} analysis of {fmt.label(result.metric)} "
        f"({result.metric}) in {result.scenario}: {len(result.points)} sample points x "
        f"{result.replications} replication(s) (SALib N = {result.samples}); ranked by "
        f"{result.importance}."
    )
    sections = [
        ("", [text, fmt.definition(result.metric), cc.tornado(result.indices), result.indices])
    ]
    return write_report(path, f"ketasim sensitivity: {result.metric}", sections)
