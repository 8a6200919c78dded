"""Bookings by week for a set of agents: one array, a row per agent, a column per week.

Therapists' sessions and clinics' chair-hours are booked by week. Kept as one array for each
kind of agent rather than a dictionary per agent, so that compiled code can book
(``model.sessions``, ``model.doses``); the array widens when a booking reaches past its last
week.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from agents.calendar import DAYS_PER_WEEK

CHAIR_ROOM_SLACK = 1e-9
"""Chair-hours added to a week's room when a dose is fitted in, so that float rounding of the
hours booked so far never refuses a dose that exactly fills the week (numeric, not
behavioural)."""

# The searches for a week with room, shared by the agents' Python and the compiled steps that
# book (registered with Numba, so there is one source of the rules).


@register_jitable
def free_week(counts, row, capacity, week):
    """Row ``row``'s first week from ``week`` on with fewer than ``capacity`` booked.

    A week past the last column has nothing booked, so it may be returned.
    """
    width = counts.shape[1]
    while week < width and counts[row, week] >= capacity:
        week += 1
    return week


@register_jitable
def chair_week(chairs, row, need, room, week):
    """Row ``row``'s first week from ``week`` on with room for ``need`` more chair-hours.

    A week has room when nothing is booked in it yet (an empty week always takes one dose,
    ``Prescriber.next_chair_time``) or ``need`` more stays within ``room``. A week past the
    last column has nothing booked, so it may be returned.
    """
    width = chairs.shape[1]
    while week < width:
        booked = chairs[row, week]
        if booked == 0.0 or booked + need <= room:
            break
        week += 1
    return week


@register_jitable
def week_time(earliest, week):
    """The earliest time in ``week`` not before ``earliest``: ``max(earliest, its start)``."""
    start = week * DAYS_PER_WEEK
    return earliest if earliest >= start else start


class WeekBook:
    """What is booked by week for a set of agents: a row each, a column a week from 0."""

    def __init__(self, rows: int, weeks: int, dtype: type = np.int64) -> None:
        self.counts = np.zeros((rows, max(weeks, 1)), dtype=dtype)

    def reach(self, week: int) -> None:
        """Make room up to ``week`` (at least doubling the width, so widening is rare)."""
        rows, width = self.counts.shape
        if week >= width:
            wider = np.zeros((rows, max(2 * width, week + 1)), dtype=self.counts.dtype)
            wider[:, :width] = self.counts
            self.counts = wider

    def booked(self, row: int) -> dict[int, float]:
        """Row ``row``'s bookings by week, for the weeks with any (a copy)."""
        counts = self.counts[row]
        return {int(week): counts[week].item() for week in np.flatnonzero(counts)}

    def booked_in(self, row: int, week: int):
        """Row ``row``'s bookings in ``week`` (a Python number; none past the last week)."""
        counts = self.counts
        if 0 <= week < counts.shape[1]:
            return counts[row, week].item()
        return counts.dtype.type(0).item()
