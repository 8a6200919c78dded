"""Command-line argument types shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path


def int_at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """An argparse ``type`` for a whole number of at least ``minimum``.

    Args:
        minimum: the smallest value accepted.
        why: said after the bound when a value is refused (e.g. "Welch's interval needs two").

    Returns:
        A function that parses its text or raises ``argparse.ArgumentTypeError`` in one line.
    """
    reason = f" ({why})" if why else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be >= {minimum}{reason}")
        return value

    return parse


def json_out(note: str = "") -> Callable[[str], Path]:
    """An argparse ``type`` for ``--out``: a ``.json`` file path that can be written.

    Checked before anything runs, so a long benchmark never ends unable to write its record.

    Args:
        note: said after the suffix rule when a path is refused (e.g. what goes beside it).

    Returns:
        A function that returns the path or raises ``argparse.ArgumentTypeError`` in one line.
    """
    reason = f" ({note})" if note else ""

    def parse(text: str) -> Path:
        path = Path(text)
        if path.suffix != ".json":
            raise argparse.ArgumentTypeError(f"{text!r}: must name a .json file{reason}")
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a .json file path")
        parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise argparse.ArgumentTypeError(f"{text!r}: cannot write under {str(parent)!r}")
        return path

    return parse
