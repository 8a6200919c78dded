"""Invariants of a run (docs/reliability.md), as pure checks on a running or finished model.

Each ``check_*`` function reads a :class:`~model.model.KetasimModel` and raises
``AssertionError`` with a one-line message naming the invariant, the quantity and the values
when the invariant does not hold; it changes nothing. The property tests call
:func:`check_all` after every chunk of ``model.run_until(t)``, so a violation is reported at the
first sampled day it appears, not only at the end of a run.

The checks mirror the guarantees listed in ``docs/reliability.md``:

* patients are conserved: each patient is in exactly one pathway state;
* money is conserved to the cent: what payers and patients pay equals what providers and pharma
  receive, claim by claim and in the running totals;
* capacities, bookings and waitlists are never negative;
* layers, relief, severity, shares and rates stay within their ranges;
* no pending event lies in the past, and every day up to now was sampled exactly once.

The model is read duck-typed (``model.model`` is not imported), so the model itself may call
these checks while debugging without an import cycle.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents import clinical as cm
from agents.calendar import DAYS_PER_YEAR
from agents.codes import ClaimStatus, PartyKind, Silo
from agents.patient import CareCategory, PathwayState

# Float money (agent revenue in USD) is summed claim by claim; allow rounding of that order.
_USD_TOLERANCE = 1e-6
# Layer values are computed in floating point from values in [0, 1]; allow rounding only.
_EPS = 1e-9

# Daily-frame columns that are shares or probabilities: each must be in [0, 1] or NaN.
UNIT_COLUMNS = (
    "integrated_delivery_rate",
    "integrated_delivery_rate_rolling",
    "share_integrated",
    "share_drug_only",
    "share_therapy_only",
    "share_untreated",
    "share_dropped_out",
    "response_rate",
    "remission_rate",
    "mean_b",
    "mean_r",
    "mean_n",
    "therapists_in_network_share",
    "therapists_trained_share",
    "pa_denial_rate",
)
SHARE_COLUMNS = (
    "share_integrated",
    "share_drug_only",
    "share_therapy_only",
    "share_untreated",
    "share_dropped_out",
)
# Daily-frame columns that are counts or money: never negative.
NON_NEGATIVE_COLUMNS = (
    "doses_cumulative",
    "sessions_cumulative",
    "n_sought_care",
    "n_treated",
    "spend_medical",
    "spend_behavioral",
    "spend_out_of_pocket",
    "spend_bundle",
    "pharma_revenue",
    "pharma_detailing",
    "drug_price_per_session",
    "therapy_waitlist",
    "mean_therapy_wait_days",
    "mean_days_dose_to_therapy",
    "prescriber_utilisation",
    "session_cap",
)
# Cumulative daily columns: running totals never go down from one day to the next.
CUMULATIVE_COLUMNS = (
    "doses_cumulative",
    "sessions_cumulative",
    "n_sought_care",
    "n_treated",
    "spend_medical",
    "spend_behavioral",
    "spend_out_of_pocket",
    "spend_bundle",
    "pharma_revenue",
)
# Summary keys that are shares or rates (None when undefined).
SUMMARY_UNIT_KEYS = (
    "integrated_delivery_rate",
    "share_integrated",
    "share_drug_only",
    "share_therapy_only",
    "share_untreated",
    "share_dropped_out",
    "response_rate",
    "remission_rate",
    "relapse_rate_180d",
    "durable_remission_rate",
    "fragmentation_index",
)


def _fail(model: Any, invariant: str, detail: str) -> None:
    """Raise the one-line report of a violated invariant."""
    raise AssertionError(f"invariant '{invariant}' violated at t={float(model.time):g}: {detail}")


def _in_unit(values: np.ndarray, *, allow_nan: bool = False) -> np.ndarray:
    """Mask of entries outside [0, 1] (NaN counts as outside unless allowed)."""
    values = np.asarray(values, dtype=float)
    bad = ~((values >= -_EPS) & (values <= 1.0 + _EPS))
    if allow_nan:
        bad &= ~np.isnan(values)
    return bad


def _first_bad(name: str, values: np.ndarray, bad: np.ndarray) -> str:
    rows = np.flatnonzero(bad)
    return f"{name}: {rows.size} bad value(s), first at row {rows[0]} = {values[rows[0]]!r}"


# ------------------------------------------------------------------------------------------
# Patients
# ------------------------------------------------------------------------------------------


def check_patients_conserved(model: Any) -> None:
    """Every patient is in exactly one pathway state, and the counts agree with the rows.

    ``population.state_counts`` (kept incrementally at each transition) must sum to N and equal
    the bincount of ``population.state``; every created patient agent must be in the state its
    row says; people who have not started seeking care have no agent yet.
    """
    pop = model.population
    n_states = len(PathwayState)
    state = np.asarray(pop.state)
    if state.shape != (pop.n,):
        _fail(
            model, "patients conserved", f"state array has shape {state.shape}, expected ({pop.n},)"
        )
    if state.size and (state.min() < 0 or state.max() >= n_states):
        _fail(
            model,
            "patients conserved",
            f"state codes outside 0..{n_states - 1}: {np.unique(state)}",
        )
    counts = np.asarray(pop.state_counts)
    if int(counts.sum()) != pop.n:
        _fail(model, "patients conserved", f"state_counts sum to {int(counts.sum())}, N = {pop.n}")
    if (counts < 0).any():
        _fail(model, "patients conserved", f"negative state count: {counts.tolist()}")
    actual = np.bincount(state, minlength=n_states)
    if not np.array_equal(counts, actual):
        _fail(
            model,
            "patients conserved",
            f"state_counts {counts.tolist()} != bincount(state) {actual.tolist()}",
        )
    agents = model._patients
    if len(agents) != pop.n:
        _fail(model, "patients conserved", f"{len(agents)} patient slots for N = {pop.n}")
    for idx, patient in enumerate(agents):
        if patient is None:
            if state[idx] != PathwayState.NOT_SEEKING:
                _fail(
                    model,
                    "patients conserved",
                    f"row {idx} is {PathwayState(int(state[idx])).name} but has no agent",
                )
            continue
        if patient.idx != idx:
            _fail(model, "patients conserved", f"agent in slot {idx} has idx {patient.idx}")
        if int(patient.state) != int(state[idx]):
            _fail(
                model,
                "patients conserved",
                f"patient {idx}: agent state {patient.state.name} != row state "
                f"{PathwayState(int(state[idx])).name}",
            )
    sought = np.asarray(pop.sought)
    if (sought[state != PathwayState.NOT_SEEKING] == 0).any():
        _fail(
            model, "patients conserved", "a patient past NOT_SEEKING is not marked as having sought"
        )
    # The daily sample counts care categories from the flags (Population.category_counts);
    # they must be the per-row categories' counts.
    by_row = np.bincount(pop.categories(), minlength=len(CareCategory))
    counted = pop.category_counts()
    if not np.array_equal(by_row, counted):
        _fail(
            model,
            "patients conserved",
            f"category_counts {counted.tolist()} != bincount(categories) {by_row.tolist()}",
        )


# ------------------------------------------------------------------------------------------
# Money
# ------------------------------------------------------------------------------------------


def check_money_conserved(model: Any) -> None:
    """Money is conserved to the cent (docs/ODD.md §3.3, Billing).

    The ledger's running totals by payer side (silo) and by payee side agree; when claims are
    kept, the claims frame summed either way equals the running totals, row counts match, and
    denied claims move no money. Per-patient spending, pharma revenue and prescriber revenue
    agree with the ledger.
    """
    ledger = model.ledger
    paid = ledger.total_paid_cents()
    received = ledger.total_received_cents()
    if paid != received:
        _fail(model, "money conserved", f"paid {paid} cents != received {received} cents")
    for silo, cents in ledger.paid_by_silo.items():
        if cents < 0:
            _fail(model, "money conserved", f"silo {silo.name} total is negative ({cents} cents)")
    for kind, cents in ledger.received_by_payee_kind.items():
        if cents < 0:
            _fail(model, "money conserved", f"payee {kind.value} total is negative ({cents} cents)")
    spend = int(np.asarray(model.population.spend_cents, dtype=np.int64).sum())
    if spend != paid:
        _fail(model, "money conserved", f"per-patient spending {spend} cents != paid {paid} cents")
    pharma = ledger.received_by_payee_kind[PartyKind.PHARMA]
    if model.pharma_revenue_cents != pharma:
        _fail(
            model,
            "money conserved",
            f"pharma revenue {model.pharma_revenue_cents} cents != ledger {pharma} cents",
        )
    prescriber_usd = sum(c.revenue for c in model.prescribers)
    ledger_usd = ledger.received_by_payee_kind[PartyKind.PRESCRIBER] / 100.0
    if abs(prescriber_usd - ledger_usd) > _USD_TOLERANCE * max(1.0, ledger_usd):
        _fail(
            model,
            "money conserved",
            f"prescribers' revenue {prescriber_usd:.2f} USD != ledger {ledger_usd:.2f} USD",
        )
    # Therapists are also paid by programmes for integration sessions (not a claim), so their
    # revenue can exceed, but never fall short of, what the ledger paid them.
    therapist_usd = sum(t.revenue for t in model.therapists)
    ledger_th = ledger.received_by_payee_kind[PartyKind.THERAPIST] / 100.0
    if therapist_usd + _USD_TOLERANCE * max(1.0, ledger_th) < ledger_th:
        _fail(
            model,
            "money conserved",
            f"therapists' revenue {therapist_usd:.2f} USD < ledger {ledger_th:.2f} USD",
        )
    if ledger.keep_claims:
        _check_claims_frame(model)


def _check_claims_frame(model: Any) -> None:
    ledger = model.ledger
    claims = model.claims_frame()
    if len(claims) != ledger.n_claims:
        _fail(
            model,
            "money conserved",
            f"claims frame has {len(claims)} rows, ledger {ledger.n_claims}",
        )
    cents = claims["cents"].to_numpy(dtype=np.int64)
    if (cents < 0).any():
        _fail(model, "money conserved", _first_bad("claim cents", cents, cents < 0))
    if not np.array_equal(cents, np.round(claims["amount_usd"].to_numpy() * 100).astype(np.int64)):
        _fail(model, "money conserved", "amount_usd disagrees with cents")
    status = claims["status"].to_numpy()
    denied = status == ClaimStatus.DENIED.name.lower()
    if int(denied.sum()) != ledger.n_denied:
        _fail(
            model, "money conserved", f"{int(denied.sum())} denied rows, ledger {ledger.n_denied}"
        )
    if claims.isna().any().any():
        cols = [c for c in claims.columns if claims[c].isna().any()]
        _fail(model, "money conserved", f"claims with unmapped values in columns {cols}")
    moved = claims.loc[~denied]
    by_silo = moved.groupby("silo", observed=True)["cents"].sum()
    by_payee = moved.groupby("payee_kind", observed=True)["cents"].sum()
    total_silo = int(by_silo.sum())
    total_payee = int(by_payee.sum())
    if total_silo != total_payee:
        _fail(
            model, "money conserved", f"claims by payer side {total_silo} != by payee {total_payee}"
        )
    if total_silo != ledger.total_paid_cents():
        _fail(
            model,
            "money conserved",
            f"claims total {total_silo} cents != running total {ledger.total_paid_cents()}",
        )
    for silo in Silo:
        frame = int(by_silo.get(silo.name.lower(), 0))
        if frame != ledger.paid_by_silo[silo]:
            _fail(
                model,
                "money conserved",
                f"silo {silo.name}: claims {frame} cents != running {ledger.paid_by_silo[silo]}",
            )
    for kind in PartyKind:
        frame = int(by_payee.get(kind.value, 0))
        if frame != ledger.received_by_payee_kind[kind]:
            _fail(
                model,
                "money conserved",
                f"payee {kind.value}: claims {frame} cents != running "
                f"{ledger.received_by_payee_kind[kind]}",
            )
    # Out-of-pocket money is paid by the patient, never by an insurer, and vice versa.
    oop = moved["silo"].to_numpy() == Silo.OUT_OF_POCKET.name.lower()
    by_patient = moved["payer"].to_numpy() == "patient"
    if not np.array_equal(oop, by_patient):
        _fail(
            model, "money conserved", "an out-of-pocket claim with an insurer payer (or vice versa)"
        )
    # Every claim, denials included, is dated within the run so far (a prior-authorisation
    # denial is written when decided: Claims.deny_prior_auth).
    if len(claims):
        days = claims["day"].to_numpy()
        if (days < -_EPS).any() or (days > model.time + _EPS).any():
            _fail(model, "money conserved", f"claim days outside [0, {model.time:g}]")


# ------------------------------------------------------------------------------------------
# Capacities and waitlists
# ------------------------------------------------------------------------------------------


def check_capacities(model: Any) -> None:
    """Bookings, capacities and waitlists are never negative; the waitlist count is exact.

    Therapists' weekly bookings and prescribers' booked chair-hours are non-negative, capacities
    are positive, and ``tally.n_waiting_for_therapy`` equals the number of patients who are
    waiting for a first session (those with a pending therapy request).
    """
    for therapist in model.therapists:
        if therapist.capacity < 1:
            _fail(
                model,
                "capacities",
                f"therapist {therapist.unique_id} capacity {therapist.capacity}",
            )
        for week, count in therapist.booked.items():
            if count < 0:
                _fail(
                    model,
                    "capacities",
                    f"therapist {therapist.unique_id} week {week}: {count} sessions booked",
                )
    for clinic in model.prescribers:
        if not clinic.capacity_hours > 0:
            _fail(
                model,
                "capacities",
                f"prescriber {clinic.unique_id} capacity {clinic.capacity_hours}",
            )
        for week, hours in clinic.booked_hours.items():
            if not hours >= 0:
                _fail(
                    model,
                    "capacities",
                    f"prescriber {clinic.unique_id} week {week}: {hours} chair-hours booked",
                )
    tally = model.tally
    if tally.n_waiting_for_therapy < 0:
        _fail(model, "capacities", f"therapy waitlist is {tally.n_waiting_for_therapy}")
    waiting = sum(
        1 for p in model._patients if p is not None and not math.isnan(p.therapy_requested_at)
    )
    if tally.n_waiting_for_therapy != waiting:
        _fail(
            model,
            "capacities",
            f"therapy waitlist count {tally.n_waiting_for_therapy} != {waiting} patients "
            "with a pending therapy request",
        )
    for name in ("n_sessions", "n_missed", "n_pa_requests", "n_pa_denied"):
        if getattr(tally, name) < 0:
            _fail(model, "capacities", f"tally.{name} is {getattr(tally, name)}")
    if tally.n_pa_denied > tally.n_pa_requests:
        _fail(
            model, "capacities", f"{tally.n_pa_denied} PA denials > {tally.n_pa_requests} requests"
        )
    if (np.asarray(tally.covered_by_day) > np.asarray(tally.doses_by_day)).any():
        _fail(model, "capacities", "a day has more doses covered by therapy than doses given")
    # Copies, not views: a view would stop the tallies growing (metrics.mean_or_nan).
    if (np.array(tally.therapy_waits, dtype=np.float64) < -_EPS).any():
        _fail(model, "capacities", "a negative therapy wait was recorded")
    if (np.array(tally.delays, dtype=np.float64) < -_EPS).any():
        _fail(model, "capacities", "a negative dose-to-therapy delay was recorded")


# ------------------------------------------------------------------------------------------
# Ranges: layers, relief, severity, shares and rates
# ------------------------------------------------------------------------------------------


def check_ranges(model: Any) -> None:
    """Layers, relief and plasticity lie in [0, 1]; severity in [0, 60]; shares and rates too.

    Checks the population's clinical arrays (structural and baseline layers, relief at the last
    dose and now, effective layers and severity now), every row of the daily frame, and the
    summary when the run has finished.
    """
    clin = model.population.clinical
    t = float(model.time)
    for name in ("b", "r", "n", "b0", "r0", "n0", "relief_last", "sensitivity"):
        values = np.asarray(getattr(clin, name), dtype=float)
        bad = _in_unit(values)
        if bad.any():
            _fail(model, "layers within [0, 1]", _first_bad(name, values, bad))
    if (np.asarray(clin.t_update) > t + _EPS).any():
        _fail(
            model, "layers within [0, 1]", "a patient's clinical state was advanced into the future"
        )
    relief = np.asarray(clin.relief(t), dtype=float)
    if _in_unit(relief).any():
        _fail(model, "layers within [0, 1]", _first_bad("relief now", relief, _in_unit(relief)))
    sev, b_eff, r, n = clin.severity_at(t)
    for name, values in (("effective b", b_eff), ("r now", r), ("n now", n)):
        values = np.asarray(values, dtype=float)
        if _in_unit(values).any():
            _fail(model, "layers within [0, 1]", _first_bad(name, values, _in_unit(values)))
    sev = np.asarray(sev, dtype=float)
    bad = ~((sev >= -_EPS) & (sev <= cm.MADRS_MAX + _EPS))
    if bad.any():
        _fail(model, "layers within [0, 1]", _first_bad("severity now", sev, bad))
    pulse = np.asarray(cm.plasticity(t, clin.dose_ring, clin.p), dtype=float)
    if _in_unit(pulse).any():
        _fail(model, "layers within [0, 1]", _first_bad("plasticity now", pulse, _in_unit(pulse)))
    _check_daily_rows(model)


def _check_daily_rows(model: Any) -> None:
    rows = model.daily.rows
    if not rows:
        return
    n = model.population.n
    for col in UNIT_COLUMNS:
        values = np.array([row[col] for row in rows], dtype=float)
        bad = _in_unit(values, allow_nan=True)
        if bad.any():
            _fail(model, "shares and rates within [0, 1]", _first_bad(f"daily {col}", values, bad))
    shares = np.array([[row[c] for c in SHARE_COLUMNS] for row in rows], dtype=float)
    sought = np.array([row["n_sought_care"] for row in rows])
    totals = shares.sum(axis=1)
    bad = np.where(sought > 0, np.abs(totals - 1.0) > 1e-9, np.abs(totals) > 1e-9)
    if bad.any():
        _fail(
            model, "shares and rates within [0, 1]", _first_bad("daily sum of shares", totals, bad)
        )
    for col in NON_NEGATIVE_COLUMNS:
        values = np.array([row[col] for row in rows], dtype=float)
        bad = values < -_EPS
        if bad.any():
            _fail(model, "capacities", _first_bad(f"daily {col}", values, bad))
    for col in CUMULATIVE_COLUMNS:
        values = np.array([row[col] for row in rows], dtype=float)
        bad = np.diff(values) < -_EPS
        if bad.any():
            _fail(
                model,
                "money conserved",
                _first_bad(f"daily {col} decreased after day", values, bad),
            )
    sev = np.array([row["mean_severity"] for row in rows], dtype=float)
    bad = ~((sev >= -_EPS) & (sev <= cm.MADRS_MAX + _EPS))
    if bad.any():
        _fail(model, "layers within [0, 1]", _first_bad("daily mean_severity", sev, bad))
    states = [f"n_{s.name.lower()}" for s in PathwayState]
    totals = np.array([sum(row[c] for c in states) for row in rows])
    if (totals != n).any():
        _fail(
            model,
            "patients conserved",
            _first_bad("daily sum of pathway counts", totals, totals != n),
        )
    treated = np.array([row["n_treated"] for row in rows])
    if (treated > sought).any():
        _fail(model, "patients conserved", "more patients treated than ever sought care")


def check_summary(model: Any) -> None:
    """The end-of-run summary's shares and rates lie in [0, 1] and its money matches the ledger."""
    summary = model.summary()
    for key in SUMMARY_UNIT_KEYS:
        value = summary[key]
        if value is not None and not (-_EPS <= value <= 1.0 + _EPS):
            _fail(model, "shares and rates within [0, 1]", f"summary {key} = {value!r}")
    ledger = model.ledger
    for silo, key in (
        (Silo.MEDICAL, "spend_medical"),
        (Silo.BEHAVIORAL, "spend_behavioral"),
        (Silo.OUT_OF_POCKET, "spend_out_of_pocket"),
        (Silo.BUNDLE, "spend_bundle"),
    ):
        if summary[key] != ledger.paid_by_silo[silo] / 100.0:
            _fail(
                model, "money conserved", f"summary {key} {summary[key]} != ledger silo {silo.name}"
            )
    qalys = summary["qalys_per_patient"]
    if not (0.0 <= qalys <= model.days / DAYS_PER_YEAR + _EPS):
        _fail(model, "layers within [0, 1]", f"qalys_per_patient {qalys} outside [0, days/365]")
    if summary["mean_severity"] is not None and not (0.0 <= summary["mean_severity"] <= 60.0):
        _fail(model, "layers within [0, 1]", f"summary mean_severity {summary['mean_severity']}")


# ------------------------------------------------------------------------------------------
# Time
# ------------------------------------------------------------------------------------------


def check_time(model: Any) -> None:
    """No pending event lies in the past; every day up to now was sampled exactly once."""
    now = float(model.time)
    pending = model._event_list.pending()
    past = [e.time for e in pending if e.time < now]
    if past:
        _fail(
            model,
            "no event in the past",
            f"{len(past)} pending event(s), earliest at {min(past):g}",
        )
    days = [row["day"] for row in model.daily.rows]
    # Daily samples run at whole days (1.0, 2.0, ...), exactly representable: no tolerance.
    expected = list(range(1, math.floor(now) + 1))
    if days != expected:
        shown = days if len(days) < 10 else [*days[:5], "...", *days[-3:]]
        _fail(
            model,
            "every day sampled once",
            f"daily rows for days {shown}, expected 1..{len(expected)}",
        )


def check_all(model: Any, finished: bool | None = None) -> None:
    """Run every check; the summary check too once the run has reached its horizon."""
    check_time(model)
    check_patients_conserved(model)
    check_money_conserved(model)
    check_capacities(model)
    check_ranges(model)
    if finished is None:
        finished = model.time >= model.days
    if finished and model.daily.rows:
        check_summary(model)
