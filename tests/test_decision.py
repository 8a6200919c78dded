"""Decision analysis (scenarios/decision.py): cases whose answers follow from the definitions.

Dominance by quadrant, ICER intervals against the delta method and their coverage, efficiency
frontiers built by hand (strong and extended dominance, one removal exposing another), and PSA
summaries against the closed forms of two strategies with normal net benefits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from scenarios import decision as dec

# --------------------------------------------------------------------------------------------
# Dominance and the plane
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d_cost", "d_qaly", "quadrant", "label"),
    [
        (500.0, 0.01, "NE", "icer"),  # pays for QALYs
        (-500.0, -0.01, "SW", "icer"),  # saves money by losing QALYs
        (-50.0, 0.01, "SE", "dominant"),
        (50.0, -0.01, "NW", "dominated"),
        (0.0, 0.01, "SE", "dominant"),  # no more costly, more effective
        (-50.0, 0.0, "SE", "dominant"),  # less costly, no less effective
        (50.0, 0.0, "NW", "dominated"),  # more costly, no more effective
        (0.0, -0.01, "NW", "dominated"),  # no less costly, less effective
        (0.0, 0.0, "origin", "undefined"),
        (math.nan, 0.01, None, "undefined"),
        (10.0, math.nan, None, "undefined"),
    ],
)
def test_each_quadrant_axis_and_zero_reads_as_the_textbook_says(d_cost, d_qaly, quadrant, label):
    assert dec.plane_quadrant(d_cost, d_qaly) == quadrant
    assert dec.icer_label(d_cost, d_qaly) == label


def test_quadrant_shares_count_points_and_sum_to_one():
    shares = dec.quadrant_shares([1, 2, -1, 1, 0, math.nan], [1, 1, 1, -1, 0, 1])
    assert shares == {"NE": 0.4, "SE": 0.2, "SW": 0.0, "NW": 0.2, "origin": 0.2}
    assert sum(dec.quadrant_shares([3.0, -1.0], [-2.0, -5.0]).values()) == pytest.approx(1.0)
    assert sum(dec.quadrant_shares([math.nan], [1.0]).values()) == 0.0


# --------------------------------------------------------------------------------------------
# ICER intervals
# --------------------------------------------------------------------------------------------


def test_icer_interval_matches_the_delta_method_for_many_pairs():
    # Ratio of two independent means: the delta method's interval is accurate for large n.
    rng = np.random.default_rng(3)
    n = 400
    d_cost = rng.normal(500.0, 100.0, n)
    d_qaly = rng.normal(0.01, 0.002, n)
    ci = dec.icer_interval(d_cost, d_qaly, n_boot=4000, seed=1)
    ratio = d_cost.mean() / d_qaly.mean()
    rel_var = d_cost.var(ddof=1) / (n * d_cost.mean() ** 2) + d_qaly.var(ddof=1) / (
        n * d_qaly.mean() ** 2
    )
    half = 1.96 * abs(ratio) * math.sqrt(rel_var)
    assert ci.low == pytest.approx(ratio - half, rel=0.01)
    assert ci.high == pytest.approx(ratio + half, rel=0.01)
    assert ci.n_pairs == n and ci.bounds == (ci.low, ci.high)
    assert ci.quadrant_shares["NE"] == 1.0
    assert "percentile bootstrap" in ci.reason


def test_icer_interval_covers_the_true_ratio_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    true_ratio = 40_000.0
    covered = 0
    trials = 300
    for t in range(trials):
        d_qaly = rng.normal(0.02, 0.006, 30)
        d_cost = true_ratio * 0.02 + rng.normal(0.0, 150.0, 30)
        ci = dec.icer_interval(d_cost, d_qaly, n_boot=1000, seed=t)
        covered += ci.low <= true_ratio <= ci.high
    assert 0.90 <= covered / trials <= 0.99, covered / trials


@pytest.mark.parametrize(
    ("d_cost", "d_qaly", "why"),
    [
        ([100.0], [0.01], "fewer than 2"),
        ([100.0, 50.0, 80.0], [0.0, 0.0, 0.0], "no QALY difference"),
        ([100.0, 50.0, 80.0, 20.0], [0.02, -0.03, 0.01, -0.02], "positive in"),
        ([], [], "no pair"),
    ],
)
def test_icer_interval_is_undefined_with_a_reason(d_cost, d_qaly, why):
    ci = dec.icer_interval(d_cost, d_qaly)
    assert ci.bounds is None and ci.low is None and ci.high is None
    assert why in ci.reason
    if d_cost:
        assert sum(ci.quadrant_shares.values()) == pytest.approx(1.0)


def test_a_sign_changing_qaly_difference_gives_shares_on_both_sides():
    ci = dec.icer_interval([100.0, 50.0, 80.0, 20.0], [0.02, -0.03, 0.01, -0.02], seed=4)
    assert ci.quadrant_shares["NE"] > 0.0 and ci.quadrant_shares["NW"] > 0.0


def test_icer_interval_of_a_dominant_policy_lies_below_zero_and_is_reproducible():
    rng = np.random.default_rng(5)
    d_cost = rng.normal(-300.0, 50.0, 20)
    d_qaly = rng.normal(0.01, 0.002, 20)
    ci = dec.icer_interval(d_cost, d_qaly, seed=9)
    assert ci.high < 0.0, "saves money and gains QALYs in every resample"
    assert ci.quadrant_shares["SE"] == 1.0
    assert dec.icer_interval(d_cost, d_qaly, seed=9) == ci


def test_icer_interval_leaves_out_pairs_with_a_nan():
    ci = dec.icer_interval([100.0, math.nan, 120.0, 80.0], [0.01, 0.01, math.nan, 0.012])
    assert ci.n_pairs == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"level": 1.0}, "level"), ({"n_boot": 10}, "n_boot"), ({"n_boot": 2000.0}, "n_boot")],
)
def test_icer_interval_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dec.icer_interval([1.0, 2.0], [0.1, 0.2], **kwargs)
    with pytest.raises(ValueError, match="pairs"):
        dec.icer_interval([1.0, 2.0], [0.1])


# --------------------------------------------------------------------------------------------
# The efficiency frontier
# --------------------------------------------------------------------------------------------


def _rows(frame: pd.DataFrame) -> dict[str, tuple]:
    return {
        r.strategy: (
            r.status,
            None if pd.isna(r.compared_with) else r.compared_with,
            None if math.isnan(r.icer) else round(r.icer, 1),
        )
        for r in frame.itertuples(index=False)
    }


def test_frontier_with_strong_and_extended_dominance():
    # C's ICER against B (20,000) is above D's against C (2,500): a mix of B and D beats C.
    # E costs more than D for fewer QALYs. Against B, D costs 3,000 / 0.5 = 6,000 per QALY.
    frame = dec.efficiency_frontier(
        [0, 1000, 3000, 4000, 5000, 10000],
        [0.0, 0.5, 0.6, 1.0, 0.9, 1.2],
        ["A", "B", "C", "D", "E", "F"],
    )
    assert list(frame["strategy"]) == ["A", "B", "C", "D", "E", "F"], "sorted by cost"
    assert list(frame.columns) == ["strategy", "cost", "qalys", "status", "compared_with", "icer"]
    assert _rows(frame) == {
        "A": ("frontier", None, None),
        "B": ("frontier", "A", 2000.0),
        "C": ("extendedly dominated", "B", 20000.0),
        "D": ("frontier", "B", 6000.0),
        "E": ("dominated", "D", None),
        "F": ("frontier", "D", 30000.0),
    }


def test_removing_one_extendedly_dominated_strategy_can_expose_another():
    # ICERs in cost order: 100, 400, 500, 55.6. Removing D makes E's ICER against C 100, below
    # C's 400, so C goes too; against B, E then costs 300 / 1.5 = 200 per QALY.
    frame = dec.efficiency_frontier(
        [0, 100, 300, 350, 400], [0.0, 1.0, 1.5, 1.6, 2.5], ["A", "B", "C", "D", "E"]
    )
    assert _rows(frame) == {
        "A": ("frontier", None, None),
        "B": ("frontier", "A", 100.0),
        "C": ("extendedly dominated", "B", 400.0),
        "D": ("extendedly dominated", "B", 416.7),
        "E": ("frontier", "B", 200.0),
    }


def test_ties_equal_costs_and_a_single_strategy():
    same_cost = dec.efficiency_frontier([100, 100], [0.5, 0.7], ["low", "high"])
    assert _rows(same_cost) == {
        "high": ("frontier", None, None),
        "low": ("dominated", "high", None),
    }
    identical = dec.efficiency_frontier([100, 100], [0.5, 0.5], ["first", "second"])
    assert _rows(identical) == {
        "first": ("frontier", None, None),
        "second": ("dominated", "first", None),
    }
    cheaper_better = dec.efficiency_frontier([500, 200], [1.0, 1.2], ["old", "new"])
    assert _rows(cheaper_better)["old"] == ("dominated", "new", None)
    assert _rows(dec.efficiency_frontier([7.0], [0.3], ["only"])) == {
        "only": ("frontier", None, None)
    }


@pytest.mark.parametrize(
    ("costs", "qalys", "names", "match"),
    [
        ([1, 2], [0.1], ["a", "b"], "one of each"),
        ([1, 2], [0.1, 0.2], ["a", "a"], "repeat"),
        ([1, math.nan], [0.1, 0.2], ["a", "b"], "finite"),
        ([], [], [], "at least one"),
    ],
)
def test_frontier_refuses_bad_input(costs, qalys, names, match):
    with pytest.raises(ValueError, match=match):
        dec.efficiency_frontier(costs, qalys, names)


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(
        st.tuples(
            st.integers(0, 50).map(lambda v: v * 100.0), st.integers(0, 40).map(lambda v: v / 40)
        ),
        min_size=1,
        max_size=8,
    ),
    wtp=st.integers(0, 10_000).map(float),
)
def test_the_best_strategy_at_any_wtp_is_on_the_frontier(points, wtp):
    """Whatever lambda, the strategy with the highest NMB is on the frontier (or ties one)."""
    costs = [p[0] for p in points]
    qalys = [p[1] for p in points]
    names = [f"s{i}" for i in range(len(points))]
    frame = dec.efficiency_frontier(costs, qalys, names)
    nmb = wtp * frame["qalys"] - frame["cost"]
    on = frame["status"] == "frontier"
    assert nmb[on].max() >= nmb.max() - 1e-9
    steps = frame.loc[on, "icer"].dropna().to_numpy()
    assert np.all(np.diff(steps) >= -1e-9), "frontier ICERs rise with cost"
    assert np.all(steps > 0), "each frontier step buys QALYs at a positive price"
    shuffled = dec.efficiency_frontier(costs[::-1], qalys[::-1], names[::-1])
    assert set(
        shuffled.loc[shuffled["status"] == "frontier", ["cost", "qalys"]].itertuples(
            index=False, name=None
        )
    ) == set(frame.loc[on, ["cost", "qalys"]].itertuples(index=False, name=None))


# --------------------------------------------------------------------------------------------
# Net benefit, acceptability, EVPI
# --------------------------------------------------------------------------------------------


def test_net_monetary_benefit():
    assert dec.net_monetary_benefit(300.0, 0.01, 50_000) == pytest.approx(200.0)
    grid = dec.net_monetary_benefit(np.zeros((4, 3)), np.ones((4, 3)), [0.0, 10.0])
    assert grid.shape == (2, 4, 3) and grid[1, 0, 0] == 10.0
    with pytest.raises(ValueError, match="same shape"):
        dec.net_monetary_benefit(np.zeros(3), np.zeros(2), 1.0)


# Two strategies, independent normal costs and QALYs, so NMB_s(lambda) is normal with mean
# lambda*mu_Q - mu_C and variance lambda^2 sd_Q^2 + sd_C^2. B - A at lambda: m = 0.05 lambda -
# 5,000 (zero at 100,000 per QALY), s^2 = lambda^2 (0.02^2 + 0.03^2) + 200^2 + 500^2.
TOY_WTP = np.array([60_000.0, 80_000.0, 100_000.0, 125_000.0, 150_000.0, 200_000.0])


@pytest.fixture(scope="module")
def toy_psa():
    rng = np.random.default_rng(2024)
    n = 400_000
    costs = np.column_stack([rng.normal(1000.0, 200.0, n), rng.normal(6000.0, 500.0, n)])
    qalys = np.column_stack([rng.normal(1.00, 0.02, n), rng.normal(1.05, 0.03, n)])
    return costs, qalys


def _toy_closed_form(wtp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = 0.05 * wtp - 5000.0
    s = np.sqrt(wtp**2 * (0.02**2 + 0.03**2) + 200.0**2 + 500.0**2)
    p_b = stats.norm.cdf(m / s)
    evpi = s * stats.norm.pdf(m / s) + m * stats.norm.cdf(m / s) - np.maximum(0.0, m)
    return p_b, evpi


def test_acceptability_and_evpi_match_the_closed_form_within_2_percent(toy_psa):
    costs, qalys = toy_psa
    p_b, closed_evpi = _toy_closed_form(TOY_WTP)
    curves = dec.ceac(costs, qalys, TOY_WTP, ["A", "B"])
    np.testing.assert_allclose(curves["B"].to_numpy(), p_b, rtol=0.02)
    np.testing.assert_allclose(curves["A"].to_numpy(), 1.0 - p_b, rtol=0.02)
    per_patient = dec.evpi(costs, qalys, TOY_WTP)
    np.testing.assert_allclose(per_patient.to_numpy(), closed_evpi, rtol=0.02)
    assert per_patient.idxmax() == 100_000.0, "EVPI peaks where the decision is closest"


def test_acceptability_curves_are_probabilities_summing_to_one(toy_psa):
    costs, qalys = toy_psa
    third = np.column_stack([costs[:2000, 0] + 10.0, qalys[:2000, 1]])  # 3 strategies
    for c, q in (
        (costs[:5000], qalys[:5000]),
        (np.hstack([costs[:2000], third[:, :1]]), np.hstack([qalys[:2000], third[:, 1:]])),
    ):
        curves = dec.ceac(c, q, np.linspace(0, 300_000, 31))
        assert ((curves >= 0.0) & (curves <= 1.0)).all().all()
        np.testing.assert_allclose(curves.sum(axis=1), 1.0)


def test_ties_split_a_draw_between_the_tied_strategies():
    costs = np.array([[100.0, 100.0, 300.0], [100.0, 100.0, 50.0]])
    qalys = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    curves = dec.ceac(costs, qalys, [0.0], ["a", "b", "c"])
    assert curves.loc[0.0].to_dict() == {"a": 0.25, "b": 0.25, "c": 0.5}


def test_the_acceptability_frontier_follows_expected_nmb_not_the_likeliest_winner():
    # B loses 1 in 9 draws of 10 but wins 100 in the tenth: expected NMB 9.1 > 0 (A), so B is
    # optimal although it is cost-effective in only 10 % of draws.
    qalys = np.zeros((10, 2))
    costs = np.column_stack([np.zeros(10), np.r_[np.ones(9), -100.0]])
    frontier = dec.ceaf(costs, qalys, [0.0, 1000.0], ["A", "B"])
    assert list(frontier["strategy"]) == ["B", "B"]
    assert frontier["expected_nmb"].tolist() == pytest.approx([9.1, 9.1])
    assert frontier["probability_cost_effective"].tolist() == pytest.approx([0.1, 0.1])


def test_evpi_is_zero_when_one_strategy_always_wins():
    rng = np.random.default_rng(0)
    qalys = np.column_stack([rng.normal(1.0, 0.1, 500), rng.normal(2.0, 0.1, 500)])
    costs = np.zeros((500, 2))
    assert dec.evpi(costs, qalys, [1000.0, 50_000.0]).tolist() == [0.0, 0.0]


def test_population_evpi_discounts_later_cohorts():
    factor = 1.0 + 1.0 / 1.03 + 1.0 / 1.03**2
    assert dec.population_evpi(10.0, 1000.0, years=3, discount_rate=0.03) == pytest.approx(
        10.0 * 1000.0 * factor
    )
    assert dec.population_evpi(np.array([1.0, 2.0]), 5.0).tolist() == [5.0, 10.0]
    with pytest.raises(ValueError, match="years"):
        dec.population_evpi(1.0, 10.0, years=0)


@pytest.mark.parametrize(
    ("costs", "qalys", "wtp", "match"),
    [
        (np.zeros(3), np.zeros(3), [0.0], "draw, strategy"),
        (np.zeros((3, 2)), np.zeros((3, 1)), [0.0], "draw, strategy"),
        (np.full((3, 2), np.nan), np.zeros((3, 2)), [0.0], "finite"),
        (np.zeros((3, 2)), np.zeros((3, 2)), [-1.0], "non-negative"),
        (np.zeros((3, 2)), np.zeros((3, 2)), [], "non-negative"),
    ],
)
def test_psa_summaries_refuse_bad_input(costs, qalys, wtp, match):
    with pytest.raises(ValueError, match=match):
        dec.ceac(costs, qalys, wtp)


# --------------------------------------------------------------------------------------------
# EVPPI
# --------------------------------------------------------------------------------------------

# INB of B over A = lambda * dQ - 3,000 with dQ = 0.05 + theta + eps: theta ~ N(0, 0.05) is
# the parameter of interest, eps ~ N(0, 0.03) everything else, and z ~ N(0, 1) is irrelevant.
# E[INB | theta] = lambda (0.05 + theta) - 3,000 is known exactly.
EVPPI_WTP = np.array([20_000.0, 40_000.0, 60_000.0, 80_000.0, 120_000.0])


@pytest.fixture(scope="module")
def voi_psa():
    rng = np.random.default_rng(7)
    n = 3000
    theta = rng.normal(0.0, 0.05, n)
    eps = rng.normal(0.0, 0.03, n)
    z = rng.normal(0.0, 1.0, n)
    qalys = np.column_stack([np.ones(n), 1.05 + theta + eps])
    costs = np.column_stack([np.full(n, 500.0), np.full(n, 3500.0)])
    params = pd.DataFrame({"theta": theta, "eps": eps, "z": z})
    return costs, qalys, params


def _evppi_given_exact_conditional_mean(theta: np.ndarray, wtp: np.ndarray) -> np.ndarray:
    inb = wtp[:, None] * (0.05 + theta[None, :]) - 3000.0
    return np.maximum(inb, 0.0).mean(axis=1) - np.maximum(inb.mean(axis=1), 0.0)


def test_evppi_of_a_parameter_matches_its_exact_conditional_expectation(voi_psa):
    costs, qalys, params = voi_psa
    result = dec.evppi(costs, qalys, params["theta"], EVPPI_WTP, strategies=["A", "B"])
    exact = _evppi_given_exact_conditional_mean(params["theta"].to_numpy(), EVPPI_WTP)
    np.testing.assert_allclose(result.evppi_unclipped.to_numpy(), exact, rtol=0.04)
    assert result.parameters == ("theta",)
    assert "Strong, Oakley & Brennan 2014" in result.method and "s(theta)" in result.method
    assert "against strategy A" in result.method
    # Against the closed form (sample noise of 3,000 draws included): s = lambda * 0.05.
    m, s = 0.05 * EVPPI_WTP - 3000.0, EVPPI_WTP * 0.05
    closed = s * stats.norm.pdf(m / s) + m * stats.norm.cdf(m / s) - np.maximum(0.0, m)
    np.testing.assert_allclose(result.evppi.to_numpy(), closed, rtol=0.15)


def test_evppi_of_every_parameter_that_determines_nmb_equals_evpi(voi_psa):
    costs, qalys, params = voi_psa
    for group in (["theta", "eps"], ["theta", "eps", "z"]):
        result = dec.evppi(costs, qalys, params[group], EVPPI_WTP)
        np.testing.assert_allclose(
            result.evppi_unclipped.to_numpy(), result.evpi.to_numpy(), rtol=0.02
        )
        assert np.all(result.evppi.to_numpy() <= result.evpi.to_numpy())
    assert "te(theta, eps)" in dec.evppi(costs, qalys, params[["theta", "eps"]], [1.0]).method


def test_evppi_of_an_irrelevant_parameter_is_about_zero(voi_psa):
    costs, qalys, params = voi_psa
    result = dec.evppi(costs, qalys, params["z"], EVPPI_WTP)
    assert np.all(result.evppi.to_numpy() <= 0.03 * result.evpi.to_numpy()), result.evppi
    assert result.evpi.loc[60_000.0] > 300.0, "the decision is uncertain at 60,000 per QALY"


def test_evppi_never_exceeds_evpi_and_says_when_it_clipped(voi_psa):
    costs, qalys, params = voi_psa
    for group in (["theta"], ["eps"], ["z"], ["theta", "z"], ["theta", "eps", "z"]):
        result = dec.evppi(costs, qalys, params[group], EVPPI_WTP)
        assert np.all(result.evppi.to_numpy() >= 0.0)
        assert np.all(result.evppi.to_numpy() <= result.evpi.to_numpy()), group
        clipped = not np.allclose(result.evppi, result.evppi_unclipped, rtol=0, atol=0)
        assert bool(result.note) == clipped, (group, result.note)


def test_evppi_of_a_constant_parameter_is_zero(voi_psa):
    costs, qalys, _ = voi_psa
    result = dec.evppi(costs, qalys, np.ones(len(costs)), EVPPI_WTP)
    assert result.evppi.tolist() == [0.0] * len(EVPPI_WTP)
    assert "do not vary" in result.method


def test_evppi_refuses_bad_input(voi_psa):
    costs, qalys, params = voi_psa
    with pytest.raises(ValueError, match="draws"):
        dec.evppi(costs, qalys, params["theta"][:10], EVPPI_WTP)
    with pytest.raises(ValueError, match="at least 50"):
        dec.evppi(costs[:20], qalys[:20], params["theta"][:20], EVPPI_WTP)
    with pytest.raises(ValueError, match="only method"):
        dec.evppi(costs, qalys, params["theta"], EVPPI_WTP, method="gp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        dec.evppi(costs, qalys, np.full(len(costs), np.nan), EVPPI_WTP)
