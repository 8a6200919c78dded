"""The Explore page: a per-session model, the policy levers, step / play / reset, plotly panels.

Why not Mesa's ``SolaraViz``: it owns the app bar and the sidebar (this app has three pages), its
``model_params`` controls cannot be set from a preset picker, it has no place for a validation
message beside a field, and its Play steps one day at a time. This page keeps SolaraViz's
contract instead: the model is built per browser session, Reset rebuilds it from the current
(valid) settings with the same seed, and every panel re-renders after each step.

Settings apply from day 0: many levers are read when institutions are set up (therapist supply,
patent expiry, the clinic mix), so changing one rebuilds the model and restarts the run rather
than pretending it took effect mid-run.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import solara
import solara.lab

from agents.clinical import plasticity_pulse
from agents.patient import CareCategory, Patient, Route
from agents.policy import PolicyLevers
from agents.prescriber import BusinessModel
from dashboards import charts
from dashboards import metric_format as fmt
from dashboards.levers import (
    DAYS_PER_STEP,
    GROUPS,
    LEVERS,
    PAYMENT,
    RUN,
    RUN_LEVERS,
    Lever,
    LeverError,
    LeverKind,
    format_value,
    make_scenario,
    preset_levers,
    with_lever,
    with_run_setting,
)
from dashboards.plotly_widget import Chart, figure_json
from model.catchment import lever_warnings
from model.model import KetasimModel
from model.params import RunSettings, Scenario
from scenarios.loader import preset_names

DEFAULT_PRESET = "baseline"
OPEN_GROUPS = frozenset({PAYMENT, RUN})
"""The lever groups open when a session starts (the others open on a click)."""
PLASTICITY_DAYS_SHOWN = 28.0
"""The delay histogram's x range: the window closes within ~1-2 weeks (docs/ODD.md §3.3)."""
PLAY_PAUSE_S = 0.05
"""Pause between animated steps, so the browser can draw each one."""
RUN_TO_END_RENDER_EVERY = 13
"""Steps between redraws in Run to end (13 weekly steps = a quarter)."""


# --------------------------------------------------------------------------- frames from model
_ROUTE_LABEL = {
    Route.NONE: "No clinic chosen",
    Route.INFUSION_CASH: "Infusion (cash) clinic",
    Route.REMS_ESKETAMINE: "REMS esketamine clinic",
    Route.INTEGRATED: "Integrated programme",
    Route.THERAPY_ONLY: "Therapy only, no clinic",
}
_CARE_LABEL = {
    CareCategory.INTEGRATED: "Integrated",
    CareCategory.DRUG_ONLY: "Drug only",
    CareCategory.THERAPY_ONLY: "Therapy only",
    CareCategory.UNTREATED: "Untreated",
    CareCategory.DROPPED_OUT: "Dropped out",
}
_PAYEE_OF_MODEL = {
    BusinessModel.INFUSION_CASH: "Infusion (cash) clinics",
    BusinessModel.REMS_ESKETAMINE: "REMS esketamine clinics",
    BusinessModel.INTEGRATED: "Integrated programmes",
}
_SOURCE_LABEL = {
    "commercial": "Commercial",
    "medicaid": "Medicaid",
    "medicare": "Medicare",
    "patient": "Patients",
}


def flow_frame(model: KetasimModel) -> pd.DataFrame:
    """One row per patient who has sought care: prescriber model, care received, outcome now.

    ``patient_frame()`` has no route column and evaluates severity at the run's last day, so the
    route is read from the patient agents (the business model of the episode's clinic, kept
    after discharge or dropout; a patient re-choosing after a prior-auth denial or relapse shows
    as "No clinic chosen") and the outcome from the population's current response flags.
    """
    pop = model.population
    sought = np.flatnonzero(pop.sought)
    routes = np.zeros(pop.n, dtype=np.int8)
    for agent in model.agents_by_type.get(Patient, ()):
        routes[agent.idx] = int(agent.route)
    cats = pop.categories()[sought]
    treated = pop.treated[sought]
    outcome = np.where(
        ~treated,
        "Not treated",
        np.where(
            pop.remitting[sought],
            "In remission",
            np.where(pop.responding[sought], "In response", "No response"),
        ),
    )
    return pd.DataFrame(
        {
            "patient": sought,
            "prescriber_model": [_ROUTE_LABEL[Route(r)] for r in routes[sought]],
            "care": [_CARE_LABEL[CareCategory(c)] for c in cats],
            "outcome": outcome,
        }
    )


