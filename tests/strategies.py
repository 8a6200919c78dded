"""Hypothesis strategies: random VALID scenarios, run settings, and hostile input.

Valid scenarios are drawn field by field from the bounds each field declares in its pydantic
block (read from the model, so a new field or a changed bound is picked up without editing this
file), on top of a randomly chosen preset, and then made to respect the cross-field rules:

* shares that must sum to 1 (payer mix, initial business-model mix, severity weights) are drawn
  together as integer parts of 1000;
* ordered pairs (acute phase < plasticity peak, integration delay min <= max, metrics window
  start < end) are drawn together, the second above the first;
* without therapy there is no integrated programme, bundle or coordination payment.

Deliberate narrowings, all inside the declared bounds, each with its reason:

* ``SPEED_FLOORS``: dose, session and retry intervals are drawn from half a day up. Shorter
  intervals are valid but only multiply the number of events (a 0.001-day maintenance interval
  is a thousand doses a day); they make a CI run slow without exercising different code.

Hostile-input strategies (``hostile_values``, ``toml_documents``) draw what a careless or
malicious user could put in a file: wrong types, NaN and infinities, huge numbers, control
characters, unknown keys at every level.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types as at
from hypothesis import assume
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from model.params import Scenario
from model.trial import TrialProtocol
from scenarios.loader import load_scenario, preset_names, scenario_from_dict

# The blocks a random scenario overrides, and the metrics definitions.
BLOCKS = (
    "policy",
    "clinical",
    "patients",
    "prescribers",
    "therapists",
    "payers",
    "pharma",
    "metrics",
)

# Fields drawn together by the cross-field rules below, never one by one.
GROUPED = {
    "clinical": {"w_b", "w_r", "w_n", "dur_acute_days", "dur_plasticity_peak_days"},
    "patients": {
        "p_commercial",
        "p_medicaid",
        "p_medicare",
        "p_uninsured",
        "dur_integration_delay_min_days",
        "dur_integration_delay_max_days",
    },
    "prescribers": {"p_infusion_cash", "p_rems_esketamine", "p_integrated"},
    "metrics": {"window_start_days", "window_end_days"},
}

# Lower bounds (days) used instead of the declared ones, for run time only (see module doc).
SPEED_FLOORS = {
    ("patients", "dur_dose_interval_days"): 0.5,
    ("patients", "dur_maintenance_interval_days"): 0.5,
    ("patients", "dur_session_interval_days"): 0.5,
    ("patients", "dur_retry_days"): 0.5,
}

# Small runs: big enough for every institution to act, small enough for CI.
MIN_PATIENTS, MAX_PATIENTS = 100, 400
MIN_DAYS, MAX_DAYS = 60, 200


# ------------------------------------------------------------------------------------------
# Valid values from declared bounds
# ------------------------------------------------------------------------------------------


def bounds(field: FieldInfo) -> tuple[float | None, bool, float | None, bool]:
    """A field's declared (low, low_open, high, high_open) from its pydantic metadata."""
    low = high = None
    low_open = high_open = False
    for meta in field.metadata:
        if isinstance(meta, at.Ge):
            low = meta.ge
        elif isinstance(meta, at.Gt):
            low, low_open = meta.gt, True
        elif isinstance(meta, at.Le):
            high = meta.le
        elif isinstance(meta, at.Lt):
            high, high_open = meta.lt, True
    return low, low_open, high, high_open


def field_values(block: str, name: str, field: FieldInfo) -> st.SearchStrategy[Any]:
    """Valid values of one field: anything inside its declared bounds, of its declared type.

    Values are TOML-like (enums as their string value), as a scenario file would give them.
    """
    ann = field.annotation
    if ann is bool:
        return st.booleans()
    if isinstance(ann, type) and issubclass(ann, str) and hasattr(ann, "__members__"):
        return st.sampled_from([m.value for m in ann])
    low, low_open, high, high_open = bounds(field)
    floor = SPEED_FLOORS.get((block, name))
    if floor is not None:
        low, low_open = max(low or 0.0, floor), False
    if ann is int:
        lo = None if low is None else math.floor(low) + (1 if low_open else 0)
        hi = None if high is None else math.ceil(high) - (1 if high_open else 0)
        return st.integers(min_value=lo, max_value=hi)
    if ann is float:
        return st.floats(
            min_value=low,
            max_value=high,
            exclude_min=low_open,
            exclude_max=high_open,
            allow_nan=False,
            allow_infinity=False,
        )
    raise TypeError(f"no strategy for {block}.{name}: {ann!r}")


def block_model(block: str) -> type[BaseModel]:
    """The pydantic model of a scenario block."""
    return Scenario.model_fields[block].annotation


