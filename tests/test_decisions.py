"""Each agent's decision on its own: stated numbers in, the choice that follows from them out.

Institutions decide against a small stand-in model holding only what they read (a scenario,
the payers and pharma); a patient's choice of care is tested in a small real model with the
search's result stated. Each threshold has a case on each side.
"""

from __future__ import annotations

import math
from collections import Counter

import mesa
import pytest

from agents.codes import BusinessModel, Code, PayerKind, Route, Silo
from agents.patient import DropReason, PathwayState, Patient
from agents.payer import Payer
from agents.pharma import Pharma
from agents.prescriber import Market, Prescriber
from agents.therapist import Therapist
from model.params import Scenario
from model.streams import Streams
from scenarios.api import build
from scenarios.loader import scenario_from_dict

INFUSION, REMS, INTEGRATED = (
    BusinessModel.INFUSION_CASH,
    BusinessModel.REMS_ESKETAMINE,
    BusinessModel.INTEGRATED,
)


class StandIn(mesa.Model):
    """A model holding only what institutions' decisions read.

    Args:
        seed: The streams' seed.
        members: Members of each payer.
        **blocks: Scenario blocks as dicts, e.g. ``policy={"carve_out": False}``.
    """

    scenario: Scenario = None  # type: ignore[assignment]  (as KetasimModel: a plain attribute)

    def __init__(self, seed: int = 0, members: int = 1000, **blocks) -> None:
        super().__init__(rng=seed)
        self.scenario = Scenario.model_validate(blocks)
        self.streams = Streams(seed)
        self.payer_mix = self.scenario.patients.payer_shares()
        self.cash_share_by_payer = self.scenario.patients.cash_shares()
        self.pharma = Pharma(self)
        self.payers = [Payer(self, k, members) for k in PayerKind if k != PayerKind.UNINSURED]
        self.prescribers: list[Prescriber] = []


# A world without psychotherapy (and so without integrated clinics).
DRUG_ONLY = {
    "policy": {"therapy_available": False},
    "prescribers": {"p_integrated": 0.0, "p_infusion_cash": 0.5, "p_rems_esketamine": 0.5},
}


def _market(n_infusion=1, n_rems=1, n_integrated=1, trained=True, arrivals=1000.0) -> Market:
    counts = Counter({INFUSION: n_infusion, REMS: n_rems, INTEGRATED: n_integrated})
    return Market(counts, trained, arrivals)


# -- a clinic's business model ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("margins", "expected"),
    [
        ({INFUSION: 10.0, REMS: 40.0, INTEGRATED: 20.0}, REMS),  # gains 30 > 25: switches
        ({INFUSION: 10.0, REMS: 30.0, INTEGRATED: 20.0}, INFUSION),  # gains 20 < 25: stays
        ({INFUSION: 10.0, REMS: 35.0, INTEGRATED: 20.0}, INFUSION),  # gains exactly 25: stays
        ({INFUSION: 10.0, REMS: 35.0, INTEGRATED: 35.1}, INTEGRATED),  # the best, 25.1 more
    ],
)
def test_a_clinic_switches_only_when_the_gain_beats_the_switching_cost(
    margins, expected, monkeypatch
):
    model = StandIn(prescribers={"usd_switching_cost_per_hour": 25.0})
    clinic = Prescriber(model, INFUSION, 0.0)
    monkeypatch.setattr(clinic, "expected_margin_per_hour", lambda bm, market: margins[bm])
    market = _market()
    clinic.review_business_model(market)
    assert clinic.business_model is expected
    assert clinic.n_switches == (expected is not INFUSION)
    assert market.n_offering[expected] == 1 + (expected is not INFUSION)
    assert sum(market.n_offering.values()) == 3, "the market sees the switch"