def money_frame(model: KetasimModel) -> pd.DataFrame:
    """Paid money by (source, silo, payee), USD, from the claims ledger.

    Clinics are grouped by their business model *now*; a clinic that switched model mid-run has
    all its revenue shown under its current model.
    """
    claims = model.claims_frame()
    if claims.empty:
        return pd.DataFrame({c: [] for c in charts.MONEY_REQUIRED})
    paid = claims[(claims["status"] != "denied") & (claims["cents"] > 0)]
    clinic_group = {c.unique_id: _PAYEE_OF_MODEL[c.business_model] for c in model.prescribers}
    kind = paid["payee_kind"].astype(str)
    payee = np.where(
        kind == "therapist",
        "Therapists",
        np.where(
            kind == "pharma",
            "Pharma (esketamine)",
            paid["payee"].map(clinic_group).fillna("Clinics").to_numpy(),
        ),
    )
    out = pd.DataFrame(
        {
            "source": paid["payer"].map(_SOURCE_LABEL).fillna(paid["payer"]).to_numpy(),
            "silo": paid["silo"].to_numpy(),
            "payee": payee,
            "amount_usd": paid["amount_usd"].to_numpy(),
        }
    )
    return out.groupby(["source", "silo", "payee"], as_index=False)["amount_usd"].sum()


def delay_frame(model: KetasimModel) -> pd.DataFrame:
    """Days from each dose to the first session after it (``model.tally.delays``)."""
    return pd.DataFrame({"delay_days": np.array(model.tally.delays, dtype=float)})


def plasticity_frame(scenario: Scenario, days: float = PLASTICITY_DAYS_SHOWN) -> pd.DataFrame:
    """The plasticity pulse after one dose, with the scenario's clinical parameters."""
    t = np.linspace(0.0, days, 561)
    return pd.DataFrame({"days": t, "plasticity": plasticity_pulse(t, scenario.clinical)})


@dataclass(frozen=True)
class Snapshot:
    """Everything the panels draw, read from the model at one moment."""

    day: float
    days: int
    daily: pd.DataFrame
    flow: pd.DataFrame
    money: pd.DataFrame
    delays: pd.DataFrame
    plasticity: pd.DataFrame
    window: tuple[float, float]


def snapshot(model: KetasimModel) -> Snapshot:
    """Read the frames the panels need (the caller holds the model's lock)."""
    sc = model.scenario
    return Snapshot(
        day=float(model.time),
        days=model.days,
        daily=model.daily_frame(),
        flow=flow_frame(model),
        money=money_frame(model),
        delays=delay_frame(model),
        plasticity=plasticity_frame(sc),
        window=(sc.metrics.window_start_days, sc.metrics.window_end_days),
    )


PANELS: tuple[tuple[str, Callable[[Snapshot], go.Figure]], ...] = (
    ("delivery", lambda s: charts.delivery_rate_figure(s.daily)),
    ("pathways", lambda s: charts.pathway_shares_figure(s.daily)),
    ("severity", lambda s: charts.severity_figure(s.daily)),
    ("spending", lambda s: charts.spending_figure(s.daily)),
    ("patient_flow", lambda s: charts.patient_flow_sankey(s.flow)),
    ("money_flow", lambda s: charts.money_flow_sankey(s.money)),
    ("delays", lambda s: charts.delay_histogram_figure(s.delays, s.plasticity, *s.window)),
)
"""The Explore panels, in display order (two a row on wide screens; the Sankeys side by side):
(id, figure from a snapshot)."""


def build_figures(snap: Snapshot) -> dict[str, go.Figure]:
    """Every Explore figure for one snapshot."""
    return {key: make(snap) for key, make in PANELS}


def warm_up() -> None:
    """Build a session, step it and draw its figures once, so the first page is not the first."""
    session = ExploreSession()
    for _ in range(2):
        session.advance()
        for fig in build_figures(session.snapshot()).values():
            figure_json(fig)


