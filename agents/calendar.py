"""The model's calendar: how many days make a week, a month, a quarter and a year.

Time is continuous, in days (floats); every schedule, cap and rate that speaks of a longer
period converts with these. They are plain floats, read as constants by compiled code too.
"""

from __future__ import annotations

from numba.extending import register_jitable

DAYS_PER_WEEK = 7.0
DAYS_PER_YEAR = 365.0
DAYS_PER_QUARTER = DAYS_PER_YEAR / 4.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

WEEKS_PER_YEAR = 52.0
"""Whole weeks in a year: what a therapist or clinic books in a year of weekly slots (the
remaining day or so is no bookable week)."""

DAYS_PER_MONTH_ROUNDED = 30.4
"""A month as payers count remission-months for their budget offset (365 / 12 rounded to one
decimal). Not ``DAYS_PER_MONTH``: the exact value would move budget reviews by a hair."""


@register_jitable
def year_of(t):
    """The calendar year of the run (0, 1, ...) that day ``t`` falls in: a payer's cap year."""
    return int(t // DAYS_PER_YEAR)


@register_jitable
def month_of(t):
    """The calendar month of the run (0, 1, ...) that day ``t`` falls in."""
    return int(t // DAYS_PER_MONTH)


@register_jitable
def week_of(t):
    """The week of the run (0, 1, ...) that day ``t`` falls in: the week books' column."""
    return int(t // DAYS_PER_WEEK)
