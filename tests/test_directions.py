"""Direction tests: move a lever, assert the sign.

Each scenario is run with the same three seeds (common random numbers) at the default size, and
the means are compared, so a direction holds across institutional draws, not for one lucky seed.
"""

import statistics

import pytest

from scenarios.api import run

SEEDS = (0, 1, 2)
N, DAYS = 2000, 365


def _runs(name: str):
    return [run(name, n_patients=N, days=DAYS, seed=s, keep_claims=False) for s in SEEDS]


@pytest.fixture(scope="module")
def results():
    names = [
        "baseline",
        "bundled_payment",
        "carve_in",
        "therapy_parity",
        "drug_only_world",
        "integrated_ideal",
        "patent_expiry",
    ]
    return {name: _runs(name) for name in names}


def mean(results, name, key):
    return statistics.fmean(r.summary[key] for r in results[name])


def last_mean(results, name, column):
    return statistics.fmean(float(r.daily[column].iloc[-1]) for r in results[name])


@pytest.mark.parametrize("policy", ["bundled_payment", "carve_in", "therapy_parity"])
def test_levers_raise_integrated_delivery(results, policy):
    base = mean(results, "baseline", "integrated_delivery_rate")
    got = mean(results, policy, "integrated_delivery_rate")
    assert got > base, f"{policy} should raise integrated_delivery_rate ({got:.3f} vs {base:.3f})"


def test_baseline_is_fragmented_and_ideal_restores_integration(results):
    base = mean(results, "baseline", "integrated_delivery_rate")
    ideal = mean(results, "integrated_ideal", "integrated_delivery_rate")
    assert base < 0.35, base
    assert ideal >= base + 0.25, (ideal, base)
    assert mean(results, "integrated_ideal", "durable_remission_rate") > mean(
        results, "baseline", "durable_remission_rate"
    )
    assert mean(results, "integrated_ideal", "fragmentation_index") < mean(
        results, "baseline", "fragmentation_index"
    )


def test_drug_only_world_has_no_integrated_delivery(results):
    for r in results["drug_only_world"]:
        assert r.summary["integrated_delivery_rate"] == 0.0
        assert r.summary["share_integrated"] == 0.0
        assert r.summary["share_therapy_only"] == 0.0
        assert r.summary["spend_behavioral"] == 0.0


def test_higher_therapy_rates_raise_network_participation(results):
    base = last_mean(results, "baseline", "therapists_in_network_share")
    parity = last_mean(results, "therapy_parity", "therapists_in_network_share")
    assert parity > base, (parity, base)


def test_expired_patent_lowers_price_and_pharma_revenue(results):
    assert last_mean(results, "patent_expiry", "drug_price_per_session") < last_mean(
        results, "baseline", "drug_price_per_session"
    )
    assert mean(results, "patent_expiry", "pharma_revenue") < mean(
        results, "baseline", "pharma_revenue"
    )


def test_bundled_payment_moves_clinics_to_integrated_care(results):
    base = last_mean(results, "baseline", "clinics_integrated")
    bundled = last_mean(results, "bundled_payment", "clinics_integrated")
    assert bundled > base