# --------------------------------------------------------------------------- session state
class ExploreSession:
    """The state of one browser session: settings, the model, play state.

    Created once per session by the app's layout (never at module level, which would share one
    model between every analyst). Reactive fields re-render the components that read them; the
    model itself is a plain attribute guarded by a lock, because Play steps it from a worker
    thread while the page may be reading it.
    """

    def __init__(self, preset: str = DEFAULT_PRESET) -> None:
        levers, run, description = preset_levers(preset)
        self.preset = solara.reactive(preset)
        self.description = solara.reactive(description)
        self.levers: solara.Reactive[PolicyLevers] = solara.reactive(levers)
        self.run: solara.Reactive[RunSettings] = solara.reactive(run)
        self.version = solara.reactive(0)  # bumped after every step or rebuild
        self.open_groups: solara.Reactive[frozenset[str]] = solara.reactive(OPEN_GROUPS)
        self.playing = solara.reactive(False)
        self.lock = threading.RLock()
        self.scenario = make_scenario(preset, levers, run)
        self.model = KetasimModel(self.scenario)

    # -- settings ---------------------------------------------------------------------------
    def _apply(self, preset: str, levers: PolicyLevers, run: RunSettings) -> None:
        """Validate the whole scenario, then adopt it and rebuild (nothing changes on error)."""
        scenario = make_scenario(preset, levers, run)
        self.playing.set(False)
        with self.lock:
            self.scenario = scenario
            self.model = KetasimModel(scenario)
        self.preset.set(preset)
        self.levers.set(levers)
        self.run.set(run)
        self.version.set(self.version.value + 1)

    def set_lever(self, name: str, raw: Any) -> None:
        """Change one policy lever.

        Raises:
            LeverError: The value is refused; the running model and settings are unchanged.
        """
        self._apply(self.preset.value, with_lever(self.levers.value, name, raw), self.run.value)

    def set_run_setting(self, name: str, raw: Any) -> None:
        """Change one run setting (patients, days, seed).

        Raises:
            LeverError: The value is refused; the running model and settings are unchanged.
        """
        run = with_run_setting(self.run.value, name, raw)
        self._apply(self.preset.value, self.levers.value, run)

    def load_preset(self, preset: str) -> None:
        """Load a preset's levers (the run settings the analyst chose are kept).

        Raises:
            LeverError: When ``preset`` is unknown.
        """
        levers, _run, description = preset_levers(preset)
        self._apply(preset, levers, self.run.value)
        self.description.set(description)

    # -- running ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Rebuild the model from the current settings (same seed: the same run again)."""
        self._apply(self.preset.value, self.levers.value, self.run.value)

    def advance(self) -> bool:
        """Advance the model one step (``DAYS_PER_STEP`` days); False at the end of the run."""
        with self.lock:
            model = self.model
            if model.time >= model.days:
                return False
            model.run_until(min(float(model.time) + DAYS_PER_STEP, float(model.days)))
            return True

    def step(self) -> bool:
        """One step and a redraw; False when the run had already ended."""
        moved = self.advance()
        if moved:
            self.version.set(self.version.value + 1)
        return moved

    def at_end(self) -> bool:
        """Whether the run has reached its last day."""
        with self.lock:
            return self.model.time >= self.model.days

    def snapshot(self) -> Snapshot:
        """The panels' data at this moment."""
        with self.lock:
            return snapshot(self.model)


@solara.lab.task(prefer_threaded=True)
def play_task(session: ExploreSession, render_every: int = 1) -> None:
    """Step the session's model in the background until the end, Pause, or a new call.

    Args:
        session: The browser session.
        render_every: Redraw after this many steps (1 animates every week).
    """
    n = 0
    try:
        while session.playing.value and play_task.is_current():
            if not session.advance():
                break
            n += 1
            if n % render_every == 0:
                session.version.set(session.version.value + 1)
                time.sleep(PLAY_PAUSE_S)
    finally:
        session.version.set(session.version.value + 1)
        session.playing.set(False)


SESSION = solara.create_context(None)
"""The ``ExploreSession`` of this browser session, provided by the app's layout."""


