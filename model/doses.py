"""A dose, compiled: its clinical update, who billed the drug, its pending entry, the next chair.

``give_dose`` updates the patient's clinical row (``clinical_rows.row_dose``), writes which
organisation billed the drug to which budget (``payments.note_biller``: the fragmentation
index, docs/ODD.md §3.4), notes the dose among those a session may still cover
(``sessions.note_dose``) and books the chair for the course's next dose
(``weeks.chair_week``), in one compiled call. Its payments are noted by
``KetasimModel.give_dose`` (``model/claims.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from agents import calendar, payments
from agents import clinical_rows as rows
from agents import weeks as week_rules
from agents.calendar import week_of
from agents.payments import note_biller
from agents.weeks import chair_week, week_time
from model import sessions
from model.sessions import note_dose

# The kernels compile clinical_rows', clinical's, model/sessions.py's and agents/weeks.py's
# functions into their own code, so their on-disk cache is keyed on those files too.
_CACHE = rows.key_cache_on_maths(
    __name__, sessions.__file__, week_rules.__file__, calendar.__file__, payments.__file__
)


@register_jitable
def book_chair(chairs, clinic, need, room, earliest):
    """Book ``need`` chair-hours in row ``clinic``'s first week from ``earliest`` with room.

    As ``Prescriber.next_chair_time`` then ``book`` (``chair_week``, ``week_time``). NaN
    (nothing booked) when ``earliest`` is NaN or the week lies past the last column.
    """
    if earliest != earliest:
        return np.nan
    week = chair_week(chairs, clinic, need, room, week_of(earliest))
    if week >= chairs.shape[1]:
        return np.nan
    chairs[clinic, week] = chairs[clinic, week] + need
    return week_time(earliest, week)


@njit(cache=_CACHE)
def give_dose(
    f,
    n_course,
    ring,
    params,
    orgs,
    silos,
    split,
    times,
    recorded,
    count,
    chairs,
    t,
    i,
    rel_relief,
    org,
    bit,
    horizon,
    clinic,
    need,
    room,
    book_from,
):
    """A dose for row ``i`` at ``t`` (its payments are noted by the caller).

    The pending dose first (``note_dose``, forgetting those over ``horizon`` days old): when
    the row has no room left nothing else is done, and the call returns False so that the
    caller widens the pending doses and calls again. Then the clinical update (``dose_row``,
    with ``rel_relief``), who billed the drug (``org`` to the budget bit ``bit``, as
    ``Claims.track_billing`` does; ``org`` -1 when the dose's own payments say nothing
    of it) and, unless ``book_from`` is NaN, the chair for the next dose at clinic row
    ``clinic`` (``need`` hours a dose, ``room`` hours a week; ``book_chair``).

    Returns:
        ``(done, the next dose's time)``; the time is NaN when none was to be booked, or
        when the week found lies past the book's last (the caller widens it and books).
    """
    if not note_dose(times, recorded, count, i, t, horizon):
        return False, np.nan
    rows.row_dose(f, n_course, ring, params[0], t, i, rel_relief)
    if org >= 0:
        note_biller(orgs, silos, split, i, org, bit)
    return True, book_chair(chairs, clinic, need, room, book_from)
