"""``ketasim scenarios show``: annotated TOML that documents every field and runs as it is."""

from __future__ import annotations

import json
import tomllib

import pytest

from model.params import Scenario
from scenarios.cli import main
from scenarios.loader import load_scenario, preset_names
from scenarios.scenario_file import annotated_toml


def _blocks() -> dict[str, type]:
    return {
        name: field.annotation
        for name, field in Scenario.model_fields.items()
        if name not in {"name", "description"}
    }


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_shown_parses_validates_and_loads_as_the_same_scenario(tmp_path, preset):
    sc = load_scenario(preset)
    text = annotated_toml(sc)
    raw = tomllib.loads(text)
    assert Scenario.model_validate(raw) == sc, "the TOML validates as the very same scenario"
    path = tmp_path / "shown.toml"
    path.write_text(text)
    assert load_scenario(path) == sc, "... and loads from a file as it"


def test_show_then_run_gives_the_same_run(tmp_path, capsys):
    assert main(["scenarios", "show", "carve_in"]) == 0
    path = tmp_path / "mine.toml"
    path.write_text(capsys.readouterr().out)
    size = ["--patients", "200", "--days", "40", "--json"]
    assert main(["run", str(path), *size]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["run", "carve_in", *size]) == 0
    assert from_file == json.loads(capsys.readouterr().out)


def test_an_edited_value_is_taken(tmp_path):
    text = annotated_toml(load_scenario("baseline"))
    assert "\nrel_therapy_rate = 1.0\n" in text
    path = tmp_path / "edited.toml"
    path.write_text(text.replace("\nrel_therapy_rate = 1.0\n", "\nrel_therapy_rate = 1.5\n"))
    assert load_scenario(path).policy.rel_therapy_rate == 1.5


def test_every_field_sits_under_its_description_and_what_it_allows():
    lines = annotated_toml(load_scenario("baseline")).splitlines()
    for block, model in _blocks().items():
        assert f"[{block}]" in lines, block
        for name, field in model.model_fields.items():
            at = lines.index(f"[{block}]") + 1
            at += next(i for i, line in enumerate(lines[at:]) if line.startswith(f"{name} = "))
            comments = []
            for line in reversed(lines[:at]):
                if not line.startswith("# "):
                    break
                comments.insert(0, line[2:])
            said = " ".join(comments)
            described = " ".join(field.description.replace("``", "`").split())
            assert said.startswith(described), f"{block}.{name}: {said!r}"
            assert "Allowed: " in said, f"{block}.{name} says what it allows"


def test_allowed_values_are_stated_from_the_schema():
    text = annotated_toml(load_scenario("baseline"))
    assert "# Allowed: a number, 0 <= value <= 1.\np_pa_denial = 0.15" in text
    assert '# Allowed: one of "window", "acute".\nintegration_timing = "window"' in text
    assert "# Allowed: true or false.\ncarve_out = true" in text
    assert "# Allowed: a whole number, 1 <= value <= 36500.\ndays = 365" in text


def test_json_flag_keeps_the_json(capsys):
    assert main(["scenarios", "show", "baseline", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == load_scenario("baseline").model_dump(mode="json")


def test_a_bad_name_is_one_line_and_prints_nothing(capsys):
    assert main(["scenarios", "show", "nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
