"""Hostile input: the loaders and the CLI refuse bad input in one line.

The rule under test (docs/reliability.md): any bad scenario file, trial protocol, scenario dict or
command-line flag gives a ``ScenarioError`` (the CLI: exit code != 0) whose message is ONE line
naming the file (for a dict, its source), and nothing else happens: no other exception, nothing
on stdout, no output directory. Accepted input must really be valid: every number finite and
within its declared bounds.

Two kinds of test: hand-written cases (malformed TOML, wrong types, huge numbers, NaN and
infinities, negative counts, empty lists, unknown keys at every level, ``extends`` chains with
cycles, self-extension and excessive depth, binary garbage, non-UTF-8, directories, long names)
and Hypothesis-generated documents, values, byte strings, mutations of the presets and command
lines. Counts of cases tried go to ``artifacts/property_counts.json``.

"One line" means no ``\\n`` or ``\\r`` in the message: what a terminal or a log reader splits on.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import strategies as strat
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from model.params import Scenario
from model.trial import TrialProtocol, run_trial
from scenarios.api import PROTOCOL_DIR, resolve_protocol
from scenarios.cli import main
from scenarios.loader import (
    MAX_EXTENDS_DEPTH,
    PRESET_DIR,
    ScenarioError,
    load_protocol,
    load_scenario,
    preset_names,
    scenario_from_dict,
)

# CI: 150 examples a test, the same every run (derandomized); KETASIM_FUZZ_EXAMPLES=N runs N
# fresh random examples instead (a longer local search).
RANDOM_SEARCH = "KETASIM_FUZZ_EXAMPLES" in os.environ
FUZZ_EXAMPLES = int(os.environ.get("KETASIM_FUZZ_EXAMPLES", "150"))
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=not RANDOM_SEARCH,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    print_blob=True,
)

counter = strat.CaseCounter("tests/test_fuzz_inputs.py")


@pytest.fixture(scope="module", autouse=True)
def _write_counts():
    yield
    counter.write()


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def assert_one_line(message: str, *names: str) -> None:
    """The message is one non-empty line and names at least one of ``names``."""
    assert message.strip(), "empty error message"
    assert "\n" not in message and "\r" not in message, f"error spans lines: {message!r}"
    if names:
        assert any(name in message for name in names), f"{message!r} names none of {names}"


def outcome(load: Callable[[Any], Any], arg: Any, *names: str) -> Any:
    """Call a loader: its result, or None after checking its ScenarioError.

    Any exception other than ``ScenarioError`` propagates and fails the test (a crash).
    """
    try:
        return load(arg)
    except ScenarioError as exc:
        assert_one_line(str(exc), *names)
        return None


def expect_error(load: Callable[[Any], Any], arg: Any, *names: str) -> str:
    """Call a loader that must refuse ``arg``; return the (checked) one-line message."""
    with pytest.raises(ScenarioError) as info:
        load(arg)
    message = str(info.value)
    assert_one_line(message, *names)
    return message


def write(path: Path, data: bytes | str) -> Path:
    """Write a file (bytes as given, text as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def assert_within_declared_bounds(model: BaseModel, where: str = "") -> None:
    """Every number of an accepted model is finite and inside its field's declared bounds."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = f"{where}{name}"
        if isinstance(value, BaseModel):
            assert_within_declared_bounds(value, f"{key}.")
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            assert math.isfinite(v), f"accepted non-finite {key} = {v!r}"
            if isinstance(value, list):
                # List items carry their bounds on the item type: list[Annotated[float, Field]].
                item = field.annotation.__args__[0]
                low, low_open, high, high_open = strat.bounds(item.__metadata__[0])
            else:
                low, low_open, high, high_open = strat.bounds(field)
            if low is not None:
                assert v > low if low_open else v >= low, f"accepted {key} = {v!r} < {low}"
            if high is not None:
                assert v < high if high_open else v <= high, f"accepted {key} = {v!r} > {high}"


def check_scenario_file(path: Path) -> Scenario | None:
    """Load a scenario file: a valid scenario within bounds, or a one-line error naming it."""
    result = outcome(load_scenario, str(path), str(path), path.name)
    if result is not None:
        assert isinstance(result, Scenario)
        assert_within_declared_bounds(result)
    return result


def check_protocol_file(path: Path) -> TrialProtocol | None:
    """Load a protocol file both ways: the same verdict, within bounds or one line naming it."""
    first = outcome(load_protocol, str(path), str(path), path.name)
    second = outcome(resolve_protocol, str(path), str(path), path.name)
    assert (first is None) == (second is None), "load_protocol and resolve_protocol disagree"
    if first is not None:
        assert first == second
        assert_within_declared_bounds(first)
    return first


# ------------------------------------------------------------------------------------------
# Scenario files: hand-written hostile cases
# ------------------------------------------------------------------------------------------

BLOCK_NAMES = ("run", *strat.BLOCKS)

HOSTILE_SCENARIOS: dict[str, bytes | str] = {
    # malformed TOML
    "unclosed_table": "[policy\ncarve_out = true\n",
    "missing_value": "[run]\ndays =\n",
    "missing_key": "= 3\n",
    "duplicate_key": "[run]\ndays = 1\ndays = 2\n",
    "duplicate_table": "[run]\ndays = 10\n[run]\nseed = 1\n",
    "unterminated_string": 'name = "baseline\n',
    "bad_escape": 'name = "\\q"\n',
    "array_of_tables_for_block": "[[policy]]\ncarve_out = true\n",
    "bare_words": "this is not toml at all\n",
    "bom": "\ufeffname = 'x'\n",
    # wrong types
    "bool_as_string": '[policy]\ncarve_out = "yes"\n',
    "int_as_float": "[run]\nn_patients = 1.5\n",
    "int_as_string": '[run]\nn_patients = "100"\n',
    "int_as_bool": "[run]\ndays = true\n",
    "float_as_string": '[policy]\np_pa_denial = "0.1"\n',
    "float_as_date": "[policy]\np_pa_denial = 1979-05-27\n",
    "seed_as_datetime": "[run]\nseed = 1979-05-27T07:32:00Z\n",
    "block_as_number": "policy = 1\n",
    "block_as_string": 'clinical = "strong"\n',
    "enum_unknown": '[policy]\nintegration_timing = "later"\n',
    "enum_as_int": "[policy]\nintegration_timing = 3\n",
    "name_as_int": "name = 5\n",
    "description_as_list": "description = []\n",
    "inline_table_for_scalar": "[policy]\ncarve_out = { x = 1 }\n",
    "empty_name": 'name = ""\n',
    "name_too_long": f'name = "{"n" * 101}"\n',
    # huge numbers
    "huge_patients": "[run]\nn_patients = 100000000000000000000000000\n",
    "seed_beyond_int64": "[run]\nseed = 18446744073709551616\n",
    "huge_float": "[policy]\nusd_bundle_per_episode = 1e308\n",
    "overflowing_float": "[pharma]\nusd_list_price_per_session = 1e999\n",
    "huge_cap": "[policy]\nn_session_cap = 9223372036854775807\n",
    # NaN and infinities
    "nan_probability": "[policy]\np_pa_denial = nan\n",
    "inf_probability": "[policy]\np_cost_share = inf\n",
    "minus_inf_rate": "[policy]\nrel_therapy_rate = -inf\n",
    "nan_weight": "[clinical]\nw_b = nan\n",
    "nan_clinical_days": "[clinical]\ndur_relief_days = nan\n",
    "inf_window": "[metrics]\nwindow_end_days = inf\n",
    "nan_seek_rate": "[patients]\nrate_seek_per_day = nan\n",
    "nan_seed": "[run]\nseed = nan\n",
    "inf_days": "[run]\ndays = inf\n",
    "nan_patent": "[policy]\npatent_expiry_day = +nan\n",
    # negative and zero counts
    "negative_patients": "[run]\nn_patients = -1\n",
    "zero_patients": "[run]\nn_patients = 0\n",
    "negative_days": "[run]\ndays = -5\n",
    "negative_seed": "[run]\nseed = -1\n",
    "negative_cap": "[policy]\nn_session_cap = -1\n",
    "zero_induction": "[patients]\nn_induction_doses = 0\n",
    "negative_slots": "[therapists]\nn_slots_per_week = -3\n",
    "zero_clinics": "[prescribers]\nn_per_1000_patients = 0.0\n",
    "negative_price": "[prescribers]\nusd_cash_iv_price = -500.0\n",
    # empty lists and tables in the wrong place
    "empty_list_block": "policy = []\n",
    "empty_list_value": "[policy]\ncarve_out = []\n",
    "empty_list_run": "run = []\n",
    "list_of_numbers": "[run]\ndays = [1, 2]\n",
    # unknown keys
    "unknown_top": "bogus = 1\n",
    "unknown_table": "[bogus]\nx = 1\n",
    "unknown_nested": "[policy.bogus]\nx = 1\n",
    "unknown_dotted": "policy.carve_out.x = 1\n",
    "unknown_in_extending_file": 'extends = "baseline"\n[pharma]\nbogus = 1\n',
    # cross-field rules
    "payer_shares": "[patients]\np_commercial = 0.9\n",
    "clinic_shares": "[prescribers]\np_integrated = 0.5\n",
    "weights": "[clinical]\nw_b = 0.9\n",
    "acute_after_peak": "[clinical]\ndur_acute_days = 1.5\ndur_plasticity_peak_days = 1.0\n",
    "delay_min_above_max": "[patients]\ndur_integration_delay_min_days = 5.0\n",
    "window_reversed": "[metrics]\nwindow_start_days = 8.0\n",
    "integrated_without_therapy": "[policy]\ntherapy_available = false\n",
    "bundle_without_therapy": (
        "[policy]\ntherapy_available = false\nbundled_payment = true\n"
        "[prescribers]\np_integrated = 0.0\np_rems_esketamine = 0.55\n"
    ),
    # binary garbage and other encodings
    "nul_bytes": b"\x00" * 64,
    "png_header": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "random_bytes": random.Random(7).randbytes(4096),
    "latin1": 'name = "caf\xe9"\n'.encode("latin-1"),
    "utf16": "name = 'x'\n".encode("utf-16"),
    "lone_surrogate": b'name = "\xed\xa0\x80"\n',
    "truncated_utf8": b'name = "\xe2\x82"\n',
    "control_chars": b"name = 'a\x01b'\n",
    # too large
    "over_one_megabyte": "# " + "x" * 1_000_100 + "\n",
}

# Regressions: inputs that once crashed or split the message (docs/reliability.md, "Bugs found").
FOUND_BUG_SCENARIOS: dict[str, bytes | str] = {
    "deeply_nested_array": "a = " + "[" * 5000 + "]" * 5000 + "\n",
    "deeply_nested_inline_table": "a = " + "{b=" * 3000 + "1" + "}" * 3000 + "\n",
    "newline_in_unknown_key": '[policy]\n"foo\\nbar" = 1\n',
    "newline_in_top_level_key": '"x\\ny" = 1\n',
    "newline_in_extends": 'extends = "a\\nb"\n',
}
BAD_SCENARIO_FILES = {**HOSTILE_SCENARIOS, **FOUND_BUG_SCENARIOS}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIO_FILES), ids=str)
def test_hostile_scenario_file_gives_one_line_naming_it(tmp_path, case):
    counter.tried("hostile_scenario_files")
    data = BAD_SCENARIO_FILES[case]
    path = write(tmp_path / f"{case}.toml", data)
    expect_error(load_scenario, str(path), str(path))
    # The same file as a trial protocol is refused the same way.
    expect_error(load_protocol, str(path), str(path))
    expect_error(resolve_protocol, str(path), str(path))
    counter.passed("hostile_scenario_files")


@pytest.mark.parametrize("block", BLOCK_NAMES)
def test_unknown_key_in_every_block_is_named(tmp_path, block):
    counter.tried("unknown_key_every_block")
    path = write(tmp_path / "s.toml", f"[{block}]\nno_such_lever = 1\n")
    message = expect_error(load_scenario, str(path), str(path))
    assert f"{block}.no_such_lever" in message and "unknown key" in message
    message = expect_error(scenario_from_dict, {block: {"no_such_lever": 1}}, "<dict>")
    assert f"{block}.no_such_lever" in message
    counter.passed("unknown_key_every_block")


@pytest.mark.parametrize("block", BLOCK_NAMES)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1, 10**40], ids=repr)
def test_every_numeric_field_refuses_nan_infinities_and_out_of_range(block, value):
    """Each numeric field of each block, set to NaN, +-inf, -1 or 10**40, is refused or in range."""
    counter.tried("numeric_fields_extremes")
    model = strat.block_model(block)
    for name, field in model.model_fields.items():
        if field.annotation not in (int, float):
            continue
        try:
            scenario = scenario_from_dict({block: {name: value}})
        except ScenarioError as exc:
            assert_one_line(str(exc), "<dict>")
            assert f"{block}.{name}" in str(exc), f"error does not name the key: {exc}"
            continue
        # Accepted: only possible for a finite value inside the bounds.
        assert_within_declared_bounds(scenario)
    counter.passed("numeric_fields_extremes")


# ------------------------------------------------------------------------------------------
# extends: cycles, self-extension, depth, bad targets
# ------------------------------------------------------------------------------------------


def test_self_extension_is_refused(tmp_path):
    counter.tried("extends_chains")
    path = write(tmp_path / "me.toml", 'extends = "me.toml"\n')
    message = expect_error(load_scenario, str(path), "me.toml")
    assert "cycle" in message
    counter.passed("extends_chains")


def test_two_and_three_file_cycles_are_refused(tmp_path):
    counter.tried("extends_chains")
    write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    assert "cycle" in expect_error(load_scenario, str(tmp_path / "a.toml"), "a.toml")
    # A cycle that does not pass through the first file.
    write(tmp_path / "top.toml", 'extends = "c.toml"\n')
    write(tmp_path / "c.toml", 'extends = "d.toml"\n')
    write(tmp_path / "d.toml", 'extends = "c.toml"\n')
    assert "cycle" in expect_error(load_scenario, str(tmp_path / "top.toml"), "c.toml")
    counter.passed("extends_chains")


def _chain(tmp_path: Path, length: int) -> Path:
    """Files f0 <- f1 <- ... <- f{length-1}, the first extending the baseline preset."""
    write(tmp_path / "f0.toml", 'extends = "baseline"\n[run]\ndays = 30\n')
    for k in range(1, length):
        write(tmp_path / f"f{k}.toml", f'extends = "f{k - 1}.toml"\n[run]\nseed = {k}\n')
    return tmp_path / f"f{length - 1}.toml"


def test_a_chain_within_the_depth_limit_loads_with_the_last_override(tmp_path):
    counter.tried("extends_chains")
    # The limit counts the files above the one loaded; the preset is one of them.
    top = _chain(tmp_path, MAX_EXTENDS_DEPTH - 1)
    scenario = load_scenario(str(top))
    assert scenario.run.days == 30 and scenario.run.seed == MAX_EXTENDS_DEPTH - 2
    counter.passed("extends_chains")


def test_a_chain_deeper_than_the_limit_is_refused(tmp_path):
    counter.tried("extends_chains")
    top = _chain(tmp_path, MAX_EXTENDS_DEPTH + 5)
    message = expect_error(load_scenario, str(top), top.name)
    assert "deeper" in message
    counter.passed("extends_chains")


@pytest.mark.parametrize(
    "target",
    [
        '"missing.toml"',
        '"sub/"',
        '"sub.toml"',
        "3",
        "true",
        "[]",
        '["baseline"]',
        "{a = 1}",
        '""',
        '"no_such_preset"',
        '"garbage.toml"',
        '"bad.toml"',
        '"/"',
        "1979-05-27",
    ],
    ids=str,
)
def test_bad_extends_targets_are_refused(tmp_path, target):
    counter.tried("extends_targets")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub.toml").mkdir()
    write(tmp_path / "garbage.toml", b"\xff\xfe\x00garbage")
    write(tmp_path / "bad.toml", "[run]\ndays = -1\n")
    path = write(tmp_path / "child.toml", f"extends = {target}\n")
    expect_error(load_scenario, str(path), "child.toml", "garbage.toml", "bad.toml")
    counter.passed("extends_targets")


def test_scenario_from_dict_refuses_bad_extends():
    counter.tried("extends_targets")
    for parent in (5, ["baseline"], {"a": 1}, "", "no_such_preset", "/nonexistent/x.toml"):
        expect_error(scenario_from_dict, {"extends": parent}, "<dict>", str(parent))
    counter.passed("extends_targets")


# ------------------------------------------------------------------------------------------
# Paths that are not scenario files
# ------------------------------------------------------------------------------------------


def test_directories_and_special_files_are_refused(tmp_path):
    counter.tried("not_a_file")
    (tmp_path / "dir.toml").mkdir()
    for arg in (str(tmp_path), f"{tmp_path}/", str(tmp_path / "dir.toml"), "/dev/null"):
        for load in (load_scenario, load_protocol, resolve_protocol):
            expect_error(load, arg, arg.rstrip("/"))
    counter.passed("not_a_file")


@pytest.mark.parametrize("arg", ["", " ", "\x00", "a\x00b.toml", "no_such_preset"], ids=repr)
def test_empty_and_odd_names_are_refused(arg):
    counter.tried("odd_names")
    expect_error(load_scenario, arg)
    counter.passed("odd_names")


@pytest.mark.parametrize("arg", ["x" * 300, "x" * 300 + ".toml", "d/" + "x" * 300 + ".toml"])
def test_names_too_long_for_the_file_system_are_refused(arg):
    """Regression: an over-long name once escaped as OSError (ENAMETOOLONG) from ``is_file``."""
    counter.tried("long_names")
    for load in (load_scenario, load_protocol, resolve_protocol):
        expect_error(load, arg, arg[:50])
    counter.passed("long_names")


def test_newline_in_a_file_name_stays_on_one_line(tmp_path):
    """Regression: the path was printed raw, so a newline in it split the message."""
    counter.tried("odd_names")
    path = write(tmp_path / "bad\nname.toml", "[run]\ndays = -1\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert_one_line(str(info.value), "name.toml")
    counter.passed("odd_names")


# ------------------------------------------------------------------------------------------
# Trial protocols
# ------------------------------------------------------------------------------------------

GOOD_PROTOCOL = 'name = "t"\nn_patients = 100\ndrug = "iv_ketamine"\ndoses = [0]\n'

HOSTILE_PROTOCOLS: dict[str, str | bytes] = {
    "empty": "",
    "missing_name": "n_patients = 10\ndoses = [0]\n",
    "unknown_top_key": GOOD_PROTOCOL + "bogus = 1\n",
    "unknown_clinical_key": GOOD_PROTOCOL + "[clinical]\nbogus = 1\n",
    "clinical_weights": GOOD_PROTOCOL + "[clinical]\nw_b = 0.1\n",
    "clinical_nan": GOOD_PROTOCOL + "[clinical]\np_gate_floor = nan\n",
    "bad_drug": 'name = "t"\ndrug = "lsd"\ndoses = [0]\n',
    "drug_as_int": 'name = "t"\ndrug = 1\ndoses = [0]\n',
    "doses_not_list": 'name = "t"\ndoses = 0\n',
    "doses_strings": 'name = "t"\ndoses = ["0"]\n',
    "doses_nested": 'name = "t"\ndoses = [[0]]\n',
    "doses_nan": 'name = "t"\ndoses = [nan]\n',
    "doses_inf": 'name = "t"\ndoses = [inf]\n',
    "doses_negative": 'name = "t"\ndoses = [-1]\n',
    "doses_huge": 'name = "t"\ndoses = [1e300]\n',
    "doses_empty_with_drug": 'name = "t"\ndoses = []\n',
    "doses_with_no_drug": 'name = "t"\ndrug = "none"\ndoses = [0]\n',
    "too_many_doses": 'name = "t"\ndoses = [' + ", ".join(["0"] * 1001) + "]\n",
    "therapy_nan": GOOD_PROTOCOL + "therapy = [nan]\n",
    "report_after_follow_up": GOOD_PROTOCOL + "report_days = [400]\nfollow_up_days = 100\n",
    "follow_up_zero": GOOD_PROTOCOL + "follow_up_days = 0\n",
    "follow_up_nan": GOOD_PROTOCOL + "follow_up_days = nan\n",
    "follow_up_inf": GOOD_PROTOCOL + "follow_up_days = inf\n",
    "n_zero": 'name = "t"\nn_patients = 0\ndoses = [0]\n',
    "n_negative": 'name = "t"\nn_patients = -5\ndoses = [0]\n',
    "n_float": 'name = "t"\nn_patients = 10.0\ndoses = [0]\n',
    "n_huge": 'name = "t"\nn_patients = 100000000000000000000\ndoses = [0]\n',
    "seed_negative": GOOD_PROTOCOL + "seed = -1\n",
    "seed_float": GOOD_PROTOCOL + "seed = 1e99\n",
    "name_table": "[name]\nx = 1\n",
    "malformed": 'name = "t\ndoses = [0\n',
    "binary": b"\x00\xff" * 100,
    "latin1": 'name = "caf\xe9"\ndoses = [0]\n'.encode("latin-1"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PROTOCOLS), ids=str)
def test_hostile_protocol_gives_one_line_naming_it(tmp_path, case):
    counter.tried("hostile_protocols")
    path = write(tmp_path / f"{case}.toml", HOSTILE_PROTOCOLS[case])
    expect_error(load_protocol, str(path), str(path))
    expect_error(resolve_protocol, str(path), str(path))
    counter.passed("hostile_protocols")


def test_bundled_protocols_still_load():
    counter.tried("hostile_protocols")
    names = sorted(p.stem for p in PROTOCOL_DIR.glob("*.toml"))
    assert names, "no bundled protocols"
    for name in names:
        assert resolve_protocol(name).name
    expect_error(resolve_protocol, "no_such_protocol", "no_such_protocol")
    counter.passed("hostile_protocols")


def test_trial_reports_one_key_per_distinct_report_day():
    """Regression: report-day keys used 6 significant digits, so near days shared one key.

    ``ketasim trial --json`` promises a key per report day; days 100.25 and 100.2501 both become
    "100.25" and one of the two results is silently lost (model/trial.py, ``_day_key``).
    """
    counter.tried("trial_report_keys")
    days = [1.0, 100.25, 100.2501, 1234.5678, 1234.5679]
    protocol = TrialProtocol(
        name="keys", n_patients=20, doses=[0.0], report_days=days, follow_up_days=1300
    )
    result = run_trial(protocol)
    assert len(result.response_rate) == len(days), sorted(result.response_rate)
    counter.passed("trial_report_keys")


# ------------------------------------------------------------------------------------------
# Hypothesis: random documents, values, bytes and mutations
# ------------------------------------------------------------------------------------------


def _dump(document: dict) -> str:
    try:
        return tomli_w.dumps(document)
    except (TypeError, ValueError):
        assume(False)  # not expressible in TOML (e.g. a time with a time zone)
        raise


@FUZZ_SETTINGS
@given(document=strat.toml_documents())
def test_random_toml_documents_load_or_fail_in_one_line(tmp_path_factory, document):
    counter.tried("random_toml_documents")
    text = _dump(document)
    path = write(tmp_path_factory.mktemp("doc") / "random.toml", text)
    check_scenario_file(path)
    check_protocol_file(path)
    counter.passed("random_toml_documents")


@FUZZ_SETTINGS
@given(data=st.one_of(st.binary(max_size=2048), st.text(max_size=512).map(str.encode)))
def test_random_bytes_load_or_fail_in_one_line(tmp_path_factory, data):
    counter.tried("random_bytes")
    path = write(tmp_path_factory.mktemp("bytes") / "bytes.toml", data)
    check_scenario_file(path)
    check_protocol_file(path)
    counter.passed("random_bytes")


def _value_text(value: Any) -> str:
    """A TOML value as text (tomli_w has no API for a bare value; tables become ``{}``)."""
    text = tomli_w.dumps({"v": value})
    return text[4:].strip() if text.startswith("v = ") else "{}"


@st.composite
def mutated_presets(draw: st.DrawFn) -> str:
    """A preset file with random edits: cut, inserted text, a value replaced, a line repeated."""
    text = (PRESET_DIR / f"{draw(st.sampled_from(preset_names()))}.toml").read_text()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cut", "insert", "replace_value", "repeat_line"]))
        lines = text.splitlines(keepends=True)
        if kind == "cut":
            a = draw(st.integers(0, len(text)))
            b = draw(st.integers(a, min(len(text), a + 80)))
            text = text[:a] + text[b:]
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(strat.nasty_text) + text[at:]
        elif kind == "replace_value":
            rows = [i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")]
            if rows:
                i = draw(st.sampled_from(rows))
                key = lines[i].split("=", 1)[0]
                try:
                    value = _value_text(draw(strat.hostile_values()))
                except (TypeError, ValueError):
                    value = "nan"
                lines[i] = f"{key}= {value}\n"
                text = "".join(lines)
        elif lines:
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join([*lines[: i + 1], *lines[i:]])
    return text


@FUZZ_SETTINGS
@given(text=mutated_presets())
def test_mutated_presets_load_or_fail_in_one_line(tmp_path_factory, text):
    counter.tried("mutated_presets")
    path = write(tmp_path_factory.mktemp("mut") / "mutated.toml", text)
    check_scenario_file(path)
    counter.passed("mutated_presets")


FIELDS = [(block, name) for block in BLOCK_NAMES for name in strat.block_model(block).model_fields]


@FUZZ_SETTINGS
@given(
    target=st.sampled_from(FIELDS),
    value=strat.hostile_values(),
    extends=st.one_of(st.none(), st.sampled_from(preset_names())),
)
def test_any_value_in_any_field_dict_and_file_agree(tmp_path_factory, target, value, extends):
    """A hostile value in a known field: refused in one line, or accepted within bounds.

    The same override given as a dict and as a TOML file gets the same verdict.
    """
    counter.tried("any_value_any_field")
    block, name = target
    data: dict[str, Any] = {block: {name: value}}
    if extends is not None:
        data["extends"] = extends
    from_dict = outcome(scenario_from_dict, data, "<dict>")
    if from_dict is not None:
        assert_within_declared_bounds(from_dict)
    path = write(tmp_path_factory.mktemp("val") / "value.toml", _dump(data))
    from_file = check_scenario_file(path)
    assert (from_dict is None) == (from_file is None), (
        f"dict and file disagree on {block}.{name} = {value!r}"
    )
    counter.passed("any_value_any_field")


protocol_fields = {
    "name": st.one_of(st.just("t"), strat.toml_scalars),
    "n_patients": st.one_of(st.integers(1, 200), strat.numbers),
    "drug": st.one_of(st.sampled_from(["iv_ketamine", "esketamine", "none"]), strat.nasty_text),
    "doses": st.one_of(st.lists(st.floats(0, 60), max_size=6), strat.hostile_values()),
    "therapy": st.one_of(st.lists(st.floats(0, 60), max_size=6), strat.hostile_values()),
    "report_days": st.one_of(st.lists(st.integers(0, 90), max_size=4), strat.hostile_values()),
    "follow_up_days": st.one_of(st.floats(1, 90), strat.numbers),
    "seed": st.one_of(st.integers(0, 2**63 - 1), strat.numbers),
    "clinical": st.one_of(
        st.just({}), st.dictionaries(strat.keys, strat.hostile_values(), max_size=2)
    ),
    "bogus": strat.hostile_values(),
}


@FUZZ_SETTINGS
@given(document=st.fixed_dictionaries({}, optional=protocol_fields))
def test_random_protocols_load_or_fail_and_small_ones_run(tmp_path_factory, document):
    """Random protocols: refused in one line, or valid; a small valid one runs and reports."""
    counter.tried("random_protocols")
    path = write(tmp_path_factory.mktemp("proto") / "protocol.toml", _dump(document))
    protocol = check_protocol_file(path)
    if protocol is not None and protocol.n_patients <= 200 and protocol.follow_up_days <= 90:
        result = run_trial(protocol)
        for rates in (result.response_rate, result.remission_rate):
            assert all(0.0 <= v <= 1.0 for v in rates.values()), rates
        assert 0.0 <= result.responders_after_last_dose <= 1.0
        assert result.median_days_to_relapse is None or result.median_days_to_relapse >= 0
    counter.passed("random_protocols")


# ------------------------------------------------------------------------------------------
# The command line, in process
# ------------------------------------------------------------------------------------------


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    """Run ``ketasim`` in process; (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_cli_refused(code: int, out: str, err: str, *names: str) -> None:
    """Exit != 0, nothing on stdout, exactly one line on stderr (naming one of ``names``)."""
    assert code != 0, f"exit code 0 for bad input; stdout {out[:200]!r}"
    assert out == "", f"stdout not empty: {out[:200]!r}"
    lines = err.removesuffix("\n").split("\n")
    assert err.endswith("\n") and len(lines) == 1 and "\r" not in err, (
        f"stderr is not one line: {err[:400]!r}"
    )
    assert lines[0].startswith("ketasim: error: "), lines[0]
    if names:
        assert any(n in lines[0] for n in names), f"{lines[0]!r} names none of {names}"


def _small_scenario(tmp_path: Path) -> Path:
    return write(
        tmp_path / "small.toml", 'extends = "baseline"\n[run]\nn_patients = 60\ndays = 15\n'
    )


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".ketasim-"))


