"""Scenario files and the run/trial commands: the contract, and bad input of every kind."""

import json

import pytest

from model.metric_info import metric
from model.metrics import SUMMARY_KEYS
from scenarios.cli import main
from scenarios.loader import ScenarioError, load_scenario, preset_names, scenario_hash

REQUIRED_PRESETS = {
    "baseline", "bundled_payment", "coordination_payment", "carve_in", "therapy_parity",
    "therapist_supply", "training_subsidy", "patent_expiry", "no_prior_auth", "integrated_ideal",
    "drug_only_world", "acute_session_therapy", "optimistic_efficacy",
}  # fmt: skip


def test_every_design_preset_exists_loads_and_describes_itself():
    assert set(preset_names()) >= REQUIRED_PRESETS
    for name in preset_names():
        sc = load_scenario(name)
        assert sc.name == name
        assert len(sc.description.split()) >= 15, f"{name} needs a real description"


def test_extends_overrides_only_what_it_names():
    base = load_scenario("baseline")
    bundled = load_scenario("bundled_payment")
    assert bundled.policy.bundled_payment and not base.policy.bundled_payment
    assert bundled.policy.carve_out == base.policy.carve_out
    assert bundled.clinical == base.clinical
    assert scenario_hash(bundled) != scenario_hash(base)
    # Two levels deep: acute_session_therapy -> integrated_ideal -> baseline.
    acute = load_scenario("acute_session_therapy")
    assert acute.policy.integration_timing == "acute" and acute.policy.bundled_payment