def use_session() -> ExploreSession:
    """The current browser session's state (creates one when a page is used on its own)."""
    provided = solara.use_context(SESSION)
    fallback = solara.use_memo(lambda: None if provided is not None else ExploreSession(), [])
    return provided if provided is not None else fallback


# --------------------------------------------------------------------------- components
def slider_echo(lever: Lever, shown: float, raw: Any) -> bool:
    """Whether a slider event is the widget snapping the shown value to its grid.

    Vuetify's slider rounds a value that is off its step grid (365 days on a 7-day grid) or
    outside its range, and reports the rounded value as if the user had moved it. Such an echo
    lies within half a step of what was shown; a real move lands on another grid point.
    """
    try:
        return abs(float(raw) - shown) <= lever.step / 2.0 * (1.0 + 1e-9)
    except (TypeError, ValueError):
        return False


@solara.component
def Prose(html_text: str, classes: list[str] | None = None, style: str = "") -> None:
    """A block of trusted HTML (our own text, escaped where it comes from data).

    Not ``solara.Markdown``: it always loads KaTeX and Mermaid from Solara's CDN path, which the
    offline ``solara-assets`` bundle lacks, so the server reaches for the internet on every page.
    """
    solara.HTML(tag="div", unsafe_innerHTML=html_text, classes=classes or [], style=style)


@solara.component
def LeverControl(lever: Lever, value: Any, on_change: Callable[[Any], None]) -> None:
    """One lever: a switch, a choice, or a slider with a typed field; refusals shown beside it.

    Args:
        lever: The lever's metadata.
        value: Its current (valid) value.
        on_change: Applies a new raw value; raises ``LeverError`` to refuse it.
    """
    error, set_error = solara.use_state("")
    text, set_text = solara.use_state(format_value(lever, value))

    # A new valid value (typed, slid, or from a preset) replaces the text and clears the error.
    def sync() -> None:
        set_text(format_value(lever, value))
        set_error("")

    solara.use_effect(sync, [value])

    def submit(raw: Any) -> None:
        try:
            on_change(raw)
        except LeverError as exc:
            set_error(str(exc))
        else:
            set_error("")

    def typed(raw: str | None) -> None:
        set_text(raw or "")
        submit(raw or "")

    numeric = lever.kind in (LeverKind.FLOAT, LeverKind.INT)
    shown = min(max(float(value), lever.lo), lever.hi) if numeric else 0.0

    def slid(raw: float) -> None:
        if not slider_echo(lever, shown, raw):
            submit(raw)

    with solara.Column(gap="0px", classes=["lever", f"lever-{lever.name}"]):
        match lever.kind:
            case LeverKind.SWITCH:
                solara.Switch(label=lever.label, value=bool(value), on_value=submit)
            case LeverKind.CHOICE:
                solara.Text(lever.label, style={"font-size": "0.85rem"})
                solara.ToggleButtonsSingle(
                    value=format_value(lever, value), values=list(lever.choices), on_value=submit
                )
            case LeverKind.FLOAT | LeverKind.INT:
                # The label sits above the slider: a Vuetify slider label does not wrap.
                solara.Text(lever.label, style={"font-size": "0.85rem"})
                with solara.Row(gap="8px", style={"align-items": "center"}):
                    with solara.Column(style={"flex": "1 1 auto", "min-width": "0"}):
                        if lever.kind is LeverKind.INT:
                            solara.SliderInt(
                                label="",
                                value=int(shown),
                                min=int(lever.lo),
                                max=int(lever.hi),
                                step=int(lever.step),
                                on_value=slid,
                            )
                        else:
                            solara.SliderFloat(
                                label="",
                                value=shown,
                                min=lever.lo,
                                max=lever.hi,
                                step=lever.step,
                                on_value=slid,
                            )
                    solara.InputText(
                        label=lever.unit,
                        value=text,
                        on_value=typed,
                        continuous_update=False,
                        error=bool(error),
                        dense=True,
                        style={"max-width": "135px"},
                        classes=[f"input-{lever.name}"],
                    )
            case _:
                raise ValueError(f"unknown lever kind {lever.kind!r}")
        if error:
            solara.Text(
                f"Refused: {error} (still running with {format_value(lever, value)})",
                style={"color": "#c62828", "font-size": "0.8rem"},
                classes=["lever-error"],
            )
        elif lever.help:
            solara.Text(lever.help, style={"color": "#777", "font-size": "0.75rem"})


