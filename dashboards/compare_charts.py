"""Charts for paired comparisons and sensitivity analyses: pure ``DataFrame -> Figure`` functions.

They take the frames of ``scenarios.compare.CompareResult`` (``daily``, ``runs``, ``metrics``) and
``scenarios.sensitivity.SensitivityResult.indices``, and are shared by the dashboard's Compare
page and the self-contained HTML reports. Bands are 95 % t intervals of the mean over
replications (for the difference: the paired interval, replication by replication).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from dashboards.charts import TEMPLATE, legend_below

ARM_COLOURS = {"base": "#636EFA", "policy": "#EF553B"}
DIFF_COLOUR = "#00A08A"
WTP_LINES = (50_000, 100_000, 150_000)


def _band(frame: pd.DataFrame, value: str, by: str = "day") -> pd.DataFrame:
    """Mean and 95 % t interval of ``value`` across replications, per ``by``."""
    g = frame.groupby(by)[value]
    out = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.count()})
    t = np.array([stats.t.ppf(0.975, n - 1) if n > 1 else np.nan for n in out["n"]])
    half = t * out["sd"].to_numpy() / np.sqrt(out["n"].to_numpy())
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    return out.reset_index()


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _band_traces(band: pd.DataFrame, name: str, colour: str) -> list[go.Scatter]:
    x = band["day"].tolist()
    return [
        go.Scatter(
            x=x + x[::-1],
            y=band["high"].tolist() + band["low"].tolist()[::-1],
            fill="toself",
            fillcolor=_rgba(colour, 0.2),
            line={"width": 0},
            hoverinfo="skip",
            name=f"{name} 95 % CI",
            showlegend=False,
        ),
        go.Scatter(x=x, y=band["mean"], mode="lines", line={"color": colour}, name=name),
    ]


def arms_time_series(
    daily: pd.DataFrame, metric: str = "integrated_delivery_rate", names: dict | None = None
) -> go.Figure:
    """Daily ``metric`` of both arms: the mean over replications with a 95 % band each.

    Args:
        daily: Tidy daily rows with columns ``arm``, ``replication``, ``day`` and ``metric``.
        metric: The daily column to draw.
        names: Display names per arm, e.g. ``{"base": "baseline", "policy": "bundled_payment"}``.
    """
    names = names or {}
    fig = go.Figure()
    for arm in ("base", "policy"):
        rows = daily[daily["arm"] == arm]
        if rows.empty:
            continue
        band = _band(rows, metric)
        for trace in _band_traces(band, names.get(arm, arm), ARM_COLOURS[arm]):
            fig.add_trace(trace)
    fig.update_layout(
        title=f"{metric.replace('_', ' ')} by day (mean of replications, 95 % band)",
        xaxis_title="day",
        yaxis_title=metric.replace("_", " "),
        template=TEMPLATE,
    )
    return legend_below(fig)


def paired_difference(daily: pd.DataFrame, metric: str = "integrated_delivery_rate") -> go.Figure:
    """Daily policy - base difference of ``metric``, paired by replication, with 95 % band."""
    wide = daily.pivot_table(index=["replication", "day"], columns="arm", values=metric)
    if not {"base", "policy"} <= set(wide.columns):
        raise ValueError("daily must hold rows of both arms ('base' and 'policy')")
    diff = (wide["policy"] - wide["base"]).rename("diff").reset_index()
    band = _band(diff, "diff")
    fig = go.Figure(_band_traces(band, "policy - base", DIFF_COLOUR))
    fig.add_hline(y=0.0, line={"color": "grey", "dash": "dot"})
    fig.update_layout(
        title=f"Paired difference in {metric.replace('_', ' ')} (policy - base, 95 % band)",
        xaxis_title="day",
        yaxis_title=f"difference in {metric.replace('_', ' ')}",
        template=TEMPLATE,
        showlegend=False,
    )
    return fig


def ce_plane(runs: pd.DataFrame, thresholds: tuple[int, ...] = WTP_LINES) -> go.Figure:
    """Cost-effectiveness plane: per-replication incremental QALYs (x) and costs (y), per patient.

    Args:
        runs: One row per (arm, replication) with ``cost_per_patient_discounted`` and
            ``qalys_per_patient`` (the ``runs`` frame of a comparison).
        thresholds: Willingness-to-pay lines to draw, USD per QALY.
    """
    wide = runs.pivot_table(
        index="replication",
        columns="arm",
        values=["cost_per_patient_discounted", "qalys_per_patient"],
    )
    d_cost = (
        wide[("cost_per_patient_discounted", "policy")]
        - wide[("cost_per_patient_discounted", "base")]
    )
    d_qaly = wide[("qalys_per_patient", "policy")] - wide[("qalys_per_patient", "base")]
    fig = go.Figure(
        go.Scatter(
            x=d_qaly,
            y=d_cost,
            mode="markers",
            name="replications",
            marker={"color": ARM_COLOURS["policy"], "opacity": 0.6},
            text=[f"replication {r}" for r in wide.index],
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[d_qaly.mean()],
            y=[d_cost.mean()],
            mode="markers",
            name="mean",
            marker={"color": "black", "size": 12, "symbol": "diamond"},
        )
    )
    span = max(float(np.nanmax(np.abs(d_qaly))) if len(d_qaly) else 0.0, 1e-6) * 1.2
    for lam in thresholds:
        fig.add_trace(
            go.Scatter(
                x=[-span, span],
                y=[-lam * span, lam * span],
                mode="lines",
                line={"dash": "dot", "width": 1},
                name=f"${lam:,.0f} per QALY",
            )
        )
    fig.add_hline(y=0.0, line={"color": "grey", "width": 1})
    fig.add_vline(x=0.0, line={"color": "grey", "width": 1})
    fig.update_layout(
        title="Cost-effectiveness plane (per patient, discounted, health-sector perspective)",
        xaxis_title="incremental QALYs per patient",
        yaxis_title="incremental cost per patient, USD",
        template=TEMPLATE,
        xaxis={"range": [-span, span]},
    )
    return fig


def tornado(indices: pd.DataFrame, importance: str | None = None) -> go.Figure:
    """Tornado-style ranking of a sensitivity analysis (most influential on top).

    Args:
        indices: ``SensitivityResult.indices`` (Sobol: ``S1``/``ST`` with ``*_conf``; Morris:
            ``mu_star``/``mu_star_conf``/``sigma``).
        importance: The index to rank by (default ``ST`` or ``mu_star``, whichever exists).
    """
    if importance is None:
        importance = "ST" if "ST" in indices.columns else "mu_star"
    df = indices.sort_values(importance, ascending=True, na_position="first")
    fig = go.Figure()
    if importance == "ST":
        fig.add_trace(
            go.Bar(
                y=df["param"],
                x=df["ST"],
                orientation="h",
                name="total order (ST)",
                error_x={"type": "data", "array": df["ST_conf"]},
                marker={"color": ARM_COLOURS["policy"]},
            )
        )
        fig.add_trace(
            go.Bar(
                y=df["param"],
                x=df["S1"],
                orientation="h",
                name="first order (S1)",
                error_x={"type": "data", "array": df["S1_conf"]},
                marker={"color": ARM_COLOURS["base"]},
            )
        )
        xlabel = "Sobol index (share of output variance)"
    else:
        fig.add_trace(
            go.Bar(
                y=df["param"],
                x=df["mu_star"],
                orientation="h",
                name="mu* (mean |elementary effect|)",
                error_x={"type": "data", "array": df["mu_star_conf"]},
                marker={"color": ARM_COLOURS["policy"]},
            )
        )
        fig.add_trace(
            go.Bar(
                y=df["param"],
                x=df["sigma"],
                orientation="h",
                name="sigma (interactions / non-linearity)",
                marker={"color": ARM_COLOURS["base"]},
            )
        )
        xlabel = "Morris elementary effects"
    fig.update_layout(
        title="Sensitivity: parameters ranked by influence",
        barmode="group",
        xaxis_title=xlabel,
        template=TEMPLATE,
        height=max(300, 60 * len(df) + 150),
    )
    return legend_below(fig)
