"""A therapy session outside an integrated programme, compiled; the doses a session covers.

``attend_therapy`` checks attendance against the patient's acute relief
(``clinical.p_attend``), decides who pays (``payments.referred_session_payer``) and notes the
biller, applies the session's layer gains, counts which of the patient's recent doses it
covered (``cover_doses``: the integrated delivery rate's window, docs/ODD.md §3.4) and books the
next session with the same therapist, in one compiled call; ``KetasimModel.therapy_session``
notes the payment and the care in the day's journals. An integration session inside a
programme takes the Python path (``Patient.attend_session``) and reads the same arrays.
``PendingDoses`` keeps each patient's doses not yet covered by a session.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from agents import calendar, payments
from agents import clinical as cm
from agents import clinical_rows as rows
from agents import weeks as week_rules
from agents.calendar import week_of, year_of
from agents.patient import SessionOutcome
from agents.weeks import free_week, week_time

# A session's outcome (``attend_therapy``'s first value), as plain ints for compiled code.
ATTENDED = int(SessionOutcome.ATTENDED)
MISSED = int(SessionOutcome.MISSED)
UNPAID = int(SessionOutcome.UNPAID)

# Who pays a session (``payments.SessionPayer``), as plain ints for compiled code.
BY_PAYER = int(payments.SessionPayer.PAYER)
NOBODY = int(payments.SessionPayer.NOBODY)

# Rows of a population's ``sessions`` array: each patient's covered sessions in a calendar year.
SESSION_YEAR, SESSIONS_USED = 0, 1

# Pending doses a patient has room for before ``PendingDoses.grow`` (doses come days apart and
# are forgotten a ``max_delay_days`` after, so a few; the room doubles when it runs out).
PENDING_WIDTH = 8

# The kernels below compile clinical_rows', clinical's and agents/weeks.py's functions into their
# own code, so their on-disk cache is keyed on those files too.
_CACHE = rows.key_cache_on_maths(
    __name__, week_rules.__file__, calendar.__file__, payments.__file__
)


class PendingDoses:
    """Each patient's doses not yet covered by a session, in the order they were given.

    Row ``i`` holds ``count[i]`` entries: a dose's time and whether the delay to the first
    session after it has been recorded (``Tally.delays``).
    """

    def __init__(self, n: int, width: int = PENDING_WIDTH) -> None:
        self.times = np.zeros((n, width))
        self.recorded = np.zeros((n, width), dtype=np.bool_)
        self.count = np.zeros(n, dtype=np.int64)
        # A session's newly recorded delays, handed back to Python (at most one per entry).
        self.delays = np.zeros(width)

    def of(self, i: int) -> list[tuple[float, bool]]:
        """Row ``i``'s pending doses as ``(time, delay recorded)``, oldest first."""
        k = int(self.count[i])
        return [
            (float(t), bool(r))
            for t, r in zip(self.times[i, :k], self.recorded[i, :k], strict=True)
        ]

    def grow(self) -> None:
        """Double every row's room (the entries are kept)."""
        n, width = self.times.shape
        times = np.zeros((n, 2 * width))
        recorded = np.zeros((n, 2 * width), dtype=np.bool_)
        times[:, :width] = self.times
        recorded[:, :width] = self.recorded
        self.times, self.recorded = times, recorded
        self.delays = np.zeros(2 * width)

    def add(self, i: int, t: float, horizon: float) -> None:
        """A dose at ``t``: forget doses more than ``horizon`` days old, then note this one."""
        while not note_dose(self.times, self.recorded, self.count, i, t, horizon):
            self.grow()


@njit(cache=_CACHE)
def note_dose(times, recorded, count, i, t, horizon):
    """Note a dose of row ``i`` at ``t`` after forgetting those more than ``horizon`` days old.

    The entries are in dose order, so when the oldest is recent enough all are. Returns False,
    having only forgotten, when the row has no room left (grow it and call again).
    """
    k = count[i]
    if k > 0 and t - times[i, 0] > horizon:
        kept = 0
        for j in range(k):
            if t - times[i, j] <= horizon:
                times[i, kept] = times[i, j]
                recorded[i, kept] = recorded[i, j]
                kept += 1
        k = kept
        count[i] = k
    if k == times.shape[1]:
        return False
    times[i, k] = t
    recorded[i, k] = False
    count[i] = k + 1
    return True


