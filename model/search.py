"""The search for care, compiled: which clinic a patient picks, which therapist a referral reaches.

``best_clinic`` looks at the distinct clinics a patient hears of: the value of a course under
the clinic's business model (``Patient._course_values``), less the wait to its first week with
a free chair over the patient's tolerance, plus a taste shock; the best above the outside
option wins. ``best_therapist`` calls the therapists of a referral for their first free slot.
``model/market.py`` draws who is heard of and calls them (``CareSearch``).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from agents import calendar
from agents import clinical_rows as rows
from agents import weeks as week_rules
from agents.calendar import week_of
from agents.weeks import chair_week, free_week, week_time

# The kernels compile agents/weeks.py's functions into their own code: the cache is keyed on it.
_CACHE = rows.key_cache_on_maths(__name__, week_rules.__file__, calendar.__file__)


@register_jitable
def candidate(picks, pick, m, everyone):
    """The ``m``-th clinic or therapist heard of, -1 when it was heard of already.

    ``m`` itself when ``everyone`` is heard of (in order), else the ``m``-th draw of row ``pick``
    of ``picks`` (the distinct draws count, first drawn first).
    """
    if everyone:
        return m
    c = picks[pick, m]
    for q in range(m):
        if picks[pick, q] == c:
            return -1
    return c


@njit(cache=_CACHE)
def best_clinic(
    models,
    chairs,
    needs,
    picks,
    pick,
    shocks,
    shock,
    n_clinics,
    every_clinic,
    v0,
    v1,
    v2,
    room,
    earliest,
    now,
    tolerance,
    best_u,
):
    """The best of the clinics a patient hears of, if any beats ``best_u``.

    The candidates are every clinic in order when ``every_clinic`` (a catchment with no more
    clinics than a patient hears of), else the distinct clinics of row ``pick`` of ``picks``
    in the order first drawn; the ``j``-th candidate gets the ``j``-th shock of row ``shock`` of
    ``shocks``. A clinic of business model ``m`` (``models``) offers a course worth ``v<m>``
    (NaN: this patient cannot have it), starting at its first week from ``earliest`` whose
    chair-hours (``chairs``) are empty or have ``needs[m]`` hours more within ``room``. Its
    utility is the value less the wait over ``tolerance`` plus the shock; a clinic whose
    earliest possible start could not beat the best so far is not looked up (a later start
    only lowers it).

    Returns:
        ``(clinic row or -1, its start, the best utility)``.
    """
    values = (v0, v1, v2)
    best, best_start = -1, np.nan
    soonest = (earliest - now) / tolerance
    first_week = week_of(earliest)
    n = n_clinics if every_clinic else picks.shape[1]
    j = 0
    for m in range(n):
        c = candidate(picks, pick, m, every_clinic)
        if c < 0:
            continue
        noise = shocks[shock, j]
        j += 1
        model = models[c]
        value = values[model]
        if value != value:
            continue
        if value - soonest + noise <= best_u:
            continue
        start = week_time(earliest, chair_week(chairs, c, needs[model], room, first_week))
        u = value - (start - now) / tolerance + noise
        if u > best_u:
            best_u, best, best_start = u, c, start
    return best, best_start, best_u


@njit(cache=_CACHE)
def best_therapist(
    weeks, networks, picks, pick, n_therapists, every_therapist, capacity, can_pay_cash, kind, ready
):
    """The therapist, of those a referred patient calls, who offers the earliest slot.

    The calls go to every therapist in order when ``every_therapist``, else to the distinct
    therapists of row ``pick`` of ``picks`` in the order first drawn. A therapist who is not
    in the network of the patient's payer (``networks``, column ``kind``) is skipped unless the
    patient can pay cash; the others offer the first week from ``ready`` with fewer than
    ``capacity`` sessions booked (``weeks``; ``Therapist.next_free_slot``). Calling stops at a
    slot no later than ``ready``: no later therapist can offer an earlier one.

    Returns:
        ``(therapist row or -1, the slot's time or inf)``.
    """
    best, best_t = -1, np.inf
    first_week = week_of(ready)
    n = n_therapists if every_therapist else picks.shape[1]
    for m in range(n):
        c = candidate(picks, pick, m, every_therapist)
        if c < 0:
            continue
        if not (can_pay_cash or networks[c, kind]):
            continue
        slot = week_time(ready, free_week(weeks, c, capacity, first_week))
        if slot < best_t:
            best_t, best = slot, c
            if slot <= ready:
                break
    return best, best_t
