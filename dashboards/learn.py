"""The Learn page (DESIGN §8): guided lessons for educators.

Each lesson asks a question, records the class's prediction (radio buttons) before anything runs,
runs the lesson's pair of simulations in a background thread (the page stays responsive, with a
progress bar), then draws the one chart that answers it and shows the class's prediction next to
what the simulation found, with a short explanation and its source.

Lesson content lives in ``dashboards/lessons/*.toml`` (see ``docs/educators.md``); this module
only lays it out. A bad lesson file is shown as a one-line error; the other lessons still work.
"""

from __future__ import annotations

import math

import reacton.ipyvuetify as rv
import solara
import solara.lab

from dashboards.lesson_charts import label
from dashboards.lessons import Lesson, LessonResult, lesson_figure, load_lessons, run_lesson

VERDICTS = ("lower", "same", "higher")


def _fmt(metric: str, value: float | None) -> str:
    """A number as a class would read it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not reached" if metric == "median_days_to_relapse" else "n/a"
    base = metric.split("@")[0]
    if base.startswith(("share_", "response_rate", "remission_rate", "responders_")) or base in {
        "integrated_delivery_rate",
        "durable_remission_rate",
        "relapse_rate_180d",
        "fragmentation_index",
    }:
        return f"{value:.1%}"
    if base.startswith(("spend_", "pharma_", "cost_")):
        return f"${value:,.0f}"
    if base in {"mean_b", "mean_r", "mean_n"}:
        return f"{value:.3f}"
    return f"{value:,.1f}"


def _metric_name(metric: str) -> str:
    base, _, day = metric.partition("@")
    return f"{label(base)} (day {day})" if day else label(base)


@solara.component
def ResultPanel(result: LessonResult, predicted: str) -> None:
    """The answer: the chart, the prediction beside the simulation's verdict, the numbers."""
    spec = result.lesson.spec
    fig = solara.use_memo(lambda: lesson_figure(result), dependencies=[result])
    solara.FigurePlotly(fig)
    guess = getattr(spec.prediction, predicted)
    matched = result.verdict == predicted
    with solara.Row(classes=["ketasim-lesson-answer"]):
        with solara.Card("Your class predicted", style={"flex": "1"}):
            solara.Markdown(f"**{guess}**")
        with solara.Card("The simulation says", style={"flex": "1"}):
            solara.Markdown(f"**{result.answer_text}**")
            metric = spec.prediction.metric
            solara.Markdown(
                f"{_metric_name(metric)}: {spec.a.label} {_fmt(metric, result.value_a)}, "
                f"{spec.b.label} {_fmt(metric, result.value_b)} "
                f"(differences within {spec.prediction.tolerance:g} count as the same)."
            )
    if result.verdict is None:
        solara.Warning("The runs cannot decide this prediction (a value is undefined).")
    elif matched:
        solara.Success("The class's prediction matches the simulation.")
    else:
        solara.Info("The simulation disagrees with the class's prediction: why might that be?")
    metrics = [spec.prediction.metric, *(m for m in spec.numbers if m != spec.prediction.metric)]
    rows = "\n".join(
        f"| {_metric_name(m)} | {_fmt(m, result.a.scalars.get(m))} | "
        f"{_fmt(m, result.b.scalars.get(m))} |"
        for m in metrics
    )
    solara.Markdown(f"| | {spec.a.label} | {spec.b.label} |\n|---|---:|---:|\n{rows}")
    solara.Markdown(f"### Why\n{' '.join(spec.explanation.split())}")
    solara.Markdown(f"*Source:* {' '.join(spec.source.split())}")
    solara.Text(
        f"Ran in {result.seconds:.1f} s ({spec.a.label}: {result.a.seconds:.1f} s; "
        f"{spec.b.label}: {result.b.seconds:.1f} s).",
        classes=["ketasim-lesson-time"],
    )


@solara.component
def LessonView(lesson: Lesson) -> None:
    """One lesson: question, prediction, run, answer."""
    spec = lesson.spec
    prediction = solara.use_reactive(None)  # 'lower' | 'same' | 'higher' | None
    locked = solara.use_reactive(None)  # the prediction recorded when the run started
    progress = solara.use_reactive((0.0, ""))

    def work() -> LessonResult:
        return run_lesson(lesson, progress=lambda share, what: progress.set((share, what)))

    task = solara.lab.use_task(work, dependencies=None, raise_error=False)

    def start() -> None:
        locked.set(prediction.value)
        progress.set((0.0, "starting"))
        task()

    def again() -> None:
        locked.set(None)
        prediction.set(None)

    with solara.Column(classes=["ketasim-lesson"]):
        solara.Markdown(f"## {spec.title}")
        solara.Markdown(f"**Question.** {' '.join(spec.question.split())}")
        what = "virtual trial" if spec.kind == "trial" else "simulated year"
        solara.Markdown(
            f"*Compares:* **{spec.a.label}** (A) with **{spec.b.label}** (B), one {what} each."
        )
        solara.Markdown("**Prediction.** Before running, the class chooses one answer:")
        # Listed in one fixed order (arm B lower, the same, higher) for every lesson.
        rv.RadioGroup(
            v_model=prediction.value,
            on_v_model=prediction.set,
            disabled=locked.value is not None,
            children=[rv.Radio(label=getattr(spec.prediction, key), value=key) for key in VERDICTS],
        )
        with solara.Row():
            solara.Button(
                "Run the lesson",
                on_click=start,
                color="primary",
                disabled=prediction.value is None or task.pending or locked.value is not None,
            )
            if locked.value is not None and not task.pending:
                solara.Button("Try again", on_click=again, outlined=True)
        if prediction.value is None and locked.value is None:
            solara.Text("Choose a prediction to enable the run.")
        if task.pending:
            share, doing = progress.value
            solara.ProgressLinear(value=max(1.0, 100.0 * share))
            solara.Text(f"Running the simulations ({100 * share:.0f} %): {doing}")
        elif locked.value is not None and task.error:
            solara.Error(f"The lesson could not run: {task.exception}")
        elif locked.value is not None and task.finished and task.value is not None:
            ResultPanel(task.value, locked.value)


@solara.component
def LearnPage() -> None:
    """The educator page: a list of short lessons, each a question, a prediction and a run."""
    reload = solara.use_reactive(0)
    loaded = solara.use_memo(load_lessons, dependencies=[reload.value])
    lessons, errors = loaded
    selected = solara.use_reactive(lessons[0].name if lessons else None)
    current = next((les for les in lessons if les.name == selected.value), None)
    with solara.Column():
        solara.Markdown("# Learn: why the molecule alone does not heal")
        solara.Markdown(
            "Short lessons for a class. Each asks a question, records the class's prediction, "
            "runs a pair of simulations (a few seconds) and shows the one chart that answers it."
        )
        for message in errors:
            solara.Error(f"Lesson file skipped: {message}")
        if not lessons:
            solara.Warning("No lessons found in dashboards/lessons/.")
            return
        with solara.Row(style={"flex-wrap": "wrap"}):
            for i, les in enumerate(lessons, start=1):
                solara.Button(
                    f"{i}. {les.spec.title}",
                    on_click=lambda name=les.name: selected.set(name),
                    outlined=les.name != selected.value,
                    color="primary",
                    classes=["ketasim-lesson-pick"],
                )
            solara.Button(
                "Reload lesson files",
                on_click=lambda: reload.set(reload.value + 1),
                text=True,
            )
        if current is not None:
            LessonView(current).key(f"{current.name}-{reload.value}")