@solara.component
def SettingsPanel(session: ExploreSession) -> None:
    """Preset picker, run settings and the grouped policy levers."""
    levers = session.levers.value
    run = session.run.value
    preset_error, set_preset_error = solara.use_state("")

    def pick(name: str) -> None:
        try:
            session.load_preset(name)
            set_preset_error("")
        except LeverError as exc:
            set_preset_error(str(exc))

    with solara.Column(gap="6px"):
        solara.Select(
            label="Preset (loads its levers)",
            value=session.preset.value,
            values=preset_names(),
            on_value=pick,
        )
        if preset_error:
            solara.Text(preset_error, style={"color": "#c62828"})
        with solara.Details("About this preset", expand=False):
            solara.Text(session.description.value or "(no description)")
        for group in GROUPS:
            LeverGroup(
                session,
                group,
                tuple(lv for lv in LEVERS if lv.group == group),
                levers,
                session.set_lever,
            ).key(group)
        LeverGroup(session, RUN, RUN_LEVERS, run, session.set_run_setting).key(RUN)


@solara.component
def LeverGroup(
    session: ExploreSession,
    title: str,
    levers: tuple[Lever, ...],
    values: Any,
    apply: Callable[[str, Any], None],
) -> None:
    """One group of levers under a header that opens and closes it.

    A closed group draws no controls: the levers' widgets are most of what the browser builds
    before Explore appears, and again on every return to Explore. Which groups are open is kept
    in the session, so it survives page switches.
    """
    is_open = title in session.open_groups.value

    def toggle() -> None:
        session.open_groups.set(session.open_groups.value ^ {title})

    with solara.Card(margin=0, style={"padding": "0px 8px"}, classes=["lever-group"]):
        solara.Button(
            title,
            icon_name="mdi-chevron-up" if is_open else "mdi-chevron-down",
            text=True,
            on_click=toggle,
            classes=["lever-group-toggle"],
            style={"font-size": "1rem", "text-transform": "none", "width": "100%"},
        )
        if is_open:
            for lever in levers:
                LeverControl(
                    lever,
                    getattr(values, lever.name),
                    lambda raw, name=lever.name: apply(name, raw),
                ).key(lever.name)


HEADLINE: tuple[tuple[str, str], ...] = (
    ("integrated_delivery_rate", "kpi-idr"),
    ("share_integrated", "kpi-share"),
    ("response_rate", "kpi-resp"),
    ("mean_severity", "kpi-sev"),
    ("spend_total", "kpi-spend"),
)
"""The number boxes above the charts: (registry metric, CSS class)."""


def headline_values(daily: pd.DataFrame) -> dict[str, float | None]:
    """The headline metrics on the last simulated day (spending summed over the silos)."""
    if daily.empty:
        return {name: None for name, _ in HEADLINE}
    last = daily.iloc[-1]
    values: dict[str, float | None] = {}
    for name, _ in HEADLINE:
        if name == "spend_total":
            values[name] = sum(float(last[f"spend_{k}"]) for k in charts.SILO_COLOURS)
        else:
            value = float(last[name])
            values[name] = value if np.isfinite(value) else None
    return values


def headline_html(daily: pd.DataFrame, day: float) -> str:
    """The number boxes: the registry's label, the value in its unit, what it counts (hover)."""
    values = headline_values(daily)
    boxes = []
    for name, cls in HEADLINE:
        m = fmt.info(name)
        assert m is not None, name  # every headline metric is registered (tested)
        when = f"day {day:g}" if m.period == "at the run's end" else f"day 0 to {day:g}"
        boxes.append(
            f'<div class="kpi" title="{html.escape(m.definition)}">'
            f'<div class="kpi-label">{html.escape(m.label)}</div>'
            f'<div class="kpi-value {cls}">{html.escape(m.format(values[name]))}</div>'
            f'<div class="kpi-unit">{html.escape(m.unit.value)}, {when}</div></div>'
        )
    return f'<div class="kpis">{"".join(boxes)}</div>'


