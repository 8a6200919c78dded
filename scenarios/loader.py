"""Loading scenario and trial-protocol files: TOML, ``extends`` chains, one-line errors.

A scenario file is a TOML table of overrides on the defaults, or on the scenario it
``extends`` (a preset name or a path relative to the file). Validation happens once, here, by
the strict pydantic models of ``model.params``; a bad file raises ``ScenarioError`` with one line
naming the file, the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from model.params import Scenario
from model.trial import TrialProtocol

PRESET_DIR = Path(__file__).resolve().parent / "presets"
MAX_EXTENDS_DEPTH = 16
MAX_FILE_BYTES = 1_000_000


# Every character str.splitlines() breaks on, shown escaped so an error stays one line even when
# it echoes a key, a name or a path that holds one.
_LINE_BREAKS = {ord(ch): ascii(ch)[1:-1] for ch in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` with each line break shown as its escape sequence, so it prints on one line."""
    return text.translate(_LINE_BREAKS)


class ScenarioError(ValueError):
    """A scenario or protocol file that cannot be used; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(str(message)))


def is_file(path: Path) -> bool:
    """``path.is_file()``, raising ScenarioError for a path the system cannot look up.

    ``Path.is_file`` lets some errors through (a name longer than the system allows raises
    ENAMETOOLONG), which would escape as a traceback.
    """
    try:
        return path.is_file()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioError(f"{str(path)[:120]}: cannot be looked up: {reason}") from None


def preset_names() -> list[str]:
    """Names of the bundled preset scenarios."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def resolve_path(name_or_path: str | Path, base: Path | None = None) -> Path:
    """A preset name or a file path, as a path."""
    text = str(name_or_path)
    if not text.strip():
        raise ScenarioError("scenario name is empty")
    if "/" not in text and "\\" not in text and not text.endswith(".toml"):
        path = PRESET_DIR / f"{text}.toml"
        if not is_file(path):
            raise ScenarioError(
                f"unknown scenario '{text}': not a preset (presets: {', '.join(preset_names())})"
            )
        return path
    path = Path(text)
    if base is not None and not path.is_absolute():
        path = base / path
    if not is_file(path):
        raise ScenarioError(f"{path}: file not found")
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(
                f"{path}: file is too large ({size} bytes; at most {MAX_FILE_BYTES})"
            )
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: not valid TOML: values nested too deeply") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` onto ``base`` (tables merge; other values replace)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _raw_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The merged raw table of a file and everything it extends."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ScenarioError(f"{seen[0]}: 'extends' forms a cycle ({chain})")
    if len(seen) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(f"{seen[0]}: 'extends' chain is deeper than {MAX_EXTENDS_DEPTH} files")
    raw = _read_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: key 'extends' must be a scenario name or path (a string)")
    try:
        parent_path = resolve_path(parent, base=path.parent)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: key 'extends': {exc}") from None
    base = _raw_chain(parent_path, (*seen, path))
    # A child names itself; it never inherits its parent's name or description.
    base.pop("name", None)
    base.pop("description", None)
    return _merge(base, raw)


def allowed_range(model: type[BaseModel], loc: tuple) -> str | None:
    """The declared bounds of the field at ``loc`` as text, e.g. '0 <= value <= 1'."""
    field = None
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    if field is None:
        return None
    bounds = {}
    for meta in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds[attr] = value
    low = (
        f"{bounds['ge']:g} <= "
        if "ge" in bounds
        else f"{bounds['gt']:g} < "
        if "gt" in bounds
        else ""
    )
    high = (
        f" <= {bounds['le']:g}"
        if "le" in bounds
        else f" < {bounds['lt']:g}"
        if "lt" in bounds
        else ""
    )
    return f"{low}value{high}" if (low or high) else None


def _describe_error(path: Path, exc: ValidationError, model: type[BaseModel] = Scenario) -> str:
    """One line: file, key, what is wrong and what is allowed."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        allowed = allowed_range(model, err["loc"]) or ", ".join(f"{k} {v}" for k, v in ctx.items())
        msg = f"value {err.get('input')!r} is out of range (allowed: {allowed})"
    elif kind == "finite_number":
        allowed = allowed_range(model, err["loc"])
        msg = f"value {err.get('input')!r} must be a finite number" + (
            f" (allowed: {allowed})" if allowed else ""
        )
    else:
        msg = err["msg"]
        if "input" in err and kind != "value_error" and not isinstance(err["input"], dict):
            msg += f" (got {err['input']!r})"
    more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    return f"{path}: key '{loc}': {msg}{more}"


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario by preset name or path."""
    path = resolve_path(name_or_path)
    raw = _raw_chain(path)
    raw.setdefault("name", path.stem)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_describe_error(path, exc)) from None


def scenario_from_dict(data: dict[str, Any], source: str = "<dict>") -> Scenario:
    """Validate a scenario given as a (possibly partial) nested dict, with ``extends``."""
    data = dict(data)
    parent = data.pop("extends", None)
    base: dict[str, Any] = {}
    if parent is not None:
        if not isinstance(parent, str):
            raise ScenarioError(f"{source}: key 'extends' must be a scenario name or path")
        base = _raw_chain(resolve_path(parent))
        base.pop("name", None)
        base.pop("description", None)
    merged = _merge(base, data)
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        raise ScenarioError(_describe_error(Path(source), exc)) from None


def scenario_hash(scenario: Scenario) -> str:
    """A stable hash of everything that affects a run's results (not its name or text)."""
    data = scenario.model_dump(mode="json", exclude={"name", "description", "run"})
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_protocol(path: str | Path) -> TrialProtocol:
    """Load and validate a virtual-trial protocol file."""
    path = Path(path)
    if not is_file(path):
        raise ScenarioError(f"{path}: file not found")
    raw = _read_toml(path)
    try:
        return TrialProtocol.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_describe_error(path, exc, TrialProtocol)) from None


def check_finite(value: float, what: str) -> float:
    """Reject NaN and infinities given on a command line."""
    if not math.isfinite(value):
        raise ScenarioError(f"{what} must be a finite number (got {value})")
    return value
