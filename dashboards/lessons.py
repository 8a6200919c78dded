"""Educator lessons (the Learn page): the lesson-file schema, the loader and the runner.

A lesson is one TOML file in ``dashboards/lessons/``: a question, the predictions a class can make,
a pair of runs that answers it (two preset scenarios, or two virtual-trial protocols), the one chart
that shows the answer, and a short explanation with its source. Teachers add or edit lessons by
editing these files; no code changes. The file is validated once, when it is loaded, by the strict
models below; a bad file raises ``LessonError`` with one line naming the file and the key.

The verdict shown next to the class's prediction is computed from the runs (arm B's value of the
lesson's ``prediction.metric`` compared with arm A's), never written in the file.
"""

from __future__ import annotations

import functools
import html
import math
import os
import re
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agents import clinical as cm
from agents.clinical_state import ClinicalState
from dashboards import lesson_charts
from dashboards import metric_format as fmt
from model.metrics import SUMMARY_KEYS
from model.params import Scenario
from model.streams import Streams
from model.trial import GRID_STEP_DAYS, TrialProtocol, TrialResult, run_trial
from scenarios import api
from scenarios.loader import ScenarioError, scenario_from_dict

LESSON_DIR = Path(__file__).resolve().parent / "lessons"
"""Where the bundled lesson files live (one ``NAME.toml`` per lesson)."""

MAX_LESSON_BYTES = 100_000
MAX_PRESET_PATIENTS = 5_000
MAX_PRESET_DAYS = 730
MAX_TRIAL_PATIENTS = 5_000
# Why these caps: every lesson must run to its chart in the browser in under a minute on a
# classroom laptop. Measured here, a preset run costs about 1.3-2.7 s per 1,000 patients x 365
# days, so a pair at the caps stays near 30 s; a trial of 5,000 patients runs in a few seconds.

_TRIAL_METRIC = re.compile(
    r"^(?:(?P<series>response_rate|remission_rate|mean_severity|mean_b|mean_r|mean_n)"
    r"@(?P<day>0|[1-9]\d{0,4})|(?P<scalar>responders_after_last_dose|median_days_to_relapse))$"
)
_EXTENDED_KEYS = ("cost_per_patient_discounted", "spend_total")
PRESET_METRICS = tuple(
    k for k in (*SUMMARY_KEYS, *_EXTENDED_KEYS) if k not in {"scenario", "seed", "n_patients"}
)
"""Scalar metrics a preset lesson may predict: the run summary's numeric keys."""

TRIAL_CURVE_METRICS = ("response_rate", "remission_rate", "mean_severity")
SILO_COLUMNS = ("spend_medical", "spend_behavioral", "spend_out_of_pocket", "spend_bundle")
LAYER_COLUMNS = ("mean_b", "mean_r", "mean_n")

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class LessonError(ValueError):
    """A lesson file that cannot be used, or a lesson that cannot run; the message is one line."""


class ChartKind(StrEnum):
    """The charts a lesson can show (each is a function in ``dashboards/lesson_charts.py``)."""

    TRIAL_CURVE = "trial_curve"  # response or remission over time, two trial arms
    LAYERS = "layers"  # mean b, r, n over time, two trial arms
    DAILY = "daily"  # one daily series over time, two preset runs
    BARS = "bars"  # end-of-run summary metrics side by side, two preset runs
    SILO_SPEND = "silo_spend"  # spending per patient by budget silo, two preset runs