_HEADLINE_CSS = """
.kpis { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 4px 0 8px; }
.kpi { cursor: help; min-width: 120px; }
.kpi-label { font-size: 0.8rem; color: #555; border-bottom: 1px dotted #999; display: inline; }
.kpi-value { font-size: 1.3rem; }
.kpi-unit { font-size: 0.7rem; color: #777; }
"""


@solara.component
def Headline(snap: Snapshot) -> None:
    """The headline numbers of the run so far; each box's definition shows on hover."""
    solara.Style(_HEADLINE_CSS)
    Prose(headline_html(snap.daily, snap.day))
    if not snap.daily.empty:
        solara.Text(
            "Hover a number for what it counts. Shares are of the people or doses named there.",
            style={"font-size": "0.75rem", "color": "#777"},
        )


@solara.component
def LeverWarnings(scenario: Scenario) -> None:
    """Levers that cannot act at this catchment size or run length (``model.catchment``)."""
    for warning in lever_warnings(scenario):
        solara.Warning(warning[0].upper() + warning[1:], dense=True, classes=["lever-warning"])


@solara.component
def RunControls(session: ExploreSession) -> None:
    """Step / Play / Run to end / Reset, and where the run is."""
    version = session.version.value  # re-render on every step
    playing = session.playing.value
    with session.lock:
        day, days = float(session.model.time), session.model.days
    ended = day >= days

    def play(render_every: int) -> None:
        session.playing.set(True)
        play_task(session, render_every)

    def pause() -> None:
        session.playing.set(False)

    with solara.Row(gap="8px", style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.Button(
            f"Step +{DAYS_PER_STEP} days",
            on_click=session.step,
            disabled=playing or ended,
            color="primary",
        )
        if playing:
            solara.Button("Pause", on_click=pause, color="warning")
        else:
            solara.Button("Play", on_click=lambda: play(1), disabled=ended, color="primary")
        solara.Button(
            "Run to end", on_click=lambda: play(RUN_TO_END_RENDER_EVERY), disabled=playing or ended
        )
        solara.Button("Reset", on_click=session.reset, disabled=playing)
        solara.Text(
            f"Day {day:g} of {days}",
            style={"font-size": "1.1rem", "font-weight": "bold"},
            classes=["sim-day"],
        )
        solara.Text(
            f"One step = {DAYS_PER_STEP} simulated days. Settings apply from day 0: changing "
            "one restarts the run.",
            style={"color": "#666", "font-size": "0.8rem"},
        )
    solara.ProgressLinear(value=100.0 * day / days if playing else False)
    del version


@solara.component
def Panels(session: ExploreSession) -> None:
    """The plotly panels, rebuilt once per step from one snapshot of the model."""
    version = session.version.value
    snap = solara.use_memo(session.snapshot, [version])
    figures = solara.use_memo(lambda: build_figures(snap), [snap])
    Headline(snap)
    with solara.ColumnsResponsive(12, large=6):
        for key, _ in PANELS:
            with solara.Div(classes=["panel", f"panel-{key}"]):
                Chart(figures[key])


@solara.component
def ExplorePage(active: bool = True) -> None:
    """The Explore page: levers in the sidebar, controls and panels in the main area.

    Args:
        active: Whether the page is shown (a hidden page gives the sidebar to the shown one).
    """
    session = use_session()
    # Read the reactive settings so the scenario line follows them (``session.scenario`` is a
    # plain attribute, replaced together with these).
    _ = (session.preset.value, session.levers.value, session.run.value)
    # The Sidebar element is always there and only its content comes and goes: removing the
    # element made reacton build the page's content anew (its seven charts too) on every page
    # switch. An empty Sidebar opens no sidebar.
    with solara.Sidebar():
        if active:
            SettingsPanel(session)
    with solara.Column(style={"padding": "8px"}, classes=["ketasim-explore"]):
        Prose(
            f"<b>Scenario:</b> <code>{html.escape(session.scenario.name)}</code> · "
            f"{session.run.value.n_patients:,} patients. Move a lever, then Play or Run to end: "
            "does integrated, well-timed care rise?"
        )
        LeverWarnings(session.scenario)
        RunControls(session)
        Panels(session)
