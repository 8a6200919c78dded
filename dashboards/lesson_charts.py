"""Charts for the educator lessons: pure functions ``DataFrame -> plotly Figure``.

Each takes the tidy frame built by ``dashboards.lessons.lesson_frame`` (both arms stacked, with an
``arm`` column) and returns a figure; the Learn page and the offline HTML report draw the same
figure. Nothing here runs a model.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards import metric_format as fmt
from dashboards.charts import TEMPLATE, legend_below

ARM_COLOURS = ("#1f77b4", "#d62728")
"""Arm A blue, arm B red (kept in every lesson so a class learns to read them)."""

LAYER_STYLE = {
    "mean_b": ("behavioural (b, as felt)", "#2ca02c"),
    "mean_r": ("relational (r)", "#9467bd"),
    "mean_n": ("narrative (n)", "#ff7f0e"),
}

LESSON_LABELS = {
    "integrated_delivery_rate_rolling": "Doses followed by therapy in the window (28-day)",
    "mean_b": "Mean behavioural layer b (as felt)",
    "mean_r": "Mean relational layer r",
    "mean_n": "Mean narrative layer n",
    "responders_after_last_dose": "Responders one day after the last dose",
    "median_days_to_relapse": "Median days from last dose to relapse",
}
"""Labels of lesson metrics the metric registry does not list (daily and trial series)."""

_SHARE_METRICS = {
    "response_rate",
    "remission_rate",
    "integrated_delivery_rate",
    "integrated_delivery_rate_rolling",
    "share_integrated",
    "share_drug_only",
    "share_therapy_only",
    "share_untreated",
    "share_dropped_out",
    "durable_remission_rate",
    "relapse_rate_180d",
    "fragmentation_index",
}


def label(metric: str) -> str:
    """A readable name for a metric: the registry's label, else the lesson's own."""
    if fmt.info(metric) is not None:
        return fmt.label(metric)
    return LESSON_LABELS.get(metric, metric.replace("_", " "))


def _arms(frame: pd.DataFrame, order: list[str] | None) -> list[str]:
    return order if order is not None else list(dict.fromkeys(frame["arm"]))


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        template=TEMPLATE,
        margin={"l": 60, "r": 20, "t": 60},
        height=440,
    )
    return legend_below(fig)


def trial_curve(frame: pd.DataFrame, metric: str, title: str) -> go.Figure:
    """Response, remission or mean severity over days since the first dose, one line per arm.

    Args:
        frame: Columns ``arm``, ``day`` and ``metric``.
        metric: ``response_rate``, ``remission_rate`` (shares) or ``mean_severity`` (0-60).
        title: Chart title.
    """
    fig = go.Figure()
    for i, arm in enumerate(_arms(frame, None)):
        rows = frame[frame["arm"] == arm]
        fig.add_trace(
            go.Scatter(
                x=rows["day"],
                y=rows[metric],
                mode="lines",
                name=arm,
                line={"color": ARM_COLOURS[i % 2], "width": 3},
            )
        )
    if metric in _SHARE_METRICS:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig, title, "Days since the first dose", label(metric))


def layer_curves(frame: pd.DataFrame, title: str) -> go.Figure:
    """The three layers over time: colour is the layer, line style the arm.

    Args:
        frame: Columns ``arm``, ``day``, ``mean_b``, ``mean_r``, ``mean_n`` (0-1, 1 = fully
            entrenched).
        title: Chart title.
    """
    fig = go.Figure()
    dashes = ("solid", "dot")
    for i, arm in enumerate(_arms(frame, None)):
        rows = frame[frame["arm"] == arm]
        for col, (name, colour) in LAYER_STYLE.items():
            fig.add_trace(
                go.Scatter(
                    x=rows["day"],
                    y=rows[col],
                    mode="lines",
                    name=f"{arm}: {name}",
                    line={"color": colour, "dash": dashes[i % 2], "width": 3 - i},
                )
            )
    return _layout(fig, title, "Days since the first dose", "Mean layer (1 = fully entrenched)")


def daily_series(
    frame: pd.DataFrame,
    metric: str,
    title: str,
    y_label: str | None = None,
    order: list[str] | None = None,
) -> go.Figure:
    """One daily series over the run, one line per scenario.

    Args:
        frame: Columns ``arm``, ``day`` and ``metric``.
        metric: The daily column to draw.
        title: Chart title.
        y_label: Y-axis label (default: the metric's readable name).
        order: Arm order (default: as they appear).
    """
    fig = go.Figure()
    for i, arm in enumerate(_arms(frame, order)):
        rows = frame[frame["arm"] == arm]
        fig.add_trace(
            go.Scatter(
                x=rows["day"],
                y=rows[metric],
                mode="lines",
                name=arm,
                line={"color": ARM_COLOURS[i % 2], "width": 3},
            )
        )
    if metric in _SHARE_METRICS:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig, title, "Day of the run", y_label or label(metric))


def metric_bars(
    frame: pd.DataFrame,
    title: str,
    y_label: str | None = None,
    order: list[str] | None = None,
) -> go.Figure:
    """End-of-run metrics side by side, grouped by metric, one colour per scenario.

    Args:
        frame: Columns ``arm``, ``metric``, ``value``.
        title: Chart title.
        y_label: Y-axis label.
        order: Arm order (default: as they appear).
    """
    fig = go.Figure()
    metrics = list(dict.fromkeys(frame["metric"]))
    for i, arm in enumerate(_arms(frame, order)):
        rows = frame[frame["arm"] == arm].set_index("metric").reindex(metrics)
        fig.add_trace(
            go.Bar(
                x=[label(m) for m in metrics],
                y=rows["value"],
                name=arm,
                marker_color=ARM_COLOURS[i % 2],
                text=[_fmt(m, v) for m, v in zip(metrics, rows["value"], strict=True)],
                textposition="outside",
            )
        )
    fig.update_layout(barmode="group")
    if all(m in _SHARE_METRICS for m in metrics):
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig, title, "", y_label or "")


def silo_spend(frame: pd.DataFrame, title: str, order: list[str] | None = None) -> go.Figure:
    """Spending per patient by budget silo, stacked, one bar per scenario.

    Args:
        frame: Columns ``arm``, ``metric`` (a ``spend_*`` silo), ``value`` (USD per patient).
        title: Chart title.
        order: Arm order (default: as they appear).
    """
    fig = go.Figure()
    arms = _arms(frame, order)
    silo_colours = ("#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c")
    for j, silo in enumerate(dict.fromkeys(frame["metric"])):
        rows = frame[frame["metric"] == silo].set_index("arm").reindex(arms)
        fig.add_trace(
            go.Bar(
                x=arms,
                y=rows["value"],
                name=label(silo),
                marker_color=silo_colours[j % len(silo_colours)],
                text=[f"${v:,.0f}" for v in rows["value"].fillna(0.0)],
                textposition="inside",
            )
        )
    fig.update_layout(barmode="stack")
    return _layout(fig, title, "", "USD per patient in the catchment")


def _fmt(metric: str, value: float | None) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    if metric in _SHARE_METRICS:
        return f"{value:.0%}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
