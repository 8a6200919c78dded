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
from plotly.subplots import make_subplots

# One colour per care pathway, used by every chart that shows pathways.
PATHWAY_COLOURS: dict[str, str] = {
    "integrated": "#2ca02c",
    "drug_only": "#ff7f0e",
    "therapy_only": "#1f77b4",
    "untreated": "#9e9e9e",
    "dropped_out": "#d62728",
}
PATHWAY_LABELS: dict[str, str] = {
    "integrated": "Integrated (dose + session in window)",
    "drug_only": "Drug only",
    "therapy_only": "Therapy only",
    "untreated": "Sought care, untreated yet",
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
    "out_of_pocket": "Patients out of pocket",
    "bundle": "Bundled episodes",
}
LAYER_COLOURS = {"mean_b": "#e377c2", "mean_r": "#17becf", "mean_n": "#bcbd22"}
LAYER_LABELS = {
    "mean_b": "b: motivational/behavioural",
    "mean_r": "r: relational",
    "mean_n": "n: narrative self",
}
FLOW_REQUIRED = ("prescriber_model", "care", "outcome")
MONEY_REQUIRED = ("source", "silo", "payee", "amount_usd")

_HEIGHT = 340
_MARGIN = {"l": 60, "r": 20, "t": 50, "b": 45}


def _layout(fig: go.Figure, title: str, height: int = _HEIGHT, **kwargs) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        height=height,
        margin=_MARGIN,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2, "font": {"size": 11}},
        **kwargs,
    )
    return fig


def _note(fig: go.Figure, text: str) -> go.Figure:
    """Say why a figure is empty, in its title.

    Not an annotation: the dashboard updates a plotly widget in place, which merges layouts, so
    an annotation would stay after data arrive; the title is always replaced.
    """
    fig.update_layout(title_text=f"{fig.layout.title.text} ({text})")
    return fig


def _check_columns(df: pd.DataFrame, required, what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s): {', '.join(missing)}")


NOT_STARTED = "No simulated days yet: press Step or Play"


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
        xaxis={"title": "day"},
    )
    if daily.empty:
        return _note(fig, NOT_STARTED)
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
                name="rolling (recent doses)",
                mode="lines",
                line={"color": PATHWAY_COLOURS["integrated"], "width": 1.5, "dash": "dot"},
            )
        )
    last = daily["integrated_delivery_rate"].dropna()
    if not last.empty:
        # The headline number goes in the title, not in an annotation (see ``_note``).
        fig.update_layout(
            title_text=f"Integrated delivery rate: {float(last.iloc[-1]):.0%} of doses so far"
        )
    return fig


def pathway_shares_figure(daily: pd.DataFrame) -> go.Figure:
    """Care pathway shares among people who sought care, stacked to 100 %.

    Args:
        daily: The model's daily frame (``day`` and ``share_<pathway>`` columns).
    """
    fig = go.Figure()
    _layout(
        fig,
        "Care pathways (people who sought care)",
        yaxis={"title": "share", "range": [0, 1], "tickformat": ".0%"},
        xaxis={"title": "day"},
    )
    if daily.empty:
        return _note(fig, NOT_STARTED)
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
    return fig


