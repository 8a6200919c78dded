"""Sensitivity analysis: parameter parsing, one-line errors before running, SALib results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from SALib.sample import morris as morris_sample

from scenarios import api, cli
from scenarios.experiments import load_scenario, run_model
from scenarios.loader import ScenarioError
from scenarios.sensitivity import parse_param, sensitivity

TINY = {"n_patients": 200, "days": 30}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("policy.nope=0:1", "unknown parameter 'nope' in policy"),
        ("nope.rel_therapy_rate=0:1", "unknown parameter 'nope' in the scenario"),
        ("rel_therapy_rate=0.5:1", "dotted parameter path"),
        ("policy.rel_therapy_rate=1:1", "empty or inverted range"),
        ("policy.rel_therapy_rate=2:1", "empty or inverted range"),
        ("policy.rel_therapy_rate=a:b", "must be numbers"),
        ("policy.rel_therapy_rate=1:inf", "finite"),
        ("policy.rel_therapy_rate", "NAME=LOW:HIGH"),
        ("policy.rel_therapy_rate=1", "LOW:HIGH"),
        ("policy.carve_out=0:1", "not a numeric parameter"),
        ("policy.integration_timing=0:1", "not a numeric parameter"),
        ("run.n_patients=10:20", "--patients/--days"),
        ("policy.n_session_cap=1.5:4", "whole number"),
        ("policy.rel_therapy_rate.x=0:1", "is a value, not a parameter table"),
    ],
)
def test_bad_params_are_one_line_errors(text, fragment):
    with pytest.raises(ScenarioError, match=fragment) as exc:
        parse_param(text)
    assert "\n" not in str(exc.value)


def test_param_parsing():
    p = parse_param("clinical.p_session_synergy_gain=0.1:0.4")
    assert (p.name, p.low, p.high, p.integer) == (
        "clinical.p_session_synergy_gain",
        0.1,
        0.4,
        False,
    )
    assert parse_param("policy.n_session_cap=5:40").integer


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--param", "policy.nope=0:1"], "unknown parameter 'nope'"),
        (["--param", "policy.rel_therapy_rate=1:1"], "empty or inverted"),
        (["--param", "policy.rel_therapy_rate=0:2"], "out of range"),  # schema: >= 0.1
        (["--param", "policy.rel_therapy_rate=1:2", "--metric", "nope"], "--metric nope"),
        (["--param", "policy.rel_therapy_rate=1:2", "--samples", "6"], "power of two"),
        (["--param", "policy.rel_therapy_rate=1:2", "--method", "fast"], "--method fast"),
    ],
)
def test_cli_bad_input_runs_nothing(extra, fragment, capsys, monkeypatch):
    def no_runs(*args, **kwargs):
        raise AssertionError("nothing may run on bad input")

    monkeypatch.setattr("scenarios.sensitivity.execute", no_runs)
    args = ["sensitivity", "baseline", "--method", "sobol", "--workers", "1", *extra]
    # A later --method wins in click, so the last case tests an unknown method.
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ketasim: error: "), err
    assert fragment in err


def test_morris_ranks_an_inert_parameter_last(tmp_path, capsys):
    """metrics.dur_rolling_days only shapes a daily rolling series, never the summary metric."""
    chart = tmp_path / "t.html"
    args = [
        "sensitivity",
        "baseline",
        "--method",
        "morris",
        "--param",
        "policy.rel_therapy_rate=0.5:3",
        "--param",
        "metrics.dur_rolling_days=7:60",
        "--samples",
        "3",
        "--metric",
        "share_integrated",
        "--patients",
        "300",
        "--days",
        "120",
        "--workers",
        "1",
        "--json",
        "--chart",
        str(chart),
    ]
    assert cli.main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_points"] == 3 * (2 + 1) and data["ranked_by"] == "mu_star"
    ranked = {p["param"]: p for p in data["params"]}
    inert = ranked["metrics.dur_rolling_days"]
    assert inert["mu_star"] == 0.0 and inert["rank"] == 2, "an inert parameter has no effect"
    assert ranked["policy.rel_therapy_rate"]["rank"] == 1
    assert "<script src=" not in chart.read_text() and "Plotly.newPlot" in chart.read_text()


def test_sobol_points_share_random_numbers():
    res = sensitivity(
        "baseline",
        ["metrics.dur_rolling_days=7:60"],
        method="sobol",
        samples=2,
        metric="qalys_per_patient",
        **TINY,
    )
    assert len(res.points) == 2 * (1 + 2)
    # Common random numbers: a parameter that does not touch the metric leaves it identical.
    assert res.points["qalys_per_patient"].nunique() == 1
    assert res.indices["rank"].tolist() == [1]
    assert res.indices["ST"].tolist() == [0.0], "no output variance: nothing to apportion"


def test_run_model_is_callable_by_salib():
    problem = {"num_vars": 1, "names": ["policy__rel_therapy_rate"], "bounds": [[0.8, 2.0]]}
    x = morris_sample.sample(problem, 1, num_levels=4, seed=0)
    y = [
        run_model(rng=3, **TINY, **dict(zip(problem["names"], row, strict=True)))[
            "integrated_delivery_rate"
        ]
        for row in x
    ]
    assert len(y) == 2 and all(v is None or np.isfinite(v) for v in y)
    direct = api.run(load_scenario(policy__rel_therapy_rate=float(x[0][0])), seed=3, **TINY)
    assert run_model(rng=3, policy__rel_therapy_rate=float(x[0][0]), **TINY) == direct.extended
    gen = run_model(rng=np.random.default_rng(5), **TINY)
    assert gen["seed"] == int(np.random.default_rng(5).integers(0, 2**63 - 1))
    with pytest.raises(ScenarioError, match="out of range"):
        run_model(policy__rel_therapy_rate=99.0, **TINY)
