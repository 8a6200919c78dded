"""Tests of the educator lessons: schema, loader errors, runner, charts, CLI and the Learn page."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from dashboards import lessons as les
from model.trial import TrialProtocol, run_trial
from scenarios import api
from scenarios.cli import main

PRESET_LESSON = {
    "title": "Bundling",
    "question": "Does a bundled payment bring therapy into the window?",
    "explanation": "One organisation paid for the episode books therapy into the window.",
    "source": "docs/ODD.md, Reference.",
    "a": {"label": "Baseline", "preset": "baseline"},
    "b": {"label": "Bundled", "preset": "bundled_payment"},
    "run": {"n_patients": 300, "days": 90, "seed": 3},
    "chart": {"kind": "daily", "metric": "integrated_delivery_rate_rolling", "title": "In window"},
    "prediction": {
        "metric": "integrated_delivery_rate",
        "tolerance": 0.01,
        "lower": "It falls.",
        "same": "No change.",
        "higher": "It rises.",
    },
    "numbers": ["share_integrated"],
}

TRIAL_LESSON = {
    "title": "Layers",
    "question": "Does the narrative layer move without the drug?",
    "explanation": "The gate stays shut.",
    "source": "Wilkinson et al. 2017.",
    "a": {"label": "Drug + therapy", "protocol": "iv_series_therapy"},
    "b": {"label": "Therapy only", "protocol": "therapy_alone"},
    "run": {"n_patients": 300},
    "chart": {"kind": "layers", "title": "Layers"},
    "prediction": {
        "metric": "mean_n@60",
        "tolerance": 0.01,
        "lower": "Lower.",
        "same": "Same.",
        "higher": "Higher.",
    },
}


def write_lesson(folder: Path, name: str, data: dict) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def changed(base: dict, dotted: str, value) -> dict:
    """A deep copy of ``base`` with one key set (or removed when value is ...)."""
    out = copy.deepcopy(base)
    *parents, last = dotted.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out


# ------------------------------------------------------------------ bundled lessons


def test_bundled_lessons_load_and_cover_the_issue_topics():
    lessons, errors = les.load_lessons()
    assert errors == [], errors
    assert len(lessons) >= 6, "the issue asks for at least six lessons"
    pairs = {(les_.spec.a.preset or les_.spec.a.protocol, les_.spec.b.preset) for les_ in lessons}
    presets = {b for _, b in pairs if b}
    for needed in ("bundled_payment", "carve_in", "patent_expiry"):
        assert needed in presets, f"no lesson compares baseline with {needed}"
    assert any(les_.spec.chart.kind == "layers" for les_ in lessons), "no three-layer lesson"
    assert any(les_.spec.a.protocol == "window_next_day" for les_ in lessons), "no window lesson"
    for item in lessons:
        spec = item.spec
        texts = {spec.prediction.lower, spec.prediction.same, spec.prediction.higher}
        assert len(texts) == 3, f"{item.name}: prediction options must differ"
        sentences = spec.explanation.count(". ") + 1
        assert 2 <= sentences <= 4, f"{item.name}: explanation has {sentences} sentences"
        if item.scenarios is not None:
            # Lessons run live in class: keep preset pairs at the issue's 1,000-2,000 patients.
            assert all(1000 <= sc.run.n_patients <= 2000 for sc in item.scenarios), item.name
            assert item.scenarios[0].run.seed == item.scenarios[1].run.seed, "arms must be paired"


def test_cohort_trajectory_matches_the_trial_runner():
    proto = api.resolve_protocol("window_next_day")
    proto = TrialProtocol.model_validate({**proto.model_dump(), "n_patients": 300}, strict=False)
    frame = les.cohort_trajectory(proto)
    official = run_trial(proto)
    for day, share in official.response_rate.items():
        row = frame[frame["day"] == int(float(day))]
        assert row["response_rate"].item() == pytest.approx(share), f"day {day}"
    for col in ("mean_b", "mean_r", "mean_n"):
        assert frame[col].between(0.0, 1.0).all(), f"{col} outside [0, 1]"


# ------------------------------------------------------------------ bad lesson files

BAD_CASES = [
    ("unknown top-level key", changed(PRESET_LESSON, "colour", "red"), "colour"),
    ("missing question", changed(PRESET_LESSON, "question", ...), "question"),
    ("unknown arm key", changed(PRESET_LESSON, "a.scenario", "x"), "a.scenario"),
    ("arm with both sources", changed(PRESET_LESSON, "a.protocol", "single_dose"), "'a'"),
    ("unknown preset", changed(PRESET_LESSON, "b.preset", "no_such_preset"), "'b'"),
    (
        "override out of range",
        changed(PRESET_LESSON, "b.overrides", {"policy": {"p_cost_share": 3.0}}),
        "'b'",
    ),
    ("too many patients", changed(PRESET_LESSON, "run.n_patients", 10**6), "run.n_patients"),
    ("unknown summary metric", changed(PRESET_LESSON, "prediction.metric", "joy"), "joy"),
    ("unknown daily series", changed(PRESET_LESSON, "chart.metric", "happiness"), "chart.metric"),
    ("trial chart on presets", changed(PRESET_LESSON, "chart.kind", "layers"), "chart.kind"),
    ("unknown chart kind", changed(PRESET_LESSON, "chart.kind", "pie"), "chart.kind"),
    ("negative tolerance", changed(PRESET_LESSON, "prediction.tolerance", -1.0), "tolerance"),
    ("mixed arms", changed(TRIAL_LESSON, "b", {"label": "x", "preset": "baseline"}), "both"),
    ("missing protocol file", changed(TRIAL_LESSON, "b.protocol", "nope/x.toml"), "b.protocol"),
    ("day after follow-up", changed(TRIAL_LESSON, "prediction.metric", "mean_n@900"), "900"),
    ("trial metric on trial", changed(TRIAL_LESSON, "prediction.metric", "mean_n"), "mean_n"),
    ("days on a trial lesson", changed(TRIAL_LESSON, "run.days", 100), "run.days"),
]


@pytest.mark.parametrize(("case", "data", "key"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_lesson_file_gets_one_line_naming_file_and_key(tmp_path, case, data, key):
    path = write_lesson(tmp_path, "bad", data)
    with pytest.raises(les.LessonError) as info:
        les.load_lesson(path)
    message = str(info.value)
    assert "\n" not in message, f"{case}: not one line: {message!r}"
    assert str(path) in message, f"{case}: file not named: {message}"
    assert key in message, f"{case}: key {key!r} not named: {message}"


def test_invalid_toml_and_missing_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("title = 'unterminated\n")
    with pytest.raises(les.LessonError, match=r"broken\.toml: not valid TOML"):
        les.load_lesson(path)
    with pytest.raises(les.LessonError, match="file not found"):
        les.load_lesson(tmp_path / "absent.toml")


def test_a_bad_file_does_not_hide_the_good_ones(tmp_path):
    write_lesson(tmp_path, "good", PRESET_LESSON)
    write_lesson(tmp_path, "bad", changed(PRESET_LESSON, "chart.kind", "pie"))
    lessons, errors = les.load_lessons(tmp_path)
    assert [item.name for item in lessons] == ["good"]
    assert len(errors) == 1 and "bad.toml" in errors[0]


def test_protocol_paths_are_relative_to_the_lesson_file(tmp_path):
    (tmp_path / "protocols").mkdir()
    proto = api.resolve_protocol("single_dose").model_dump(mode="json")
    (tmp_path / "protocols" / "mine.toml").write_text(tomli_w.dumps(proto))
    data = changed(TRIAL_LESSON, "b.protocol", "protocols/mine.toml")
    item = les.load_lesson(write_lesson(tmp_path, "rel", data))
    assert item.protocols is not None and item.protocols[1].doses == [0.0]
    assert item.protocols[1].n_patients == 300, "the lesson's run size replaces the protocol's"


# ------------------------------------------------------------------ running


def test_verdict_compares_arm_b_with_arm_a_within_tolerance():
    assert les._verdict("m", 0.10, 0.30, 0.05) == "higher"
    assert les._verdict("m", 0.30, 0.10, 0.05) == "lower"
    assert les._verdict("m", 0.10, 0.14, 0.05) == "same"
    assert les._verdict("m", None, 0.14, 0.05) is None
    assert les._verdict("m", math.nan, 0.14, 0.05) is None
    # An unreached median time to relapse is longer than any reached one.
    assert les._verdict("median_days_to_relapse", 20.0, None, 1.0) == "higher"
    assert les._verdict("median_days_to_relapse", None, None, 1.0) == "same"


def test_trial_lesson_without_the_drug_leaves_the_narrative_layer_entrenched(tmp_path):
    item = les.load_lesson(write_lesson(tmp_path, "layers", TRIAL_LESSON))
    seen = []
    result = les.run_lesson(item, progress=lambda share, what: seen.append(share))
    assert result.verdict == "higher", (
        f"therapy alone should move n less than drug + therapy (gating b -> r -> n): "
        f"{result.value_a} vs {result.value_b}"
    )
    assert result.answer_text == "Higher."
    assert seen[-1] == 1.0
    fig = les.lesson_figure(result)
    names = {trace.name for trace in fig.data}
    assert any(n.startswith("Drug + therapy") for n in names)
    assert any(n.startswith("Therapy only") for n in names)
    assert len(fig.data) == 6, "three layers x two arms"


def test_preset_lesson_runs_paired_and_matches_a_plain_run(tmp_path):
    item = les.load_lesson(write_lesson(tmp_path, "bundle", PRESET_LESSON))
    result = les.run_lesson(item)
    plain = api.run("baseline", n_patients=300, days=90, seed=3, keep_claims=False)
    # Running in chunks for the progress bar must not change the run.
    assert result.a.scalars["integrated_delivery_rate"] == pytest.approx(
        plain.summary["integrated_delivery_rate"], nan_ok=True
    )
    assert len(result.a.series) == 90 and len(result.b.series) == 90
    assert result.verdict in {"lower", "same", "higher"}
    assert result.answer_text in {"It falls.", "No change.", "It rises."}


@pytest.mark.parametrize("kind", ["daily", "bars", "silo_spend"])
def test_preset_chart_kinds_draw_both_arms(tmp_path, kind):
    data = changed(PRESET_LESSON, "chart.kind", kind)
    data = changed(data, "run.days", 30)
    if kind == "bars":
        data["chart"]["metrics"] = ["integrated_delivery_rate", "share_drug_only"]
    item = les.load_lesson(write_lesson(tmp_path, kind, data))
    result = les.run_lesson(item)
    frame = les.lesson_frame(result)
    assert set(frame["arm"]) == {"Baseline", "Bundled"}
    fig = les.lesson_figure(result)
    assert fig.layout.title.text == "In window"
    if kind == "silo_spend":
        spend = frame.groupby("arm")["value"].sum()
        last = result.a.series.iloc[-1]
        expected = sum(last[c] for c in les.SILO_COLUMNS) / 300
        assert spend["Baseline"] == pytest.approx(expected), "spending per patient in catchment"
    else:
        assert {trace.name for trace in fig.data} == {"Baseline", "Bundled"}


def test_trial_curve_of_severity(tmp_path):
    data = changed(
        TRIAL_LESSON,
        "chart",
        {"kind": "trial_curve", "metric": "mean_severity", "title": "Severity"},
    )
    item = les.load_lesson(write_lesson(tmp_path, "sev", data))
    result = les.run_lesson(item)
    fig = les.lesson_figure(result)
    assert [trace.name for trace in fig.data] == ["Drug + therapy", "Therapy only"]
    y = np.asarray(fig.data[0].y, dtype=float)
    assert np.all((y >= 0) & (y <= 60)), "severity is on the 0-60 scale"


# ------------------------------------------------------------------ CLI


def test_cli_list_names_every_lesson(capsys):
    assert main(["lesson", "--list"]) == 0
    out = capsys.readouterr().out
    for path in les.lesson_files():
        assert path.stem in out


def test_cli_report_is_self_contained(tmp_path, capsys):
    out = tmp_path / "layers.html"
    assert main(["lesson", "03_layers", "--report", str(out)]) == 0
    assert "ran in" in capsys.readouterr().out
    text = out.read_text()
    spec = les.find_lesson("03_layers").spec
    for part in (spec.title, spec.prediction.lower[:40], spec.explanation[:40], "Source:"):
        assert part.split("'")[0] in text.replace("&#x27;", "'"), part
    assert "<script src=" not in text, "the page must not load scripts from anywhere"
    assert "plotly.js v" in text, "plotly.js must be inlined"
    assert len(text) > 1_000_000, "plotly.js must be inlined"
    assert 'name="prediction"' in text


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["lesson", "no_such_lesson"], "unknown lesson 'no_such_lesson'"),
        (["lesson"], "give a lesson NAME"),
        (["lesson", "01_window", "--list"], "--list takes no lesson name"),
    ],
)
def test_cli_bad_input_is_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err


def test_cli_bad_report_path_writes_nothing(tmp_path, capsys):
    target = tmp_path / "missing" / "x.html"
    assert main(["lesson", "01_window", "--report", str(target)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not target.parent.exists()
    assert main(["lesson", "01_window", "--report", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_bad_lesson_file(tmp_path, capsys):
    path = write_lesson(tmp_path, "bad", changed(PRESET_LESSON, "chart.kind", "pie"))
    out = tmp_path / "r.html"
    assert main(["lesson", str(path), "--report", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "chart.kind" in err and err.count("\n") == 1
    assert not out.exists()


# ------------------------------------------------------------------ the Learn page


def test_learn_page_shows_a_bad_file_instead_of_crashing(tmp_path):
    import ipyvuetify as v
    import solara

    from dashboards.learn import LearnPage

    write_lesson(tmp_path, "good", PRESET_LESSON)
    write_lesson(tmp_path, "bad", changed(PRESET_LESSON, "prediction.metric", "joy"))
    _box, rc = solara.render(LearnPage(folder=tmp_path), handle_error=False)
    alerts = rc.find(v.Alert).widgets
    texts = " ".join(str(w.children) for w in alerts)
    assert "bad.toml" in texts and "joy" in texts
    radios = rc.find(v.Radio).widgets
    assert [r.label for r in radios] == ["It falls.", "No change.", "It rises."]
    run = rc.find(v.Btn, children=["Run the lesson"]).widget
    assert run.disabled, "no run before the class has predicted"
    rc.find(v.RadioGroup).widget.v_model = "same"
    assert not rc.find(v.Btn, children=["Run the lesson"]).widget.disabled
    rc.close()


def test_bundled_lessons_are_big_enough_for_their_levers_to_act(tmp_path):
    """A lesson on bundled payment at 300 patients would show a difference of exactly zero."""
    from dashboards.learn import lesson_warnings

    lessons, _ = les.load_lessons()
    for lesson in lessons:
        assert lesson_warnings(lesson) == [], lesson.name
    small = les.load_lesson(
        write_lesson(tmp_path, "small", changed(PRESET_LESSON, "run.n_patients", 300))
    )
    (warning,) = lesson_warnings(small)
    assert "bundled payment" in warning and "use at least 459 patients" in warning
    # A warning both arms share says nothing about their difference: not shown.
    both = changed(PRESET_LESSON, "a.preset", "training_subsidy")
    both = changed(both, "b.preset", "training_subsidy")
    shared = les.load_lesson(write_lesson(tmp_path, "shared", both))
    assert shared.scenarios is not None
    from model.catchment import lever_warnings

    assert lever_warnings(shared.scenarios[0]), "each arm alone has the subsidy warning"
    assert lesson_warnings(shared) == []