_TRIAL_CHARTS = {ChartKind.TRIAL_CURVE, ChartKind.LAYERS}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Arm(_Strict):
    """One side of a lesson's pair: a preset scenario or a virtual-trial protocol."""

    label: Annotated[str, Field(min_length=1, max_length=80)] = Field(
        description="Short name of the arm shown in the chart legend."
    )
    preset: str | None = Field(
        None, description="A preset name, or a scenario TOML path relative to the lesson file."
    )
    protocol: str | None = Field(
        None,
        description="A bundled protocol name, or a protocol TOML path relative to the lesson file.",
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Scenario tables to change on top of the preset, e.g. {policy = {...}}.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Arm:
        if (self.preset is None) == (self.protocol is None):
            raise ValueError("give exactly one of 'preset' or 'protocol'")
        if self.protocol is not None and self.overrides:
            raise ValueError("'overrides' applies to a preset arm only")
        return self


class RunSize(_Strict):
    """How big the lesson's runs are (kept small: a lesson runs live in front of a class)."""

    n_patients: int | None = Field(
        None,
        ge=100,
        le=MAX_PRESET_PATIENTS,
        description="Patients per run (default: 1,500 for presets; the protocol's for trials).",
    )
    days: int | None = Field(
        None, ge=30, le=MAX_PRESET_DAYS, description="Days per preset run (default 365)."
    )
    seed: int = Field(1, ge=0, le=2**31 - 1, description="Seed of both preset arms (paired).")


class Chart(_Strict):
    """The one chart that answers the lesson's question."""

    kind: ChartKind = Field(strict=False, description="One of the ChartKind values.")
    title: Text = Field(description="Chart title.")
    metric: str | None = Field(
        None,
        description=(
            "trial_curve: response_rate | remission_rate | mean_severity; daily: a column of "
            "the daily series."
        ),
    )
    metrics: list[str] = Field(
        default_factory=list, max_length=8, description="bars: summary metrics to show."
    )
    y_label: str | None = Field(None, max_length=100, description="Y-axis label.")


class Prediction(_Strict):
    """What the class predicts, as the direction of arm B relative to arm A on one metric."""

    metric: str = Field(description="The metric compared (see PRESET_METRICS / trial metrics).")
    tolerance: float = Field(
        ge=0.0, allow_inf_nan=False, description="Differences within this count as 'the same'."
    )
    lower: Text = Field(description="Option text: arm B's value is lower than arm A's.")
    same: Text = Field(description="Option text: about the same (within tolerance).")
    higher: Text = Field(description="Option text: arm B's value is higher than arm A's.")


class LessonSpec(_Strict):
    """The contents of one lesson file."""

    title: Annotated[str, Field(min_length=1, max_length=120)]
    order: int = Field(100, ge=0, le=10_000, description="Position in the lesson list.")
    question: Text
    a: Arm
    b: Arm
    run: RunSize = Field(default_factory=RunSize)
    chart: Chart
    prediction: Prediction
    numbers: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Extra metrics shown beside the answer, for both arms (same names as "
        "prediction.metric).",
    )
    explanation: Annotated[str, Field(min_length=1, max_length=3000)]
    source: Text = Field(description="Where the claim comes from (papers, docs/ODD.md sections).")

    @property
    def kind(self) -> Literal["trial", "preset"]:
        """Whether the lesson compares two trial protocols or two preset scenarios."""
        return "trial" if self.a.protocol is not None else "preset"

    @model_validator(mode="after")
    def _consistent(self) -> LessonSpec:
        if (self.a.protocol is None) != (self.b.protocol is None):
            raise ValueError("arms 'a' and 'b' must both be presets or both be protocols")
        trial = self.kind == "trial"
        if trial and self.run.days is not None:
            raise ValueError("run.days applies to preset lessons (a trial runs to follow_up_days)")
        if trial != (self.chart.kind in _TRIAL_CHARTS):
            need = "trial_curve or layers" if trial else "daily, bars or silo_spend"
            raise ValueError(f"chart.kind '{self.chart.kind}' does not fit; use {need}")
        for where, metric in [
            ("prediction.metric", self.prediction.metric),
            *(("numbers", m) for m in self.numbers),
        ]:
            if trial and not _TRIAL_METRIC.match(metric):
                raise ValueError(
                    f"{where}: '{metric}' is not a trial metric (response_rate@DAY, "
                    "remission_rate@DAY, mean_severity@DAY, mean_b@DAY, mean_r@DAY, mean_n@DAY, "
                    "responders_after_last_dose, median_days_to_relapse)"
                )
            if not trial and metric not in PRESET_METRICS:
                raise ValueError(
                    f"{where}: '{metric}' is not a summary metric ({', '.join(PRESET_METRICS)})"
                )
        match self.chart.kind:
            case ChartKind.TRIAL_CURVE:
                if self.chart.metric not in TRIAL_CURVE_METRICS:
                    raise ValueError(
                        f"chart.metric must be one of {', '.join(TRIAL_CURVE_METRICS)} "
                        f"(got {self.chart.metric!r})"
                    )
            case ChartKind.DAILY:
                if not self.chart.metric:
                    raise ValueError("chart.metric must name a daily series for kind 'daily'")
            case ChartKind.BARS:
                bad = [m for m in self.chart.metrics if m not in PRESET_METRICS]
                if not self.chart.metrics or bad:
                    raise ValueError(
                        f"chart.metrics must list summary metrics (bad: {bad or 'empty'})"
                    )
            case ChartKind.LAYERS | ChartKind.SILO_SPEND:
                pass
            case _:
                raise ValueError(f"unhandled chart kind {self.chart.kind}")
        return self


@dataclass(frozen=True)
class Lesson:
    """A validated lesson: its name (the file stem), its file and its contents.

    Attributes:
        name: The lesson's name, its file name without ``.toml``.
        path: The lesson file.
        spec: The validated contents.
        scenarios: For a preset lesson, arm A's and arm B's validated scenarios (sized).
        protocols: For a trial lesson, arm A's and arm B's validated protocols (sized).
    """

    name: str
    path: Path
    spec: LessonSpec
    scenarios: tuple[Scenario, Scenario] | None
    protocols: tuple[TrialProtocol, TrialProtocol] | None


# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------


def _describe(path: Path, exc: ValidationError) -> str:
    """One line naming the file, the key and what is wrong."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "required key is missing"
    else:
        msg = err["msg"].removeprefix("Value error, ")
        if "input" in err and kind != "value_error" and not isinstance(err["input"], dict):
            msg += f" (got {err['input']!r})"
    # A model-level rule has no location; name the key its message starts with instead.
    if loc == "(top level)" and kind == "value_error":
        return f"{path}: {msg}"
    return f"{path}: key '{loc}': {' '.join(msg.split())}"


@functools.cache
def daily_columns() -> tuple[str, ...]:
    """The columns of the model's daily series, read from a one-day run of a tiny catchment.

    Read from the model rather than listed here, so a lesson's ``chart.metric`` is checked
    against what the model really reports.
    """
    result = api.run("baseline", n_patients=20, days=1, seed=0, keep_claims=False)
    return tuple(result.daily.columns)


def _resolve_relative(text: str, base: Path) -> str:
    """A name stays a name; a path is taken relative to the lesson file's folder."""
    if "/" in text or "\\" in text or text.endswith(".toml"):
        path = Path(text)
        return str(path if path.is_absolute() else base / path)
    return text


def _sized_scenario(arm: Arm, size: RunSize, base: Path) -> Scenario:
    """Arm's scenario with the lesson's overrides and run size, validated once."""
    preset = _resolve_relative(arm.preset or "", base)
    run = {
        "n_patients": size.n_patients or 1500,
        "days": size.days or 365,
        "seed": size.seed,
    }
    data: dict[str, Any] = {"extends": preset, **arm.overrides}
    data["run"] = {**data.get("run", {}), **run}
    data.setdefault("name", Path(preset).stem)
    return scenario_from_dict(data, source="overrides")


def _sized_protocol(arm: Arm, size: RunSize, base: Path) -> TrialProtocol:
    """Arm's trial protocol with the lesson's cohort size (re-validated)."""
    proto = api.resolve_protocol(_resolve_relative(arm.protocol or "", base))
    if size.n_patients is None:
        return proto
    return TrialProtocol.model_validate(
        {**proto.model_dump(), "n_patients": size.n_patients}, strict=False
    )


def load_lesson(path: str | Path) -> Lesson:
    """Load and validate one lesson file.

    Args:
        path: The lesson TOML file.

    Raises:
        LessonError: One line naming the file and the key when anything is wrong, including a
            preset, protocol or override that does not validate.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_LESSON_BYTES:
            raise LessonError(
                f"{path}: file is too large ({size} bytes; at most {MAX_LESSON_BYTES})"
            )
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise LessonError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise LessonError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise LessonError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        spec = LessonSpec.model_validate(raw)
    except ValidationError as exc:
        raise LessonError(_describe(path, exc)) from None

    base = path.resolve().parent
    scenarios = protocols = None
    if spec.kind == "preset":
        pair = []
        for key, arm in (("a", spec.a), ("b", spec.b)):
            try:
                pair.append(_sized_scenario(arm, spec.run, base))
            except ScenarioError as exc:
                detail = str(exc).removeprefix("overrides: ")
                raise LessonError(f"{path}: key '{key}': {detail}") from None
        scenarios = (pair[0], pair[1])
        if spec.chart.kind is ChartKind.DAILY and spec.chart.metric not in daily_columns():
            raise LessonError(
                f"{path}: key 'chart.metric': '{spec.chart.metric}' is not a daily series "
                f"(one of: {', '.join(c for c in daily_columns() if c not in _ID_COLUMNS)})"
            )
    else:
        pair_p = []
        for key, arm in (("a", spec.a), ("b", spec.b)):
            try:
                pair_p.append(_sized_protocol(arm, spec.run, base))
            except (ScenarioError, ValidationError) as exc:
                detail = str(exc).splitlines()[0]
                raise LessonError(f"{path}: key '{key}.protocol': {detail}") from None
        protocols = (pair_p[0], pair_p[1])
        horizon = min(p.follow_up_days for p in protocols)
        for where, metric in [("prediction.metric", spec.prediction.metric)] + [
            ("numbers", m) for m in spec.numbers
        ]:
            found = _TRIAL_METRIC.match(metric)
            if found and found["day"] is not None and float(found["day"]) > horizon:
                raise LessonError(
                    f"{path}: key '{where}': '{metric}': day {found['day']} is after the end "
                    f"of follow-up ({horizon:g})"
                )
    return Lesson(name=path.stem, path=path, spec=spec, scenarios=scenarios, protocols=protocols)


_ID_COLUMNS = {"scenario", "replication", "seed", "day"}


def lesson_files(folder: Path = LESSON_DIR) -> list[Path]:
    """The lesson files in ``folder``, sorted by name."""
    return sorted(folder.glob("*.toml"))


def load_lessons(folder: Path = LESSON_DIR) -> tuple[list[Lesson], list[str]]:
    """Load every lesson in ``folder``; a bad file is reported, never fatal.

    Returns:
        The good lessons in teaching order, and one error line per bad file.
    """
    lessons: list[Lesson] = []
    errors: list[str] = []
    for path in lesson_files(folder):
        try:
            lessons.append(load_lesson(path))
        except LessonError as exc:
            errors.append(str(exc))
    lessons.sort(key=lambda les: (les.spec.order, les.name))
    return lessons, errors


def find_lesson(name: str, folder: Path = LESSON_DIR) -> Lesson:
    """Load a lesson by name (a file in ``folder``) or by path.

    Raises:
        LessonError: Unknown name, or a bad file.
    """
    if "/" in name or "\\" in name or name.endswith(".toml"):
        return load_lesson(name)
    path = folder / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(p.stem for p in lesson_files(folder)) or "none"
        raise LessonError(f"unknown lesson '{name}' (lessons: {known})")
    return load_lesson(path)


# ------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmResult:
    """What one arm of a lesson produced.

    Attributes:
        label: The arm's label.
        series: Tidy time series, one row per day (daily series for a preset run; the cohort's
            response, remission, severity and mean layers for a trial).
        scalars: The scalar metrics a prediction can name.
        seconds: Wall time of the arm.
    """

    label: str
    series: pd.DataFrame
    scalars: dict[str, float | None]
    seconds: float


@dataclass(frozen=True)
class LessonResult:
    """A lesson's two arms, the compared values and the verdict.

    Attributes:
        lesson: The lesson that ran.
        a, b: The two arms.
        value_a, value_b: The prediction metric in each arm (None if undefined).
        verdict: 'lower', 'same' or 'higher' (arm B relative to arm A), or None if undefined.
        seconds: Wall time of the whole lesson.
    """

    lesson: Lesson
    a: ArmResult
    b: ArmResult
    value_a: float | None
    value_b: float | None
    verdict: Literal["lower", "same", "higher"] | None
    seconds: float

    @property
    def answer_text(self) -> str:
        """The option text the simulation's result matches."""
        if self.verdict is None:
            return "The runs cannot tell (the metric is undefined in one arm)."
        return getattr(self.lesson.spec.prediction, self.verdict)


Progress = Callable[[float, str], None]
"""Progress callback: (share done 0-1, what is running)."""


def _no_progress(share: float, what: str) -> None:
    """Progress sink for callers that do not show progress."""


def cohort_trajectory(protocol: TrialProtocol) -> pd.DataFrame:
    """A virtual trial's cohort over time: response, remission, severity and the mean layers.

    The trial runner reports response at a few days; a lesson's chart needs the whole course and
    the three layers (docs/ODD.md §3.3). This advances the cohort exactly as
    ``model.trial.run_trial`` does (same streams, same time grid, same event order), so its
    response at the protocol's report days equals the runner's; ``tests/test_lessons.py`` holds
    that.

    Returns:
        One row per whole day: ``day``, ``response_rate``, ``remission_rate``, ``mean_severity``,
        ``mean_b`` (as felt, with acute relief), ``mean_b_structural``, ``mean_r``, ``mean_n``.
    """
    p = protocol.clinical
    streams = Streams(protocol.seed, replication=0)
    state = ClinicalState(*cm.draw_baselines(streams["patient_traits"], protocol.n_patients, p), p)
    rng_stress = streams["stress"]
    everyone = np.arange(protocol.n_patients)
    state.schedule_stress(0.0, everyone, rng_stress)
    rel = p.rel_esketamine_relief if protocol.drug == "esketamine" else 1.0
    events = sorted(
        [(t, 0, "dose") for t in protocol.doses] + [(t, 1, "session") for t in protocol.therapy]
    )
    # The same checkpoints as run_trial: stress candidates are drawn in batches per checkpoint,
    # so matching its grid keeps the random draws, and hence the cohort, identical.
    grid = np.arange(0.0, protocol.follow_up_days + 1e-9, GRID_STEP_DAYS)
    checkpoints = set(np.round(grid, 6)) | {round(d, 6) for d in protocol.report_days}
    if protocol.doses:
        responder_day = max(protocol.doses) + 1.0
        if responder_day <= protocol.follow_up_days:
            checkpoints.add(round(responder_day, 6))
    rows = []
    k = 0
    for t in sorted(checkpoints):
        while k < len(events) and events[k][0] <= t:
            t_ev, _, kind = events[k]
            state.stress_due(t_ev, rng_stress)
            if kind == "dose":
                state.dose(t_ev, everyone, rel)
            else:
                state.session(t_ev, everyone)
            k += 1
        state.stress_due(t, rng_stress)
        if abs(t - round(t)) > 1e-9:
            continue
        sev, b_eff, r, n = state.severity_at(t)
        b_struct, _, _ = state.structural_at(t)
        rows.append(
            {
                "day": round(t),
                "response_rate": float(np.mean(cm.is_response(sev, state.sev0, p))),
                "remission_rate": float(np.mean(cm.is_remission(sev, p))),
                "mean_severity": float(np.mean(sev)),
                "mean_b": float(np.mean(b_eff)),
                "mean_b_structural": float(np.mean(b_struct)),
                "mean_r": float(np.mean(r)),
                "mean_n": float(np.mean(n)),
            }
        )
    return pd.DataFrame(rows)


def _trial_arm(label: str, protocol: TrialProtocol) -> ArmResult:
    started = time.perf_counter()
    series = cohort_trajectory(protocol)
    result: TrialResult = run_trial(protocol)
    scalars: dict[str, float | None] = {
        "responders_after_last_dose": result.responders_after_last_dose,
        "median_days_to_relapse": result.median_days_to_relapse,
    }
    for row in series.itertuples(index=False):
        for col in ("response_rate", "remission_rate", "mean_severity", *LAYER_COLUMNS):
            scalars[f"{col}@{row.day}"] = float(getattr(row, col))
    return ArmResult(label, series, scalars, time.perf_counter() - started)


def _preset_arm(
    label: str, scenario: Scenario, progress: Progress, done: float, share: float
) -> ArmResult:
    started = time.perf_counter()
    model = api.build(scenario, keep_claims=False)
    # Advance in chunks so the page can show progress; run_until is cumulative, so the run is
    # the same as model.run() (same events, same draws).
    chunk = 30
    for t in range(chunk, model.days + chunk, chunk):
        model.run_until(min(t, model.days))
        progress(done + share * min(t, model.days) / model.days, f"running {label}")
    summary = model.summary_extended()
    scalars = {
        k: (float(summary[k]) if summary.get(k) is not None else None) for k in PRESET_METRICS
    }
    scalars["n_patients"] = float(summary["n_patients"])
    return ArmResult(label, model.daily_frame(), scalars, time.perf_counter() - started)


def _verdict(
    metric: str, a: float | None, b: float | None, tolerance: float
) -> Literal["lower", "same", "higher"] | None:
    # An unreached median time to relapse means "longer than the follow-up": compare as infinite.
    if metric == "median_days_to_relapse":
        a = math.inf if a is None else a
        b = math.inf if b is None else b
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return None
    if a == b or abs(b - a) <= tolerance:
        return "same"
    return "higher" if b > a else "lower"


def run_lesson(lesson: Lesson, progress: Progress = _no_progress) -> LessonResult:
    """Run a lesson's pair and compare the prediction metric.

    Preset arms use the same seed and replication (common random numbers, docs/experiments.md),
    so they differ only because the policy differs.

    Args:
        lesson: A loaded lesson.
        progress: Called with (share done, what is running) as the runs advance.

    Raises:
        LessonError: A run failed on bad input (one line).
    """
    started = time.perf_counter()
    spec = lesson.spec
    try:
        if lesson.protocols is not None:
            progress(0.0, f"running {spec.a.label}")
            arm_a = _trial_arm(spec.a.label, lesson.protocols[0])
            progress(0.5, f"running {spec.b.label}")
            arm_b = _trial_arm(spec.b.label, lesson.protocols[1])
        elif lesson.scenarios is not None:
            arm_a = _preset_arm(spec.a.label, lesson.scenarios[0], progress, 0.0, 0.5)
            arm_b = _preset_arm(spec.b.label, lesson.scenarios[1], progress, 0.5, 0.5)
        else:
            raise LessonError(f"{lesson.path}: lesson has neither scenarios nor protocols")
    except (ScenarioError, ValueError) as exc:
        if isinstance(exc, LessonError):
            raise
        raise LessonError(f"{lesson.path}: run failed: {str(exc).splitlines()[0]}") from None
    progress(1.0, "done")
    metric = spec.prediction.metric
    value_a, value_b = arm_a.scalars.get(metric), arm_b.scalars.get(metric)
    return LessonResult(
        lesson=lesson,
        a=arm_a,
        b=arm_b,
        value_a=value_a,
        value_b=value_b,
        verdict=_verdict(metric, value_a, value_b, spec.prediction.tolerance),
        seconds=time.perf_counter() - started,
    )


def lesson_frame(result: LessonResult) -> pd.DataFrame:
    """The tidy frame the lesson's chart draws: both arms stacked, with an ``arm`` column.

    Time-series charts get the arms' series; ``bars`` and ``silo_spend`` get one row per arm and
    metric (``arm``, ``metric``, ``value``), spending per patient in the catchment.
    """
    spec = result.lesson.spec
    arms = (result.a, result.b)
    match spec.chart.kind:
        case ChartKind.TRIAL_CURVE | ChartKind.LAYERS | ChartKind.DAILY:
            return pd.concat([arm.series.assign(arm=arm.label) for arm in arms], ignore_index=True)
        case ChartKind.BARS:
            rows = [
                {"arm": arm.label, "metric": m, "value": arm.scalars.get(m)}
                for arm in arms
                for m in spec.chart.metrics
            ]
            return pd.DataFrame(rows)
        case ChartKind.SILO_SPEND:
            rows = []
            for arm in arms:
                n = int(arm.scalars.get("n_patients") or 1)
                last = arm.series.iloc[-1]
                for col in SILO_COLUMNS:
                    rows.append({"arm": arm.label, "metric": col, "value": float(last[col]) / n})
            return pd.DataFrame(rows)
        case _:
            raise ValueError(f"unhandled chart kind {spec.chart.kind}")


def lesson_figure(result: LessonResult) -> go.Figure:
    """The one chart that answers the lesson."""
    spec = result.lesson.spec
    chart = spec.chart
    frame = lesson_frame(result)
    order = [result.a.label, result.b.label]
    match chart.kind:
        case ChartKind.TRIAL_CURVE:
            return lesson_charts.trial_curve(frame, chart.metric or "response_rate", chart.title)
        case ChartKind.LAYERS:
            return lesson_charts.layer_curves(frame, chart.title)
        case ChartKind.DAILY:
            return lesson_charts.daily_series(
                frame, chart.metric or "", chart.title, chart.y_label, order
            )
        case ChartKind.BARS:
            return lesson_charts.metric_bars(frame, chart.title, chart.y_label, order)
        case ChartKind.SILO_SPEND:
            return lesson_charts.silo_spend(frame, chart.title, order)
        case _:
            raise ValueError(f"unhandled chart kind {chart.kind}")


# ------------------------------------------------------------------------------------------
# Offline HTML report (``ketasim lesson NAME --report FILE.html``)
# ------------------------------------------------------------------------------------------

_REPORT_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
h1 { font-size: 1.6rem; } .question { font-size: 1.15rem; }
.options label { display: block; margin: .4rem 0; cursor: pointer; }
details { margin-top: 1.5rem; border-top: 1px solid #ccc; padding-top: 1rem; }
summary { font-weight: bold; cursor: pointer; font-size: 1.1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { padding: .25rem .8rem; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.answer { display: flex; gap: 1rem; } .answer div { flex: 1; background: #f5f7fa;
          padding: .6rem 1rem; border-radius: 6px; }
.source, .meta { color: #555; font-size: .9rem; }
"""

# Shows the option the class chose beside the answer, and resizes the chart once the answer is
# revealed (plotly cannot measure a container inside a closed <details>).
_REPORT_JS = """
document.getElementById('answer').addEventListener('toggle', function () {
  var picked = document.querySelector('input[name=prediction]:checked');
  document.getElementById('guess').textContent = picked
    ? picked.parentElement.textContent.trim() : '(no prediction chosen above)';
  document.querySelectorAll('.js-plotly-plot').forEach(function (el) {
    window.Plotly.Plots.resize(el);
  });
});
"""


def format_value(metric: str, value: float | None) -> str:
    """A metric value as a class would read it: in the registry's unit (shares as %, USD)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not reached" if metric == "median_days_to_relapse" else "n/a"
    base = metric.split("@")[0]
    if fmt.info(base) is not None:
        return fmt.value_text(base, value)
    if base == "responders_after_last_dose":
        return f"{value:.1%}"
    if base in LAYER_COLUMNS:
        return f"{value:.3f}"
    return f"{value:,.1f}"


def metric_help(metric: str) -> str:
    """Unit and definition of a lesson metric from the registry (empty for lesson-only ones)."""
    base, _, day = metric.partition("@")
    m = fmt.info(base)
    if m is None:
        return ""
    if day:  # a trial metric read on one day: over the trial's cohort, not a run's patients
        return f"{m.unit.value}, on day {day} after the first dose, over the whole cohort."
    return f"{fmt.unit_text(base)}: {m.definition}"


def metric_name(metric: str) -> str:
    """A readable name for a prediction or ``numbers`` metric (``name@day`` included)."""
    base, _, day = metric.partition("@")
    return f"{lesson_charts.label(base)} (day {day})" if day else lesson_charts.label(base)


def report_html(result: LessonResult) -> str:
    """A self-contained HTML page of one lesson, for teaching without a server.

    The page holds the question and the prediction options (radio buttons the class can use),
    and, behind a "reveal" fold, the chart, the simulation's answer beside the class's choice,
    the numbers, the explanation and its source. plotly.js is inlined: the page opens offline.
    """
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    spec = result.lesson.spec
    esc = html.escape

    def para(text: str) -> str:
        return esc(" ".join(text.split()))

    chart = pio.to_html(
        lesson_figure(result),
        full_html=False,
        include_plotlyjs=False,
        config={"displaylogo": False, "responsive": True},
    )
    options = "".join(
        f'<label><input type="radio" name="prediction" value="{key}"> '
        f"{para(getattr(spec.prediction, key))}</label>"
        for key in ("lower", "same", "higher")
    )
    metrics = [spec.prediction.metric, *(m for m in spec.numbers if m != spec.prediction.metric)]
    rows = "".join(
        f"<tr><td>{esc(metric_name(m))}<br><small>{esc(metric_help(m))}</small></td>"
        f"<td>{esc(format_value(m, result.a.scalars.get(m)))}</td>"
        f"<td>{esc(format_value(m, result.b.scalars.get(m)))}</td></tr>"
        for m in metrics
    )
    metric = spec.prediction.metric
    kind = "virtual trial" if spec.kind == "trial" else "simulated year"
    if result.lesson.scenarios is not None:
        run = result.lesson.scenarios[0].run
        size = f"{run.n_patients:,} patients x {run.days} days per arm, seed {run.seed}, paired"
    else:
        size = f"{result.a.series.shape[0] - 1} days of follow-up per arm"
        if result.lesson.protocols is not None:
            size = f"{result.lesson.protocols[0].n_patients:,} patients, " + size
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ketasim lesson: {esc(spec.title)}</title>
<style>{_REPORT_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{esc(spec.title)}</h1>
<p class="question"><strong>Question.</strong> {para(spec.question)}</p>
<p><strong>Compares:</strong> {esc(spec.a.label)} (A) against {esc(spec.b.label)} (B),
one {kind} each.</p>
<p><strong>Prediction.</strong> Before revealing the answer, the class chooses one:</p>
<form class="options">{options}</form>
<details id="answer"><summary>Reveal the answer</summary>
{chart}
<div class="answer">
<div><strong>Your class predicted</strong><p id="guess"></p></div>
<div><strong>The simulation says</strong><p class="verdict">{para(result.answer_text)}</p>
<p>{esc(metric_name(metric))}: {esc(spec.a.label)} {esc(format_value(metric, result.value_a))},
{esc(spec.b.label)} {esc(format_value(metric, result.value_b))} (differences within
{spec.prediction.tolerance:g} count as the same).</p></div>
</div>
<table><tr><th></th><th>{esc(spec.a.label)}</th><th>{esc(spec.b.label)}</th></tr>{rows}</table>
<h2>Why</h2>
<p class="explanation">{para(spec.explanation)}</p>
<p class="source"><strong>Source:</strong> {para(spec.source)}</p>
<p class="meta">ketasim lesson {esc(result.lesson.name)}: {esc(size)};
ran in {result.seconds:.1f} s.</p>
</details>
<script type="text/javascript">{_REPORT_JS}</script>
</body></html>
"""


def check_report_path(path: str | Path) -> Path:
    """Check, before anything runs, that a report can be written at ``path``.

    Raises:
        LessonError: The folder does not exist, or the path is a folder.
    """
    out = Path(path)
    if out.is_dir():
        raise LessonError(f"--report {out}: is a directory")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise LessonError(f"--report {out}: folder {parent} does not exist")
    return out


def write_report(result: LessonResult, path: str | Path) -> Path:
    """Write the lesson's offline HTML page to ``path`` in one step (never half-written).

    Raises:
        LessonError: The file cannot be written.
    """
    out = check_report_path(path)
    text = report_html(result)
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=out.resolve().parent, suffix=".tmp", delete=False
        ) as fh:
            fh.write(text)
            tmp = Path(fh.name)
    except OSError as exc:
        raise LessonError(f"--report {out}: cannot write: {exc.strerror or exc}") from None
    try:
        # NamedTemporaryFile creates the file private (0600); a report is for sharing.
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LessonError(f"--report {out}: cannot write: {exc.strerror or exc}") from None
    return out
