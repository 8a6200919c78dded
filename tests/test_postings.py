"""The day's payments, posted by the compiled pass (model/postings.py), as posting at the event."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from model import postings
from model.invariants import check_all
from model.metrics import discount_factor


def _post_in_python(args: list) -> int:
    """The posting of each payment as ``KetasimModel._pay`` did it at the event (the oracle).

    Per payment: the patient's spending, then per claim the ledger's counters and row and, for
    money that moves, the discounted cost (``metrics.discount_factor``), the payee's revenue or
    pharma's, and the payer's quarterly budget.
    """
    (
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
        received,
        counts,
        sums,
        discount_base,
        keep,
        row,
        *cols,
    ) = args
    day, pat, payee_kind, payee, payer, silo_col, code_col, status_col, cents_col = cols
    rate = discount_base - 1.0
    for j in range(len(t)):
        p = int(plan[j])
        spend_cents[patient[j]] += total[p]
        if n_claims[p] == 0:
            revenue[slot[j]] += credit[p]
            continue
        discount = discount_factor(float(t[j]), rate)
        for c in range(int(n_claims[p])):
            amount = int(cents[p, c])
            counts[0] += 1
            if status[p, c] == denied:
                counts[1] += 1
            else:
                paid_by_silo[silo[p, c]] += amount
                received[kind[p]] += amount
            if keep:
                for col, value in zip(
                    (day, pat, payee_kind, payee, payer, silo_col, code_col, status_col, cents_col),
                    (
                        t[j],
                        patient[j],
                        kind[p],
                        payee_uid[slot[j]],
                        payer_id[p, c],
                        silo[p, c],
                        code[p],
                        status[p, c],
                        amount,
                    ),
                    strict=True,
                ):
                    col[row] = value
                row += 1
            if amount == 0 or status[p, c] == denied:
                continue
            sums[0] += amount * discount
            if kind[p] == pharma_kind:
                counts[2] += amount
                sums[1] += paid[p, c]
            else:
                revenue[slot[j]] += paid[p, c]
            if budget[p, c] >= 0:
                budget_spend[budget[p, c], silo[p, c]] += paid[p, c]
    return row


@pytest.mark.parametrize(
    ("preset", "keep_claims"),
    [("baseline", False), ("integrated_ideal", True), ("coordination_payment", True)],
)
def test_the_compiled_posting_equals_posting_each_payment_in_python(
    preset, keep_claims, monkeypatch
):
    """Every journal a run posts, posted again by the oracle: the same totals, to the bit."""
    from scenarios.api import build

    compiled = postings.post
    calls = {"n": 0, "payments": 0, "credits": 0, "denied": 0}

    def checked(*args):
        mine = copy.deepcopy(list(args))
        row = compiled(*args)
        assert _post_in_python(mine) == row
        for theirs, ours in zip(args, mine, strict=True):
            if isinstance(theirs, np.ndarray):
                np.testing.assert_array_equal(theirs, ours, strict=True)
        plan, n_claims, status = args[2], args[4], args[7]
        calls["n"] += 1
        calls["payments"] += len(plan)
        calls["credits"] += int((n_claims[plan] == 0).sum())
        calls["denied"] += int((status[plan] == args[16]).any(axis=1).sum())
        return row

    monkeypatch.setattr(postings, "post", checked)
    model = build(preset, n_patients=1200, days=200, seed=4, keep_claims=keep_claims)
    model.run()
    # Nearly every one of the 200 days posts payments (a day can pass without any).
    assert calls["n"] >= 190 and calls["payments"] > 1000
    if preset == "coordination_payment":
        assert calls["denied"] > 0  # prior-authorisation denials went through the journal
    if preset != "baseline":
        assert calls["credits"] > 0  # programmes paying their own therapists did too
    check_all(model, finished=True)


def test_payments_are_posted_before_anyone_reads_the_money():
    from scenarios.api import build

    model = build("baseline", n_patients=800, days=120, seed=2)
    model.run_until(40.5)  # mid-day: the run stops between a day's events
    assert not model._journal[2]
    check_all(model, finished=False)
    claims = model.claims_frame()
    assert len(claims) == model.ledger.n_claims > 0
    spend = int(model.population.spend_cents.sum())
    assert spend == int(claims.loc[claims["status"] != "denied", "cents"].sum())

    # A reader inside a run (here, between two events) sees every payment made so far.
    seen = []
    clinic = model.prescribers[0]

    def read_revenue() -> None:
        seen.append((clinic.revenue, len(model._journal[2])))

    model.schedule_event(read_revenue, at=60.25)
    model.run_until(80.0)
    assert seen and seen[0][1] == 0  # revenue_of posted the journal first


def test_a_run_observed_through_time_posts_each_payment_as_it_is_made():
    from scenarios.api import build

    watched = build("baseline", n_patients=400, days=60, seed=11)
    waiting = []

    def look(signal) -> None:  # a named function: Mesa holds observers weakly
        waiting.append(len(watched._journal[2]))

    watched.observe("time", "changed", look)
    watched.run()
    assert len(waiting) > 60 and max(waiting) == 0


def test_a_negative_payment_is_refused_before_anything_moves():
    from agents.codes import Code, PartyKind
    from scenarios.api import build

    model = build("baseline", n_patients=200, days=30, seed=1)
    model.run()
    patient = next(p for p in model._patients if p is not None)
    before = (model.ledger.n_claims, int(model.population.spend_cents.sum()), len(model._plans))
    with pytest.raises(ValueError, match="non-negative"):
        model._pay(
            patient,
            30.0,
            Code.PSYCHOTHERAPY_90837,
            PartyKind.THERAPIST,
            model.therapists[0],
            -5.0,
            None,
        )
    model._post_journal()
    after = (model.ledger.n_claims, int(model.population.spend_cents.sum()), len(model._plans))
    assert after == before


def _count_care_in_python(args: list) -> int:
    """Doses and sessions counted as ``record_dose`` and ``record_session`` did (the oracle)."""
    (
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
    ) = args
    n_started = 0
    for j, (when, i, doses) in enumerate(
        zip(t.tolist(), rows.tolist(), covered.tolist(), strict=True)
    ):
        if not treated[i]:
            treated[i] = True
            start_day[i] = when
            started[n_started] = j
            n_started += 1
        if doses == -1:
            n_doses[i] += 1
            got_dose[i] = True
            doses_by_day[int(when)] += 1
            doses_by_payer[payer_kind[i], int(when)] += 1
        else:
            n_sessions[i] += 1
            got_session[i] = True
            if doses:
                n_doses_in_window[i] += doses
                got_in_window[i] = True
    return n_started


@pytest.mark.parametrize("preset", ["baseline", "integrated_ideal"])
def test_the_compiled_care_count_equals_counting_each_dose_and_session(preset, monkeypatch):
    from scenarios.api import build

    compiled = postings.count_care
    seen = {"entries": 0, "starts": 0, "covered": 0}

    def checked(*args):
        mine = copy.deepcopy(list(args))
        n_started = compiled(*args)
        assert _count_care_in_python(mine) == n_started
        for theirs, ours in zip(args, mine, strict=True):
            np.testing.assert_array_equal(theirs, ours, strict=True)
        seen["entries"] += len(args[0])
        seen["starts"] += n_started
        seen["covered"] += int((args[2] > 0).sum())
        return n_started

    monkeypatch.setattr(postings, "count_care", checked)
    model = build(preset, n_patients=1200, days=200, seed=4)
    model.run()
    assert seen["entries"] > 1000 and seen["starts"] > 100 and seen["covered"] > 0
    pop = model.population
    assert int(pop.n_doses.sum()) == int(model.tally.doses_by_day.sum())
    assert int(pop.n_sessions.sum()) == model.tally.n_sessions
    check_all(model, finished=True)


class _Forgetful(dict):
    """A memo that never remembers: every look-up works the answer out afresh."""

    def get(self, key, default=None):
        return default


@pytest.mark.parametrize("preset", ["baseline", "mid_run_expiry", "bundled_payment", "carve_in"])
def test_remembered_prices_change_nothing(preset, monkeypatch):
    """The memos of a dose's terms and payments and of a course's value are keyed right."""
    from agents.patient import Patient
    from scenarios.api import build
    from scenarios.loader import scenario_from_dict

    if preset == "mid_run_expiry":  # the drug's price falls on day 200
        preset = scenario_from_dict({"policy": {"patent_expiry_day": 200.0}})
    remembered = build(preset, n_patients=1500, days=500, seed=6)
    fresh = build(preset, n_patients=1500, days=500, seed=6)
    fresh.dose_terms = _Forgetful()
    fresh._dose_payments = _Forgetful()
    fresh.course_values = _Forgetful()
    fresh.course_value_rows = _Forgetful()
    remembered.run()
    # Nor does a patient keep its course's dose context in the fresh run.
    receive_dose = Patient.receive_dose

    def forgetful(self):
        self._dose_context = None
        receive_dose(self)

    monkeypatch.setattr(Patient, "receive_dose", forgetful)
    fresh.run()
    summaries = [json.dumps(m.summary_extended(), sort_keys=True) for m in (remembered, fresh)]
    assert summaries[0] == summaries[1]
    pd.testing.assert_frame_equal(fresh.daily_frame(), remembered.daily_frame())
    pd.testing.assert_frame_equal(fresh.claims_frame(), remembered.claims_frame())
    assert len(remembered.dose_terms) > 1 and len(remembered._dose_payments) > 1
    assert len(remembered.course_values) > 3 and len(remembered.course_value_rows) > 1
    if not isinstance(preset, str):
        assert len({key[-1] for key in remembered.dose_terms}) == 2  # before and after
