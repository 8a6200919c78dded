"""Metric names, units and definitions as the dashboard and the reports print them.

Everything here reads ``model.metric_info`` (the one registry of what each reported number means),
so a number box, a table row, a chart label and an HTML report say the same thing about a metric.
A value is printed in its unit (shares as %, money in USD); a difference between two arms is
printed with its sign, shares in percentage points.
"""

from __future__ import annotations

import math

from model.metric_info import METRICS, Metric, Unit, format_value

_DIFF_SUFFIX = {
    Unit.DAYS: " days",
    Unit.MADRS: " points",
    Unit.QALYS_PER_PATIENT: " QALYs",
    Unit.LAYER: "",
    Unit.COUNT: "",
    Unit.PER_WEEK: " per week",
}


def info(name: str) -> Metric | None:
    """The registry entry of ``name`` (``None`` for a column the registry does not list)."""
    return METRICS.get(name)


def label(name: str) -> str:
    """A metric's short label (its name with spaces when the registry does not list it)."""
    m = METRICS.get(name)
    return m.label if m is not None else name.replace("_", " ")


def unit_text(name: str) -> str:
    """``"unit, period"`` for a metric (empty when unknown or unit-free)."""
    m = METRICS.get(name)
    if m is None or m.unit is Unit.TEXT:
        return ""
    return m.unit.value if m.period == "-" else f"{m.unit.value}, {m.period}"


def definition(name: str) -> str:
    """A metric's one-line definition (empty when the registry does not list it)."""
    m = METRICS.get(name)
    return m.definition if m is not None else ""


def value_text(name: str, value: float | int | str | None) -> str:
    """A value in its unit; '-' when missing or undefined."""
    m = METRICS.get(name)
    if m is not None:
        return m.format(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.4g}" if isinstance(value, float) else str(value)


def diff_text(name: str, value: float | None) -> str:
    """A difference (policy minus base) with its sign: shares in points, money in USD."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    value = float(value)
    sign = "+" if value > 0 else ("-" if value < 0 else "")
    size = abs(value)
    m = METRICS.get(name)
    unit = m.unit if m is not None else None
    match unit:
        case Unit.SHARE | Unit.RATE:
            return f"{sign}{100.0 * size:.1f} pts"
        case Unit.USD | Unit.USD_PER_PATIENT | Unit.USD_PER_QALY:
            return f"{sign}${size:,.0f}"
        case Unit.QALYS_PER_PATIENT:
            return f"{sign}{size:.4f} QALYs"
        case None | Unit.TEXT:
            return f"{sign}{size:,.3g}"
        case _:
            return f"{sign}{format_value(unit, size)}{_DIFF_SUFFIX.get(unit, '')}"


def direction(name: str, diff: float, low: float, high: float) -> str:
    """Whether a paired difference is good or bad for patients and the health system.

    Args:
        name: The metric.
        diff: Mean difference, policy minus base.
        low: Lower end of its 95 % interval.
        high: Upper end of its 95 % interval.

    Returns:
        ``"better"`` or ``"worse"`` when the whole interval lies on one side of zero and the
        registry says which side is good; ``"unclear"`` when the interval includes zero (or is
        undefined); ``"neutral"`` for a metric that is neither good nor bad in itself (e.g. a
        budget's share of spending).
    """
    m = METRICS.get(name)
    if m is None or m.higher_is_better is None:
        return "neutral"
    if any(math.isnan(v) for v in (diff, low, high)) or low <= 0.0 <= high:
        return "unclear"
    up = low > 0.0
    return "better" if up == m.higher_is_better else "worse"