@pytest.mark.parametrize("case", sorted(BAD_SCENARIO_FILES), ids=str)
def test_cli_run_with_hostile_file_writes_nothing(tmp_path, capsys, case):
    counter.tried("cli_run_hostile_files")
    data = BAD_SCENARIO_FILES[case]
    path = write(tmp_path / f"{case}.toml", data)
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, ["run", str(path), "--json", "--out", str(out_dir)])
    assert_cli_refused(code, out, err, path.name)
    assert not out_dir.exists(), "an output directory was created for bad input"
    assert _leftovers(tmp_path) == []
    code, out, err = run_cli(capsys, ["scenarios", "show", str(path)])
    assert_cli_refused(code, out, err, path.name)
    counter.passed("cli_run_hostile_files")


@pytest.mark.parametrize("case", sorted(HOSTILE_PROTOCOLS), ids=str)
def test_cli_trial_with_hostile_protocol(tmp_path, capsys, case):
    counter.tried("cli_trial_hostile_protocols")
    path = write(tmp_path / f"{case}.toml", HOSTILE_PROTOCOLS[case])
    code, out, err = run_cli(capsys, ["trial", str(path), "--json"])
    assert_cli_refused(code, out, err, path.name)
    counter.passed("cli_trial_hostile_protocols")


BAD_FLAGS = [
    ["--patients", "-1"],
    ["--patients", "0"],
    ["--patients", "1.5"],
    ["--patients", ""],
    ["--patients", str(10**30)],
    ["--days", "abc"],
    ["--days", "0"],
    ["--days", "-7"],
    ["--days", "1e3"],
    ["--days", "nan"],
    ["--days", "inf"],
    ["--seed", "1e99"],
    ["--seed", "-1"],
    ["--seed", str(2**64)],
    ["--seed", "0x10"],
    ["--bogus"],
    ["--patients"],
    ["extra-argument"],
]


