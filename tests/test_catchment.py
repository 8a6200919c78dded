"""A catchment too small for the integration levers to act is named before the run."""

from __future__ import annotations

import pytest

from agents.prescriber import BusinessModel
from model.catchment import (
    catchment,
    first_integration_day,
    integration_levers,
    lever_warnings,
    smallest_integrating_size,
)
from scenarios.api import build, load_scenario
from scenarios.compare import compare


@pytest.mark.parametrize(
    ("preset", "n", "clinics", "therapists", "trained"),
    [
        # 5 clinics and 12 therapists per 1,000 patients, 10 % trained at the start:
        ("baseline", 300, 2, 4, 0),  # 1.5 -> 2 clinics; 3.6 -> 4; 0.4 -> none trained
        ("baseline", 458, 2, 5, 0),  # 5.496 therapists -> 5; 0.5 rounds to even: none
        ("baseline", 459, 2, 6, 1),  # 5.508 -> 6; 0.6 -> one trained
        ("baseline", 2000, 10, 24, 2),
        ("therapist_supply", 300, 2, 7, 1),  # twice the therapists: 7.2 -> 7; 0.7 -> 1
        ("drug_only_world", 300, 2, 0, 0),  # no therapy, no therapists
        ("baseline", 10, 1, 1, 0),  # never fewer than one clinic and one therapist
    ],
)
def test_catchment_is_sized_as_the_model_sizes_it(preset, n, clinics, therapists, trained):
    sc = load_scenario(preset)
    expected = (clinics, therapists, trained)
    place = catchment(sc, n)
    assert (place.n_clinics, place.n_therapists, place.n_trained) == expected
    model = build(sc, n_patients=n, days=30, seed=0, keep_claims=False)
    built = (
        len(model.prescribers),
        len(model.therapists),
        sum(t.trained for t in model.therapists),
    )
    assert built == expected, f"the model built {built} for {n} patients of {preset}"


def test_the_smallest_size_is_the_first_with_a_trained_therapist():
    sc = load_scenario("bundled_payment")
    assert smallest_integrating_size(sc) == 459
    assert smallest_integrating_size(load_scenario("therapist_supply")) == 230
    assert smallest_integrating_size(load_scenario("drug_only_world")) is None


def test_integration_levers_are_the_ones_that_act_through_integrated_programmes():
    assert integration_levers(load_scenario("baseline").policy) == []
    assert integration_levers(load_scenario("bundled_payment").policy) == ["bundled payment"]
    assert integration_levers(load_scenario("coordination_payment").policy) == [
        "the coordination payment"
    ]
    assert "acute-session integration" in integration_levers(
        load_scenario("acute_session_therapy").policy
    )


def test_a_catchment_without_a_trained_therapist_waits_for_the_yearly_review():
    sc = load_scenario("bundled_payment")
    assert first_integration_day(sc, 459) == pytest.approx(91.25)  # the first quarterly review
    assert first_integration_day(sc, 300) == pytest.approx(456.25)  # the quarter after day 365


def test_bundled_payment_warns_at_300_patients_and_not_at_459():
    sc = load_scenario("bundled_payment")
    (warning,) = lever_warnings(sc, 300, 365)
    assert "2 clinic(s) and 4 therapist(s), none trained" in warning
    assert "within the run's 365 days" in warning and "bundled payment" in warning
    assert "use at least 459 patients" in warning
    assert "\n" not in warning
    assert "before day 456.25" in lever_warnings(sc, 300, 730)[0]
    assert lever_warnings(sc, 459, 365) == []


def test_no_warning_without_an_integration_lever_or_with_enough_therapists():
    assert lever_warnings(load_scenario("baseline"), 300, 365) == []
    assert lever_warnings(load_scenario("therapist_supply"), 300, 365) == []


def test_a_training_subsidy_warns_in_runs_that_end_by_the_yearly_review():
    sc = load_scenario("training_subsidy")
    (warning,) = lever_warnings(sc, 2000, 365)
    assert "training subsidy" in warning and "day 365" in warning
    assert lever_warnings(sc, 2000, 366) == []


def test_at_the_warned_size_the_bundled_payment_changes_nothing():
    """300 patients: no clinic can take the integrated model, so both arms run identically."""
    base, policy = load_scenario("baseline"), load_scenario("bundled_payment")
    assert lever_warnings(policy, 300, 365)
    for replication in (0, 1):  # no clinic starts integrated in these replications
        model = build(policy, n_patients=300, days=365, seed=0, replication=replication)
        assert model.business_model_counts()[BusinessModel.INTEGRATED] == 0
    result = compare(base, policy, 2, n_patients=300, days=365, seed=0)
    diffs = result.metrics.set_index("metric")["diff_mean"].dropna()
    assert (diffs == 0.0).all(), diffs[diffs != 0.0]


def test_at_the_smallest_unwarned_size_the_bundled_payment_acts():
    base, policy = load_scenario("baseline"), load_scenario("bundled_payment")
    assert lever_warnings(policy, 459, 365) == []
    result = compare(base, policy, 2, n_patients=459, days=365, seed=0)
    idr = result.metrics.set_index("metric").loc["integrated_delivery_rate"]
    assert idr["diff_mean"] > 0.05, f"bundles should raise integrated delivery: {idr.to_dict()}"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "bundled_payment", "--patients", "300", "--days", "30", "--json"],
        [
            *("compare", "baseline", "bundled_payment", "-r", "2"),
            *("--patients", "300", "--days", "30", "--workers", "1", "--json"),
        ],
    ],
    ids=["run", "compare"],
)
def test_the_cli_prints_the_warning_once_on_stderr(argv, capsys):
    from scenarios.cli import main

    assert main(argv) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ketasim:")]
    assert len(err) == 1 and err[0].startswith("ketasim: warning: 300 patients give 2 clinic(s)")
    argv = [a if a != "300" else "459" for a in argv]
    assert main(argv) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_size_the_run_refuses_gets_its_refusal_alone(capsys):
    from scenarios.cli import main

    assert lever_warnings(load_scenario("bundled_payment"), 0, 365) == []
    assert main(["run", "bundled_payment", "--patients", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ketasim: error: --patients 0"), err
