"""The day's payments and care posted in compiled passes: claims, totals, who got the money.

What is paid is decided at the event (which claims, to whom, at what amount: a *plan*, see
``model/claims.py``); nothing reads the money until the day's sample, a quarterly review, the
end of an advance of the clock or a payee's revenue is read. So the event only notes
``(time, patient, plan, payee)`` in the journal, and ``post`` applies the journal's payments,
in the order they were made: the claims to the ledger, the patient's spending, the discounted
cost, the payee's revenue and the payer's quarterly budget. ``count_care`` does the same for
the doses and sessions given (``model/care.py``). Each running total receives its additions in
the order they were made, as if posted at the event.
"""

from __future__ import annotations

from numba import njit

from agents import calendar
from agents.calendar import DAYS_PER_YEAR
from agents.clinical_rows import key_cache_on_maths

# The kernels read the calendar's constants: their on-disk cache is keyed on it too.
_CACHE = key_cache_on_maths(__name__, calendar.__file__)


@njit(cache=_CACHE)
def post(
    t,
    patient,
    plan,
    slot,
    n_claims,
    payer_id,
    silo,
    status,
    cents,
    paid,
    budget,
    kind,
    code,
    total,
    credit,
    pharma_kind,
    denied,
    payee_uid,
    revenue,
    spend_cents,
    budget_spend,
    paid_by_silo,
    received_by_kind,
    counts,
    sums,
    discount_base,
    keep,
    row,
    col_day,
    col_patient,
    col_payee_kind,
    col_payee,
    col_payer,
    col_silo,
    col_code,
    col_status,
    col_cents,
):
    """Post the journal's payments in order; returns the ledger's next free row.

    Args:
        t: Each payment's time (the journal, in the order the payments were made).
        patient: Each payment's patient row.
        plan: Each payment's plan number (``Claims.plans``).
        slot: Each payment's payee slot (``Claims.enrol_payees``).
        n_claims: Claims of each plan (0: a bare credit to the payee).
        payer_id: Each plan's claims' payer id (the ledger's payer column), per claim.
        silo: Each plan's claims' budget, per claim.
        status: Each plan's claims' status, per claim.
        cents: Each plan's claims' amounts, cents, per claim.
        paid: The same in dollars, per claim.
        budget: Index of the payer whose quarterly budget pays each claim (-1: none).
        kind: Each plan's payee kind (``billing.PAYEE_INDEX``).
        code: Each plan's billing code.
        total: Each plan's cents paid (not denied): the patient's spending.
        credit: Dollars credited to the payee by a plan without claims.
        pharma_kind: The payee-kind index of pharma.
        denied: The status of a denied claim (moves no money).
        payee_uid: Each slot's unique id (the ledger's payee column).
        revenue: Each slot's revenue, USD; added to.
        spend_cents: Each patient's spending, cents; added to.
        budget_spend: Each payer's spending this quarter by budget, USD; added to.
        paid_by_silo: The ledger's running total paid by budget, cents; added to.
        received_by_kind: The ledger's running total received by payee kind, cents; added to.
        counts: Claims, denied claims and pharma's revenue in cents; added to.
        sums: The discounted cost in cents and pharma's revenue this quarter, USD; added to.
        discount_base: One plus the annual discount rate.
        keep: Whether the ledger keeps its claim rows.
        row: The ledger's next free row (the columns have room for every claim).
        col_day: The ledger's day column.
        col_patient: The ledger's patient column.
        col_payee_kind: The ledger's payee-kind column.
        col_payee: The ledger's payee column.
        col_payer: The ledger's payer column.
        col_silo: The ledger's budget column.
        col_code: The ledger's code column.
        col_status: The ledger's status column.
        col_cents: The ledger's amount column.

    Returns:
        The ledger's next free row after the claims written.
    """
    for j in range(t.size):
        p = plan[j]
        when = t[j]
        s = slot[j]
        spend_cents[patient[j]] += total[p]
        if n_claims[p] == 0:
            revenue[s] += credit[p]
            continue
        # metrics.discount_factor for one time (the same expression: C's pow, as Python's).
        discount = discount_base ** (-when / DAYS_PER_YEAR)
        k = kind[p]
        for c in range(n_claims[p]):
            amount = cents[p, c]
            counts[0] += 1
            if status[p, c] == denied:
                counts[1] += 1
            else:
                paid_by_silo[silo[p, c]] += amount
                received_by_kind[k] += amount
            if keep:
                col_day[row] = when
                col_patient[row] = patient[j]
                col_payee_kind[row] = k
                col_payee[row] = payee_uid[s]
                col_payer[row] = payer_id[p, c]
                col_silo[row] = silo[p, c]
                col_code[row] = code[p]
                col_status[row] = status[p, c]
                col_cents[row] = amount
                row += 1
            if amount == 0 or status[p, c] == denied:
                continue
            sums[0] += amount * discount
            if k == pharma_kind:
                counts[2] += amount
                sums[1] += paid[p, c]
            else:
                revenue[s] += paid[p, c]
            if budget[p, c] >= 0:
                budget_spend[budget[p, c], silo[p, c]] += paid[p, c]
    return row


@njit(cache=_CACHE)
def count_care(
    t,
    rows,
    covered,
    payer_kind,
    treated,
    start_day,
    n_doses,
    got_dose,
    n_sessions,
    got_session,
    n_doses_in_window,
    got_in_window,
    doses_by_day,
    doses_by_payer,
    started,
):
    """Count the journal's doses and sessions in order; returns how many rows started treatment.

    Args:
        t: Each dose's or session's time (the care journal, in the order given).
        rows: Each one's patient row.
        covered: -1 for a dose; for a session, the doses it covered in their window.
        payer_kind: Each patient's coverage kind.
        treated: Whether each row has started treatment; written.
        start_day: Day each row started treatment; written at its start.
        n_doses: Doses each row has had; added to.
        got_dose: Whether each row has had a dose; written.
        n_sessions: Sessions each row has had; added to.
        got_session: Whether each row has had a session; written.
        n_doses_in_window: Doses of each row covered by a session in their window; added to.
        got_in_window: Whether any dose of each row was covered; written.
        doses_by_day: Doses given by day; added to.
        doses_by_payer: Doses given by coverage kind and day; added to.
        started: Filled with the journal entries at which a row started treatment, in order
            (the caller draws their stress events, in the same order).

    Returns:
        How many rows started treatment (the first entries of ``started``).
    """
    n_started = 0
    for j in range(t.size):
        i = rows[j]
        when = t[j]
        if not treated[i]:  # its first dose or session starts its treatment
            treated[i] = True
            start_day[i] = when
            started[n_started] = j
            n_started += 1
        if covered[j] < 0:  # a dose, counted by day and by coverage
            n_doses[i] += 1
            got_dose[i] = True
            day = int(when)
            doses_by_day[day] += 1
            doses_by_payer[payer_kind[i], day] += 1
        else:
            n_sessions[i] += 1
            got_session[i] = True
            if covered[j] > 0:
                n_doses_in_window[i] += covered[j]
                got_in_window[i] = True
    return n_started