def test_integrated_care_is_impossible_without_a_trained_therapist_or_therapy():
    model = StandIn()
    clinic = Prescriber(model, REMS, 0.0)
    assert clinic.expected_margin_per_hour(INTEGRATED, _market(trained=False)) == -math.inf
    assert clinic.expected_margin_per_hour(INTEGRATED, _market()) > -math.inf
    clinic = Prescriber(StandIn(**DRUG_ONLY), REMS, 0.0)
    assert clinic.expected_margin_per_hour(INTEGRATED, _market()) == -math.inf


def test_a_rems_clinics_margin_is_the_session_fee_less_the_chair_cost_per_hour():
    # Everyone commercial, no denials, no detailing, demand to fill every chair: a dose pays
    # the 450 USD session fee (the drug is pharma's) and takes 2.5 chair-hours at 90 USD each.
    model = StandIn(
        patients={"p_commercial": 1.0, "p_medicaid": 0.0, "p_medicare": 0.0, "p_uninsured": 0.0},
        policy={"p_pa_denial": 0.0},
    )
    clinic = Prescriber(model, REMS, 0.0)
    expected = (450.0 - 90.0 * 2.5) / 2.5
    assert clinic.expected_margin_per_hour(REMS, _market()) == pytest.approx(expected)
    # Half the requests denied: half the margin.
    model.payers[0].p_denial = 0.5
    assert clinic.expected_margin_per_hour(REMS, _market()) == pytest.approx(expected / 2)
    # Crowded: ten rival clinics share demand that fills 4 clinics' chairs.
    crowded = _market(n_rems=10, arrivals=40.0 * 4 / (6 * 2.5))
    assert clinic.expected_margin_per_hour(REMS, crowded) == pytest.approx(expected / 2 * 0.4)


# -- a payer's prior authorisation -------------------------------------------------------------


@pytest.mark.parametrize(("p_denial", "approved"), [(0.0, True), (1.0, False)])
def test_prior_authorisation_follows_the_denial_rate(p_denial, approved):
    payer = StandIn(seed=3).payers[0]
    payer.p_denial = p_denial
    assert all(payer.decide_prior_auth()[0] is approved for _ in range(200))


def test_a_prior_authorisation_takes_the_payers_delay():
    payer = StandIn(seed=4).payers[0]
    payer.dur_pa_delay_days = 0.0
    assert {payer.decide_prior_auth()[1] for _ in range(20)} == {0.0}
    payer.dur_pa_delay_days = 10.0
    delays = [payer.decide_prior_auth()[1] for _ in range(4000)]
    assert min(delays) > 0.0
    assert sum(delays) / len(delays) == pytest.approx(10.0, rel=0.06), "exponential, mean 10"


# -- a payer's quarterly review ----------------------------------------------------------------

# Targets per member per quarter: medical 450, behavioural 150 (defaults); 1,000 members.
MEDICAL_TARGET, BEHAVIORAL_TARGET = 450_000.0, 150_000.0


def _review(spend: dict, remission_days=0.0, **policy) -> Payer:
    payer = StandIn(policy=policy).payers[0]  # commercial: a 2-year horizon
    payer.quarter_spend.update(spend)
    payer.quarter_remission_days = remission_days
    payer.review_quarter()
    return payer


def test_a_medical_budget_over_target_tightens_prior_authorisation_by_a_step():
    payer = _review({Silo.MEDICAL: MEDICAL_TARGET + 1.0})
    assert payer.p_denial == pytest.approx(0.15 + 0.05) and payer.n_tightenings == 1
    assert payer.n_session_cap == 20, "the behavioural budget, under target, keeps its cap"
    assert payer.quarter_spend == dict.fromkeys(payer.quarter_spend, 0.0), "a new quarter"


def test_tightening_stops_at_the_highest_denial_rate():
    payer = StandIn().payers[0]
    payer.p_denial = 0.58
    payer.quarter_spend[Silo.MEDICAL] = 2 * MEDICAL_TARGET
    payer.review_quarter()
    assert payer.p_denial == 0.6


