"""The Compare page: the current Explore settings against a preset, paired replications.

The runs go through ``scenarios.compare.compare`` (the same code as ``ketasim compare``) in a
background task, so the page stays usable and a progress bar counts finished runs. Replication
``r`` of both arms uses the same seed and replication number (common random numbers), so each
difference is the policy's effect on the same simulated people.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import pandas as pd
import solara
import solara.lab

from dashboards import charts
from dashboards.explore import ExploreSession, LeverControl, Prose, use_session
from dashboards.levers import (
    COMPARE_LEVERS,
    CompareSettings,
    scenario_toml,
    with_compare_setting,
)
from model.params import Scenario
from scenarios.loader import ScenarioError, load_scenario, preset_names

if TYPE_CHECKING:  # scipy (behind compare) costs seconds at import: load it on first use
    from scenarios.compare import CompareResult

# Runs done and total of the comparison in progress. A module-level reactive holds one value per
# browser session (Solara keeps it per virtual kernel), unlike a plain module-level object.
runs_done: solara.Reactive[tuple[int, int]] = solara.reactive((0, 0))


class CompareCancelled(Exception):
    """Raised inside the progress callback to stop a superseded or cancelled comparison."""


@solara.lab.task(prefer_threaded=True)
def compare_task(
    base: str, policy: Scenario, settings: CompareSettings
) -> tuple[CompareResult, CompareSettings]:
    """Run the paired comparison in a worker thread, reporting progress in percent.

    Returns the result with the settings it ran with (the form may change afterwards).
    """
    from scenarios.compare import compare

    compare_task.progress = 0.0
    runs_done.set((0, 2 * settings.replications))

    def progress(done: int, total: int) -> None:
        if not compare_task.is_current():
            raise CompareCancelled
        compare_task.progress = 100.0 * done / total
        runs_done.set((done, total))

    result = compare(
        base,
        policy,
        settings.replications,
        n_patients=settings.n_patients,
        days=settings.days,
        seed=settings.seed,
        workers=1,  # in-process: a background thread must not start a Dask cluster
        progress=progress,
    )
    return result, settings


# --------------------------------------------------------------------------- formatting
_PCT_SUFFIXES = ("_rate", "_rate_180d", "_index")


def _is_share(metric: str) -> bool:
    return metric.startswith("share_") or metric.endswith(_PCT_SUFFIXES)


def _is_money(metric: str) -> bool:
    return metric.startswith(("spend_", "cost_", "pharma_", "incremental_cost", "icer", "nmb"))


def format_metric(metric: str, value: Any, diff: bool = False) -> str:
    """A metric value for the results table: shares in %, money in USD, else 3 digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    value = float(value)
    sign = "+" if diff and value > 0 else ""
    if _is_share(metric):
        return f"{sign}{100.0 * value:.1f}" + (" pts" if diff else " %")
    if _is_money(metric):
        return f"{'-' if value < 0 else sign}${abs(value):,.0f}"
    return f"{sign}{value:.3g}"


def results_frame(result: CompareResult, settings: CompareSettings) -> pd.DataFrame:
    """The comparison as one tidy table for the CSV download.

    One row per metric (arm means, paired difference and its 95 % interval) followed by the
    cost-effectiveness rows (their value in ``diff_mean``), each tagged with what was compared.
    """
    econ = [
        {"metric": "incremental_cost_per_patient_discounted", "diff_mean": result.incremental_cost},
        {"metric": "incremental_qalys_per_patient", "diff_mean": result.incremental_qalys},
        {"metric": "icer_usd_per_qaly", "diff_mean": result.icer},
        *({"metric": f"nmb_at_{k}_per_qaly", "diff_mean": v} for k, v in result.nmb.items()),
    ]
    table = pd.concat([result.metrics, pd.DataFrame(econ)], ignore_index=True)
    table.insert(0, "policy", result.policy)
    table.insert(0, "base", result.base)
    table["replications"] = result.replications
    table["n_patients"] = settings.n_patients
    table["days"] = settings.days
    table["seed"] = settings.seed
    table["perspective"] = "health sector (payers + patients), discounted"
    return table


def icer_sentence(result: CompareResult) -> str:
    """The ICER in words (a negative ICER is ambiguous, so say which quadrant it is in)."""
    d_cost, d_qaly = result.incremental_cost, result.incremental_qalys
    if result.icer is None or math.isnan(d_qaly) or math.isnan(d_cost):
        return "ICER undefined (no QALY difference)."
    if d_qaly > 0 and d_cost <= 0:
        return "The policy dominates: more QALYs at lower cost."
    if d_qaly < 0 and d_cost >= 0:
        return "The policy is dominated: fewer QALYs at higher cost."
    if d_qaly > 0:
        return f"ICER ${result.icer:,.0f} per QALY gained."
    return f"ICER ${result.icer:,.0f} per QALY: saves money but loses QALYs."


