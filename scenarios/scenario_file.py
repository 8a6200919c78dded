"""A scenario written back as TOML that documents itself, and that ``ketasim run`` accepts.

``ketasim scenarios show NAME`` prints every parameter of a scenario, defaults filled in, each
under a comment with what it is, its unit and source (the field's description in the schema),
and what values it allows. Saved to a file, it loads as the very same scenario: edit a value
and run it, or keep only the lines you change under ``extends = "NAME"``.
"""

from __future__ import annotations

import textwrap
import typing
from enum import Enum

import tomli_w
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from model.params import Scenario
from scenarios.loader import allowed_range

WIDTH = 99
"""Longest comment line (the project's line length, less one)."""


def _comment(text: str) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), WIDTH, initial_indent="# ", subsequent_indent="# ")


def _allowed(model: type[BaseModel], block: str | None, name: str, field: FieldInfo) -> str:
    """What a field accepts, in words: its range, its choices, or its kind."""
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, Enum):
        return "one of " + ", ".join(f'"{m.value}"' for m in ann)
    if typing.get_origin(ann) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(ann))
    if ann is bool:
        return "true or false"
    loc = (name,) if block is None else (block, name)
    bounds = allowed_range(model, loc)
    kind = {int: "a whole number", float: "a number", str: "text"}.get(ann, "")
    if bounds:
        return f"{kind}, {bounds}" if kind else bounds
    return kind


def _entry(key: str, value: object, lines: list[str]) -> None:
    lines.append(tomli_w.dumps({key: value}).rstrip("\n"))


def _documented(
    model: type[BaseModel], block: str | None, name: str, field: FieldInfo, value: object
) -> list[str]:
    lines = _comment(field.description or "")
    allowed = _allowed(model, block, name, field)
    if allowed:
        lines.append(f"# Allowed: {allowed}.")
    _entry(name, value, lines)
    return lines


def annotated_toml(scenario: Scenario) -> str:
    """``scenario`` as TOML with every field documented in comments; it loads back unchanged.

    Args:
        scenario: A validated scenario.

    Returns:
        The TOML text: the header, the scenario's name and description, then one table per
        parameter block (``[run]``, ``[policy]``, ``[clinical]``, ...), each field under
        its description, unit or source, and the values it allows.
    """
    data = scenario.model_dump(mode="json")
    lines = [
        f"# ketasim scenario {scenario.name!r}: every parameter, defaults filled in.",
        *_comment(
            "Each value is under its description (unit, source or 'assumption') and what it "
            "allows. Run this file as it is with `ketasim run FILE.toml`; or keep only the "
            f'lines you change, under `extends = "{scenario.name}"`. Reference: docs/ODD.md.'
        ),
        "",
    ]
    tables = []
    for name, field in Scenario.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            tables.append((name, ann))
            continue
        lines += _documented(Scenario, None, name, field, data[name])
    for block, block_model in tables:
        doc = (block_model.__doc__ or "").strip().splitlines()[0]
        lines += ["", "", *_comment(doc), f"[{block}]"]
        for name, sub in block_model.model_fields.items():
            lines += ["", *_documented(Scenario, block, name, sub, data[block][name])]
    return "\n".join(lines) + "\n"