def test_a_budget_well_under_target_relaxes_but_not_below_the_policy():
    payer = StandIn().payers[0]
    payer.p_denial, payer.n_session_cap = 0.3, 14
    payer.quarter_spend[Silo.MEDICAL] = 0.79 * MEDICAL_TARGET  # under 80 % of target
    payer.quarter_spend[Silo.BEHAVIORAL] = 0.79 * BEHAVIORAL_TARGET
    payer.review_quarter()
    assert payer.p_denial == pytest.approx(0.25) and payer.n_session_cap == 16
    for _ in range(10):
        payer.review_quarter()  # nothing spent
    assert payer.p_denial == pytest.approx(0.15) and payer.n_session_cap == 20
    payer = StandIn().payers[0]
    payer.p_denial = 0.3
    payer.quarter_spend[Silo.MEDICAL] = 0.81 * MEDICAL_TARGET  # not well enough under
    payer.review_quarter()
    assert payer.p_denial == 0.3


def test_a_behavioural_budget_over_target_cuts_the_session_cap_within_bounds():
    payer = _review({Silo.BEHAVIORAL: BEHAVIORAL_TARGET + 1.0})
    assert payer.n_session_cap == 18 and payer.p_denial == pytest.approx(0.15)
    payer = StandIn().payers[0]
    payer.n_session_cap = 7
    payer.quarter_spend[Silo.BEHAVIORAL] = 2 * BEHAVIORAL_TARGET
    payer.review_quarter()
    assert payer.n_session_cap == 6, "never below the least cap"


def test_under_a_carve_in_one_combined_budget_governs_both_levers():
    # Behavioural spending over its own target, but the two together are under theirs.
    spend = {Silo.MEDICAL: 300_000.0, Silo.BEHAVIORAL: 200_000.0}
    assert _review(spend, carve_out=True).n_session_cap == 18
    carve_in = _review(spend, carve_out=False)
    assert carve_in.n_session_cap == 20 and carve_in.p_denial == pytest.approx(0.15)
    # Together over the combined target: both tighten.
    carve_in = _review({Silo.MEDICAL: 500_000.0, Silo.BEHAVIORAL: 120_000.0}, carve_out=False)
    assert carve_in.n_session_cap == 18 and carve_in.p_denial == pytest.approx(0.2)


def test_the_savings_of_remission_within_the_horizon_offset_medical_spending():
    # 30.4 remission-days are a remission-month, worth 250 USD; a commercial payer's 2-year
    # horizon sees 2/3 of the savings that accrue over 3 years.
    over = MEDICAL_TARGET + 1_000.0
    months_needed = 1_000.0 / (250.0 * 2.0 / 3.0)
    assert _review({Silo.MEDICAL: over}, 30.4 * months_needed * 0.99).p_denial > 0.15
    assert _review({Silo.MEDICAL: over}, 30.4 * months_needed * 1.01).p_denial == 0.15


def test_the_bundle_budget_counts_with_the_medical_one():
    payer = _review({Silo.BUNDLE: MEDICAL_TARGET + 1.0})
    assert payer.p_denial == pytest.approx(0.2)


# -- a therapist's networks and training -------------------------------------------------------


@pytest.mark.parametrize(
    ("reservation", "joined"),
    [
        (100.0, {PayerKind.COMMERCIAL, PayerKind.MEDICARE}),  # 120 - 20 = 100 clears it
        (100.01, {PayerKind.MEDICARE}),  # only Medicare's 138 - 20
        (117.99, {PayerKind.MEDICARE}),
        (118.01, set()),
        (50.0, {PayerKind.COMMERCIAL, PayerKind.MEDICAID, PayerKind.MEDICARE}),  # 84 - 20
    ],
)
def test_a_therapist_joins_the_networks_whose_net_rate_clears_the_reservation(reservation, joined):
    # Psychotherapy 120 USD x rel rate (commercial 1.0, Medicaid 0.7, Medicare 1.15), less a
    # 20 USD admin burden.
    therapist = Therapist(StandIn(), reservation, trained=False)
    therapist.review_networks()
    assert therapist.in_network == joined


