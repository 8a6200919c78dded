"""The payment rules (agents/payments.py) as tables of cases whose answers follow from the policy.

Every case runs twice: as the Python the agents call, and compiled by Numba as the kernels
compile it. The last tests check the rules' effects in the claims of a whole run.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from agents import payments
from agents.calendar import DAYS_PER_MONTH
from agents.codes import BusinessModel, ClaimStatus, Code, PayerKind, Route, Silo
from agents.payments import DosePayer, SessionPayer
from scenarios.api import build


def _jitted(rule):
    """``rule`` called from compiled code, as a kernel calls it (its Numba registration)."""

    @numba.njit
    def call(*args):
        return rule(*args)

    return call


def both(rule):
    """The rule as Python and compiled: a test asserts the same answer from each."""
    return pytest.mark.parametrize("run", [rule, _jitted(rule)], ids=["python", "compiled"])


# -- who pays a session with a referred therapist -------------------------------------------

REFERRED = [
    # (case, covered sessions used this year, cap, therapist in network, can pay cash, payer)
    ("Medicaid, out of network, no cash: unpaid", 0, 20, False, False, SessionPayer.NOBODY),
    ("Medicaid, out of network, cash: pays cash", 0, 20, False, True, SessionPayer.CASH),
    ("commercial, in network, 19 of 20 used: payer", 19, 20, True, False, SessionPayer.PAYER),
    ("commercial, in network, 20 of 20 used: cash", 20, 20, True, True, SessionPayer.CASH),
    ("commercial, 20 of 20 used, no cash: unpaid", 20, 20, True, False, SessionPayer.NOBODY),
    ("a cap of none: never the payer", 0, 0, True, True, SessionPayer.CASH),
    ("uninsured (cap -1) with cash: cash", 0, -1, True, True, SessionPayer.CASH),
    ("uninsured without cash: unpaid", 0, -1, True, False, SessionPayer.NOBODY),
]


@pytest.mark.parametrize(("case", "used", "cap", "network", "cash", "expected"), REFERRED)
@both(payments.referred_session_payer)
def test_who_pays_a_referred_session(run, case, used, cap, network, cash, expected):
    assert run(used, cap, network, cash) == expected, case


S = SessionPayer
PROGRAMME = [
    # (case, insured, bundled, used, cap, programme bills therapy, cash, payer)
    ("bundled episode: inside the bundle", True, True, 0, 20, True, False, S.BUNDLE),
    ("bundled, over the cap: still the bundle", True, True, 30, 20, False, True, S.BUNDLE),
    ("carve-in, within the cap: the payer", True, False, 3, 20, True, False, S.PAYER),
    ("carve-out, fee below cost: absorbed", True, False, 3, 20, False, True, S.PROGRAMME),
    ("over the cap: absorbed, not cash", True, False, 20, 20, True, True, S.PROGRAMME),
    ("uninsured with cash: cash", False, False, 0, -1, True, True, S.CASH),
    ("uninsured, bundle on, cash: cash", False, True, 0, -1, True, True, S.CASH),
    ("uninsured without cash: unpaid", False, False, 0, -1, True, False, S.NOBODY),
]


@pytest.mark.parametrize(
    ("case", "insured", "bundled", "used", "cap", "bills", "cash", "expected"), PROGRAMME
)
@both(payments.programme_session_payer)
def test_who_pays_an_integration_session(
    run, case, insured, bundled, used, cap, bills, cash, expected
):
    assert run(insured, bundled, used, cap, bills, cash) == expected, case


@pytest.mark.parametrize(
    ("case", "carve_out", "fee", "expected"),
    [
        ("carve-in: billed on the medical contract, whatever the fee", False, 10.0, True),
        ("carve-out, fee net of burden equals the therapist's cost", True, 150.0, True),
        ("carve-out, a cent short of it", True, 149.99, False),
    ],
)
@both(payments.programme_bills_therapy)
def test_a_programme_bills_therapy_when_the_net_fee_covers_its_therapist(
    run, case, carve_out, fee, expected
):
    assert run(carve_out, fee, 20.0, 130.0) is expected, case


@pytest.mark.parametrize(
    ("fee", "expected"), [(135.0, True), (134.99, False), (200.0, True), (20.0, False)]
)
@both(payments.joins_network)
def test_a_therapist_joins_a_network_when_the_net_fee_clears_the_reservation(run, fee, expected):
    assert run(fee, 20.0, 115.0) is expected


@both(payments.session_oop)
def test_a_session_costs_the_share_of_the_fee_or_the_cash_rate(run):
    assert run(True, 0.2, 120.0, 130.0) == pytest.approx(24.0)
    assert run(False, 0.2, 120.0, 130.0) == 130.0


# -- who pays a dose ------------------------------------------------------------------------

REMS, INTEGRATED, INFUSION = (
    BusinessModel.REMS_ESKETAMINE,
    BusinessModel.INTEGRATED,
    BusinessModel.INFUSION_CASH,
)


@pytest.mark.parametrize(
    ("case", "model", "insured", "bundled", "expected"),
    [
        ("insured at a REMS clinic", REMS, True, False, True),
        ("uninsured at a REMS clinic", REMS, False, False, False),
        ("insured in a programme without a bundle", INTEGRATED, True, False, True),
        ("insured in a bundled programme: generic IV", INTEGRATED, True, True, False),
        ("insured at an infusion clinic", INFUSION, True, False, False),
    ],
)
@both(payments.uses_esketamine)
def test_which_courses_are_esketamine(run, case, model, insured, bundled, expected):
    assert run(model, insured, bundled) is expected, case


@both(payments.uses_esketamine)
def test_an_unknown_business_model_is_refused(run):
    with pytest.raises(ValueError, match="unknown business model"):
        run(7, True, False)


DOSES = [
    # (case, route, clinic's model, insured, payers cover IV, bundled payment, payer)
    ("uninsured at a REMS clinic: the cash IV price", Route.REMS_ESKETAMINE, REMS, False, True,
     False, DosePayer.IV_CASH),
    ("insured at a REMS clinic: fee and drug", Route.REMS_ESKETAMINE, REMS, True, False, False,
     DosePayer.ESKETAMINE),
    ("infusion, IV covered: the payer's fee", Route.INFUSION_CASH, INFUSION, True, True, False,
     DosePayer.IV_BY_PAYER),
    ("infusion, IV not covered: cash", Route.INFUSION_CASH, INFUSION, True, False, False,
     DosePayer.IV_CASH),
    ("uninsured infusion, IV covered: cash", Route.INFUSION_CASH, INFUSION, False, True, False,
     DosePayer.IV_CASH),
    ("bundled programme, insured: in the bundle", Route.INTEGRATED, INTEGRATED, True, False, True,
     DosePayer.IN_BUNDLE),
    ("bundled programme, uninsured: cash", Route.INTEGRATED, INTEGRATED, False, False, True,
     DosePayer.IV_CASH),
    ("programme without a bundle: esketamine", Route.INTEGRATED, INTEGRATED, True, False, False,
     DosePayer.ESKETAMINE),
    ("a programme course at a clinic now REMS", Route.INTEGRATED, REMS, True, False, True,
     DosePayer.ESKETAMINE),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "route", "model", "insured", "covers_iv", "bundled", "expected"), DOSES
)
@both(payments.dose_payer)
def test_who_pays_a_dose(run, case, route, model, insured, covers_iv, bundled, expected):
    esketamine = payments.uses_esketamine(model, insured, bundled)
    assert run(route, esketamine, insured, covers_iv, bundled) == expected, case


# The fees of the cases below: share 0.2, IV fee 450, REMS session 450, drug 700, bundle 7,000,
# cash price 500, a course of 6 doses.
FEES = (0.2, 450.0, 450.0, 700.0, 7000.0, 500.0)


@pytest.mark.parametrize(
    ("payment", "course", "dose"),
    [
        (DosePayer.IV_BY_PAYER, 6 * 0.2 * 450.0, 0.2 * 450.0),
        (DosePayer.ESKETAMINE, 6 * 0.2 * (450.0 + 700.0), 0.2 * (450.0 + 700.0)),
        (DosePayer.IN_BUNDLE, 0.2 * 7000.0, 0.2 * 7000.0 / 6),  # the bundle once, spread
        (DosePayer.IV_CASH, 6 * 500.0, 500.0),
    ],
)
@pytest.mark.parametrize("compiled", [False, True], ids=["python", "compiled"])
def test_what_a_patient_pays_for_a_course_and_a_dose(payment, course, dose, compiled):
    course_oop, dose_oop = payments.course_oop, payments.dose_oop
    if compiled:
        course_oop, dose_oop = _jitted(course_oop), _jitted(dose_oop)
    assert course_oop(payment, 6, *FEES) == pytest.approx(course)
    assert dose_oop(payment, 6, *FEES) == pytest.approx(dose)


@pytest.mark.parametrize(
    ("case", "model", "payment", "cash", "expected"),
    [
        ("cash at an infusion clinic, able to pay", INFUSION, DosePayer.IV_CASH, True, True),
        ("cash, unable to pay", INFUSION, DosePayer.IV_CASH, False, False),
        ("cash at a REMS clinic: it bills payers only", REMS, DosePayer.IV_CASH, True, False),
        ("esketamine via the payer, no cash needed", REMS, DosePayer.ESKETAMINE, False, True),
        ("inside a bundle, no cash needed", INTEGRATED, DosePayer.IN_BUNDLE, False, True),
    ],
)
@both(payments.course_open)
def test_who_can_have_a_course(run, case, model, payment, cash, expected):
    assert run(model, payment, cash) is expected, case


@pytest.mark.parametrize(
    ("payment", "expected"),
    [
        (DosePayer.IV_BY_PAYER, 450.0),
        (DosePayer.ESKETAMINE, 450.0),  # the session fee: the drug is pharma's
        (DosePayer.IN_BUNDLE, 7000.0 / 6),
        (DosePayer.IV_CASH, 500.0),
    ],
)
@both(payments.clinic_income_per_dose)
def test_what_the_clinic_receives_for_a_dose(run, payment, expected):
    assert run(payment, 450.0, 450.0, 7000.0, 6, 500.0) == pytest.approx(expected)


# -- fees, cost sharing, budgets ------------------------------------------------------------


@both(payments.allowed_fee)
def test_a_fee_is_the_schedule_times_the_payer_rate_and_the_drug_its_price(run):
    assert run(Code.PSYCHOTHERAPY_90837, 120.0, 1.15, 700.0) == pytest.approx(138.0)
    assert run(Code.ESKETAMINE_DRUG, 0.0, 0.7, 700.0) == 700.0  # unscaled by payer kind


@both(payments.cost_share)
def test_medicaid_has_its_own_cost_share(run):
    assert run(PayerKind.MEDICAID, 0.02, 0.2) == 0.02
    assert run(PayerKind.COMMERCIAL, 0.02, 0.2) == 0.2
    assert run(PayerKind.MEDICARE, 0.02, 0.2) == 0.2


@pytest.mark.parametrize(
    ("usd", "share", "payer", "patient"),
    [
        (100.0, 0.2, 8000, 2000),
        (123.45, 0.02, 12098, 247),  # 2.469 rounds to 247 cents; the payer pays the rest
        (0.005, 0.5, 1, 0),  # a half cent rounds up in the whole, down in the share
        (450.0, 0.0, 45000, 0),
        (450.0, 1.0, 0, 45000),
    ],
)
@both(payments.split_cents)
def test_cost_sharing_splits_the_cents_and_they_add_up(run, usd, share, payer, patient):
    assert run(usd, share) == (payer, patient)
    assert payer + patient == payments.to_cents(usd)


@both(payments.split_cents)
def test_any_split_adds_up_to_the_amount_in_cents(run):
    rng = np.random.default_rng(0)
    for usd, share in zip(rng.uniform(0, 10_000, 500), rng.uniform(0, 1, 500), strict=True):
        payer, patient = run(float(usd), float(share))
        assert payer + patient == payments.to_cents(float(usd)) and min(payer, patient) >= 0


@pytest.mark.parametrize(
    ("code", "carve_out", "expected"),
    [
        (Code.BUNDLED_EPISODE, True, Silo.BUNDLE),
        (Code.PSYCHOTHERAPY_90837, True, Silo.BEHAVIORAL),  # carve-out: behavioural budget
        (Code.PSYCHOTHERAPY_90837, False, Silo.MEDICAL),  # carve-in: one budget
        (Code.ESKETAMINE_DRUG, True, Silo.MEDICAL),
        (Code.CARE_COORDINATION, True, Silo.MEDICAL),
    ],
)
@both(payments.budget_for)
def test_which_budget_pays_a_code(run, code, carve_out, expected):
    assert run(code, carve_out) == expected


@both(payments.denied_claim)
def test_a_denied_prior_authorisation_asks_the_drugs_price_of_the_medical_budget(run):
    assert run(700.0) == (Silo.MEDICAL, ClaimStatus.DENIED, 70000)


@pytest.mark.parametrize(
    ("case", "model", "insured", "covers_iv", "expected"),
    [
        ("uninsured pays the intake in cash", REMS, False, False, True),
        ("insured at a cash clinic, IV not covered", INFUSION, True, False, True),
        ("insured at a cash clinic, IV covered", INFUSION, True, True, False),
        ("insured at a REMS clinic", REMS, True, False, False),
    ],
)
@both(payments.intake_in_cash)
def test_who_pays_the_intake(run, case, model, insured, covers_iv, expected):
    assert run(model, insured, covers_iv) is expected, case


@pytest.mark.parametrize(
    ("route", "insured", "lever", "expected"),
    [
        (Route.INTEGRATED, True, True, True),
        (Route.INTEGRATED, True, False, False),
        (Route.INTEGRATED, False, True, False),
        (Route.REMS_ESKETAMINE, True, True, False),
    ],
)
@both(payments.earns_coordination)
def test_which_courses_earn_the_coordination_fee(run, route, insured, lever, expected):
    assert run(route, insured, lever) is expected


@both(payments.note_biller)
def test_a_second_organisation_billing_the_same_side_splits_the_care(run):
    orgs, silos, split = (
        np.full(2, -1, dtype=np.int64),
        np.zeros(2, dtype=np.int8),
        np.zeros(2, bool),
    )
    run(orgs, silos, split, 0, 7, 1)
    run(orgs, silos, split, 0, 7, 2)  # the same clinic, another budget: not split
    assert (orgs[0], silos[0], split[0]) == (7, 3, False)
    run(orgs, silos, split, 0, 9, 1)  # another organisation
    assert (orgs[0], split[0]) == (9, True)
    assert (orgs[1], silos[1], split[1]) == (-1, 0, False)


# -- the rules in a run's claims ------------------------------------------------------------


def _claims(preset: str):
    model = build(preset, n_patients=1500, days=240, seed=5)
    model.run()
    return model.claims_frame()


def test_a_bundled_episode_is_one_bundle_claim_and_no_session_claim():
    claims = _claims("bundled_payment")
    paid = claims[claims["status"] == "paid"]
    bundles = paid[paid["code"] == "BUNDLED_EPISODE"]
    assert len(bundles) > 10 and (bundles["payee_kind"] == "prescriber").all()
    assert (bundles["silo"] == "bundle").all()
    # An insured patient's integration sessions are inside the bundle: no payer claim for them
    # to a programme; a programme's sessions reach payers only in cash from the uninsured.
    sessions = paid[(paid["code"] == "PSYCHOTHERAPY_90837") & (paid["payee_kind"] == "prescriber")]
    assert sessions.empty
    # One bundle a course, and every course starts with an intake.
    intakes = claims[claims["code"] == "PSYCH_EVAL_90791"].groupby("patient").size()
    per_patient = bundles.groupby("patient").size()
    assert (per_patient <= intakes.reindex(per_patient.index, fill_value=0)).all()


def test_under_a_carve_out_sessions_are_paid_from_the_behavioural_budget():
    for preset, silo in (("baseline", "behavioral"), ("carve_in", "medical")):
        claims = _claims(preset)
        by_payer = claims[(claims["code"] == "PSYCHOTHERAPY_90837") & (claims["status"] == "paid")]
        assert len(by_payer) > 50, preset
        assert set(by_payer["silo"]) == {silo}, preset


def test_the_coordination_fee_is_paid_once_per_patient_month():
    claims = _claims("integrated_ideal")  # the coordination lever among the others
    fees = claims[(claims["code"] == "CARE_COORDINATION") & (claims["status"] == "paid")]
    assert len(fees) > 10
    months = (fees["day"] // DAYS_PER_MONTH).astype(int)
    assert not fees.assign(month=months).duplicated(["patient", "month"]).any()
