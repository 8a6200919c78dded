"""The Explore and Compare charts (dashboards/charts.py) and the frames they are drawn from."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards import charts
from dashboards.explore import (
    PANELS,
    build_figures,
    delay_frame,
    flow_frame,
    money_frame,
    plasticity_frame,
    snapshot,
)
from scenarios.api import build, load_scenario


@pytest.fixture(scope="module")
def bundled_model():
    """A small finished run where every panel has data (bundles pay integrated programmes)."""
    model = build(load_scenario("bundled_payment"), n_patients=1000, days=200, seed=3)
    model.run()
    return model


@pytest.fixture(scope="module")
def fresh_model():
    """A model at day 0 (nothing simulated yet)."""
    return build(load_scenario("baseline"), n_patients=300, days=60, seed=1)


def _y(fig: go.Figure, name: str) -> np.ndarray:
    trace = next(t for t in fig.data if t.name == name)
    return np.asarray(trace.y, dtype=float)


def test_every_panel_builds_from_a_run(bundled_model):
    figs = build_figures(snapshot(bundled_model))
    assert set(figs) == {key for key, _ in PANELS}
    for key, fig in figs.items():
        assert isinstance(fig, go.Figure), key
        assert fig.data, f"panel {key} has no traces after a 200-day run"
        assert fig.layout.title.text, f"panel {key} has no title"


def test_every_panel_builds_at_day_zero(fresh_model):
    """Before the first step every panel shows a note instead of failing."""
    for key, fig in build_figures(snapshot(fresh_model)).items():
        assert isinstance(fig, go.Figure), key
        if key != "delays":  # the plasticity curve is drawn even with no doses yet
            assert not fig.data, f"panel {key} drew data at day 0"
        assert "(" in fig.layout.title.text, f"panel {key} says nothing about no data at day 0"


def test_delivery_rate_traces_are_the_daily_series(bundled_model):
    daily = bundled_model.daily_frame()
    fig = charts.delivery_rate_figure(daily)
    np.testing.assert_allclose(
        _y(fig, "since day 0"), daily["integrated_delivery_rate"].to_numpy(dtype=float)
    )
    # The title carries the headline number.
    last = daily["integrated_delivery_rate"].dropna().iloc[-1]
    assert f"{last:.0%} of doses" in fig.layout.title.text


def test_pathway_shares_stack_to_one(bundled_model):
    fig = charts.pathway_shares_figure(bundled_model.daily_frame())
    total = sum(np.asarray(t.y, dtype=float) for t in fig.data)
    np.testing.assert_allclose(total[total > 0], 1.0, atol=1e-9)
    assert {t.stackgroup for t in fig.data} == {"pathways"}


def test_severity_has_the_score_and_three_layers(bundled_model):
    daily = bundled_model.daily_frame()
    fig = charts.severity_figure(daily)
    assert len(fig.data) == 4
    np.testing.assert_allclose(_y(fig, "mean severity"), daily["mean_severity"])
    for key, label in charts.LAYER_LABELS.items():
        layer = _y(fig, label)
        np.testing.assert_allclose(layer, daily[key])
        assert ((layer >= 0) & (layer <= 1)).all(), key


def test_spending_ends_at_the_ledger_totals(bundled_model):
    fig = charts.spending_figure(bundled_model.daily_frame())
    paid = bundled_model.ledger.paid_by_silo
    for silo, label in charts.SILO_LABELS.items():
        key = next(s for s in paid if s.name.lower() == silo)
        assert _y(fig, label)[-1] == pytest.approx(paid[key] / 100.0), silo


def test_delay_histogram_counts_every_recorded_delay(bundled_model):
    delays = delay_frame(bundled_model)
    assert len(delays) == len(bundled_model.tally.delays) > 0
    fig = charts.delay_histogram_figure(
        delays, plasticity_frame(bundled_model.scenario, 20.0), 0.5, 7.0
    )
    hist = next(t for t in fig.data if isinstance(t, go.Histogram))
    shown = np.asarray(hist.x, dtype=float)
    assert len(shown) == int((delays["delay_days"] <= 20.0).sum())
    curve = next(t for t in fig.data if isinstance(t, go.Scatter))
    assert max(curve.y) == pytest.approx(1.0, abs=0.01), "the pulse peaks at 1"
    assert curve.y[0] == 0.0, "no plasticity at the moment of the dose"
    assert fig.layout.shapes, "the counted window is shaded"


def test_delay_histogram_rejects_a_wrong_frame():
    with pytest.raises(ValueError, match="delay_days"):
        charts.delay_histogram_figure(pd.DataFrame({"x": [1.0]}), pd.DataFrame(), 0.5, 7.0)


def test_plasticity_curve_uses_the_scenario_parameters():
    sc = load_scenario("baseline")
    curve = plasticity_frame(sc)
    peak_day = curve.loc[curve["plasticity"].idxmax(), "days"]
    assert peak_day == pytest.approx(sc.clinical.dur_plasticity_peak_days, abs=0.06)
    acute = curve[curve["days"] < sc.clinical.dur_acute_days]
    assert (acute["plasticity"] == 0.0).all(), "no plasticity in the acute phase"


def test_patient_flow_conserves_patients(bundled_model):
    flow = flow_frame(bundled_model)
    pop = bundled_model.population
    assert len(flow) == int(pop.sought.sum())
    cats = bundled_model.patient_frame().set_index("patient").loc[flow["patient"], "care_category"]
    expected = cats.map(
        {
            "integrated": "Integrated",
            "drug_only": "Drug only",
            "therapy_only": "Therapy only",
            "untreated": "Untreated",
            "dropped_out": "Dropped out",
        }
    )
    assert (flow["care"].to_numpy() == expected.to_numpy()).all()
    assert set(flow["outcome"]) <= {"In remission", "In response", "No response", "Not treated"}
    assert "Integrated programme" in set(flow["prescriber_model"])
    fig = charts.patient_flow_sankey(flow)
    sankey = fig.data[0]
    n_nodes = len(sankey.node.label)
    inflow = np.zeros(n_nodes)
    outflow = np.zeros(n_nodes)
    np.add.at(inflow, list(sankey.link.target), list(sankey.link.value))
    np.add.at(outflow, list(sankey.link.source), list(sankey.link.value))
    assert outflow[0] == len(flow), "everyone who sought care leaves the first node"
    middle = (inflow > 0) & (outflow > 0)
    np.testing.assert_array_equal(inflow[middle], outflow[middle])
    assert inflow.sum() == 3 * len(flow), "each patient crosses three stages"


def test_money_flow_matches_the_ledger(bundled_model):
    money = money_frame(bundled_model)
    total = bundled_model.ledger.total_paid_cents() / 100.0
    assert money["amount_usd"].sum() == pytest.approx(total)
    assert "Patients" in set(money["source"])
    assert "Integrated programmes" in set(money["payee"])
    fig = charts.money_flow_sankey(money)
    sankey = fig.data[0]
    labels = list(sankey.node.label)
    sources = {i for i, lab in enumerate(labels) if lab in {"Commercial", "Medicaid", "Medicare"}}
    sources |= {labels.index("Patients")}
    links = list(zip(sankey.link.source, sankey.link.target, sankey.link.value, strict=True))
    paid_in = sum(v for s, _, v in links if s in sources)
    n_payees = len(set(money["payee"]))
    payees = set(range(len(labels) - n_payees, len(labels)))
    paid_out = sum(v for _, t, v in links if t in payees)
    assert paid_in == pytest.approx(total), "money leaving payers and patients"
    assert paid_out == pytest.approx(total), "money reaching providers and pharma"
    assert f"${total:,.0f}" in fig.layout.title.text


def test_sankeys_handle_no_data():
    empty_flow = pd.DataFrame({c: [] for c in charts.FLOW_REQUIRED})
    empty_money = pd.DataFrame({c: [] for c in charts.MONEY_REQUIRED})
    assert not charts.patient_flow_sankey(empty_flow).data
    assert not charts.money_flow_sankey(empty_money).data
    with pytest.raises(ValueError, match="outcome"):
        charts.patient_flow_sankey(pd.DataFrame({"prescriber_model": [], "care": []}))


def test_bundled_payment_panel_rises_above_baseline(bundled_model):
    """Direction: the delivery panel shows more integrated care under bundles (same seed)."""
    base = build(load_scenario("baseline"), n_patients=1000, days=200, seed=3)
    base.run()
    b = _y(charts.delivery_rate_figure(base.daily_frame()), "since day 0")[-1]
    p = _y(charts.delivery_rate_figure(bundled_model.daily_frame()), "since day 0")[-1]
    assert p > b + 0.1, f"bundled {p:.2f} should exceed baseline {b:.2f} by 10 points"


# --------------------------------------------------------------------------- Compare charts
def _metrics_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": ["integrated_delivery_rate", "response_rate", "spend_medical"],
            "base_mean": [0.15, 0.40, 1e6],
            "policy_mean": [0.45, 0.42, 9e5],
            "diff_mean": [0.30, 0.02, -1e5],
            "diff_ci_low": [0.25, -0.01, -2e5],
            "diff_ci_high": [0.35, 0.05, 0.0],
        }
    )


def test_forest_plot_draws_unit_free_metrics_with_intervals():
    fig = charts.diff_forest_figure(_metrics_frame(), "baseline", "bundled_payment")
    (trace,) = fig.data
    assert list(trace.y) == ["Response rate", "Integrated delivery rate"]  # money left out
    assert list(trace.x) == [0.02, 0.30]
    np.testing.assert_allclose(trace.error_x.array, [0.03, 0.05])
    np.testing.assert_allclose(trace.error_x.arrayminus, [0.03, 0.05])
    assert trace.marker.color[1] == "#2ca02c", "an interval above zero is green"
    assert "bundled_payment minus baseline" in fig.layout.title.text


def test_arms_figure_averages_replications():
    daily = pd.DataFrame(
        {
            "arm": ["base", "base", "policy", "policy"],
            "replication": [0, 1, 0, 1],
            "day": [1, 1, 1, 1],
            "integrated_delivery_rate": [0.1, 0.3, 0.5, 0.7],
        }
    )
    fig = charts.arms_delivery_figure(daily)
    assert [t.name for t in fig.data] == ["base", "policy"]
    assert fig.data[0].y[0] == pytest.approx(0.2)
    assert fig.data[1].y[0] == pytest.approx(0.6)


def test_compare_results_table_and_words():
    from dashboards.compare_page import format_metric, icer_sentence, results_frame
    from dashboards.levers import CompareSettings
    from scenarios.compare import CompareResult

    result = CompareResult(
        base="baseline",
        policy="baseline+custom",
        replications=2,
        runs=pd.DataFrame(),
        metrics=_metrics_frame(),
        daily=pd.DataFrame(),
        incremental_cost=-120.0,
        incremental_qalys=0.01,
        icer=-12_000.0,
        nmb={"50000": 620.0, "100000": 1120.0, "150000": 1620.0},
    )
    table = results_frame(result, CompareSettings(replications=2, n_patients=300, days=60))
    assert list(table["metric"][:3]) == list(_metrics_frame()["metric"])
    econ = table.set_index("metric")["diff_mean"]
    assert econ["incremental_cost_per_patient_discounted"] == -120.0
    assert econ["nmb_at_100000_per_qaly"] == 1120.0
    assert (table["n_patients"] == 300).all() and (table["base"] == "baseline").all()
    assert "dominates" in icer_sentence(result)
    assert format_metric("integrated_delivery_rate", 0.3, diff=True) == "+30.0 pts"
    assert format_metric("spend_medical", -1e5, diff=True) == "-$100,000"
    assert format_metric("response_rate", math.nan) == "-"
