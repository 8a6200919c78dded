"""Paired comparisons: common random numbers, intervals, economics, JSON, report, charts."""

from __future__ import annotations

import inspect
import json
import math
import threading

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from scipy import stats

from dashboards import charts
from dashboards import compare_charts as cc
from model import metric_info
from model.metric_info import Unit, format_difference
from scenarios import cli, decision
from scenarios.compare import (
    COST_KEY,
    METRIC_KEYS,
    QALY_KEY,
    CompareResult,
    compare,
    compare_strategies,
    paired_interval,
)

SMALL = {"n_patients": 400, "days": 240}


@pytest.fixture(scope="module")
def self_comparison() -> CompareResult:
    return compare("baseline", "baseline", 3, **SMALL)


@pytest.fixture(scope="module")
def bundle() -> CompareResult:
    return compare("baseline", "bundled_payment", 3, n_patients=800, days=300)


def test_contract_signature():
    params = list(inspect.signature(compare).parameters)
    assert params == [
        "base",
        "policy",
        "replications",
        "n_patients",
        "days",
        "seed",
        "workers",
        "progress",
    ]
    fields = [f for f in CompareResult.__dataclass_fields__]
    assert fields == [
        "base",
        "policy",
        "replications",
        "runs",
        "metrics",
        "daily",
        "incremental_cost",
        "incremental_qalys",
        "icer",
        "nmb",
    ]


def test_scenario_against_itself_differs_by_exactly_zero(self_comparison):
    m = self_comparison.metrics.set_index("metric")
    assert list(m.index) == list(METRIC_KEYS)
    defined = m.dropna(subset=["diff_mean"])
    assert len(defined) >= len(METRIC_KEYS) - 2, "most metrics are defined in this run length"
    for metric, row in defined.iterrows():
        assert row["diff_mean"] == 0.0, metric
        assert row["diff_ci_low"] == 0.0 and row["diff_ci_high"] == 0.0, metric
    assert self_comparison.incremental_cost == 0.0
    assert self_comparison.icer is None, "ICER is null when the QALY difference is zero"
    assert all(v == 0.0 for v in self_comparison.nmb.values())


def test_runs_and_daily_frames(self_comparison):
    runs, daily = self_comparison.runs, self_comparison.daily
    assert sorted(zip(runs["arm"], runs["replication"], strict=True)) == [
        (a, r) for a in ("base", "policy") for r in range(3)
    ]
    assert "cost_per_patient_discounted" in runs.columns
    assert set(daily["arm"]) == {"base", "policy"}
    assert len(daily) == 2 * 3 * SMALL["days"]


def test_paired_interval_is_the_paired_t_interval():
    rng = np.random.default_rng(1)
    base = rng.normal(10, 2, 12)
    policy = base + rng.normal(0.5, 0.3, 12)
    mean, low, high = paired_interval(policy - base)
    ci = stats.ttest_rel(policy, base).confidence_interval(0.95)
    assert mean == pytest.approx(np.mean(policy - base))
    assert (low, high) == pytest.approx((ci.low, ci.high))
    assert math.isnan(paired_interval(np.array([1.0]))[1])
    assert paired_interval(np.array([np.nan, 2.0, 4.0]))[0] == 3.0


def test_bundled_payment_raises_integrated_delivery(bundle):
    row = bundle.metrics.set_index("metric").loc["integrated_delivery_rate"]
    assert row["diff_mean"] > 0 and row["diff_ci_low"] > 0, (
        "bundled payment should raise integrated delivery with a 95 % interval above zero"
    )
    assert bundle.icer == pytest.approx(bundle.incremental_cost / bundle.incremental_qalys)
    for lam in (50_000, 100_000, 150_000):
        expected = lam * bundle.incremental_qalys - bundle.incremental_cost
        assert bundle.nmb[str(lam)] == pytest.approx(expected)
    runs = bundle.runs.pivot_table(index="replication", columns="arm", values="qalys_per_patient")
    assert bundle.incremental_qalys == pytest.approx((runs["policy"] - runs["base"]).mean())