# Training: premium 30 USD and 10 % of the 130 USD cash rate per integration session, over 3
# years: 129 USD a session of expected yearly demand, against 4,000 USD of training.
@pytest.mark.parametrize(
    ("demand", "n_trained", "subsidy", "trains"),
    [
        (32.0, 0, 0.0, True),  # 32 x 129 = 4,128 >= 4,000
        (30.0, 0, 0.0, False),  # 3,870 < 4,000
        (64.0, 1, 0.0, True),  # shared with one trained: 32 each
        (60.0, 1, 0.0, False),
        (16.0, 0, 2000.0, True),  # 2,064 >= 4,000 - 2,000
        (0.0, 0, 4000.0, True),  # free training
    ],
)
def test_a_therapist_trains_when_the_expected_income_covers_the_cost(
    demand, n_trained, subsidy, trains
):
    therapist = Therapist(StandIn(policy={"usd_training_subsidy": subsidy}), 100.0, False)
    assert therapist.review_training(demand, n_trained) is trains
    assert therapist.trained is trains


def test_training_income_is_capped_by_a_years_capacity_and_needs_therapy():
    # 6 sessions a week x 52 weeks = 312 sessions at most, whatever the demand.
    therapist = Therapist(StandIn(therapists={"usd_training_cost": 312 * 129.0 + 1.0}), 100, False)
    assert therapist.review_training(1e9, 0) is False
    already = Therapist(StandIn(), 100.0, trained=True)
    assert already.review_training(1e9, 0) is False, "trains once"
    assert Therapist(StandIn(**DRUG_ONLY), 100.0, False).review_training(1e9, 0) is False


# -- pharma's detailing ------------------------------------------------------------------------


def test_detailing_is_a_share_of_the_quarters_revenue_spread_over_clinics():
    model = StandIn(pharma={"p_detailing_share": 0.15})
    model.prescribers = [object()] * 3
    model.pharma.quarter_revenue = 200_000.0
    model.pharma.review_quarter()
    assert model.pharma.detailing_per_prescriber == pytest.approx(10_000.0)
    assert model.pharma.quarter_revenue == 0.0 and model.pharma.total_detailing == 30_000.0
    model.pharma.expire_patent()
    model.pharma.quarter_revenue = 200_000.0
    model.pharma.review_quarter()
    assert model.pharma.detailing_per_prescriber == 0.0, "no reason to detail after generics"


@pytest.mark.parametrize(("spent", "pull"), [(0.0, 0.0), (10_000.0, 30.0), (30_000.0, 60.0)])
def test_detailings_pull_is_concave_in_spending(spent, pull):
    pharma = StandIn().pharma
    pharma.detailing_per_prescriber = spent
    assert pharma.detailing_bonus_per_hour() == pytest.approx(pull)


# -- a patient's choice of care ----------------------------------------------------------------


def _patient(kind: PayerKind, cash: bool, **blocks):
    """A patient of the stated coverage and cash in a small model (not run)."""
    scenario = scenario_from_dict({"extends": "baseline", **blocks})
    model = build(scenario, n_patients=400, days=60, seed=1)
    idx = next(
        i
        for i in range(model.population.n)
        if model.population.payer_kind[i] == kind and model.population.can_pay_cash[i] == cash
    )
    return model, Patient(model, idx)


# A 6-dose course: share 0.2; REMS fee 450 + drug 700 a dose; cash infusion 500; therapy 120.
@pytest.mark.parametrize(
    ("kind", "cash", "model", "expected"),
    [
        (PayerKind.UNINSURED, False, REMS, None),  # no payer, no cash: cannot have it
        (PayerKind.UNINSURED, False, INFUSION, None),
        (PayerKind.UNINSURED, True, INFUSION, -6 * 500.0 / 4000.0),
        (PayerKind.UNINSURED, True, REMS, None),  # a REMS clinic bills payers only
        (PayerKind.COMMERCIAL, False, REMS, -6 * 0.2 * 1150.0 / 600.0),
        (PayerKind.COMMERCIAL, False, INFUSION, None),  # IV not covered, no cash
        (PayerKind.COMMERCIAL, True, INTEGRATED, 0.3 - (6 * 0.2 * 1150.0 + 6 * 24.0) / 4000.0),
    ],
)
def test_what_a_course_is_worth_to_a_patient(kind, cash, model, expected):
    _, patient = _patient(kind, cash)
    value = patient._work_out_value(model)
    assert value == (None if expected is None else pytest.approx(expected))


