"""Bookings by week for a set of agents: one array, a row per agent, a column per week.

Therapists' sessions and clinics' chair-hours are booked by week. Kept as one array for each
kind of agent rather than a dictionary per agent, so that compiled code can book
(``model.sessions``, ``model.doses``); the array widens when a booking reaches past its last
week.
"""

from __future__ import annotations

import numpy as np


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