def test_progress_is_called_after_each_run_in_the_calling_thread():
    calls = []
    here = threading.get_ident()
    compare(
        "baseline",
        "carve_in",
        2,
        n_patients=200,
        days=30,
        progress=lambda d, t: calls.append((d, t, threading.get_ident() == here)),
    )
    assert calls == [(1, 4, True), (2, 4, True), (3, 4, True), (4, 4, True)]


def test_cli_json_and_report(tmp_path, capsys):
    report = tmp_path / "r.html"
    args = ["compare", "baseline", "carve_in", "-r", "2", "--patients", "300", "--days", "90"]
    assert cli.main([*args, "--workers", "1", "--json", "--report", str(report)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == [
        "base",
        "policy",
        "replications",
        "metrics",
        "incremental_cost",
        "incremental_qalys",
        "icer",
        "nmb",
        "icer_label",
        "icer_quadrant",
        "icer_ci",
        "icer_ci_note",
        "quadrant_shares",
        "frontier",
    ]
    assert data["icer_label"] == decision.icer_label(
        data["incremental_cost"], data["incremental_qalys"]
    )
    assert data["icer_ci"] is None or (
        len(data["icer_ci"]) == 2 and data["icer_ci"][0] <= data["icer_ci"][1]
    )
    assert data["icer_ci_note"], "the interval says how it was made, or why there is none"
    assert list(data["quadrant_shares"]) == list(decision.QUADRANTS)
    assert sum(data["quadrant_shares"].values()) == pytest.approx(1.0)
    assert [f["strategy"] for f in data["frontier"]] != []
    assert {f["strategy"] for f in data["frontier"]} == {"baseline", "carve_in"}
    assert list(data["metrics"]) == list(METRIC_KEYS)
    assert set(data["metrics"]["response_rate"]) == {
        "base_mean",
        "policy_mean",
        "diff_mean",
        "diff_ci_low",
        "diff_ci_high",
    }
    assert list(data["nmb"]) == ["50000", "100000", "150000"]
    html = report.read_text()
    assert "<script src=" not in html, "plotly.js must be inlined, not loaded from a CDN"
    assert "plotly.js v" in html or "Plotly" in html
    assert html.count("Plotly.newPlot") >= 4
    assert "health-sector perspective" in html


def test_charts_are_pure_figures(bundle):
    names = {"base": "baseline", "policy": "bundled_payment"}
    fig = cc.arms_time_series(bundle.daily, "integrated_delivery_rate", names)
    assert isinstance(fig, go.Figure)
    assert {t.name for t in fig.data if t.showlegend is not False} == set(names.values())
    diff = cc.paired_difference(bundle.daily, "integrated_delivery_rate")
    line = next(t for t in diff.data if t.mode == "lines")
    wide = bundle.daily.pivot_table(
        index=["replication", "day"], columns="arm", values="integrated_delivery_rate"
    )
    expected = (wide["policy"] - wide["base"]).groupby("day").mean()
    assert np.allclose(np.asarray(line.y, dtype=float), expected.to_numpy(), equal_nan=True)
    plane = cc.ce_plane(bundle.runs)
    mean = next(t for t in plane.data if t.name == "mean")
    assert mean.x[0] == pytest.approx(bundle.incremental_qalys)
    assert mean.y[0] == pytest.approx(bundle.incremental_cost)
    forest = charts.diff_forest_figure(bundle.metrics, "baseline", "bundled_payment")
    assert len(forest.data) == bundle.metrics["diff_mean"].notna().sum()
    with pytest.raises(ValueError, match="both arms"):
        cc.paired_difference(bundle.daily[bundle.daily["arm"] == "base"])


def test_tornado_ranks_by_importance():
    indices = pd.DataFrame(
        {"param": ["a", "b"], "ST": [0.2, 0.7], "ST_conf": [0.1, 0.1], "S1": [0.1, 0.6]}
        | {"S1_conf": [0.05, 0.05]}
    )
    fig = cc.tornado(indices)
    assert list(fig.data[0].y) == ["a", "b"], "most influential drawn on top (last)"


def test_cli_text_names_metrics_with_units_and_judges_each_change(capsys):
    # A scenario against itself: every difference is exactly zero, so each metric with a good
    # direction reads "no clear change" and the ICER is undefined.
    args = ["compare", "baseline", "baseline", "-r", "2", "--patients", "200", "--days", "60"]
    assert cli.main([*args, "--workers", "1"]) == 0
    out = capsys.readouterr().out
    for key in METRIC_KEYS:
        m = metric_info.metric(key)
        assert key not in out, f"{key}: a label, not the snake_case key"
        (row,) = [line for line in out.splitlines() if f"│ {m.label} " in line]
        cells = [c.strip() for c in row.split("│")[1:-1]]
        assert cells[0] == m.label and cells[1] == m.unit.value, cells
        if cells[4] != "-":  # undefined in both arms (e.g. no durable remission yet)
            assert cells[4] == (
                "+0.0 pp" if m.unit is Unit.SHARE else format_difference(m.unit, 0.0)
            )
            assert cells[6] == ("" if m.higher_is_better is None else "no clear change"), cells
    assert "ICER undefined: no difference in cost or QALYs." in out
    assert "No 95 % interval: no QALY difference in any resample" in out
    assert "Efficiency frontier" in out
    assert "Net monetary benefit per patient" in out and "$100,000: +$0" in out


def _with_pairs(d_costs: list[float], d_qalys: list[float]) -> CompareResult:
    """A comparison whose replication pairs differ by exactly these amounts."""
    rows = []
    for r, (c, q) in enumerate(zip(d_costs, d_qalys, strict=True)):
        rows.append({"arm": "base", "replication": r, COST_KEY: 1000.0, QALY_KEY: 0.5})
        rows.append({"arm": "policy", "replication": r, COST_KEY: 1000.0 + c, QALY_KEY: 0.5 + q})
    d_cost, d_qaly = float(np.mean(d_costs)), float(np.mean(d_qalys))
    return CompareResult(
        base="b",
        policy="p",
        replications=len(d_costs),
        runs=pd.DataFrame(rows),
        metrics=pd.DataFrame(),
        daily=pd.DataFrame(),
        incremental_cost=d_cost,
        incremental_qalys=d_qaly,
        icer=None if d_qaly == 0.0 else d_cost / d_qaly,
        nmb={},
    )


SPREAD = [0.8, 1.0, 1.2, 0.9, 1.1, 1.0, 0.95, 1.05, 1.0, 1.0]
"""Ten pair multipliers with mean 1: the mean difference is the stated one."""


@pytest.mark.parametrize(
    ("d_cost", "d_qaly", "label", "head", "interval"),
    [
        (
            -50.0,
            0.01,
            "dominant",
            "The policy dominates (south-east: no more costly, no less effective); no ICER",
            "95 % interval: dominant throughout",
        ),
        (
            0.0,
            0.01,
            "dominant",
            "The policy dominates (south-east",
            "95 % interval: dominant throughout",
        ),
        (
            50.0,
            -0.01,
            "dominated",
            "The policy is dominated (north-west: no less costly, no more effective); no ICER",
            "95 % interval: dominated throughout",
        ),
        (
            500.0,
            0.01,
            "icer",
            "ICER $50,000 per QALY gained (north-east: more costly, more effective).",
            "95 % interval: $",
        ),
        (
            -500.0,
            -0.01,
            "icer",
            "ICER $50,000 saved per QALY lost (south-west: less costly, less effective).",
            "95 % interval: $",
        ),
        (
            100.0,
            0.0,
            "dominated",
            "The policy is dominated (north-west",
            "No 95 % interval: no QALY difference in any resample",
        ),
        (
            0.0,
            0.0,
            "undefined",
            "ICER undefined: no difference in cost or QALYs.",
            "No 95 % interval: no QALY difference",
        ),
    ],
)
def test_the_icer_is_read_with_its_label_quadrant_and_interval(
    d_cost, d_qaly, label, head, interval
):
    result = _with_pairs([d_cost * m for m in SPREAD], [d_qaly * m for m in SPREAD[::-1]])
    assert result.icer_label == label
    text = result.icer_text()
    assert text.startswith(head), text
    assert interval in text, text
    if label == "icer":
        unit = "per QALY gained" if d_qaly > 0 else "saved per QALY lost"
        low, high = result.icer_interval.bounds
        assert low <= 50_000.0 <= high, "the interval holds the point estimate"
        assert f"to ${high:,.0f} {unit} (percentile bootstrap: 2000 resamples of 10" in text
    assert "-$" not in text, "no negative ratio is printed"
    assert result.to_json_dict()["icer_label"] == label


def test_a_qaly_difference_of_uncertain_sign_has_no_interval_and_says_why():
    result = _with_pairs([100.0, 120.0, 90.0, 110.0], [0.01, -0.012, 0.004, 0.002])
    text = result.icer_text()
    assert text.startswith("ICER $") and "(north-east" in text
    assert "No 95 % interval: the mean QALY difference is positive in" in text
    data = result.to_json_dict()
    assert data["icer_ci"] is None and "positive in" in data["icer_ci_note"]
    shares = data["quadrant_shares"]
    assert shares["NE"] > 0.5 and shares["NW"] > 0.0, shares


def test_several_policies_share_one_base_run_and_give_a_frontier():
    calls = []
    policies = ["carve_in", "bundled_payment", "therapy_parity"]
    result = compare_strategies(
        "baseline",
        policies,
        2,
        n_patients=300,
        days=90,
        workers=1,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (8, 8), "the base runs once: (1 + 3 policies) x 2 replications"
    assert result.strategies == ("baseline", *policies)
    alone = compare("baseline", "bundled_payment", 2, n_patients=300, days=90)
    assert result.comparisons[1].to_json_dict() == alone.to_json_dict(), (
        "a policy's comparison does not depend on which other policies run beside it"
    )
    frontier = result.frontier.set_index("strategy")
    assert set(frontier.index) == set(result.strategies)
    assert set(frontier["status"]) <= {"frontier", "dominated", "extendedly dominated"}
    checked = 0
    for comparison, name in zip(result.comparisons, policies, strict=True):
        row = frontier.loc[name]
        if row["compared_with"] == "baseline" and row["status"] != "dominated":
            assert row["icer"] == pytest.approx(comparison.icer), name
            checked += 1
    assert checked >= 1, "a frontier step from the base is the paired comparison's ICER"
    data = result.to_json_dict()
    assert list(data) == ["base", "policies", "replications", "comparisons", "frontier"]
    assert [c["policy"] for c in data["comparisons"]] == policies
    assert "frontier" not in data["comparisons"][0]
    assert set(data["frontier"][0]) == {
        "strategy",
        "cost",
        "qalys",
        "status",
        "compared_with",
        "icer",
    }
    pairs = result.pairs
    assert list(pairs["strategy"].unique()) == policies and len(pairs) == 6


def test_cli_several_policies(capsys):
    args = ["compare", "baseline", "baseline", "carve_in", "-r", "2", "--patients", "200"]
    assert cli.main([*args, "--days", "40", "--workers", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["strategy"] for f in data["frontier"]] != []
    assert {f["strategy"] for f in data["frontier"]} == {"baseline", "baseline (2)", "carve_in"}
    statuses = {f["strategy"]: f["status"] for f in data["frontier"]}
    assert statuses["baseline (2)"] == "dominated", "identical to the base, listed later"
    assert cli.main([*args, "--days", "40", "--report", "x.html"]) == 2
    assert "the HTML report covers one policy" in capsys.readouterr().err
    assert cli.main(["compare", "baseline", "-r", "2"]) == 2
