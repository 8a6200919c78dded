"""The Learn page: guided lessons for educators (docs/educators.md).

Each lesson asks a question, records the class's prediction (radio buttons) before anything runs,
runs the lesson's pair of simulations in a background thread (the page stays responsive, with a
progress bar), then draws the one chart that answers it and shows the class's prediction next to
what the simulation found, with a short explanation and its source.

Lesson content lives in ``dashboards/lessons/*.toml`` (see ``docs/educators.md``); this module
only lays it out. A bad lesson file is shown as a one-line error; the other lessons still work.
"""

from __future__ import annotations

import html
from pathlib import Path

import reacton.ipyvuetify as rv
import solara
import solara.lab

from dashboards.lessons import (
    LESSON_DIR,
    Lesson,
    LessonResult,
    format_value,
    lesson_figure,
    load_lessons,
    metric_help,
    metric_name,
    run_lesson,
)
from dashboards.plotly_widget import Chart
from model.catchment import lever_warnings

VERDICTS = ("lower", "same", "higher")


def _text(tag: str, text: str, classes: list[str] | None = None, strong: str = "") -> None:
    """Plain text in an HTML element.

    Not ``solara.Markdown``: it always fetches KaTeX from Solara's CDN path, which the offline
    ``solara-assets`` bundle does not include, so on a machine without internet every Markdown
    block raises a page error.
    """
    body = html.escape(" ".join(text.split()))
    if strong:
        body = f"<strong>{html.escape(strong)}</strong> {body}"
    solara.HTML(tag=tag, unsafe_innerHTML=body, classes=classes or [])


@solara.component
def ResultPanel(result: LessonResult, predicted: str) -> None:
    """The answer: the chart, the prediction beside the simulation's verdict, the numbers."""
    spec = result.lesson.spec
    fig = solara.use_memo(lambda: lesson_figure(result), dependencies=[result])
    with solara.Div(classes=["panel", "panel-lesson"]):
        Chart(fig)
    guess = getattr(spec.prediction, predicted)
    matched = result.verdict == predicted
    with solara.Row(classes=["ketasim-lesson-answer"]):
        with solara.Card("Your class predicted", style={"flex": "1"}):
            _text("p", guess, ["ketasim-lesson-guess"])
        with solara.Card("The simulation says", style={"flex": "1"}):
            _text("p", result.answer_text, ["ketasim-lesson-verdict"])
            metric = spec.prediction.metric
            _text(
                "p",
                f"{metric_name(metric)}: {spec.a.label} {format_value(metric, result.value_a)}, "
                f"{spec.b.label} {format_value(metric, result.value_b)} "
                f"(differences within {spec.prediction.tolerance:g} count as the same).",
            )
    if result.verdict is None:
        solara.Warning("The runs cannot decide this prediction (a value is undefined).")
    elif matched:
        solara.Success("The class's prediction matches the simulation.")
    else:
        solara.Info("The simulation disagrees with the class's prediction: why might that be?")
    metrics = [spec.prediction.metric, *(m for m in spec.numbers if m != spec.prediction.metric)]
    esc = html.escape
    cells = "".join(
        f"<tr><td>{esc(metric_name(m))}<br><small>{esc(metric_help(m))}</small></td>"
        f"<td style='text-align:right'>{esc(format_value(m, result.a.scalars.get(m)))}</td>"
        f"<td style='text-align:right'>{esc(format_value(m, result.b.scalars.get(m)))}</td></tr>"
        for m in metrics
    )
    solara.HTML(
        tag="table",
        unsafe_innerHTML=f"<tr><th></th><th>{esc(spec.a.label)}</th><th>{esc(spec.b.label)}</th>"
        f"</tr>{cells}",
        classes=["ketasim-lesson-numbers"],
        style={"border-spacing": "16px 4px"},
    )
    _text("h3", "Why", ["lesson-why"])
    _text("p", spec.explanation, ["ketasim-lesson-explanation"])
    _text("p", spec.source, ["ketasim-lesson-source"], strong="Source:")
    solara.Text(
        f"Ran in {result.seconds:.1f} s ({spec.a.label}: {result.a.seconds:.1f} s; "
        f"{spec.b.label}: {result.b.seconds:.1f} s).",
        classes=["ketasim-lesson-time"],
    )


def lesson_warnings(lesson: Lesson) -> list[str]:
    """Warnings about levers that cannot act, for what differs between the lesson's two arms.

    A warning both arms share (a training subsidy in both, in a one-year run) cannot explain
    the difference the lesson is about, so it is not shown.
    """
    if lesson.scenarios is None:
        return []
    a, b = (lever_warnings(sc) for sc in lesson.scenarios)
    return [w for w in dict.fromkeys(a + b) if (w in a) != (w in b)]


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

    with solara.Column(classes=["ketasim-lesson", f"ketasim-lesson-{lesson.name}"]):
        _text("h2", spec.title)
        _text("p", spec.question, ["ketasim-lesson-question"], strong="Question.")
        what = "virtual trial" if spec.kind == "trial" else "simulated year"
        _text(
            "p",
            f"{spec.a.label} (A) against {spec.b.label} (B), one {what} each.",
            strong="Compares:",
        )
        for warning in lesson_warnings(lesson):
            solara.Warning(warning[0].upper() + warning[1:], dense=True)
        _text("p", "Before running, the class chooses one answer:", strong="Prediction.")
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
def LearnPage(folder: Path = LESSON_DIR) -> None:
    """The educator page: a list of short lessons, each a question, a prediction and a run.

    Args:
        folder: Where the lesson files are (the bundled lessons by default).
    """
    reload = solara.use_reactive(0)
    loaded = solara.use_memo(lambda: load_lessons(folder), dependencies=[folder, reload.value])
    lessons, errors = loaded
    selected = solara.use_reactive(lessons[0].name if lessons else None)
    current = next((les for les in lessons if les.name == selected.value), None)
    with solara.Column():
        _text("h1", "Learn: why the molecule alone does not heal")
        _text(
            "p",
            "Short lessons for a class. Each asks a question, records the class's prediction, "
            "runs a pair of simulations (a few seconds) and shows the one chart that answers it.",
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
        # Every lesson stays mounted and only the chosen one is shown: switching lessons keeps
        # each lesson's prediction, result and chart.
        for les in lessons:
            shown = current is not None and les.name == current.name
            # A plain div: a Column's vuetify class ``d-flex`` would override display: none.
            with solara.Div(style={} if shown else {"display": "none"}):
                LessonView(les).key(f"{les.name}-{reload.value}")
