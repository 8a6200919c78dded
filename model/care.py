"""The doses and sessions given, counted in batches with the day's payments.

A dose or session updates the patient's clinical row at its event; what it adds to the
population's counts (doses, sessions, doses covered, the start of treatment and its first
stress draw) is noted in the care journal and counted in order by one compiled pass
(``postings.count_care``) whenever the model posts its journals (``KetasimModel.post_journal``).
"""

from __future__ import annotations

from array import array

import numpy as np

from model import postings


class CareJournal:
    """Doses and sessions given but not yet counted: time, row, doses covered (-1: a dose)."""

    def __init__(self, model) -> None:
        self.model = model
        self._claims = model.claims  # posts at once while an observer watches the run
        self.entries = (array("d"), array("q"), array("q"))

    def note(self, t: float, i: int, covered: int) -> None:
        """Add a dose (``covered`` -1) or a session covering ``covered`` doses."""
        times, rows, doses_covered = self.entries
        times.append(t)
        rows.append(i)
        doses_covered.append(covered)
        if self._claims.post_at_once:
            self.model.post_journal()

    def count(self) -> None:
        """Count the journal's doses and sessions (``postings.count_care``), in order."""
        if not self.entries[1]:
            return
        t, rows, covered = (np.array(entries) for entries in self.entries)
        for entries in self.entries:
            del entries[:]
        model = self.model
        pop, tally = model.population, model.tally
        started = np.empty(t.size, dtype=np.int64)
        n_started = postings.count_care(
            t, rows, covered, pop.payer_kind, pop.treated, pop.start_day, pop.n_doses,
            pop.got_dose, pop.n_sessions, pop.got_session, pop.n_doses_in_window,
            pop.got_in_window, tally.doses_by_day, tally.doses_by_payer, started,
        )  # fmt: skip
        first = started[:n_started]
        pop.schedule_first_stress(rows[first], t[first], model.streams)
