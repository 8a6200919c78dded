"""Every Explore chart as a pure function: tidy frame(s) in, ``plotly.graph_objects.Figure`` out.

The functions read only their arguments (no model, no solara), so the dashboard, HTML reports and
tests share them. Inputs are the model's own tidy outputs (``daily_frame()``) or small frames
derived from model state by ``dashboards.explore`` (patient flow, money flow, delays). An empty
input (a run not started yet) gives a figure with a note instead of an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from dashboards import metric_format as fmt

# One colour per care pathway, used by every chart that shows pathways.
PATHWAY_COLOURS: dict[str, str] = {
    "integrated": "#2ca02c",
    "drug_only": "#ff7f0e",
    "therapy_only": "#1f77b4",
    "untreated": "#9e9e9e",
    "dropped_out": "#d62728",
}
PATHWAY_LABELS: dict[str, str] = {
    "integrated": "Integrated",
    "drug_only": "Drug only",
    "therapy_only": "Therapy only",
    "untreated": "Not treated yet",
    "dropped_out": "Dropped out",
}
SILO_COLOURS: dict[str, str] = {
    "medical": "#1f77b4",
    "behavioral": "#9467bd",
    "out_of_pocket": "#8c564b",
    "bundle": "#2ca02c",
}
SILO_LABELS: dict[str, str] = {
    "medical": "Medical budget",
    "behavioral": "Behavioural budget",
    "out_of_pocket": "Out of pocket",
    "bundle": "Bundles",
}
LAYER_COLOURS = {"mean_b": "#e377c2", "mean_r": "#17becf", "mean_n": "#bcbd22"}
LAYER_LABELS = {
    "mean_b": "b: behavioural",
    "mean_r": "r: relational",
    "mean_n": "n: narrative self",
}
FLOW_REQUIRED = ("prescriber_model", "care", "outcome")
MONEY_REQUIRED = ("source", "silo", "payee", "amount_usd")
DAY_AXIS = {"title": {"text": "day of the run"}, "rangemode": "tozero"}
"""The x axis of every chart over the run's days."""

HEIGHT = 340
"""Height of a dashboard chart, px (its width is its container's)."""
MIN_WIDTH_PX = 400
"""The narrowest chart the layouts must fit: a cell of a 1280 px window with the sidebar open."""
_MARGIN = {"l": 60, "r": 20, "t": 44, "b": 10}
_TITLE_FONT = 15
_LEGEND_FONT = 11
_LEGEND_ROW_PX = 19
# Plotly's horizontal legend, measured on these charts in Chromium: an entry is ~42 px of symbol
# and gaps plus ~5.6 px a character at 11 px; entries that do not all fit in one row are laid
# out in columns as wide as the widest entry, within about the plot's width.
_LEGEND_ENTRY_PX = 42
_LEGEND_CHAR_PX = 5.6
_LEGEND_SIDE_PX = 60
_X_AXIS_PX = 50  # tick labels and the axis title under a plot


def _light_template() -> go.layout.Template:
    """Plotly's "plotly_white" look for 2-D charts, without its 3-D, map and polar parts.

    The full template is copied and validated into every figure that names it and sent with
    every figure's JSON (~7 kB): measured, that was most of the time the dashboard spent
    building a step's seven figures. This keeps the parts these charts use.
    """
    white = pio.templates["plotly_white"]
    keep = ("font", "paper_bgcolor", "plot_bgcolor", "colorway", "hovermode", "hoverlabel")
    layout = {key: white.layout[key] for key in keep}
    layout["xaxis"] = white.layout.xaxis
    layout["yaxis"] = white.layout.yaxis
    return go.layout.Template(
        layout=layout, data={"bar": white.data.bar, "histogram": white.data.histogram}
    )


TEMPLATE = _light_template()
"""The template of every dashboard and report chart (small: see ``_light_template``)."""


def _layout(
    fig: go.Figure, title: str, height: int = HEIGHT, margin: dict | None = None, **kwargs
) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": _TITLE_FONT}},
        height=height,
        margin=margin or _MARGIN,
        template=TEMPLATE,
        **kwargs,
    )
    return fig