@njit(cache=_CACHE)
def cover_doses(
    times, recorded, count, delays, covered_by_day, covered_by_payer, window, t, i, payer
):
    """Count a session at ``t`` against row ``i``'s pending doses (``Tally.session``).

    The first session after a dose records its delay (when within ``window[2]``, the largest
    delay counted) into ``delays``; a session inside the window ``window[0]..window[1]`` days
    after a dose covers it (counted by the dose's day and the patient's payer); a session before
    the window leaves the dose pending so that a later one can still cover it. Returns the doses
    covered and how many delays were written.
    """
    start, end, max_delay = window[0], window[1], window[2]
    covered = 0
    n_delays = 0
    kept = 0
    for j in range(count[i]):
        d = times[i, j]
        done = recorded[i, j]
        delay = t - d
        if delay < 0.0:
            times[i, kept] = d
            recorded[i, kept] = done
            kept += 1
            continue
        if not done:
            if delay <= max_delay:
                delays[n_delays] = delay
                n_delays += 1
            done = True
        if start <= delay <= end:
            day = int(d)
            covered_by_day[day] += 1
            covered_by_payer[payer, day] += 1
            covered += 1
        elif delay < start:
            times[i, kept] = d
            recorded[i, kept] = done
            kept += 1
    count[i] = kept
    return covered, n_delays


@njit(cache=_CACHE)
def attend_therapy(
    f,
    n_course,
    ring,
    params,
    adherence,
    sessions,
    orgs,
    silos,
    split,
    times,
    recorded,
    count,
    delays,
    covered_by_day,
    covered_by_payer,
    window,
    weeks,
    t,
    i,
    draw,
    payer,
    cap,
    in_network,
    can_pay_cash,
    bit_network,
    bit_cash,
    org,
    therapist,
    capacity,
    book_from,
):
    """A booked session outside an integrated programme, for row ``i`` at ``t``.

    Attendance (``draw`` against ``p_attend``), then who pays
    (``payments.referred_session_payer``): the payer while the year's covered sessions are
    under ``cap`` (-1 for a patient without one) and the therapist is in its network
    (``in_network``), else the patient in cash when they can, else nobody.
    ``payer`` is the patient's coverage (a ``PayerKind``, uninsured included) for the counts of
    covered doses. A paid
    session is tracked as billed by ``org`` to the budget bit of its payment (the ``orgs``,
    ``silos`` and ``split`` columns: ``payments.note_biller``), its gains applied
    (``session_row``) and its covered doses counted (``cover_doses``).

    Unless ``book_from`` is NaN, the next session is then booked with the therapist (row
    ``therapist`` of the week book ``weeks``, ``capacity`` sessions a week): the first week
    from ``book_from`` on with a free slot (``Therapist.next_free_slot`` and ``book``).

    Returns:
        ``(outcome, paid by the payer, doses covered, delays written, next session's time,
        whether its week is now full)``; the time is NaN when no session was to be booked, or
        when the free week lies past the book's last (the caller widens the book and books).
        A missed or unpaid session changes nothing.
    """
    p = params[0]
    relief = rows.row_relief(f, n_course, p, t, i)
    if draw >= cm.p_attend(adherence[i], relief, False, p):
        return MISSED, False, 0, 0, np.nan, False
    year = year_of(t)
    used = sessions[SESSIONS_USED, i] if sessions[SESSION_YEAR, i] == year else 0
    who = payments.referred_session_payer(used, cap, in_network, can_pay_cash)
    if who == NOBODY:
        return UNPAID, False, 0, 0, np.nan, False
    by_payer = who == BY_PAYER
    if by_payer:
        sessions[SESSION_YEAR, i] = year
        sessions[SESSIONS_USED, i] = used + 1
        bit = bit_network
    else:
        bit = bit_cash
    payments.note_biller(orgs, silos, split, i, org, bit)
    rows.row_session(f, ring, p, t, i, relief)
    covered, n_delays = cover_doses(
        times, recorded, count, delays, covered_by_day, covered_by_payer, window, t, i, payer
    )
    at, filled = book_week(weeks, therapist, capacity, book_from)
    return ATTENDED, by_payer, covered, n_delays, at, filled


@register_jitable
def book_week(weeks, row, capacity, earliest):
    """Book row ``row``'s first week with a free slot from ``earliest`` on; returns its time.

    As ``Therapist.next_free_slot`` then ``book``: the time is ``earliest`` in its own week, else
    the start of the free week; also whether that week is now full. NaN (nothing booked) when
    ``earliest`` is NaN or the free week lies past the last column.
    """
    if earliest != earliest:
        return np.nan, False
    week = free_week(weeks, row, capacity, week_of(earliest))
    if week >= weeks.shape[1]:
        return np.nan, False
    weeks[row, week] += 1
    return week_time(earliest, week), weeks[row, week] >= capacity
