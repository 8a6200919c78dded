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
    """Before the first step each panel says what a run will show, instead of empty axes."""
    for key, fig in build_figures(snapshot(fresh_model)).items():
        assert isinstance(fig, go.Figure), key
        if key == "delays":  # the plasticity curve and the window are drawn before any dose
            assert "no session after a dose yet" in fig.layout.title.text
            continue
        assert not fig.data, f"panel {key} drew data at day 0"
        (note,) = fig.layout.annotations
        assert note.text.startswith("Press Step or Play to see"), key
        assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False, key


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


def test_forest_plot_puts_each_metric_on_its_own_scale_and_colours_by_direction():
    metrics = pd.DataFrame(
        {
            "metric": [
                "integrated_delivery_rate",  # higher is better, whole interval above zero
                "spend_medical",  # neither good nor bad, dollars: 300,000 times the share
                "share_dropped_out",  # lower is better, whole interval below zero
                "mean_severity",  # lower is better, but the interval is above zero
                "response_rate",  # the interval includes zero
            ],
            "diff_mean": [0.30, -1e5, -0.04, 2.0, 0.02],
            "diff_ci_low": [0.25, -2e5, -0.06, 1.0, -0.01],
            "diff_ci_high": [0.35, 0.0, -0.02, 3.0, 0.05],
        }
    )
    fig = charts.diff_forest_figure(metrics, "baseline", "bundled_payment")
    assert "bundled_payment minus baseline" in fig.layout.title.text
    rows = {t.y[0].split("<br>")[0]: t for t in fig.data}
    assert list(rows) == [
        "<b>Integrated delivery</b>",
        "<b>Medical budget spend</b>",
        "<b>Share dropped out</b>",
        "<b>Mean severity</b>",
        "<b>In response at the end</b>",
    ]
    colour = {name: t.marker.color for name, t in rows.items()}
    assert colour["<b>Integrated delivery</b>"] == charts.DIRECTION_COLOURS["better"]
    assert colour["<b>Share dropped out</b>"] == charts.DIRECTION_COLOURS["better"]
    assert colour["<b>Mean severity</b>"] == charts.DIRECTION_COLOURS["worse"]
    assert colour["<b>In response at the end</b>"] == charts.DIRECTION_COLOURS["unclear"]
    assert colour["<b>Medical budget spend</b>"] == charts.DIRECTION_COLOURS["neutral"]
    for t in fig.data:  # error bars in the marker's colour, not plotly's default black
        assert t.error_x.color == t.marker.color
    # Each row is scaled by its own largest distance from zero: no metric squashes another.
    for t in fig.data:
        low, high = t.x[0] - t.error_x.arrayminus[0], t.x[0] + t.error_x.array[0]
        assert max(abs(low), abs(high)) == pytest.approx(1.0)
    spend = rows["<b>Medical budget spend</b>"]
    assert spend.x[0] == pytest.approx(-0.5)
    assert "-$100,000 (-$200,000 to $0)" in spend.y[0]
    assert "+30.0 pts (+25.0 pts to +35.0 pts)" in rows["<b>Integrated delivery</b>"].y[0]
    # The legend names each colour once.
    shown = [t.name for t in fig.data if t.showlegend]
    assert sorted(shown) == sorted(set(shown)) and len(shown) == 4


