"""Charts of the economic comparison: the cost-effectiveness plane and the efficiency frontier.

Pure functions ``DataFrame -> plotly.graph_objects.Figure`` for the dashboard's Compare page and
the HTML reports. They draw the frames of ``scenarios.compare`` (``CompareResult.pairs``,
``StrategyComparison.pairs`` and ``StrategyComparison.frontier``) and of
``scenarios.decision.efficiency_frontier``; quadrant names and meanings come from
``scenarios.decision``. Costs are discounted health-sector USD per patient, effects discounted
QALYs per patient.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from scenarios.decision import QUADRANT_MEANING

WTP_LINES = (50_000, 100_000, 150_000)
"""Willingness to pay per QALY drawn on the plane, USD (the range US analyses report)."""
WTP_DASHES = ("dot", "dash", "longdash", "dashdot")
STRATEGY_COLOURS = ("#EF553B", "#00A08A", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692")
STATUS_STYLE = {
    "frontier": {"symbol": "circle", "color": "#636EFA", "size": 11},
    "extendedly dominated": {"symbol": "circle-open", "color": "#FFA15A", "size": 11},
    "dominated": {"symbol": "x", "color": "#7F7F7F", "size": 10},
}
_CORNERS = {"NE": (1, 1), "SE": (1, -1), "SW": (-1, -1), "NW": (-1, 1)}


def _require(frame: pd.DataFrame, columns: set[str], what: str) -> None:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{what} needs columns {sorted(missing)}")


def cost_effectiveness_plane(
    pairs: pd.DataFrame,
    thresholds: tuple[int, ...] = WTP_LINES,
    quadrant_shares: Mapping[str, float] | None = None,
) -> go.Figure:
    """The cost-effectiveness plane: one point per replication pair, the mean, WTP lines.

    Incremental QALYs per patient on x, incremental cost per patient on y (policy - base),
    with the four quadrants labelled by what they mean and a line through the origin of
    slope lambda for each willingness to pay: points below a line are cost-effective at it.

    Args:
        pairs: One row per replication pair with ``incremental_qalys`` and
            ``incremental_cost``; optional ``strategy`` (one colour and one mean per
            strategy) and ``replication`` (shown on hover).
        thresholds: Willingness to pay per QALY to draw, USD.
        quadrant_shares: Share of bootstrap means in each quadrant (``IcerInterval``), shown
            under the title.

    Raises:
        ValueError: ``pairs`` lacks the incremental columns.
    """
    _require(pairs, {"incremental_qalys", "incremental_cost"}, "the plane")
    frame = pairs.dropna(subset=["incremental_qalys", "incremental_cost"])
    if "strategy" not in frame.columns:
        frame = frame.assign(strategy="policy")
    fig = go.Figure()
    for k, (name, rows) in enumerate(frame.groupby("strategy", sort=False)):
        colour = STRATEGY_COLOURS[k % len(STRATEGY_COLOURS)]
        text = (
            [f"replication {r}" for r in rows["replication"]]
            if "replication" in rows.columns
            else None
        )
        fig.add_trace(
            go.Scatter(
                x=rows["incremental_qalys"],
                y=rows["incremental_cost"],
                mode="markers",
                name=f"{name}: replication pairs",
                marker={"color": colour, "opacity": 0.6},
                text=text,
                hovertemplate="%{text}<br>%{x:.4f} QALYs, $%{y:,.0f}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[rows["incremental_qalys"].mean()],
                y=[rows["incremental_cost"].mean()],
                mode="markers",
                name=f"{name}: mean",
                marker={"color": colour, "size": 14, "symbol": "diamond", "line": {"width": 1}},
                hovertemplate="mean: %{x:.4f} QALYs, $%{y:,.0f}<extra></extra>",
            )
        )
    x_span = max(float(np.abs(frame["incremental_qalys"]).max()) if len(frame) else 0.0, 1e-6)
    y_span = max(float(np.abs(frame["incremental_cost"]).max()) if len(frame) else 0.0, 1.0)
    x_span, y_span = 1.25 * x_span, 1.25 * y_span
    for k, lam in enumerate(thresholds):
        fig.add_trace(
            go.Scatter(
                x=[-x_span, x_span],
                y=[-lam * x_span, lam * x_span],
                mode="lines",
                # Grey, so a threshold is never mistaken for a strategy's colour.
                line={"dash": WTP_DASHES[k % len(WTP_DASHES)], "width": 1, "color": "#555555"},
                name=f"${lam:,.0f} per QALY",
                hoverinfo="skip",
            )
        )
    for quadrant, (sx, sy) in _CORNERS.items():
        fig.add_annotation(
            x=sx * 0.97 * x_span,
            y=sy * 0.97 * y_span,
            text=QUADRANT_MEANING[quadrant].replace(": ", ":<br>", 1),
            showarrow=False,
            xanchor="right" if sx > 0 else "left",
            yanchor="top" if sy > 0 else "bottom",
            font={"size": 10, "color": "grey"},
            align="right" if sx > 0 else "left",
        )
    fig.add_hline(y=0.0, line={"color": "grey", "width": 1})
    fig.add_vline(x=0.0, line={"color": "grey", "width": 1})
    title = "Cost-effectiveness plane (per patient, discounted, health-sector perspective)"
    if not len(frame):
        title += " (no replication pairs)"
    if quadrant_shares:
        shown = [f"{q} {v:.0%}" for q, v in quadrant_shares.items() if v > 0.0]
        title += "<br><sup>Bootstrap means by quadrant: " + ", ".join(shown) + "</sup>"
    fig.update_layout(
        title=title,
        xaxis_title="incremental QALYs per patient (policy - base)",
        yaxis_title="incremental cost per patient, USD (policy - base)",
        template="plotly_white",
        xaxis={"range": [-x_span, x_span], "zeroline": False},
        yaxis={"range": [-y_span, y_span], "zeroline": False, "tickprefix": "$"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def efficiency_frontier_chart(frontier: pd.DataFrame) -> go.Figure:
    """Strategies by mean cost and QALYs, with the efficiency frontier drawn through them.

    The frontier is the line through the strategies on it, in cost order; each step's slope is
    its ICER. Dominated strategies are marked with an x, extendedly dominated ones with an
    open circle.

    Args:
        frontier: ``decision.efficiency_frontier`` rows (``strategy``, ``cost``, ``qalys``,
            ``status``, ``compared_with``, ``icer``).

    Raises:
        ValueError: A column is missing.
    """
    _require(frontier, {"strategy", "cost", "qalys", "status", "icer"}, "the frontier chart")
    fig = go.Figure()
    on = frontier[frontier["status"] == "frontier"].sort_values("cost")
    fig.add_trace(
        go.Scatter(
            x=on["qalys"],
            y=on["cost"],
            mode="lines",
            name="efficiency frontier",
            line={"color": STATUS_STYLE["frontier"]["color"]},
            hoverinfo="skip",
        )
    )
    for status, style in STATUS_STYLE.items():
        rows = frontier[frontier["status"] == status]
        if rows.empty:
            continue
        icer = [_icer_hover(status, v) for v in rows["icer"].astype(float)]
        fig.add_trace(
            go.Scatter(
                x=rows["qalys"],
                y=rows["cost"],
                mode="markers+text",
                name=status,
                text=rows["strategy"],
                textposition="top center",
                marker={"symbol": style["symbol"], "color": style["color"], "size": style["size"]},
                customdata=icer,
                hovertemplate="%{text}: %{x:.4f} QALYs, $%{y:,.0f}<br>%{customdata}<extra></extra>",
            )
        )
    fig.update_layout(
        title="Efficiency frontier (mean per patient, discounted, health-sector perspective)",
        xaxis_title="QALYs per patient",
        yaxis_title="cost per patient, USD",
        yaxis_tickprefix="$",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _icer_hover(status: str, icer: float) -> str:
    if not np.isnan(icer):
        return f"ICER ${icer:,.0f} per QALY"
    return "reference (cheapest on the frontier)" if status == "frontier" else "no ICER (dominated)"