def free_overrides(block: str) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of a block's ungrouped fields, each with a valid random value."""
    skip = GROUPED.get(block, set())
    optional = {
        name: field_values(block, name, field)
        for name, field in block_model(block).model_fields.items()
        if name not in skip
    }
    return st.fixed_dictionaries({}, optional=optional)


def shares(n: int, total: int = 1000) -> st.SearchStrategy[list[float]]:
    """``n`` non-negative shares summing to 1 (integer parts of ``total``, so exact zeros too)."""
    cuts = st.lists(st.integers(0, total), min_size=n - 1, max_size=n - 1).map(sorted)
    return cuts.map(lambda c: [(b - a) / total for a, b in zip([0, *c], [*c, total], strict=True)])


def named_shares(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, float]]:
    """Shares summing to 1, keyed by field name."""
    return shares(len(names)).map(lambda s: dict(zip(names, s, strict=True)))


def _field(block: str, name: str) -> FieldInfo:
    return block_model(block).model_fields[name]


@st.composite
def ordered_pair(
    draw: st.DrawFn, block: str, first: str, second: str, strict: bool
) -> dict[str, float]:
    """Two fields of a block with ``first < second`` (or ``<=``), each within its bounds."""
    a = draw(field_values(block, first, _field(block, first)))
    low, low_open, high, high_open = bounds(_field(block, second))
    # The first may sit at the second's upper bound, leaving no room above it.
    assume(a < high if strict else a <= high)
    b = draw(
        st.floats(
            min_value=max(a, low),
            max_value=high,
            exclude_min=strict or (low_open and a <= low),
            exclude_max=high_open,
            allow_nan=False,
            allow_infinity=False,
        )
    )
    return {first: a, second: b}


def _maybe(strategy: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    return st.one_of(st.just({}), strategy)


def grouped_overrides(block: str) -> st.SearchStrategy[dict[str, Any]]:
    """A block's rule-bound fields, each group drawn whole (or left at the base values)."""
    groups: list[st.SearchStrategy[dict]] = []
    match block:
        case "clinical":
            groups.append(named_shares(("w_b", "w_r", "w_n")))
            groups.append(
                ordered_pair(block, "dur_acute_days", "dur_plasticity_peak_days", strict=True)
            )
        case "patients":
            names = ("p_commercial", "p_medicaid", "p_medicare", "p_uninsured")
            groups.append(named_shares(names))
            groups.append(
                ordered_pair(
                    block,
                    "dur_integration_delay_min_days",
                    "dur_integration_delay_max_days",
                    strict=False,
                )
            )
        case "prescribers":
            names = ("p_infusion_cash", "p_rems_esketamine", "p_integrated")
            groups.append(named_shares(names))
        case "metrics":
            groups.append(ordered_pair(block, "window_start_days", "window_end_days", strict=True))
        case _:
            pass
    if not groups:
        return st.just({})
    return st.tuples(*(_maybe(g) for g in groups)).map(
        lambda ds: {k: v for d in ds for k, v in d.items()}
    )


# ------------------------------------------------------------------------------------------
# Whole scenarios
# ------------------------------------------------------------------------------------------

_PRESETS: dict[str, Scenario] = {}


def preset(name: str) -> Scenario:
    """A preset, loaded once per test session."""
    if name not in _PRESETS:
        _PRESETS[name] = load_scenario(name)
    return _PRESETS[name]


def _effective(base: Scenario, over: dict, block: str, name: str) -> Any:
    if name in over.get(block, {}):
        return over[block][name]
    return getattr(getattr(base, block), name)


def _respect_therapy_rule(base: Scenario, over: dict) -> None:
    """Without therapy: no integrated programmes, no bundle, no coordination payment."""
    if _effective(base, over, "policy", "therapy_available"):
        return
    policy = over.setdefault("policy", {})
    policy["bundled_payment"] = False
    policy["coordination_payment"] = False
    pres = over.setdefault("prescribers", {})
    if _effective(base, over, "prescribers", "p_integrated") > 0:
        # The integrated share goes to REMS clinics (what the model does with them anyway).
        cash = _effective(base, over, "prescribers", "p_infusion_cash")
        pres.update(p_infusion_cash=cash, p_rems_esketamine=1.0 - cash, p_integrated=0.0)


@st.composite
def scenario_overrides(draw: st.DrawFn) -> dict[str, Any]:
    """A valid scenario as a TOML-like dict: ``extends`` a random preset, random overrides."""
    base_name = draw(st.sampled_from(preset_names()))
    base = preset(base_name)
    over: dict[str, Any] = {}
    for block in BLOCKS:
        values = {**draw(free_overrides(block)), **draw(grouped_overrides(block))}
        if values:
            over[block] = values
    _respect_therapy_rule(base, over)
    name = draw(st.sampled_from(["random", "ràndom scénario", "r" * 100]))
    return {"extends": base_name, "name": name, **over}


def scenarios() -> st.SearchStrategy[Scenario]:
    """Validated random scenarios (validation errors are bugs in the strategy or the schema)."""
    return scenario_overrides().map(lambda d: scenario_from_dict(d, source="<hypothesis>"))


def run_settings() -> st.SearchStrategy[dict[str, int]]:
    """Small run sizes and any valid seed and replication."""
    return st.fixed_dictionaries(
        {
            "n_patients": st.integers(MIN_PATIENTS, MAX_PATIENTS),
            "days": st.integers(MIN_DAYS, MAX_DAYS),
            "seed": st.integers(0, 2**63 - 1),
            "replication": st.integers(0, 1000),
        }
    )


@st.composite
def stop_times(draw: st.DrawFn, days: int) -> list[float]:
    """Sorted times in (0, days] to pause a run at: whole days, fractions, quarter ends."""
    picks = draw(
        st.lists(
            st.one_of(
                st.integers(1, days).map(float),
                # Just before a whole day: the day's sample must not have run yet.
                st.integers(2, days).map(lambda k: math.nextafter(float(k), 0.0)),
                st.floats(0.01, float(days), allow_nan=False),
                st.sampled_from([91.25, 182.5]).filter(lambda t: t <= days),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return sorted({*picks, float(days)})


# ------------------------------------------------------------------------------------------
# Hostile input
# ------------------------------------------------------------------------------------------

# Every key a scenario or protocol knows, so random documents hit real fields often.
KNOWN_KEYS = sorted(
    {"extends", "name", "description", "run"}
    | set(BLOCKS)
    | {name for b in (*BLOCKS, "run") for name in block_model(b).model_fields}
    | set(TrialProtocol.model_fields)
)

# Text that breaks naive code: control characters, quotes, separators, non-ASCII, long runs.
nasty_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "\n",
            "a\nb",
            "\r\n",
            "\t",
            "\x00",
            "\x1b[31m",
            "'",
            '"',
            "\\",
            "..",
            "../../etc/passwd",
            "/",
            "baseline",
            "baseline.toml",
            "é",
            "\u202e",
            "x" * 300,
            "nan",
            "inf",
            "1e999",
        ]
    ),
)

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(),  # includes NaN and +-inf
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324]),
)

