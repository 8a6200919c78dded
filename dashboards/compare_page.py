"""The Compare page: the current Explore settings against a preset, paired replications.

The runs go through ``scenarios.compare.compare`` (the same code as ``ketasim compare``) in a
background task, so the page stays usable and a progress bar counts finished runs. Replication
``r`` of both arms uses the same seed and replication number (common random numbers), so each
difference is the policy's effect on the same simulated people.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd
import solara
import solara.lab

from dashboards import charts
from dashboards import metric_format as fmt
from dashboards.explore import ExploreSession, LeverControl, Prose, use_session
from dashboards.levers import (
    COMPARE_LEVERS,
    CompareSettings,
    scenario_toml,
    with_compare_setting,
)
from dashboards.plotly_widget import Chart
from model.catchment import lever_warnings
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
def format_metric(metric: str, value: Any, diff: bool = False) -> str:
    """A metric's value (or a difference, with its sign) in its registry unit."""
    return fmt.diff_text(metric, value) if diff else fmt.value_text(metric, value)


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


# --------------------------------------------------------------------------- components
def metrics_table_html(result: CompareResult) -> str:
    """Every metric: label, unit and period, both arms, the difference and its interval.

    The definition of each metric (what it counts, over what) is the row's second line.
    """
    esc = html.escape
    head = (
        "<tr><th>metric</th><th>unit, period</th><th>base</th><th>policy</th>"
        "<th>difference</th><th>95 % interval</th></tr>"
    )
    rows = []
    for r in result.metrics.itertuples():
        rows.append(
            f"<tr><td><b>{esc(fmt.label(r.metric))}</b><br>"
            f'<span class="metric-definition">{esc(fmt.definition(r.metric))}</span></td>'
            f"<td>{esc(fmt.unit_text(r.metric))}</td>"
            f"<td>{esc(format_metric(r.metric, r.base_mean))}</td>"
            f"<td>{esc(format_metric(r.metric, r.policy_mean))}</td>"
            f"<td>{esc(format_metric(r.metric, r.diff_mean, True))}</td>"
            f"<td>{esc(format_metric(r.metric, r.diff_ci_low, True))} to "
            f"{esc(format_metric(r.metric, r.diff_ci_high, True))}</td></tr>"
        )
    return f'<table class="compare-table">{head}{"".join(rows)}</table>'


_TABLE_CSS = """
.compare-table { border-collapse: collapse; font-size: 0.85rem; }
.compare-table td, .compare-table th { padding: 4px 10px; border-bottom: 1px solid #ddd;
  vertical-align: top; text-align: right; }
.compare-table td:first-child, .compare-table th:first-child,
.compare-table td:nth-child(2) { text-align: left; }
.metric-definition { color: #666; font-size: 0.75rem; }
"""


@solara.component
def ResultsView(result: CompareResult, settings: CompareSettings) -> None:
    """Headline, charts, metric table, cost-effectiveness and the CSV download."""
    m = result.metrics.set_index("metric")
    idr = m.loc["integrated_delivery_rate"]
    esc = html.escape
    name = "integrated_delivery_rate"
    Prose(
        f"<h3>{esc(result.policy)} vs {esc(result.base)}</h3>"
        f"<p>{result.replications} paired replications × {settings.n_patients:,} patients × "
        f"{settings.days} days, seed {settings.seed}.<br>"
        f"<b>{esc(fmt.label(name))}</b> ({esc(fmt.unit_text(name))}): "
        f"{format_metric(name, idr.base_mean)} → {format_metric(name, idr.policy_mean)} "
        f"(difference {format_metric(name, idr.diff_mean, diff=True)}, 95 % interval "
        f"{format_metric(name, idr.diff_ci_low, diff=True)} to "
        f"{format_metric(name, idr.diff_ci_high, diff=True)}).<br>"
        f'<span class="metric-definition">{esc(fmt.definition(name))}</span></p>',
        classes=["compare-headline"],
    )
    nmb = ", ".join(
        f"${int(k):,}/QALY: {format_metric('nmb', v, True)}" for k, v in result.nmb.items()
    )
    Prose(
        "<p><b>Cost-effectiveness</b> (per patient in the catchment; health-sector perspective, "
        "payers + patients; costs and QALYs discounted):<br>"
        f"incremental cost {format_metric('incremental_cost', result.incremental_cost, True)} "
        "per patient, incremental QALYs "
        f"{format_metric('incremental_qalys', result.incremental_qalys, True)} per patient. "
        f"{esc(result.icer_text())}<br>Net monetary benefit per patient at {nmb}.</p>",
        classes=["compare-economics"],
    )
    with solara.Div(classes=["panel", "panel-forest"]):
        Chart(
            charts.diff_forest_figure(
                result.metrics, result.base, result.policy, charts.COMPARE_METRICS
            )
        )
    with solara.Div(classes=["panel", "panel-arms"]):
        Chart(charts.arms_delivery_figure(result.daily))
    solara.Style(_TABLE_CSS)
    with solara.Details("All metrics (paired differences, policy - base)", expand=False):
        Prose(metrics_table_html(result))
    solara.FileDownload(
        data=lambda: results_frame(result, settings).to_csv(index=False),
        filename=f"compare_{result.policy}_vs_{result.base}.csv".replace("+", "_"),
        label="Download results (CSV)",
        mime_type="text/csv",
    )


@solara.component
def CatchmentWarnings(base: str, policy: Scenario, settings: CompareSettings) -> None:
    """Levers of either arm that cannot act at the comparison's size and length."""
    try:
        arms = [load_scenario(base), policy]
    except ScenarioError:
        return  # the unknown preset is reported when the comparison is asked for
    lines = [w for sc in arms for w in lever_warnings(sc, settings.n_patients, settings.days)]
    for warning in dict.fromkeys(lines):
        solara.Warning(warning[0].upper() + warning[1:], dense=True, classes=["lever-warning"])


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

    with solara.Column(
        style={"padding": "8px", "max-width": "1400px"}, classes=["ketasim-compare"]
    ):
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
        CatchmentWarnings(base, policy, settings)
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