def severity_figure(daily: pd.DataFrame) -> go.Figure:
    """Mean severity (MADRS-like, left axis) and the mean of each layer (0-1, right axis).

    Args:
        daily: The model's daily frame (``mean_severity``, ``mean_b``, ``mean_r``, ``mean_n``).
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    _layout(fig, "Severity and the three layers (whole catchment)")
    fig.update_xaxes(title_text="day")
    fig.update_yaxes(title_text="mean severity (0-60)", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(
        title_text="layer (1 = entrenched)", secondary_y=True, range=[0, 1], showgrid=False
    )
    if daily.empty:
        return _note(fig, NOT_STARTED)
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
    return fig


def spending_figure(daily: pd.DataFrame) -> go.Figure:
    """Cumulative spending by budget silo (stacked) with pharma revenue as a line, USD.

    Args:
        daily: The model's daily frame (``spend_<silo>`` columns; ``pharma_revenue`` optional).
    """
    fig = go.Figure()
    _layout(
        fig,
        "Spending by budget silo (cumulative)",
        yaxis={"title": "USD", "tickprefix": "$", "rangemode": "tozero"},
        xaxis={"title": "day"},
    )
    if daily.empty:
        return _note(fig, NOT_STARTED)
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
                name="of which pharma revenue",
                mode="lines",
                line={"color": "#000", "width": 1.5, "dash": "dot"},
            )
        )
    return fig


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
    """
    _check_columns(delays, ("delay_days",), "delays")
    _check_columns(plasticity, ("days", "plasticity"), "plasticity")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x_max = float(plasticity["days"].max()) if not plasticity.empty else 30.0
    _layout(fig, "Dose-to-therapy delay vs the plasticity window")
    fig.update_xaxes(title_text="days from dose to first session after it", range=[0, x_max])
    fig.update_yaxes(title_text="doses", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="plasticity p(t)", secondary_y=True, range=[0, 1.05])
    fig.add_vrect(
        x0=window_start_days,
        x1=window_end_days,
        fillcolor=PATHWAY_COLOURS["integrated"],
        opacity=0.08,
        line_width=0,
        exclude_empty_subplots=False,  # drawn before the traces, and when there are none
    )
    if delays.empty:
        _note(fig, "No dose has been followed by a session yet")
    else:
        d = delays["delay_days"].to_numpy(dtype=float)
        shown = d[d <= x_max]
        fig.add_trace(
            go.Histogram(
                x=shown,
                xbins={"start": 0.0, "end": x_max, "size": 0.5},
                name=f"doses ({len(d):,}; {np.mean(d <= window_end_days):.0%} within window end)",
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
    return fig


# Stage names for the patient-flow Sankey, in display order within each column.
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
    _layout(fig, "Patient flow", height=420)
    if flow.empty:
        return _note(fig, "Nobody has sought care yet")
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
    _layout(fig, "Money flow (paid claims, cumulative)", height=420)
    paid = money[money["amount_usd"] > 0]
    if paid.empty:
        return _note(fig, "No money has moved yet")
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
    fig.update_layout(title={"text": f"Money flow (paid claims, cumulative: ${total:,.0f})"})
    return fig


# --------------------------------------------------------------------------- Compare page
COMPARE_METRICS: dict[str, str] = {
    "integrated_delivery_rate": "Integrated delivery rate",
    "share_integrated": "Share integrated",
    "share_drug_only": "Share drug only",
    "share_dropped_out": "Share dropped out",
    "response_rate": "Response rate",
    "remission_rate": "Remission rate",
    "durable_remission_rate": "Durable remission rate",
    "relapse_rate_180d": "Relapse within 180 days",
    "fragmentation_index": "Fragmentation index",
    "qalys_per_patient": "QALYs per patient",
}
"""Unit-free metrics (shares, rates, QALYs) drawn together on the Compare forest plot."""


def diff_forest_figure(metrics: pd.DataFrame, base: str, policy: str) -> go.Figure:
    """Paired differences (policy - base) with 95 % intervals, one row per metric.

    Args:
        metrics: A comparison's metric frame: ``metric``, ``diff_mean``, ``diff_ci_low``,
            ``diff_ci_high``. Only the metrics of ``COMPARE_METRICS`` present are drawn (they
            share a scale: shares and QALYs per patient).
        base: Base arm name (for the title).
        policy: Policy arm name (for the title).
    """
    _check_columns(metrics, ("metric", "diff_mean", "diff_ci_low", "diff_ci_high"), "metrics")
    rows = metrics[metrics["metric"].isin(COMPARE_METRICS)].copy()
    order = {m: i for i, m in enumerate(COMPARE_METRICS)}
    rows = rows.sort_values("metric", key=lambda s: s.map(order), ascending=False)
    fig = go.Figure()
    _layout(
        fig,
        f"{policy} minus {base}: paired difference, 95 % interval",
        height=60 + 34 * max(len(rows), 3),
        xaxis={"title": "difference (share points; QALYs per patient)", "zeroline": True},
    )
    fig.update_layout(legend={"visible": False}, margin={"l": 190, "r": 20, "t": 50, "b": 45})
    if rows.empty:
        return _note(fig, "No comparable metrics")
    mean = rows["diff_mean"].astype(float)
    low = rows["diff_ci_low"].astype(float)
    high = rows["diff_ci_high"].astype(float)
    colours = np.where(low > 0, "#2ca02c", np.where(high < 0, "#d62728", "#555555"))
    fig.add_trace(
        go.Scatter(
            x=mean,
            y=rows["metric"].map(COMPARE_METRICS),
            mode="markers",
            marker={"size": 10, "color": colours},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (high - mean).fillna(0.0),
                "arrayminus": (mean - low).fillna(0.0),
                "thickness": 2,
            },
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.add_vline(x=0.0, line_color="#999", line_dash="dash")
    return fig


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
        xaxis={"title": "day"},
    )
    if daily.empty:
        return _note(fig, "No runs yet")
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
    return fig