# --------------------------------------------------------------------------- components
@solara.component
def ResultsView(result: CompareResult, settings: CompareSettings) -> None:
    """Headline, charts, metric table, cost-effectiveness and the CSV download."""
    m = result.metrics.set_index("metric")
    idr = m.loc["integrated_delivery_rate"]
    esc = html.escape
    Prose(
        f"<h3>{esc(result.policy)} vs {esc(result.base)}</h3>"
        f"<p>{result.replications} paired replications × {settings.n_patients:,} patients × "
        f"{settings.days} days, seed {settings.seed}.<br>"
        f"<b>Integrated delivery rate:</b> {format_metric('x_rate', idr.base_mean)} → "
        f"{format_metric('x_rate', idr.policy_mean)} (difference "
        f"{format_metric('x_rate', idr.diff_mean, diff=True)}, 95 % interval "
        f"{format_metric('x_rate', idr.diff_ci_low, diff=True)} to "
        f"{format_metric('x_rate', idr.diff_ci_high, diff=True)}).</p>",
        classes=["compare-headline"],
    )
    nmb = ", ".join(f"${int(k):,}/QALY: {format_metric('nmb', v)}" for k, v in result.nmb.items())
    Prose(
        "<p><b>Cost-effectiveness</b> (per patient in the catchment; health-sector perspective, "
        "payers + patients; costs and QALYs discounted):<br>"
        f"incremental cost {format_metric('incremental_cost', result.incremental_cost, True)}, "
        f"incremental QALYs {format_metric('qalys', result.incremental_qalys, True)}. "
        f"{esc(icer_sentence(result))}<br>Net monetary benefit at {nmb}.</p>",
        classes=["compare-economics"],
    )
    with solara.ColumnsResponsive(12, large=6):
        solara.FigurePlotly(charts.diff_forest_figure(result.metrics, result.base, result.policy))
        solara.FigurePlotly(charts.arms_delivery_figure(result.daily))
    table = pd.DataFrame(
        {
            "metric": result.metrics["metric"],
            "base": [format_metric(r.metric, r.base_mean) for r in result.metrics.itertuples()],
            "policy": [format_metric(r.metric, r.policy_mean) for r in result.metrics.itertuples()],
            "difference": [
                format_metric(r.metric, r.diff_mean, True) for r in result.metrics.itertuples()
            ],
            "95 % interval": [
                f"{format_metric(r.metric, r.diff_ci_low, True)} to "
                f"{format_metric(r.metric, r.diff_ci_high, True)}"
                for r in result.metrics.itertuples()
            ],
        }
    )
    with solara.Details("All metrics (paired differences, policy - base)", expand=False):
        Prose(table.to_html(index=False, escape=True, border=0, classes=["compare-table"]))
    solara.FileDownload(
        data=lambda: results_frame(result, settings).to_csv(index=False),
        filename=f"compare_{result.policy}_vs_{result.base}.csv".replace("+", "_"),
        label="Download results (CSV)",
        mime_type="text/csv",
    )


@solara.component
def ComparePage() -> None:
    """Current settings vs a chosen preset, run in the background with a progress bar."""
    session: ExploreSession = use_session()
    base, set_base = solara.use_state("baseline")
    settings, set_settings = solara.use_state(
        CompareSettings(n_patients=session.run.value.n_patients, days=session.run.value.days)
    )
    error, set_error = solara.use_state("")
    preset = session.preset.value
    levers = session.levers.value
    run = session.run.value
    policy = session.scenario
    total = 2 * settings.replications

    def change(name: str, raw: Any) -> None:
        set_settings(with_compare_setting(settings, name, raw))

    def start() -> None:
        try:
            load_scenario(base)  # an unknown preset is refused before anything runs
        except ScenarioError as exc:
            set_error(str(exc))
            return
        set_error("")
        compare_task(base, policy, settings)

    with solara.Column(style={"padding": "8px", "max-width": "1400px"}):
        Prose(
            "<h2>Compare</h2><p>Your current Explore settings "
            f"(<b>{html.escape(policy.name)}</b>) against a preset, in paired replications: "
            "replication <i>r</i> of both arms uses the same random draws, so each difference "
            "is the policy's effect on the same simulated people. Intervals are 95 % paired "
            "<i>t</i> intervals. Runs use the same code as <code>ketasim compare</code>.</p>"
        )
        with solara.Row(gap="16px", style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            with solara.Column(style={"min-width": "260px"}):
                solara.Select(
                    label="Compare against preset (base arm)",
                    value=base,
                    values=preset_names(),
                    on_value=set_base,
                )
                if policy.name == base:
                    solara.Text(
                        "Your settings are this preset's own: the differences will be zero. "
                        "Move a lever on Explore or pick another preset.",
                        style={"color": "#8a6d3b", "font-size": "0.85rem"},
                    )
            for lever in COMPARE_LEVERS:
                with solara.Column(style={"min-width": "240px", "flex": "1 1 240px"}):
                    LeverControl(
                        lever,
                        getattr(settings, lever.name),
                        lambda raw, name=lever.name: change(name, raw),
                    ).key(f"cmp-{lever.name}")
        with solara.Row(gap="8px", style={"align-items": "center", "flex-wrap": "wrap"}):
            solara.Button(
                "Run comparison",
                on_click=start,
                disabled=compare_task.pending,
                color="primary",
            )
            if compare_task.pending:
                solara.Button("Cancel", on_click=compare_task.cancel)
            solara.FileDownload(
                data=lambda: scenario_toml(preset, levers, run),
                filename=f"{policy.name.replace('+', '_')}.toml",
                label="Download current settings (scenario TOML)",
                mime_type="application/toml",
            )
        if error:
            solara.Error(error)
        if compare_task.pending:
            pct = float(compare_task.progress or 0.0)
            done, running_total = runs_done.value
            solara.ProgressLinear(value=pct if pct > 0 else True)
            solara.Text(
                f"{done} of {running_total} runs done (the page stays usable meanwhile).",
                classes=["compare-progress"],
            )
        elif compare_task.error:
            exc = compare_task.exception
            if not isinstance(exc, CompareCancelled):
                solara.Error(f"Comparison failed: {exc}")
        elif compare_task.cancelled:
            solara.Info("Comparison cancelled.")
        else:
            solara.Text(f"{total} runs ({settings.replications} per arm) when you press Run.")
        shown = compare_task.value if compare_task.finished else compare_task.latest
        if shown is not None:
            if compare_task.pending:
                solara.Text("Previous results, until the new comparison finishes:")
            ResultsView(*shown)
