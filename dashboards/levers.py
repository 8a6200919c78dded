"""Lever metadata for the dashboard: groups, labels with units, slider ranges, validation.

Every field of ``agents.policy.PolicyLevers`` appears here exactly once (a test holds this), so a
lever added to the model without a dashboard control fails the test suite. The slider range is a
convenience for the analyst; what the model accepts is decided by the model's own pydantic rules
(``PolicyLevers`` and ``Scenario``), which every change goes through. Typed values may therefore
go beyond a slider's end (the slider then rests at its end) but never beyond the model's range.

Nothing here imports solara: the rules are plain functions, tested without a browser.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import tomli_w
from pydantic import ValidationError

from agents.policy import IntegrationTiming, PolicyLevers
from model.params import RunSettings, Scenario
from scenarios.loader import ScenarioError, load_scenario, preset_names, scenario_from_dict

# The dashboard steps a model interactively in one browser tab; bigger runs belong to
# ``ketasim run`` / ``ketasim batch``. These caps are the dashboard's, stricter than the model's.
MAX_DASHBOARD_PATIENTS = 50_000
MAX_DASHBOARD_DAYS = 3650
DAYS_PER_STEP = 7
"""Simulated days per press of Step (and per tick of Play)."""


class LeverKind(StrEnum):
    """How a lever is edited."""

    SWITCH = "switch"
    FLOAT = "float"
    INT = "int"
    CHOICE = "choice"


class LeverError(ValueError):
    """A refused lever value; the message is one line, shown beside the field."""


@dataclass(frozen=True)
class Lever:
    """One control on the Explore page.

    Attributes:
        name: The ``PolicyLevers`` field (or ``RunSettings`` field for run settings).
        group: The heading it is shown under.
        label: Label with its unit, as the analyst reads it.
        kind: How it is edited.
        lo: Slider start (numeric levers).
        hi: Slider end (numeric levers).
        step: Slider step (numeric levers).
        choices: Allowed values (choice levers).
        help: One sentence on what it changes in the model.
        unit: The unit of a numeric lever, shown on its number box.
    """

    name: str
    group: str
    label: str
    kind: LeverKind
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.01
    choices: tuple[str, ...] = ()
    help: str = ""
    unit: str = ""


PAYMENT = "Payment design"
BENEFITS = "Benefit design and budgets"
WORKFORCE = "Therapist workforce"
MARKET = "Market and practice"
RUN = "Run settings"

GROUPS: tuple[str, ...] = (PAYMENT, BENEFITS, WORKFORCE, MARKET)
"""Lever groups in display order (run settings are shown separately)."""

LEVERS: tuple[Lever, ...] = (
    Lever(
        "bundled_payment",
        PAYMENT,
        "Bundled episode payment to integrated programmes",
        LeverKind.SWITCH,
        help="Payers pay integrated programmes one bundle for drug + therapy.",
    ),
    Lever(
        "usd_bundle_per_episode",
        PAYMENT,
        "Bundle size (USD per induction episode)",
        LeverKind.FLOAT,
        0.0,
        20_000.0,
        250.0,
        unit="USD per episode",
        help="What the bundle pays per episode when bundled payment is on.",
    ),
    Lever(
        "coordination_payment",
        PAYMENT,
        "Care-coordination payment",
        LeverKind.SWITCH,
        help="Payers pay integrated programmes a monthly coordination code.",
    ),
    Lever(
        "usd_coordination_per_month",
        PAYMENT,
        "Coordination payment (USD per patient-month)",
        LeverKind.FLOAT,
        0.0,
        1000.0,
        10.0,
        unit="USD per patient-month",
        help="Paid once a month per patient when the coordination payment is on.",
    ),
    Lever(
        "rel_therapy_rate",
        PAYMENT,
        "Psychotherapy rate (x payer's fee; parity ~1.22)",
        LeverKind.FLOAT,
        0.1,
        5.0,
        0.01,
        unit="x payer's fee",
        help="Multiplies payers' psychotherapy rates; therapists join networks when it clears "
        "their reservation rate.",
    ),
    Lever(
        "covers_iv_ketamine",
        PAYMENT,
        "Payers cover IV racemic ketamine",
        LeverKind.SWITCH,
        help="Off-label IV ketamine is mostly self-pay; on, payers cover it.",
    ),
    Lever(
        "carve_out",
        BENEFITS,
        "Behavioural-health carve-out (separate therapy budget)",
        LeverKind.SWITCH,
        help="Therapy is paid from a behavioural budget that never sees the medical savings.",
    ),
    Lever(
        "prior_auth",
        BENEFITS,
        "Prior authorisation for esketamine",
        LeverKind.SWITCH,
        help="Payers review esketamine requests before the first dose.",
    ),
    Lever(
        "p_pa_denial",
        BENEFITS,
        "Prior-auth denial share (0-1)",
        LeverKind.FLOAT,
        0.0,
        1.0,
        0.01,
        unit="share (0-1)",
        help="Initial share of prior-authorisation requests denied (payers tighten it when "
        "spending runs over target).",
    ),
    Lever(
        "dur_pa_delay_days",
        BENEFITS,
        "Prior-auth decision delay (days)",
        LeverKind.FLOAT,
        0.0,
        60.0,
        1.0,
        unit="days",
        help="Mean wait for a prior-authorisation decision.",
    ),
    Lever(
        "n_session_cap",
        BENEFITS,
        "Therapy session cap (sessions per year)",
        LeverKind.INT,
        0,
        200,
        1,
        unit="sessions per year",
        help="Psychotherapy sessions a payer covers per patient per year.",
    ),
    Lever(
        "p_cost_share",
        BENEFITS,
        "Patient coinsurance (share of allowed amount, 0-1)",
        LeverKind.FLOAT,
        0.0,
        1.0,
        0.01,
        unit="share (0-1)",
        help="What patients pay of each covered service.",
    ),
    Lever(
        "therapy_available",
        WORKFORCE,
        "Psychotherapy exists at all",
        LeverKind.SWITCH,
        help="Off: a drug-only world (needs a preset without integrated clinics, e.g. "
        "drug_only_world).",
    ),
    Lever(
        "rel_therapist_supply",
        WORKFORCE,
        "Therapist supply (x baseline headcount)",
        LeverKind.FLOAT,
        0.1,
        5.0,
        0.05,
        unit="x baseline headcount",
        help="Multiplies the number of therapists in the catchment.",
    ),
    Lever(
        "usd_training_subsidy",
        WORKFORCE,
        "Integration-training subsidy (USD per therapist)",
        LeverKind.FLOAT,
        0.0,
        10_000.0,
        100.0,
        unit="USD per therapist",
        help="Paid toward a therapist's ketamine-integration training.",
    ),
    Lever(
        "patent_expiry_day",
        MARKET,
        "Esketamine patent expiry (simulation day; 100000 = in force)",
        LeverKind.FLOAT,
        0.0,
        3650.0,
        10.0,
        unit="simulation day",
        help="After this day generics cut the drug price and detailing stops.",
    ),
    Lever(
        "usd_integrated_norm_per_hour",
        MARKET,
        "Professional norm for integrated care (USD per clinical hour)",
        LeverKind.FLOAT,
        -200.0,
        200.0,
        5.0,
        unit="USD per clinical hour",
        help="Bonus (or penalty) clinics attach to the integrated model when choosing theirs.",
    ),
    Lever(
        "integration_timing",
        MARKET,
        "When integrated programmes hold the session",
        LeverKind.CHOICE,
        choices=tuple(t.value for t in IntegrationTiming),
        help="window: 1-3 days after the dose; acute: during the dosing session.",
    ),
)

RUN_LEVERS: tuple[Lever, ...] = (
    Lever(
        "n_patients",
        RUN,
        "Catchment size (patients)",
        LeverKind.INT,
        100,
        10_000,
        100,
        unit="patients",
        help="Treatment-resistant people, all present from day 0.",
    ),
    Lever(
        "days",
        RUN,
        "Run length (days)",
        LeverKind.INT,
        30,
        1095,
        5,
        help="Simulated days.",
        unit="days",
    ),
    Lever(
        "seed",
        RUN,
        "Random seed",
        LeverKind.INT,
        0,
        100,
        1,
        help="Same seed, same run.",
        unit="seed",
    ),
)

LEVER_BY_NAME: dict[str, Lever] = {lv.name: lv for lv in (*LEVERS, *RUN_LEVERS)}


# --------------------------------------------------------------------------- parsing
_NUMBER_JUNK = re.compile(r"[\s,_$]")


def parse_value(lever: Lever, raw: Any) -> bool | int | float | str:
    """Turn what the analyst typed (or a widget's value) into the lever's Python type.

    Accepts thousands separators and a leading ``$`` in typed numbers ("7,000", "$160").

    Raises:
        LeverError: When the text is not a value of the lever's kind.
    """
    match lever.kind:
        case LeverKind.SWITCH:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"true", "on", "yes", "1"}:
                return True
            if text in {"false", "off", "no", "0"}:
                return False
            raise LeverError(f"'{raw}' is not on/off")
        case LeverKind.CHOICE:
            text = str(raw).strip()
            if text not in lever.choices:
                raise LeverError(f"'{raw}' is not one of: {', '.join(lever.choices)}")
            return text
        case LeverKind.FLOAT | LeverKind.INT:
            if isinstance(raw, bool):
                raise LeverError(f"{raw} is not a number")
            if isinstance(raw, int | float):
                value = float(raw)
            else:
                text = _NUMBER_JUNK.sub("", str(raw))
                if not text:
                    raise LeverError("a number is required")
                try:
                    value = float(text)
                except ValueError:
                    raise LeverError(f"'{str(raw).strip()}' is not a number") from None
            if not math.isfinite(value):
                raise LeverError("must be a finite number")
            if lever.kind is LeverKind.INT:
                if value != int(value):
                    raise LeverError(f"{_fmt_number(value)} is not a whole number")
                return int(value)
            return value
        case _:
            raise ValueError(f"unknown lever kind {lever.kind!r}")


def _fmt_number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"


def format_value(lever: Lever, value: Any) -> str:
    """The text shown in a lever's input field."""
    if lever.kind in (LeverKind.FLOAT, LeverKind.INT) and isinstance(value, int | float):
        return f"{value:g}" if lever.kind is LeverKind.FLOAT else str(int(value))
    return str(value.value if isinstance(value, StrEnum) else value)


def _pydantic_message(exc: ValidationError) -> str:
    """One line from a pydantic error, in the analyst's words."""
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    kind = err["type"]
    bounds = {
        "greater_than_equal": "at least",
        "less_than_equal": "at most",
        "greater_than": "more than",
        "less_than": "less than",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        got = _fmt_number(float(err["input"]))
        return f"{got} is out of range: must be {bounds[kind]} {limit:g}"
    if kind == "finite_number":
        return "must be a finite number"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


# --------------------------------------------------------------------------- validation
def with_lever(levers: PolicyLevers, name: str, raw: Any) -> PolicyLevers:
    """``levers`` with one lever changed, validated by the model's ``PolicyLevers`` rules.

    Raises:
        LeverError: One line saying why the value is refused; ``levers`` is unchanged.
    """
    lever = LEVER_BY_NAME.get(name)
    if lever is None or lever.group == RUN:
        raise LeverError(f"unknown policy lever '{name}'")
    value = parse_value(lever, raw)
    data = {**levers.model_dump(), name: value}
    try:
        return PolicyLevers.model_validate(data)
    except ValidationError as exc:
        raise LeverError(_pydantic_message(exc)) from None


def with_run_setting(run: RunSettings, name: str, raw: Any) -> RunSettings:
    """``run`` with one setting changed, validated by ``RunSettings`` and the dashboard's caps.

    Raises:
        LeverError: One line saying why the value is refused.
    """
    lever = LEVER_BY_NAME.get(name)
    if lever is None or lever.group != RUN:
        raise LeverError(f"unknown run setting '{name}'")
    value = parse_value(lever, raw)
    if name == "n_patients" and value > MAX_DASHBOARD_PATIENTS:
        raise LeverError(
            f"{value:,} is more than the dashboard's {MAX_DASHBOARD_PATIENTS:,}; "
            "use `ketasim run --patients` for larger runs"
        )
    if name == "days" and value > MAX_DASHBOARD_DAYS:
        raise LeverError(
            f"{value:,} is more than the dashboard's {MAX_DASHBOARD_DAYS:,} days; "
            "use `ketasim run --days` for longer runs"
        )
    try:
        return RunSettings.model_validate({**run.model_dump(), name: value})
    except ValidationError as exc:
        raise LeverError(_pydantic_message(exc)) from None


def make_scenario(preset: str, levers: PolicyLevers, run: RunSettings) -> Scenario:
    """The scenario the dashboard runs: ``preset`` with its ``[policy]`` and ``[run]`` replaced.

    Validated as a whole, so cross-field rules of the model (for example "no bundled payment
    without therapy") apply to the dashboard exactly as to a scenario file.

    Raises:
        LeverError: One line when the combination is refused.
    """
    data = {
        "extends": preset,
        "name": scenario_name(preset, levers),
        "policy": levers.model_dump(mode="json"),
        "run": run.model_dump(),
    }
    try:
        return scenario_from_dict(data, source="dashboard settings")
    except ScenarioError as exc:
        # "dashboard settings: key 'x': msg" -> "msg" (the field is beside the message already).
        text = str(exc)
        _, _, rest = text.partition(": key ")
        msg = rest.split("': ", 1)[1] if "': " in rest else text
        raise LeverError(msg.removeprefix("Value error, ")) from None


def preset_levers(preset: str) -> tuple[PolicyLevers, RunSettings, str]:
    """A preset's levers, run settings and description.

    Raises:
        LeverError: When ``preset`` is not a bundled preset.
    """
    if preset not in preset_names():
        raise LeverError(f"unknown preset '{preset}'")
    sc = load_scenario(preset)
    return sc.policy, sc.run, sc.description


def changed_levers(preset: str, levers: PolicyLevers) -> dict[str, Any]:
    """The levers that differ from ``preset``'s own (JSON values)."""
    base = load_scenario(preset).policy.model_dump(mode="json")
    now = levers.model_dump(mode="json")
    return {k: v for k, v in now.items() if base[k] != v}


def scenario_name(preset: str, levers: PolicyLevers) -> str:
    """``preset`` when the levers are the preset's own, else ``preset+custom``."""
    return preset if not changed_levers(preset, levers) else f"{preset}+custom"


def scenario_toml(preset: str, levers: PolicyLevers, run: RunSettings) -> str:
    """The current settings as a scenario file ``ketasim run`` accepts.

    The file extends the preset the analyst started from (so that preset's non-policy blocks,
    e.g. ``drug_only_world``'s clinic mix, carry over) and lists every lever, so it still says
    the same thing if a preset's defaults change later.

    Raises:
        LeverError: When the settings do not form a valid scenario (nothing is produced).
    """
    make_scenario(preset, levers, run)  # refuse to write what would not load
    doc = {
        "extends": preset,
        "name": scenario_name(preset, levers).replace("+", "_"),
        "description": f"Saved from the ketasim dashboard: {preset} with the levers below.",
        "run": run.model_dump(),
        "policy": levers.model_dump(mode="json"),
    }
    text = tomli_w.dumps(doc)
    tomllib.loads(text)  # our own output must parse
    return text


# --------------------------------------------------------------------------- Compare settings
COMPARE = "Comparison"
MAX_COMPARE_REPLICATIONS = 100

COMPARE_LEVERS: tuple[Lever, ...] = (
    Lever(
        "replications",
        COMPARE,
        "Paired replications",
        LeverKind.INT,
        2,
        MAX_COMPARE_REPLICATIONS,
        1,
        help="Each replication runs both arms with the same random draws.",
        unit="pairs of runs",
    ),
    Lever(
        "n_patients", COMPARE, "Patients per run", LeverKind.INT, 100, 10_000, 100, unit="patients"
    ),
    Lever("days", COMPARE, "Days per run", LeverKind.INT, 30, 1095, 5, unit="days"),
    Lever("seed", COMPARE, "Seed (shared by both arms)", LeverKind.INT, 0, 100, 1, unit="seed"),
)


@dataclass(frozen=True)
class CompareSettings:
    """A validated request for a paired comparison."""

    replications: int = 5
    n_patients: int = 2000
    days: int = 365
    seed: int = 0


def with_compare_setting(settings: CompareSettings, name: str, raw: Any) -> CompareSettings:
    """``settings`` with one value changed and checked.

    Replications must be at least 2 (a paired interval needs two pairs); patients and days obey
    the model's run rules and the dashboard's caps.

    Raises:
        LeverError: One line saying why the value is refused.
    """
    lever = next((lv for lv in COMPARE_LEVERS if lv.name == name), None)
    if lever is None:
        raise LeverError(f"unknown comparison setting '{name}'")
    value = parse_value(lever, raw)
    if name == "replications":
        if not 2 <= value <= MAX_COMPARE_REPLICATIONS:
            raise LeverError(
                f"{value} is out of range: must be 2 to {MAX_COMPARE_REPLICATIONS} "
                "(a 95 % interval needs at least two pairs)"
            )
    else:
        run = RunSettings(n_patients=settings.n_patients, days=settings.days, seed=settings.seed)
        run = with_run_setting(run, name, value)
        value = getattr(run, name)
    data = {**settings.__dict__, name: value}
    return CompareSettings(**data)
