"""The daily outcome bookkeeping of every treated patient: response, relapse, remission, QALYs.

Once a day, after the daily sample has read every treated patient's severity
(``DailyRecorder.sample``), ``record_outcomes`` notes first responses, losses of response,
durable remission, the day's QALYs and the payers' remission-days, in one compiled pass over
the treated rows (``record_day``), and hands back the discharged patients who lost response.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from agents import calendar
from agents.calendar import DAYS_PER_YEAR
from agents.clinical_rows import key_cache_on_maths
from agents.codes import PayerKind
from agents.patient import PathwayState
from model.metrics import discount_factor

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


def record_outcomes(model, t: float, treated: np.ndarray, resp: np.ndarray, remit: np.ndarray):
    """Day ``t``'s outcome bookkeeping of a run (``record_day``), and the run's last QALYs.

    Adds the day's remission-days to each payer's quarter; on the run's last day adds every
    patient's untreated days' QALYs (``finalise_qalys``).

    Returns:
        The discharged patients who lost response today, in row order (they may relapse).
    """
    pop = model.population
    mp = model.scenario.metrics
    remission_days = np.zeros(len(PayerKind), dtype=np.int64)
    lost_rows = np.empty(treated.size, dtype=np.int64)
    n_lost = record_day(
        float(t), treated, resp, remit, float(mp.dur_durable_days), float(mp.u_remission),
        float(mp.u_response), float(mp.u_nonresponse),
        float(discount_factor(t, mp.p_discount_per_year)), pop.start_day,
        pop.first_response_day, pop.relapse_day, pop.responding, pop.remitting,
        pop.durable_checked, pop.durable_remission, pop.qalys, pop.payer_kind, remission_days,
        lost_rows,
    )  # fmt: skip
    for payer in model.payers:
        payer.quarter_remission_days += float(remission_days[payer.kind])
    patients = model._patients
    discharged = PathwayState.DISCHARGED
    lost = [patients[i] for i in lost_rows[:n_lost].tolist()]
    if t >= model.days:
        finalise_qalys(model)
    return [p for p in lost if p is not None and p.state is discharged]


def finalise_qalys(model) -> None:
    """Add the untreated days' QALYs (utility of an untreated episode) for every patient."""
    pop = model.population
    mp = model.scenario.metrics
    days = np.arange(1, model.days + 1)
    daily = discount_factor(days, mp.p_discount_per_year) / DAYS_PER_YEAR
    cum_discount = np.concatenate([[0.0], np.cumsum(daily)])
    start = np.where(np.isnan(pop.start_day), np.inf, pop.start_day)
    untreated_samples = np.clip(np.ceil(start) - 1, 0, model.days).astype(int)
    pop.qalys += mp.u_untreated * cum_discount[untreated_samples]