def test_forest_plot_draws_only_the_metrics_asked_for():
    fig = charts.diff_forest_figure(_metrics_frame(), "b", "p", ("response_rate", "no_such"))
    assert [t.y[0].split("<br>")[0] for t in fig.data] == ["<b>In response at the end</b>"]


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
    from dashboards.compare_page import format_metric, results_frame
    from dashboards.levers import CompareSettings
    from scenarios.compare import CompareResult

    result = CompareResult(
        base="baseline",
        policy="baseline+custom",
        replications=2,
        # Two pairs, each cheaper and better: the policy dominates in both.
        runs=pd.DataFrame(
            {
                "arm": ["base", "base", "policy", "policy"],
                "replication": [0, 1, 0, 1],
                "cost_per_patient_discounted": [1000.0, 1100.0, 880.0, 980.0],
                "qalys_per_patient": [0.50, 0.52, 0.51, 0.53],
            }
        ),
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
    assert "dominates" in result.icer_text()
    assert format_metric("integrated_delivery_rate", 0.3, diff=True) == "+30.0 pts"
    assert format_metric("spend_medical", -1e5, diff=True) == "-$100,000"
    assert format_metric("response_rate", math.nan) == "-"


# --------------------------------------------------------------------------- registry text
@pytest.mark.parametrize(
    ("metric", "diff", "low", "high", "expected"),
    [
        ("integrated_delivery_rate", 0.3, 0.25, 0.35, "better"),  # higher is better, above 0
        ("integrated_delivery_rate", -0.3, -0.35, -0.25, "worse"),
        ("share_dropped_out", -0.04, -0.06, -0.02, "better"),  # lower is better, below 0
        ("share_dropped_out", 0.04, 0.02, 0.06, "worse"),
        ("response_rate", 0.02, -0.01, 0.05, "unclear"),  # the interval includes zero
        ("response_rate", 0.02, 0.0, 0.05, "unclear"),  # ... or touches it
        ("response_rate", 0.02, math.nan, math.nan, "unclear"),  # one pair: no interval
        ("spend_medical", -1e5, -2e5, -1e4, "neutral"),  # a budget's spend is neither
        ("not_a_metric", 1.0, 0.5, 1.5, "neutral"),
    ],
)
def test_a_difference_is_good_or_bad_by_the_registry(metric, diff, low, high, expected):
    from dashboards.metric_format import direction

    assert direction(metric, diff, low, high) == expected


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("integrated_delivery_rate", 0.281, "+28.1 pts"),
        ("share_dropped_out", -0.047, "-4.7 pts"),
        ("spend_medical", -855_239.4, "-$855,239"),
        ("qalys_per_patient", 0.0034, "+0.0034 QALYs"),
        ("mean_therapy_wait_days", -3.2, "-3.2 days"),
        ("mean_severity", -1.04, "-1.0 points"),
        ("response_rate", 0.0, "0.0 pts"),
        ("response_rate", None, "-"),
    ],
)
def test_differences_print_with_sign_and_unit(metric, value, text):
    from dashboards.metric_format import diff_text

    assert diff_text(metric, value) == text


def test_headline_boxes_name_label_unit_and_definition(bundled_model):
    from dashboards.explore import HEADLINE, headline_html, headline_values
    from model.metric_info import METRICS

    daily = bundled_model.daily_frame()
    values = headline_values(daily)
    last = daily.iloc[-1]
    assert values["integrated_delivery_rate"] == pytest.approx(last["integrated_delivery_rate"])
    spent = sum(last[f"spend_{k}"] for k in charts.SILO_COLOURS)
    assert values["spend_total"] == pytest.approx(spent)
    text = headline_html(daily, 200.0)
    for name, cls in HEADLINE:
        m = METRICS[name]
        assert m.label in text and cls in text
        assert m.definition.replace("'", "&#x27;") in text, f"{name}'s definition on hover"
    assert "share, day 0 to 200" in text and "MADRS points (0-60), day 200" in text
    empty = headline_html(daily.iloc[:0], 0.0)
    assert empty.count(">-</div>") == len(HEADLINE)


def test_report_metric_table_uses_the_registry():
    from dashboards.report import metrics_table

    frame = _metrics_frame()
    table = metrics_table(frame).set_index("metric")
    row = table.loc["Integrated delivery"]
    assert row["unit, period"] == "share, over the run"
    assert (row["base"], row["policy"], row["difference"]) == ("15.0%", "45.0%", "+30.0 pts")
    assert row["95 % interval"] == "+25.0 pts to +35.0 pts"
    assert row["definition"].startswith("Doses followed by a therapy")
    assert table.loc["Medical budget spend", "difference"] == "-$100,000"