def test_a_past_denial_closes_esketamine_but_not_cash_in_a_programme():
    _, patient = _patient(PayerKind.COMMERCIAL, True)
    patient.pa_denied = True
    assert patient._work_out_value(REMS) is None
    integrated = patient._work_out_value(INTEGRATED)
    assert integrated == pytest.approx(0.3 - (6 * 500.0 + 6 * 24.0) / 4000.0)


def test_under_a_bundle_the_patient_pays_a_share_of_the_bundle_once():
    _, patient = _patient(PayerKind.COMMERCIAL, False, policy={"bundled_payment": True})
    assert patient._work_out_value(INTEGRATED) == pytest.approx(0.3 - 0.2 * 7000.0 / 600.0)


def _seek(monkeypatch, clinic_u: float | None, therapy_u: float, attempts: int = 0):
    """A patient's search whose best clinic (or none) and therapy-alone utility are stated."""
    model, patient = _patient(PayerKind.COMMERCIAL, True)
    clinic = next(c for c in model.prescribers if c.business_model is REMS)

    def found(values, earliest, now, tolerance, best_u):
        if clinic_u is None or clinic_u <= best_u:
            return None, math.nan, best_u, 0.0
        return clinic, earliest, clinic_u, 0.0

    monkeypatch.setattr(model.search, "clinics_heard_of", found)
    monkeypatch.setattr(Patient, "_value_therapy_only", lambda self: therapy_u)
    monkeypatch.setattr(Patient, "_refer_to_therapy", lambda self, now: None)
    patient.seek_attempts = attempts
    patient.seek_care()
    return model, patient, clinic


def test_the_best_utility_wins(monkeypatch):
    _, patient, clinic = _seek(monkeypatch, clinic_u=-1.0, therapy_u=-2.0)
    assert (patient.prescriber, patient.route) == (clinic, Route.REMS_ESKETAMINE)
    assert patient._other_event is not None, "the intake is booked"
    _, patient, _ = _seek(monkeypatch, clinic_u=-1.0, therapy_u=-0.5)
    assert (patient.prescriber, patient.route) == (None, Route.THERAPY_ONLY)
    assert patient.state is PathwayState.IN_TREATMENT


def test_below_the_outside_option_the_patient_defers_then_gives_up(monkeypatch):
    outside = Scenario().patients.u_outside_option  # -3: as good as deferring
    model, patient, _ = _seek(monkeypatch, clinic_u=outside - 1.0, therapy_u=outside)
    assert patient.route is Route.NONE and patient.state is PathwayState.SEEKING
    retry = patient._other_event
    assert retry is not None and retry.time == model.scenario.patients.dur_retry_days
    last = model.scenario.patients.n_seek_attempts - 1
    model, patient, _ = _seek(monkeypatch, None, outside - 1.0, attempts=last)
    assert patient.state is PathwayState.DROPPED_OUT
    assert model.population.drop_reason[patient.idx] == DropReason.ACCESS


def test_the_fee_schedule_of_a_payer_kind():
    commercial, medicaid, medicare = StandIn().payers
    assert commercial.allowed(Code.PSYCHOTHERAPY_90837) == pytest.approx(120.0)
    assert medicaid.allowed(Code.PSYCHOTHERAPY_90837) == pytest.approx(84.0)
    assert medicare.allowed(Code.ESKETAMINE_SESSION_G2083) == pytest.approx(450.0 * 1.15)
    assert medicaid.cost_share == 0.02 and commercial.cost_share == 0.2
    with pytest.raises(ValueError, match="no fee"):
        commercial.allowed(Code.PRIOR_AUTH_REQUEST)
