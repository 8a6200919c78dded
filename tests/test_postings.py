"""The day's payments and care, posted by the compiled passes (model/postings.py).

The passes are called on a stated journal whose totals follow from the claims; runs check that
the journal is posted before anyone reads the money.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from model import postings
from model.invariants import check_all

# A day's journal and its plans, in the arrays ``post`` reads. Payer 0 is commercial (budget row
# 0); slot 0 a clinic, 1 a therapist, 2 pharma (payee kinds 0, 1, 2).
MEDICAL, BEHAVIORAL, OUT_OF_POCKET = 0, 1, 2
PAID, DENIED, SELF_PAY = 0, 1, 2
PHARMA_KIND = 2
PLANS = {
    # plan: (payee kind, code, claims as (payer id, budget, status, cents, budget row), credit)
    0: (1, 1, [(0, BEHAVIORAL, PAID, 9600, 0), (-1, OUT_OF_POCKET, SELF_PAY, 2400, -1)], 0.0),
    1: (2, 3, [(0, MEDICAL, PAID, 56000, 0), (-1, OUT_OF_POCKET, SELF_PAY, 14000, -1)], 0.0),
    2: (0, 7, [(1, MEDICAL, DENIED, 70000, 1)], 0.0),  # a denied prior authorisation
    3: (1, 1, [], 130.0),  # a programme crediting its therapist
}


def _plan_arrays():
    n = len(PLANS)
    table = {
        "n_claims": np.zeros(n, dtype=np.int64),
        "payer_id": np.zeros((n, 2), dtype=np.int64),
        "silo": np.zeros((n, 2), dtype=np.int64),
        "status": np.zeros((n, 2), dtype=np.int64),
        "cents": np.zeros((n, 2), dtype=np.int64),
        "paid": np.zeros((n, 2)),
        "budget": np.full((n, 2), -1, dtype=np.int64),
        "kind": np.zeros(n, dtype=np.int64),
        "code": np.zeros(n, dtype=np.int64),
        "total": np.zeros(n, dtype=np.int64),
        "credit": np.zeros(n),
    }
    for p, (kind, code, claims, credit) in PLANS.items():
        table["n_claims"][p], table["kind"][p], table["code"][p] = len(claims), kind, code
        table["credit"][p] = credit
        for c, (payer, silo, status, cents, budget) in enumerate(claims):
            for name, value in zip(
                ("payer_id", "silo", "status", "cents", "budget"),
                (payer, silo, status, cents, budget),
                strict=True,
            ):
                table[name][p, c] = value
            table["paid"][p, c] = cents / 100.0
            table["total"][p] += cents if status != DENIED else 0
    return tuple(table.values())


def _post(keep: bool):
    """Post four payments: a session, the drug a year later, a denial, a credit."""
    journal = (
        np.array([0.0, 365.0, 10.0, 11.0]),  # times
        np.array([0, 1, 1, 0]),  # patients
        np.array([0, 1, 2, 3]),  # plans
        np.array([1, 2, 0, 1]),  # payee slots
    )
    totals = {
        "revenue": np.zeros(3),
        "spend_cents": np.zeros(2, dtype=np.int64),
        "budget_spend": np.zeros((2, 4)),
        "paid_by_silo": np.zeros(4, dtype=np.int64),
        "received": np.zeros(3, dtype=np.int64),
        "counts": np.zeros(3, dtype=np.int64),
        "sums": np.zeros(2),
    }
    cols = [np.zeros(8 if keep else 0, dtype=t) for t in (float, *[np.int64] * 8)]
    end = postings.post(
        *journal, *_plan_arrays(), PHARMA_KIND, DENIED, np.array([100, 200, 300]),
        *totals.values(), 1.03, keep, 0, *cols,
    )  # fmt: skip
    return end, totals, cols


@pytest.mark.parametrize("keep", [True, False])
def test_posting_moves_each_claims_money_to_its_payee_budget_and_patient(keep):
    end, totals, cols = _post(keep)
    counts = totals["counts"].tolist()
    assert counts == [5, 1, 70000], "five claims, one denied, pharma's 700 USD in cents"
    assert totals["spend_cents"].tolist() == [12000, 70000], "what each patient's care cost"
    # The therapist gets the session (payer and patient) and the credit; pharma's money is
    # counted apart (its quarter's revenue); the denial moves nothing.
    assert totals["revenue"].tolist() == [0.0, 96.0 + 24.0 + 130.0, 0.0]
    assert totals["sums"][1] == 700.0
    assert totals["sums"][0] == pytest.approx(12000 + 70000 / 1.03), "a year on, discounted"
    assert totals["paid_by_silo"].tolist() == [56000, 9600, 2400 + 14000, 0]
    assert totals["received"].tolist() == [0, 12000, 70000]
    assert totals["budget_spend"][0].tolist() == [560.0, 96.0, 0.0, 0.0]
    assert not totals["budget_spend"][1].any(), "a denial spends none of the budget"
    assert end == (5 if keep else 0)
    if keep:
        day, patient, payee_kind, payee, payer, silo, code, status, cents = cols
        assert patient[:5].tolist() == [0, 0, 1, 1, 1]
        assert payee_kind[:5].tolist() == [1, 1, 2, 2, 0] and code[:5].tolist() == [1, 1, 3, 3, 7]
        assert silo[:5].tolist() == [BEHAVIORAL, OUT_OF_POCKET, MEDICAL, OUT_OF_POCKET, MEDICAL]
        assert cents[:5].tolist() == [9600, 2400, 56000, 14000, 70000]
        assert payer[:5].tolist() == [0, -1, 0, -1, 1]
        assert payee[:5].tolist() == [200, 200, 300, 300, 100]
        assert status[:5].tolist() == [PAID, SELF_PAY, PAID, SELF_PAY, DENIED]
        assert day[:5].tolist() == [0.0, 0.0, 365.0, 365.0, 10.0]


def test_payments_are_posted_before_anyone_reads_the_money():
    from scenarios.api import build

    model = build("baseline", n_patients=800, days=120, seed=2)
    model.run_until(40.5)  # mid-day: the run stops between a day's events
    assert not model.claims.journal[2]
    check_all(model, finished=False)
    claims = model.claims_frame()
    assert len(claims) == model.ledger.n_claims > 0
    spend = int(model.population.spend_cents.sum())
    assert spend == int(claims.loc[claims["status"] != "denied", "cents"].sum())

    # A reader inside a run (here, between two events) sees every payment made so far.
    seen = []
    clinic = model.prescribers[0]

    def read_revenue() -> None:
        seen.append((clinic.revenue, len(model.claims.journal[2])))

    model.schedule_event(read_revenue, at=60.25)
    model.run_until(80.0)
    assert seen and seen[0][1] == 0  # revenue_of posted the journal first


def test_a_run_observed_through_time_posts_each_payment_as_it_is_made():
    from scenarios.api import build

    watched = build("baseline", n_patients=400, days=60, seed=11)
    waiting = []

    def look(signal) -> None:  # a named function: Mesa holds observers weakly
        waiting.append(len(watched.claims.journal[2]))

    watched.observe("time", "changed", look)
    watched.run()
    assert len(waiting) > 60 and max(waiting) == 0


def test_a_negative_payment_is_refused_before_anything_moves():
    from agents.codes import Code, PartyKind
    from scenarios.api import build

    model = build("baseline", n_patients=200, days=30, seed=1)
    model.run()
    patient = next(p for p in model._patients if p is not None)
    spent = model.population.spend_cents
    before = (model.ledger.n_claims, int(spent.sum()), len(model.claims.plans))
    with pytest.raises(ValueError, match="non-negative"):
        model.claims.pay(
            patient,
            30.0,
            Code.PSYCHOTHERAPY_90837,
            PartyKind.THERAPIST,
            model.therapists[0],
            -5.0,
            None,
        )
    model.post_journal()
    after = (model.ledger.n_claims, int(spent.sum()), len(model.claims.plans))
    assert after == before


def test_care_is_counted_in_order_and_treatment_starts_at_the_first():
    # A dose of patient 0 (payer kind 2), a session of patient 1 covering nothing, a session of
    # patient 0 covering its dose, another dose of patient 0.
    t = np.array([2.5, 3.0, 4.0, 5.2])
    rows = np.array([0, 1, 0, 0])
    covered = np.array([-1, 0, 1, -1])
    flags = {name: np.zeros(2, dtype=bool) for name in ("treated", "dose", "session", "window")}
    counts = {name: np.zeros(2, dtype=np.int32) for name in ("doses", "sessions", "in_window")}
    start_day, started = np.full(2, np.nan), np.zeros(4, dtype=np.int64)
    by_day, by_payer = np.zeros(8, dtype=np.int64), np.zeros((4, 8), dtype=np.int64)
    n_started = postings.count_care(
        t, rows, covered, np.array([2, 0], dtype=np.int8), flags["treated"], start_day,
        counts["doses"], flags["dose"], counts["sessions"], flags["session"],
        counts["in_window"], flags["window"], by_day, by_payer, started,
    )  # fmt: skip
    assert (n_started, started[:2].tolist()) == (2, [0, 1]), "entries 0 and 1 start treatment"
    assert start_day.tolist() == [2.5, 3.0]
    assert counts["doses"].tolist() == [2, 0] and counts["sessions"].tolist() == [1, 1]
    assert counts["in_window"].tolist() == [1, 0]
    assert flags["window"].tolist() == [True, False] and flags["dose"].tolist() == [True, False]
    assert by_day[2] == by_day[5] == 1 and by_payer[2, 2] == by_payer[2, 5] == 1


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
    fresh.claims.dose_plans = _Forgetful()
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
    assert len(remembered.dose_terms) > 1 and len(remembered.claims.dose_plans) > 1
    assert len(remembered.course_values) > 3 and len(remembered.course_value_rows) > 1
    if not isinstance(preset, str):
        assert len({key[-1] for key in remembered.dose_terms}) == 2  # before and after