toml_scalars = st.one_of(
    numbers,
    st.booleans(),
    nasty_text,
    st.datetimes(),
    st.dates(),
    st.times(),
    st.just(dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.UTC)),
)


def hostile_values() -> st.SearchStrategy[Any]:
    """Any TOML value: scalars of every kind, empty and mixed lists, tables."""
    return st.recursive(
        toml_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), nasty_text), inner, max_size=4),
        ),
        max_leaves=12,
    )


keys = st.one_of(st.sampled_from(KNOWN_KEYS), nasty_text)


def toml_documents() -> st.SearchStrategy[dict[str, Any]]:
    """Random TOML documents, mostly shaped like scenarios or protocols (known keys, tables)."""
    return st.dictionaries(keys, hostile_values(), max_size=6)


# ------------------------------------------------------------------------------------------
# Bookkeeping shared by the property and fuzz tests
# ------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
COUNTS_FILE = ROOT / "artifacts" / "property_counts.json"

# Wall-time limit of one random run (a 400 x 200 run takes well under a second; a run that
# takes this long is stuck, not slow).
RUN_TIME_LIMIT_S = 60.0


class RunTimedOut(AssertionError):
    """A run exceeded its wall-time limit (most likely an endless loop in the model)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail with ``RunTimedOut`` when the block runs longer than ``seconds`` (main thread only).

    Uses ``SIGALRM``; a timer already running (pytest-timeout's, say) is put back afterwards,
    less the time spent here.
    """

    def _expired(signum, frame):
        raise RunTimedOut(f"still running after {seconds:g} s: the model is stuck")

    started = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, _expired)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:
            left = max(old_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


class CaseCounter:
    """Counts the examples a test module tried and passed, and records them for the docs.

    ``write`` merges this module's counts into ``artifacts/property_counts.json`` (one entry a
    test module), so the property and fuzz modules can run in any order or alone.
    """

    def __init__(self, module: str) -> None:
        self.module = module
        self.counts: dict[str, dict[str, int]] = {}

    def _bump(self, test: str, what: str) -> None:
        entry = self.counts.setdefault(test, {"tried": 0, "passed": 0})
        entry[what] += 1

    def tried(self, test: str) -> None:
        """One more example started."""
        self._bump(test, "tried")

    def passed(self, test: str) -> None:
        """One more example passed every assertion."""
        self._bump(test, "passed")

    def write(self, path: Path = COUNTS_FILE) -> None:
        """Merge the counts into the JSON file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        data[self.module] = {
            "tests": self.counts,
            "tried": sum(c["tried"] for c in self.counts.values()),
            "passed": sum(c["passed"] for c in self.counts.values()),
            "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
