"""The daily outcome bookkeeping of every treated patient, compiled with Numba.

``KetasimModel.update_outcomes`` runs once a day over every treated patient: first response,
loss of response, durable remission, the day's QALYs and the payers' remission days. In NumPy
that is about twenty gathers, masks and scatters over the treated rows (~150 us a day at 10,000
patients); one compiled pass over the rows does the same in a fraction of it. The arithmetic is
the NumPy version's, in the same order (``tests/test_metrics.py`` checks it against that). The
compiled code is cached on disk (``__pycache__``).
"""

from __future__ import annotations

from numba import njit

from agents import calendar
from agents.calendar import DAYS_PER_YEAR
from agents.clinical_rows import key_cache_on_maths

# The kernels read the calendar's constants: their on-disk cache is keyed on it too.
_CACHE = key_cache_on_maths(__name__, calendar.__file__)


@njit(cache=_CACHE)
def record_day(
    t,
    rows,
    resp,
    remit,
    dur_durable,
    u_remission,
    u_response,
    u_nonresponse,
    weight,
    start_day,
    first_response_day,
    relapse_day,
    responding,
    remitting,
    durable_checked,
    durable_remission,
    qalys,
    payer_kind,
    remission_days,
    lost,
):
    """Record day ``t``'s outcomes of ``rows`` (treated, ascending).

    Args:
        t: The day (days since the start).
        rows: Treated rows, ascending.
        resp: Whether each of ``rows`` is in response today (same order).
        remit: Whether each of ``rows`` is in remission today (same order).
        dur_durable: Days from the start of treatment after which remission counts as durable.
        u_remission: Utility of a day in remission.
        u_response: Utility of a day in response short of remission.
        u_nonresponse: Utility of a treated day without response.
        weight: The day's discount factor.
        start_day: Day each row started treatment.
        first_response_day: Day of each row's first response (NaN: none yet); written.
        relapse_day: Day each row first lost response (NaN: never); written.
        responding: Whether each row was in response yesterday; written with today's.
        remitting: Whether each row is in remission; written with today's.
        durable_checked: Whether each row's durable remission was judged; written.
        durable_remission: Each row's durable remission, once judged; written.
        qalys: Each row's discounted QALYs so far; the day's are added.
        payer_kind: Each row's coverage kind (``PayerKind``).
        remission_days: Remitting rows today, by coverage kind; added to.
        lost: Filled with the rows that lost response today (ascending).

    Returns:
        How many rows lost response today (the first ones of ``lost``).
    """
    n_lost = 0
    for j in range(rows.size):
        i = rows[j]
        if resp[j] and first_response_day[i] != first_response_day[i]:  # NaN: first response
            first_response_day[i] = t
        if responding[i] and not resp[j]:
            lost[n_lost] = i
            n_lost += 1
            if relapse_day[i] != relapse_day[i]:
                relapse_day[i] = t
        responding[i] = resp[j]
        remitting[i] = remit[j]
        if not durable_checked[i] and t - start_day[i] >= dur_durable:
            durable_remission[i] = remit[j]
            durable_checked[i] = True
        util = u_remission if remit[j] else (u_response if resp[j] else u_nonresponse)
        qalys[i] += util * weight / DAYS_PER_YEAR
        if remit[j]:
            remission_days[payer_kind[i]] += 1
    return n_lost
