"""Lever metadata and validation of the dashboard (dashboards/levers.py)."""

from __future__ import annotations

import math
import tomllib

import pytest

from agents.policy import PolicyLevers
from dashboards.levers import (
    GROUPS,
    LEVER_BY_NAME,
    LEVERS,
    MAX_DASHBOARD_PATIENTS,
    RUN_LEVERS,
    CompareSettings,
    LeverError,
    LeverKind,
    changed_levers,
    format_value,
    make_scenario,
    parse_value,
    preset_levers,
    scenario_name,
    scenario_toml,
    with_compare_setting,
    with_lever,
    with_run_setting,
)
from model.params import RunSettings
from scenarios.api import load_scenario
from scenarios.loader import preset_names


def test_every_policy_field_has_exactly_one_control():
    names = [lv.name for lv in LEVERS]
    assert len(names) == len(set(names)), "a lever is listed twice"
    assert set(names) == set(PolicyLevers.model_fields), (
        "dashboard levers and PolicyLevers fields differ: "
        f"{set(names) ^ set(PolicyLevers.model_fields)}"
    )
    assert {lv.group for lv in LEVERS} == set(GROUPS)


def test_lever_kinds_match_the_model_types():
    defaults = PolicyLevers()
    for lever in LEVERS:
        value = getattr(defaults, lever.name)
        match lever.kind:
            case LeverKind.SWITCH:
                assert isinstance(value, bool), lever.name
            case LeverKind.INT:
                assert isinstance(value, int) and not isinstance(value, bool), lever.name
            case LeverKind.FLOAT:
                assert isinstance(value, float), lever.name
            case LeverKind.CHOICE:
                assert format_value(lever, value) in lever.choices, lever.name


def test_numeric_sliders_lie_inside_the_model_range():
    """Every slider position must be a value the model accepts."""
    base = PolicyLevers()
    for lever in LEVERS:
        if lever.kind not in (LeverKind.FLOAT, LeverKind.INT):
            continue
        assert lever.lo < lever.hi and lever.step > 0, lever.name
        for end in (lever.lo, lever.hi):
            with_lever(base, lever.name, end)  # raises if the model refuses a slider end


def test_numeric_labels_carry_a_unit():
    for lever in (*LEVERS, *RUN_LEVERS):
        if lever.kind in (LeverKind.FLOAT, LeverKind.INT) and lever.name != "seed":
            assert "(" in lever.label, f"{lever.name}: label '{lever.label}' has no unit"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("7000", 7000.0), ("7,000", 7000.0), ("$160", 160.0), (" 2.5 ", 2.5), (3, 3.0)],
)
def test_parse_accepts_ordinary_typing(raw, expected):
    assert parse_value(LEVER_BY_NAME["usd_bundle_per_episode"], raw) == expected


@pytest.mark.parametrize(
    ("name", "raw", "fragment"),
    [
        ("usd_bundle_per_episode", "abc", "not a number"),
        ("usd_bundle_per_episode", "", "number is required"),
        ("usd_bundle_per_episode", "nan", "finite"),
        ("usd_bundle_per_episode", "inf", "finite"),
        ("usd_bundle_per_episode", "-5", "at least 0"),
        ("p_cost_share", "1.5", "at most 1"),
        ("rel_therapy_rate", "0", "at least 0.1"),
        ("n_session_cap", "2.5", "whole number"),
        ("n_session_cap", "201", "at most 200"),
        ("carve_out", "maybe", "not on/off"),
        ("integration_timing", "later", "window, acute"),
    ],
)
def test_bad_values_are_refused_with_one_line(name, raw, fragment):
    base = PolicyLevers()
    with pytest.raises(LeverError) as info:
        with_lever(base, name, raw)
    msg = str(info.value)
    assert fragment in msg, f"message for {name}={raw!r} was {msg!r}"
    assert "\n" not in msg


def test_valid_change_keeps_everything_else():
    base = PolicyLevers()
    new = with_lever(base, "bundled_payment", True)
    assert new.bundled_payment is True
    assert {k: v for k, v in new.model_dump().items() if k != "bundled_payment"} == {
        k: v for k, v in base.model_dump().items() if k != "bundled_payment"
    }
    assert with_lever(base, "integration_timing", "acute").integration_timing == "acute"
    assert with_lever(base, "n_session_cap", "12").n_session_cap == 12


def test_unknown_lever_is_refused():
    with pytest.raises(LeverError, match="unknown policy lever"):
        with_lever(PolicyLevers(), "not_a_lever", 1)
    with pytest.raises(LeverError, match="unknown policy lever"):
        with_lever(PolicyLevers(), "n_patients", 10)


def test_cross_field_rule_of_the_model_applies():
    """No bundle without therapy: the Scenario's own rule, refused as one line."""
    levers, run, _ = preset_levers("drug_only_world")
    with pytest.raises(LeverError) as info:
        make_scenario("drug_only_world", with_lever(levers, "bundled_payment", True), run)
    assert "therapy_available" in str(info.value)
    assert "\n" not in str(info.value)


