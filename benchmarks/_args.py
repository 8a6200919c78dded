"""Command-line argument types shared by the benchmark scripts."""

from __future__ import annotations

import argparse
from collections.abc import Callable


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