@pytest.mark.parametrize("flags", BAD_FLAGS, ids=lambda f: " ".join(f) or "none")
def test_cli_run_bad_flags_write_nothing(tmp_path, capsys, flags):
    counter.tried("cli_bad_flags")
    out_dir = tmp_path / "out"
    argv = ["run", str(_small_scenario(tmp_path)), "--json", "--out", str(out_dir), *flags]
    code, out, err = run_cli(capsys, argv)
    assert_cli_refused(code, out, err)
    assert not out_dir.exists()
    assert _leftovers(tmp_path) == []
    counter.passed("cli_bad_flags")


def test_cli_out_pointing_at_a_file_or_unwritable_place(tmp_path, capsys):
    counter.tried("cli_bad_out")
    scenario = _small_scenario(tmp_path)
    a_file = write(tmp_path / "a_file", "keep me")
    for target in (a_file, a_file / "sub", Path("/proc/ketasim-out"), Path("/dev/null")):
        code, out, err = run_cli(capsys, ["run", str(scenario), "--json", "--out", str(target)])
        assert_cli_refused(code, out, err, "--out")
        assert a_file.read_text() == "keep me"
        assert not Path("/proc/ketasim-out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "small.toml"]
    counter.passed("cli_bad_out")


def test_cli_trial_on_a_directory_and_unknown_name(tmp_path, capsys):
    counter.tried("cli_trial_hostile_protocols")
    for arg in (str(tmp_path), "no_such_protocol"):
        code, out, err = run_cli(capsys, ["trial", arg, "--json"])
        assert_cli_refused(code, out, err, arg)
    counter.passed("cli_trial_hostile_protocols")


@pytest.mark.parametrize("command", ["run", "trial"])
def test_cli_with_a_name_too_long_for_the_file_system(capsys, command):
    """Regression: ``ketasim run xxx...x`` (300 characters) once crashed with OSError."""
    counter.tried("long_names")
    code, out, err = run_cli(capsys, [command, "x" * 300, "--json"])
    assert_cli_refused(code, out, err)
    counter.passed("long_names")


def _is_accepted(flag: str, value: str) -> bool:
    """Whether the CLI would accept ``value`` (then it is not bad input).

    Typer parses integers the way pydantic does in lax mode ("1.0" and " 7 " are integers),
    then the run settings check the range.
    """
    try:
        number = TypeAdapter(int).validate_python(value)
    except ValidationError:
        return False
    limits = {"--patients": (1, 10_000_000), "--days": (1, 36_500), "--seed": (0, 2**63 - 1)}
    low, high = limits[flag]
    return low <= number <= high


@FUZZ_SETTINGS
@given(
    flag=st.sampled_from(["--patients", "--days", "--seed"]),
    value=st.one_of(strat.nasty_text, strat.numbers.map(str)),
)
def test_random_bad_flag_values_write_nothing(tmp_path_factory, capsys, flag, value):
    """Any value click or the run settings refuse: one line, exit != 0, nothing written."""
    assume(not _is_accepted(flag, value))
    counter.tried("cli_random_flags")
    tmp = tmp_path_factory.mktemp("cli")
    out_dir = tmp / "out"
    argv = ["run", str(_small_scenario(tmp)), "--json", "--out", str(out_dir), flag, value]
    code, out, err = run_cli(capsys, argv)
    assert_cli_refused(code, out, err)
    assert not out_dir.exists()
    assert _leftovers(tmp) == []
    counter.passed("cli_random_flags")


@FUZZ_SETTINGS
@given(document=strat.toml_documents())
def test_cli_random_scenario_documents(tmp_path_factory, capsys, document):
    """A random document on the command line: refused in one line, or a valid (small) run."""
    counter.tried("cli_random_documents")
    tmp = tmp_path_factory.mktemp("clidoc")
    path = write(tmp / "doc.toml", _dump(document))
    out_dir = tmp / "out"
    argv = ["run", str(path), "--json", "--patients", "30", "--days", "5", "--out", str(out_dir)]
    with strat.time_limit(strat.RUN_TIME_LIMIT_S):
        code, out, err = run_cli(capsys, argv)
    if code == 0:
        assert err == "" and out.count("\n") == 1 and out_dir.is_dir()
    else:
        assert_cli_refused(code, out, err, path.name)
        assert not out_dir.exists()
    assert _leftovers(tmp) == []
    counter.passed("cli_random_documents")