def test_run_settings_have_dashboard_caps():
    run = RunSettings()
    assert with_run_setting(run, "n_patients", "300").n_patients == 300
    with pytest.raises(LeverError, match="use `ketasim run --patients`"):
        with_run_setting(run, "n_patients", MAX_DASHBOARD_PATIENTS + 1)
    with pytest.raises(LeverError, match="at least 1"):
        with_run_setting(run, "days", 0)
    with pytest.raises(LeverError, match="unknown run setting"):
        with_run_setting(run, "carve_out", True)


def test_compare_settings_need_two_replications():
    s = CompareSettings()
    assert with_compare_setting(s, "replications", "3").replications == 3
    with pytest.raises(LeverError, match="at least two pairs"):
        with_compare_setting(s, "replications", 1)
    assert with_compare_setting(s, "n_patients", "300").n_patients == 300
    with pytest.raises(LeverError, match="not a number"):
        with_compare_setting(s, "days", "a year")


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_loads_into_the_levers(preset):
    levers, run, _ = preset_levers(preset)
    sc = make_scenario(preset, levers, run)
    assert sc.policy == load_scenario(preset).policy
    assert scenario_name(preset, levers) == preset


def test_unknown_preset_is_refused():
    with pytest.raises(LeverError, match="unknown preset"):
        preset_levers("no_such_preset")


def test_changed_levers_names_what_moved():
    levers, _, _ = preset_levers("baseline")
    moved = with_lever(levers, "bundled_payment", True)
    assert changed_levers("baseline", moved) == {"bundled_payment": True}
    assert scenario_name("baseline", moved) == "baseline+custom"


def test_saved_toml_runs_as_the_same_scenario(tmp_path):
    """The downloaded file, loaded by the loader `ketasim run` uses, is the dashboard's scenario."""
    levers, _, _ = preset_levers("drug_only_world")
    levers = with_lever(levers, "p_cost_share", 0.3)
    run = RunSettings(n_patients=300, days=60, seed=4)
    text = scenario_toml("drug_only_world", levers, run)
    doc = tomllib.loads(text)
    assert doc["extends"] == "drug_only_world"
    path = tmp_path / "mine.toml"
    path.write_text(text)
    loaded = load_scenario(path)
    expected = make_scenario("drug_only_world", levers, run)
    assert loaded.policy == expected.policy
    assert loaded.prescribers == expected.prescribers, "the preset's non-policy blocks carry over"
    assert loaded.run == run
    assert not math.isclose(loaded.policy.p_cost_share, 0.2)


def test_saved_toml_runs_through_the_cli(tmp_path, capsys):
    from scenarios.cli import main

    levers = with_lever(PolicyLevers(), "bundled_payment", True)
    path = tmp_path / "bundled.toml"
    path.write_text(scenario_toml("baseline", levers, RunSettings(n_patients=200, days=30)))
    assert main(["run", str(path), "--json"]) == 0
    assert '"integrated_delivery_rate"' in capsys.readouterr().out


def test_refused_input_leaves_the_running_model_alone():
    """Bad input changes nothing: same model object, same settings, and it keeps stepping."""
    from dashboards.explore import ExploreSession

    session = ExploreSession()
    session.set_run_setting("n_patients", 300)
    session.set_run_setting("days", 60)
    assert session.step() and session.model.time == 7
    model, levers = session.model, session.levers.value
    for name, raw in [("usd_bundle_per_episode", "abc"), ("p_cost_share", "2")]:
        with pytest.raises(LeverError):
            session.set_lever(name, raw)
    with pytest.raises(LeverError):
        session.set_run_setting("n_patients", "-3")
    assert session.model is model and session.levers.value == levers
    assert session.step() and session.model.time == 14, "the run continues after a refusal"


def test_valid_change_restarts_from_day_zero_and_preset_loads():
    from dashboards.explore import ExploreSession

    session = ExploreSession()
    session.set_run_setting("n_patients", 300)
    session.step()
    session.set_lever("bundled_payment", True)
    assert session.model.time == 0 and session.model.scenario.policy.bundled_payment
    assert session.scenario.name == "baseline+custom"
    session.load_preset("integrated_ideal")
    assert session.scenario.name == "integrated_ideal"
    assert session.model.scenario.policy == load_scenario("integrated_ideal").policy
    assert session.run.value.n_patients == 300, "a preset keeps the analyst's run settings"
    session.set_run_setting("days", 30)
    while session.step():
        pass
    assert session.model.time == 30 and session.at_end()
    session.reset()
    assert session.model.time == 0


def test_every_number_box_is_labelled_with_its_unit():
    from dashboards.levers import COMPARE_LEVERS, LEVERS, RUN_LEVERS, LeverKind

    numeric = [
        lv
        for lv in (*LEVERS, *RUN_LEVERS, *COMPARE_LEVERS)
        if lv.kind in (LeverKind.FLOAT, LeverKind.INT)
    ]
    assert numeric
    unlabelled = [lv.name for lv in numeric if not lv.unit or lv.unit == "value"]
    assert not unlabelled, f"number boxes without a unit: {unlabelled}"