def test_a_file_can_extend_a_preset_by_name(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('extends = "baseline"\n[policy]\nrel_therapy_rate = 1.5\n')
    sc = load_scenario(f)
    assert sc.name == "mine" and sc.policy.rel_therapy_rate == 1.5


BAD = {
    "unknown key": ("[policy]\nbundled_pay = true\n", "policy.bundled_pay", "unknown key"),
    "unknown table": ("[polcy]\nx = 1\n", "polcy", "unknown key"),
    "wrong type": ('[policy]\nrel_therapy_rate = "high"\n', "policy.rel_therapy_rate", "number"),
    "bool as int": ("[policy]\ncarve_out = 1\n", "policy.carve_out", "boolean"),
    "out of range": ("[policy]\np_pa_denial = 1.5\n", "policy.p_pa_denial", "0 <= value <= 1"),
    "negative count": ("[run]\nn_patients = -5\n", "run.n_patients", "1 <= value <= 1e+07"),
    "nan": ("[policy]\nrel_therapy_rate = nan\n", "policy.rel_therapy_rate", ""),
    "infinity": ("[policy]\nusd_bundle_per_episode = inf\n", "usd_bundle_per_episode", ""),
    "contradiction": ("[policy]\ntherapy_available = false\n", "p_integrated", "therapy_available"),
    "shares": ("[patients]\np_uninsured = 0.5\n", "patients", "sum to 1"),
    "bad toml": ("[policy\n", "not valid TOML", ""),
    "bad enum": ('[policy]\nintegration_timing = "later"\n', "integration_timing", "window"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_files_get_one_clear_line(tmp_path, case):
    text, key, allowed = BAD[case]
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(f) in msg and key in msg and allowed in msg, msg


def test_missing_file_and_unknown_preset():
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario("no/such/file.toml")
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        load_scenario("nope")


def test_extends_cycle_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.toml")


def test_run_json_prints_exactly_the_contract_keys(capsys):
    code = main(["run", "baseline", "--patients", "300", "--days", "60", "--seed", "3", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert tuple(out) == SUMMARY_KEYS
    assert out["scenario"] == "baseline" and out["seed"] == 3
    assert out["n_patients"] == 300 and out["days"] == 60


SMALL_RUN = ["run", "baseline", "--patients", "300", "--days", "60", "--seed", "3"]


def test_run_text_labels_every_metric_with_its_value_unit_and_period(capsys):
    assert main([*SMALL_RUN, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert main(SMALL_RUN) == 0
    out = capsys.readouterr().out
    assert "300 patients, 60 days, seed 3" in out
    for key in SUMMARY_KEYS[4:]:
        m = metric(key)
        assert key not in out, f"{key}: a label, not the snake_case key"
        (row,) = [line for line in out.splitlines() if f" {m.label} " in line]
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert cells == [m.label, m.format(summary[key]), m.unit.value, m.period], cells
    assert "%" in out and "$" in out, "shares as percentages, money in dollars"


def test_run_explain_defines_every_row(capsys):
    assert main([*SMALL_RUN, "--explain"]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    for key in SUMMARY_KEYS[4:]:
        definition = " ".join(metric(key).definition.split())
        assert f"({key}): {definition}" in flat, key


def test_run_out_writes_the_three_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "carve_in", "--patients", "300", "--days", "60", "--out", str(out)])
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"daily.csv", "patients.csv", "claims.csv", "summary.json", "by_payer.csv"} <= names
    import pandas as pd

    assert len(pd.read_csv(out / "daily.csv")) == 60
    assert len(pd.read_csv(out / "patients.csv")) == 300
    assert len(pd.read_csv(out / "claims.csv")) > 0


@pytest.mark.parametrize(
    "args",
    [
        ["run", "nope", "--json"],
        ["run", "baseline", "--patients", "0"],
        ["run", "baseline", "--patients", "abc"],
        ["run", "baseline", "--days", "-1"],
        ["run", "baseline", "--bogus"],
        ["run", "baseline", "--json", "--explain"],
        ["trial", "no_such_protocol.toml"],
    ],
)
def test_bad_command_lines_fail_with_one_line_and_write_nothing(tmp_path, capsys, args):
    out = tmp_path / "never"
    code = main([*args, "--out", str(out)] if args[0] == "run" else args)
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert not out.exists()


def test_bad_scenario_file_on_the_command_line(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text("[policy]\np_cost_share = 2\n")
    out = tmp_path / "out"
    code = main(["run", str(f), "--out", str(out), "--json"])
    err = capsys.readouterr().err
    assert code != 0 and "policy.p_cost_share" in err and str(f) in err
    assert not out.exists()


def test_trial_json_contract(capsys, tmp_path):
    f = tmp_path / "t.toml"
    f.write_text(
        'name = "t"\nn_patients = 200\ndrug = "iv_ketamine"\ndoses = [0, 3.5]\n'
        "therapy = [1.5]\nreport_days = [1, 7]\nfollow_up_days = 40\nseed = 2\n"
    )
    assert main(["trial", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "name", "n_patients", "response_rate", "remission_rate",
        "responders_after_last_dose", "median_days_to_relapse",
    }  # fmt: skip
    assert set(out["response_rate"]) == {"1", "7"}
    assert 0.0 <= out["responders_after_last_dose"] <= 1.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "t"\ndrug = "none"\ndoses = [0]\n', "doses must be empty"),
        ('name = "t"\ndoses = []\n', "needs at least one dose"),
        ('name = "t"\ndoses = [0]\nreport_days = [400]\nfollow_up_days = 100\n', "follow_up_days"),
        ('name = "t"\ndoses = [-1]\n', "doses.0"),
        ('name = "t"\ndoses = [0]\nn_patients = 0\n', "n_patients"),
        ('name = "t"\ndoses = [0]\nwhat = 1\n', "what"),
    ],
)
def test_bad_trial_protocols(tmp_path, capsys, text, key):
    f = tmp_path / "p.toml"
    f.write_text(text)
    assert main(["trial", str(f), "--json"]) != 0
    captured = capsys.readouterr()
    assert captured.out == "" and key in captured.err and "\n" not in captured.err.strip()


def test_names_with_brackets_print_as_written(tmp_path, capsys):
    # Rich reads "[...]" as markup: a scenario named "x[/]y" must print, not crash the table.
    f = tmp_path / "odd.toml"
    f.write_text('extends = "baseline"\nname = "x[/]y [bold]"\n')
    assert main(["run", str(f), "--patients", "60", "--days", "5"]) == 0
    assert "ketasim run x[/]y [bold]: 60 patients" in capsys.readouterr().out