def legend_rows(names: list[str], width_px: float = MIN_WIDTH_PX) -> int:
    """Rows a horizontal legend of these entries takes in a chart ``width_px`` wide."""
    if not names:
        return 0
    entries = [_LEGEND_ENTRY_PX + _LEGEND_CHAR_PX * len(name) for name in names]
    room = width_px - _LEGEND_SIDE_PX
    if sum(entries) <= room:
        return 1
    columns = max(1, int(room // max(entries)))
    return -(-len(entries) // columns)


def legend_below(fig: go.Figure, x_axis: bool = True) -> go.Figure:
    """Put the legend under the plot, below the x-axis title, with room for every row.

    The legend is anchored to the bottom of the figure (container coordinates, so its place does
    not move with the plot's height) and the bottom margin is set to hold the axis's ticks and
    title plus the rows the legend wraps into at ``MIN_WIDTH_PX``: neither is cut, and they
    cannot overlap.

    Args:
        fig: The figure (its traces' names are the legend entries).
        x_axis: Whether an x axis with ticks and a title sits under the plot.
    """
    names = [t.name for t in fig.data if t.name and t.showlegend is not False]
    axis = _X_AXIS_PX if x_axis else 0
    if not names:
        fig.update_layout(showlegend=False, margin_b=axis + 10)
        return fig
    rows = legend_rows(names)
    fig.update_layout(
        showlegend=True,
        legend={
            "orientation": "h",
            "xref": "container",
            "x": 0.0,
            "xanchor": "left",
            "yref": "container",
            "y": 0.0,
            "yanchor": "bottom",
            "font": {"size": _LEGEND_FONT},
        },
        margin_b=axis + rows * _LEGEND_ROW_PX + 14,
    )
    return fig


def legend_above(fig: go.Figure, width_px: float = MIN_WIDTH_PX) -> go.Figure:
    """Put the legend between the title and the plot, with room for every row.

    For a tall chart whose legend says how to read it: seen before the rows, not after them.
    Title and legend are placed in container coordinates from the figure's own height.

    Args:
        fig: The figure (its traces' names are the legend entries).
        width_px: The narrowest the chart is drawn (the legend's rows are counted there).
    """
    height = float(fig.layout.height or HEIGHT)
    names = [t.name for t in fig.data if t.name and t.showlegend is not False]
    rows = legend_rows(names, width_px)
    title_px, gap_px = 30, 6
    fig.update_layout(
        title={"y": 1.0 - 8.0 / height, "yref": "container", "yanchor": "top"},
        showlegend=bool(names),
        legend={
            "orientation": "h",
            "xref": "container",
            "x": 0.0,
            "xanchor": "left",
            "yref": "container",
            "y": 1.0 - title_px / height,
            "yanchor": "top",
            "font": {"size": _LEGEND_FONT},
        },
        margin_t=title_px + rows * _LEGEND_ROW_PX + 10 + gap_px,
    )
    return fig


def placeholder(fig: go.Figure, text: str) -> go.Figure:
    """An empty chart that says what will be drawn, instead of meaningless axes."""
    fig.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        showlegend=False,
        margin_b=10,
        annotations=[
            {
                "text": text,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 14, "color": "#666"},
            }
        ],
    )
    return fig


def _unit_axis(fig: go.Figure, title: str, top: float) -> None:
    """A right-hand axis from 0 to ``top`` ticked in quarters, without its own grid.

    Ticked on its own: left to plotly, a second axis takes the first one's tick positions
    (0.243, 0.487, ...).
    """
    fig.update_yaxes(
        title_text=title,
        secondary_y=True,
        range=[0, top],
        tickmode="linear",
        tick0=0.0,
        dtick=0.25,
        showgrid=False,
    )


def _check_columns(df: pd.DataFrame, required, what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s): {', '.join(missing)}")


def run_to_see(what: str) -> str:
    """The placeholder text of a chart before the run has produced its data."""
    return f"Press Step or Play to see<br>{what}"


def delivery_rate_figure(daily: pd.DataFrame) -> go.Figure:
    """Integrated delivery rate over time: cumulative and rolling.

    Args:
        daily: The model's daily frame (``day``, ``integrated_delivery_rate``,
            ``integrated_delivery_rate_rolling``).

    Returns:
        A line chart of the share of doses followed by a session inside the window. A dose
        counts once its window has closed, so the first week has no value yet.
    """
    fig = go.Figure()
    _layout(
        fig,
        "Integrated delivery rate",
        yaxis={"title": "share of doses", "range": [0, 1], "tickformat": ".0%"},
        xaxis=DAY_AXIS,
    )
    if daily.empty:
        return placeholder(fig, run_to_see("the share of doses with therapy in the window"))
    _check_columns(daily, ("day", "integrated_delivery_rate"), "daily")
    fig.add_trace(
        go.Scatter(
            x=daily["day"],
            y=daily["integrated_delivery_rate"],
            name="since day 0",
            mode="lines",
            line={"color": PATHWAY_COLOURS["integrated"], "width": 3},
        )
    )
    if "integrated_delivery_rate_rolling" in daily.columns:
        fig.add_trace(
            go.Scatter(
                x=daily["day"],
                y=daily["integrated_delivery_rate_rolling"],
                name="last 28 days",
                mode="lines",
                line={"color": PATHWAY_COLOURS["integrated"], "width": 1.5, "dash": "dot"},
            )
        )
    last = daily["integrated_delivery_rate"].dropna()
    if not last.empty:
        fig.update_layout(
            title_text=f"Integrated delivery rate: {float(last.iloc[-1]):.0%} of doses so far"
        )
    return legend_below(fig)


def pathway_shares_figure(daily: pd.DataFrame) -> go.Figure:
    """Care pathway shares among people who sought care, stacked to 100 %.

    Args:
        daily: The model's daily frame (``day`` and ``share_<pathway>`` columns).
    """
    fig = go.Figure()
    _layout(
        fig,
        "Care pathways of people who sought care",
        yaxis={"title": "share of people", "range": [0, 1], "tickformat": ".0%"},
        xaxis=DAY_AXIS,
    )
    if daily.empty:
        return placeholder(fig, run_to_see("the care people receive"))
    _check_columns(daily, ["day", *(f"share_{k}" for k in PATHWAY_COLOURS)], "daily")
    for key, colour in PATHWAY_COLOURS.items():
        fig.add_trace(
            go.Scatter(
                x=daily["day"],
                y=daily[f"share_{key}"],
                name=PATHWAY_LABELS[key],
                mode="lines",
                stackgroup="pathways",
                line={"width": 0.5, "color": colour},
            )
        )
    return legend_below(fig)


def severity_figure(daily: pd.DataFrame) -> go.Figure:
    """Mean severity (MADRS-like, left axis) and the mean of each layer (0-1, right axis).

    Args:
        daily: The model's daily frame (``mean_severity``, ``mean_b``, ``mean_r``, ``mean_n``).
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    _layout(fig, "Severity and the three layers")
    fig.update_xaxes(DAY_AXIS)
    fig.update_yaxes(title_text="mean severity (0-60)", secondary_y=False, rangemode="tozero")
    _unit_axis(fig, "layer (1 = entrenched)", 1.0)
    if daily.empty:
        fig.update_yaxes(visible=False, secondary_y=True)
        return placeholder(fig, run_to_see("severity and its three layers"))
    _check_columns(daily, ("day", "mean_severity", *LAYER_COLOURS), "daily")
    fig.add_trace(
        go.Scatter(
            x=daily["day"],
            y=daily["mean_severity"],
            name="mean severity",
            mode="lines",
            line={"color": "#333", "width": 3},
        ),
        secondary_y=False,
    )
    for key, colour in LAYER_COLOURS.items():
        fig.add_trace(
            go.Scatter(
                x=daily["day"],
                y=daily[key],
                name=LAYER_LABELS[key],
                mode="lines",
                line={"color": colour, "width": 1.5, "dash": "dash"},
            ),
            secondary_y=True,
        )
    return legend_below(fig)


def spending_figure(daily: pd.DataFrame) -> go.Figure:
    """Cumulative spending by budget silo (stacked) with pharma revenue as a line, USD.

    Args:
        daily: The model's daily frame (``spend_<silo>`` columns; ``pharma_revenue`` optional).
    """
    fig = go.Figure()
    _layout(
        fig,
        "Spending by budget silo, cumulative",
        yaxis={"title": "USD", "tickprefix": "$", "rangemode": "tozero"},
        xaxis=DAY_AXIS,
    )
    if daily.empty:
        return placeholder(fig, run_to_see("who pays, from which budget"))
    _check_columns(daily, ["day", *(f"spend_{k}" for k in SILO_COLOURS)], "daily")
    for key, colour in SILO_COLOURS.items():
        fig.add_trace(
            go.Scatter(
                x=daily["day"],
                y=daily[f"spend_{key}"],
                name=SILO_LABELS[key],
                mode="lines",
                stackgroup="silos",
                line={"width": 0.5, "color": colour},
            )
        )
    if "pharma_revenue" in daily.columns:
        fig.add_trace(
            go.Scatter(
                x=daily["day"],
                y=daily["pharma_revenue"],
                name="of which pharma",
                mode="lines",
                line={"color": "#000", "width": 1.5, "dash": "dot"},
            )
        )
    return legend_below(fig)


def delay_histogram_figure(
    delays: pd.DataFrame,
    plasticity: pd.DataFrame,
    window_start_days: float,
    window_end_days: float,
) -> go.Figure:
    """Dose-to-first-session delays (histogram) over the plasticity window curve.

    Args:
        delays: One row a dose followed by a session: ``delay_days``.
        plasticity: The plasticity pulse of one dose: ``days``, ``plasticity`` (0-1).
        window_start_days: Start of the counted window after a dose (shaded).
        window_end_days: End of the counted window (shaded).

    Returns:
        Bars count doses by delay (left axis); the curve (right axis) shows how much a session
        at that delay is amplified. Sessions under the curve's peak are the ones that count.
        Before any dose is followed by a session, the curve and the window are drawn alone.
    """
    _check_columns(delays, ("delay_days",), "delays")
    _check_columns(plasticity, ("days", "plasticity"), "plasticity")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x_max = float(plasticity["days"].max()) if not plasticity.empty else 30.0
    _layout(fig, "Dose-to-therapy delay and the window")
    fig.update_xaxes(title_text="days from a dose to the first session after it", range=[0, x_max])
    fig.update_yaxes(title_text="doses", secondary_y=False, rangemode="tozero")
    _unit_axis(fig, "plasticity p(t)", 1.05)
    fig.add_vrect(
        x0=window_start_days,
        x1=window_end_days,
        fillcolor=PATHWAY_COLOURS["integrated"],
        opacity=0.08,
        line_width=0,
        exclude_empty_subplots=False,  # drawn before the traces, and when there are none
    )
    if delays.empty:
        fig.update_layout(title_text="Dose-to-therapy delay: no session after a dose yet")
    else:
        d = delays["delay_days"].to_numpy(dtype=float)
        shown = d[d <= x_max]
        fig.add_trace(
            go.Histogram(
                x=shown,
                xbins={"start": 0.0, "end": x_max, "size": 0.5},
                name=f"doses ({len(d):,}; {np.mean(d <= window_end_days):.0%} in window)",
                marker={"color": "#1f77b4"},
                opacity=0.75,
            ),
            secondary_y=False,
        )
    if not plasticity.empty:
        fig.add_trace(
            go.Scatter(
                x=plasticity["days"],
                y=plasticity["plasticity"],
                name="plasticity after a dose",
                mode="lines",
                line={"color": "#d62728", "width": 2.5},
            ),
            secondary_y=True,
        )
    fig.update_layout(bargap=0.05)
    return legend_below(fig)


# Stage names for the patient-flow Sankey, in display order within each column.
SANKEY_HEIGHT = 420
_SANKEY_MARGIN = {"l": 10, "r": 10, "t": 44, "b": 10}
_MODEL_ORDER = (
    "Infusion (cash) clinic",
    "REMS esketamine clinic",
    "Integrated programme",
    "Therapy only, no clinic",
    "No clinic chosen",
)
_CARE_ORDER = ("Integrated", "Drug only", "Therapy only", "Untreated", "Dropped out")
_OUTCOME_ORDER = ("In remission", "In response", "No response", "Not treated")
_NODE_COLOURS = {
    "Integrated programme": PATHWAY_COLOURS["integrated"],
    "Integrated": PATHWAY_COLOURS["integrated"],
    "Drug only": PATHWAY_COLOURS["drug_only"],
    "Therapy only": PATHWAY_COLOURS["therapy_only"],
    "Therapy only, no clinic": PATHWAY_COLOURS["therapy_only"],
    "Untreated": PATHWAY_COLOURS["untreated"],
    "Dropped out": PATHWAY_COLOURS["dropped_out"],
    "In remission": "#1b9e77",
    "In response": "#66c2a5",
    "No response": "#fc8d62",
    "Not treated": "#bdbdbd",
}


def _ordered(values, order) -> list[str]:
    present = set(values)
    return [v for v in order if v in present] + sorted(present - set(order))


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def patient_flow_sankey(flow: pd.DataFrame) -> go.Figure:
    """Patient flow: sought care -> prescriber model -> care received -> current outcome.

    Args:
        flow: One row per patient who sought care, with ``prescriber_model`` (the clinic
            business model of their current episode), ``care`` (pathway received) and
            ``outcome`` (clinical state now).

    Returns:
        A Sankey; link widths are numbers of patients.
    """
    _check_columns(flow, FLOW_REQUIRED, "flow")
    fig = go.Figure()
    _layout(fig, "Patient flow", height=SANKEY_HEIGHT, margin=_SANKEY_MARGIN)
    if flow.empty:
        return placeholder(fig, run_to_see("where patients go"))
    arrived = f"Sought care ({len(flow):,})"
    models = _ordered(flow["prescriber_model"], _MODEL_ORDER)
    cares = _ordered(flow["care"], _CARE_ORDER)
    outcomes = _ordered(flow["outcome"], _OUTCOME_ORDER)
    # Prefixes keep nodes of different stages apart even if two share a label.
    keys = [("arr", arrived)]
    keys += [("model", m) for m in models] + [("care", c) for c in cares]
    keys += [("out", o) for o in outcomes]
    index = {k: i for i, k in enumerate(keys)}
    sources: list[int] = []
    targets: list[int] = []
    values: list[int] = []
    colours: list[str] = []

    def add(stage_a: str, col_a: str | None, stage_b: str, col_b: str) -> None:
        by = [col_b] if col_a is None else [col_a, col_b]
        counts = flow.groupby(by, observed=True).size()
        for key, n in counts.items():
            a, b = (arrived, key) if col_a is None else key
            sources.append(index[(stage_a, a)])
            targets.append(index[(stage_b, b)])
            values.append(int(n))
            colours.append(_rgba(_NODE_COLOURS.get(b, "#888888"), 0.35))

    add("arr", None, "model", "prescriber_model")
    add("model", "prescriber_model", "care", "care")
    add("care", "care", "out", "outcome")
    fig.add_trace(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [label for _, label in keys],
                "color": [_NODE_COLOURS.get(label, "#607d8b") for _, label in keys],
                "pad": 12,
                "thickness": 14,
            },
            link={"source": sources, "target": targets, "value": values, "color": colours},
            valueformat=",d",
            valuesuffix=" patients",
        )
    )
    fig.update_layout(title_text=f"Patient flow: {len(flow):,} people who sought care")
    return fig


_SOURCE_ORDER = ("Commercial", "Medicaid", "Medicare", "Patients")
_SILO_NODE = {
    "medical": "Medical budget",
    "behavioral": "Behavioural budget",
    "bundle": "Bundle budget",
    "out_of_pocket": "Out of pocket",
}
_PAYEE_ORDER = (
    "Infusion (cash) clinics",
    "REMS esketamine clinics",
    "Integrated programmes",
    "Therapists",
    "Pharma (esketamine)",
)


def money_flow_sankey(money: pd.DataFrame) -> go.Figure:
    """Money flow: who pays (payers, patients) -> budget silo -> who receives, USD.

    Args:
        money: One row per paid claim (or pre-aggregated flows): ``source`` (payer type or
            "Patients"), ``silo`` (medical / behavioral / bundle / out_of_pocket), ``payee``
            (provider group or pharma) and ``amount_usd``.

    Returns:
        A Sankey; widths are dollars. Money is conserved, so both sides total the same.
    """
    _check_columns(money, MONEY_REQUIRED, "money")
    fig = go.Figure()
    _layout(fig, "Money flow", height=SANKEY_HEIGHT, margin=_SANKEY_MARGIN)
    paid = money[money["amount_usd"] > 0]
    if paid.empty:
        return placeholder(fig, run_to_see("who pays whom"))
    total = float(paid["amount_usd"].sum())
    silos = paid.assign(silo=paid["silo"].map(lambda s: _SILO_NODE.get(s, str(s))))
    sources = _ordered(silos["source"], _SOURCE_ORDER)
    silo_nodes = _ordered(silos["silo"], tuple(_SILO_NODE.values()))
    payees = _ordered(silos["payee"], _PAYEE_ORDER)
    keys = [("src", s) for s in sources] + [("silo", s) for s in silo_nodes]
    keys += [("pay", p) for p in payees]
    index = {k: i for i, k in enumerate(keys)}
    src_idx: list[int] = []
    tgt_idx: list[int] = []
    vals: list[float] = []
    for (a, b), usd in silos.groupby(["source", "silo"], observed=True)["amount_usd"].sum().items():
        src_idx.append(index[("src", a)])
        tgt_idx.append(index[("silo", b)])
        vals.append(float(usd))
    for (a, b), usd in silos.groupby(["silo", "payee"], observed=True)["amount_usd"].sum().items():
        src_idx.append(index[("silo", a)])
        tgt_idx.append(index[("pay", b)])
        vals.append(float(usd))
    fig.add_trace(
        go.Sankey(
            arrangement="snap",
            node={"label": [label for _, label in keys], "pad": 12, "thickness": 14},
            link={"source": src_idx, "target": tgt_idx, "value": vals},
            valueformat="$,.0f",
        )
    )
    fig.update_layout(title_text=f"Money flow: ${total:,.0f} paid so far")
    return fig


# --------------------------------------------------------------------------- Compare page
COMPARE_METRICS: tuple[str, ...] = (
    "integrated_delivery_rate",
    "mean_days_dose_to_therapy",
    "share_integrated",
    "share_drug_only",
    "share_dropped_out",
    "fragmentation_index",
    "mean_therapy_wait_days",
    "response_rate",
    "remission_rate",
    "durable_remission_rate",
    "relapse_rate_180d",
    "mean_severity",
    "qalys_per_patient",
)
"""The metrics the Compare page's forest plot shows, top to bottom."""

DIRECTION_COLOURS: dict[str, str] = {
    "better": "#1a9850",
    "worse": "#d73027",
    "unclear": "#8c8c8c",
    "neutral": "#4575b4",
}
DIRECTION_LABELS: dict[str, str] = {
    "better": "better for patients or payers (whole interval)",
    "worse": "worse (whole interval)",
    "unclear": "interval includes zero",
    "neutral": "neither better nor worse in itself",
}
_FOREST_ROW_PX = 44
FOREST_MIN_WIDTH_PX = 700
"""The forest plot is drawn across a page (Compare, the reports), never in a half-width cell."""


def diff_forest_figure(
    metrics: pd.DataFrame, base: str, policy: str, only: tuple[str, ...] | None = None
) -> go.Figure:
    """Paired differences (policy - base) with 95 % intervals, one row per metric, each to scale.

    Metrics differ in unit and size (shares, days, QALYs, dollars), so each row is drawn on its
    own scale: the difference and its interval are divided by the row's largest distance from
    zero, which puts every interval in [-1, 1] around a common zero line. The row's label says
    the difference and interval in the metric's unit. Colour says whether the change is good or
    bad for that metric (``model.metric_info``'s ``higher_is_better``): green or red only when
    the whole interval is on one side of zero, grey when it includes zero, blue for metrics that
    are neither good nor bad in themselves.

    Args:
        metrics: A comparison's metric frame: ``metric``, ``diff_mean``, ``diff_ci_low``,
            ``diff_ci_high``.
        base: Base arm name (for the title).
        policy: Policy arm name (for the title).
        only: The metrics to draw, in order (default: every metric of ``metrics`` the registry
            lists, in the frame's order).
    """
    _check_columns(metrics, ("metric", "diff_mean", "diff_ci_low", "diff_ci_high"), "metrics")
    by_name = metrics.set_index("metric")
    names = [m for m in (only or tuple(metrics["metric"])) if m in by_name.index]
    names = [m for m in names if fmt.info(m) is not None]
    fig = go.Figure()
    _layout(
        fig,
        f"{policy} minus {base}: paired differences, 95 % intervals",
        height=110 + _FOREST_ROW_PX * max(len(names), 2),
    )
    if not names:
        return placeholder(fig, "No metric to compare")
    labels: list[str] = []
    seen: set[str] = set()
    for name in names:
        row = by_name.loc[name]
        diff, low, high = (float(row[c]) for c in ("diff_mean", "diff_ci_low", "diff_ci_high"))
        shown = fmt.diff_text(name, diff) if np.isfinite(diff) else "undefined in these runs"
        text = f"<b>{fmt.label(name)}</b><br>{shown}"
        if np.isfinite(low) and np.isfinite(high):
            text += f" ({fmt.diff_text(name, low)} to {fmt.diff_text(name, high)})"
        labels.append(text)
        if not np.isfinite(diff):
            continue
        scale = max(abs(v) for v in (diff, low, high) if np.isfinite(v)) or 1.0
        kind = fmt.direction(name, diff, low, high)
        colour = DIRECTION_COLOURS[kind]
        plus = (high - diff) / scale if np.isfinite(high) else 0.0
        minus = (diff - low) / scale if np.isfinite(low) else 0.0
        fig.add_trace(
            go.Scatter(
                x=[diff / scale],
                y=[text],
                mode="markers",
                name=DIRECTION_LABELS[kind],
                legendgroup=kind,
                showlegend=kind not in seen,
                marker={"size": 11, "color": colour},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [plus],
                    "arrayminus": [minus],
                    "color": colour,
                    "thickness": 2.5,
                    "width": 5,
                },
                hovertext=[fmt.definition(name)],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
        seen.add(kind)
    fig.add_vline(x=0.0, line_color="#555", line_dash="dash")
    fig.update_xaxes(
        range=[-1.15, 1.15],
        showticklabels=False,
        showgrid=False,
        zeroline=False,
        title={"text": "lower  <-  each row on its own scale  ->  higher", "standoff": 6},
    )
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=labels[::-1],
        type="category",
        automargin=True,
        tickfont={"size": 12},
    )
    fig.update_layout(margin={"l": 10, "r": 20, "b": _X_AXIS_PX})
    return legend_above(fig, FOREST_MIN_WIDTH_PX)


def arms_delivery_figure(daily: pd.DataFrame) -> go.Figure:
    """Integrated delivery rate over time in each arm (mean over replications).

    Args:
        daily: Daily rows of both arms: ``arm``, ``day``, ``integrated_delivery_rate``.
    """
    fig = go.Figure()
    _layout(
        fig,
        "Integrated delivery rate by arm (mean of replications)",
        yaxis={"title": "share of doses", "range": [0, 1], "tickformat": ".0%"},
        xaxis=DAY_AXIS,
    )
    if daily.empty:
        return placeholder(fig, "Run a comparison to see<br>each arm's integrated delivery rate")
    _check_columns(daily, ("arm", "day", "integrated_delivery_rate"), "daily")
    means = daily.groupby(["arm", "day"], as_index=False)["integrated_delivery_rate"].mean()
    for arm, colour in (("base", "#7f7f7f"), ("policy", PATHWAY_COLOURS["integrated"])):
        part = means[means["arm"] == arm]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["day"],
                y=part["integrated_delivery_rate"],
                name=arm,
                mode="lines",
                line={"color": colour, "width": 2.5},
            )
        )
    return legend_below(fig)
