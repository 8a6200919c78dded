"""``ketasim lesson``: list the educator lessons, run one, write its offline HTML page.

A plain function that ``scenarios.cli`` registers as a command; this module does not import the
CLI. Parse, validate, call one function, print: the work is in ``dashboards.lessons``, imported
when the command runs (it loads the model and plotly, which other commands do not need).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli_common import console
from scenarios.cli_common import fail as _fail


def lesson(
    name: Annotated[
        str | None, typer.Argument(help="A lesson name (see --list) or a lesson TOML path.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write a self-contained HTML page of the lesson here."),
    ] = None,
    list_lessons: Annotated[
        bool, typer.Option("--list", help="List the lessons and check every lesson file.")
    ] = False,
) -> None:
    """Run an educator lesson (the Learn page's lessons, without a server)."""
    from dashboards import lessons as les

    if list_lessons:
        if name is not None or report is not None:
            _fail("--list takes no lesson name and no --report")
        _list()
        return
    if name is None:
        _fail("give a lesson NAME (see 'ketasim lesson --list')")
        return
    try:
        lesson_ = les.find_lesson(name)
        if report is not None:
            les.check_report_path(report)
        result = les.run_lesson(lesson_)
        if report is not None:
            les.write_report(result, report)
    except les.LessonError as exc:
        _fail(str(exc))
        return
    spec = lesson_.spec
    metric = spec.prediction.metric
    console.print(f"[bold]{spec.title}[/bold]", highlight=False)
    console.print(" ".join(spec.question.split()), highlight=False)
    for key in ("lower", "same", "higher"):
        console.print(f"  ( ) {getattr(spec.prediction, key)}", highlight=False)
    console.print(
        f"{les.metric_name(metric)}: {spec.a.label} "
        f"{les.format_value(metric, result.value_a)}, {spec.b.label} "
        f"{les.format_value(metric, result.value_b)}",
        highlight=False,
    )
    console.print(f"answer: {result.answer_text}", highlight=False)
    console.print(
        f"ran in {result.seconds:.1f} s ({spec.a.label} {result.a.seconds:.1f} s, "
        f"{spec.b.label} {result.b.seconds:.1f} s)",
        highlight=False,
    )
    if report is not None:
        console.print(f"wrote {report}", highlight=False)


def _list() -> None:
    """Print one line per lesson; one error line per bad file, then exit 2 if any."""
    from dashboards import lessons as les

    lessons, errors = les.load_lessons()
    for item in lessons:
        kind = "trial pair" if item.spec.kind == "trial" else "preset pair"
        print(
            f"{item.name}\t{item.spec.title}\t({kind}: {item.spec.a.label} vs {item.spec.b.label})"
        )
    for message in errors:
        print(f"ketasim: error: {message}", file=sys.stderr)
    if errors:
        raise typer.Exit(2)
