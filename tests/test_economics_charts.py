"""Charts of the economic comparison (dashboards/economics_charts.py): what each trace shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards import economics_charts as ec
from scenarios import decision


def _trace(fig: go.Figure, name: str) -> go.Scatter:
    return next(t for t in fig.data if t.name == name)


@pytest.fixture
def pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "replication": [0, 1, 2, 3],
            "incremental_cost": [400.0, 600.0, -100.0, 300.0],
            "incremental_qalys": [0.010, 0.012, 0.004, -0.002],
        }
    )


def test_the_plane_draws_each_pair_and_their_mean(pairs):
    fig = ec.cost_effectiveness_plane(pairs)
    assert isinstance(fig, go.Figure)
    points = _trace(fig, "policy: replication pairs")
    np.testing.assert_allclose(np.asarray(points.x, float), pairs["incremental_qalys"])
    np.testing.assert_allclose(np.asarray(points.y, float), pairs["incremental_cost"])
    assert list(points.text) == [f"replication {r}" for r in range(4)]
    mean = _trace(fig, "policy: mean")
    assert mean.x[0] == pytest.approx(0.006) and mean.y[0] == pytest.approx(300.0)


def test_wtp_lines_pass_through_the_origin_with_slope_lambda(pairs):
    fig = ec.cost_effectiveness_plane(pairs)
    for lam in (50_000, 100_000, 150_000):
        line = _trace(fig, f"${lam:,.0f} per QALY")
        x, y = np.asarray(line.x, float), np.asarray(line.y, float)
        assert y[0] / x[0] == pytest.approx(lam) and y[1] / x[1] == pytest.approx(lam)
        assert x[0] == -x[1], "symmetric about the origin"
    x_range, y_range = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert x_range[1] >= 0.012 and y_range[1] >= 600.0, "every point is inside the axes"


def test_the_four_quadrants_are_labelled_where_they_are(pairs):
    fig = ec.cost_effectiveness_plane(pairs)
    labels = {a.text.split(":")[0]: (a.x, a.y) for a in fig.layout.annotations}
    assert labels["north-east"][0] > 0 and labels["north-east"][1] > 0
    assert labels["south-east"][0] > 0 and labels["south-east"][1] < 0
    assert labels["south-west"][0] < 0 and labels["south-west"][1] < 0
    assert labels["north-west"][0] < 0 and labels["north-west"][1] > 0


def test_the_caption_gives_the_bootstrap_quadrant_shares(pairs):
    ci = decision.icer_interval(pairs["incremental_cost"], pairs["incremental_qalys"])
    fig = ec.cost_effectiveness_plane(pairs, quadrant_shares=ci.quadrant_shares)
    assert "Bootstrap means by quadrant" in fig.layout.title.text
    assert f"NE {ci.quadrant_shares['NE']:.0%}" in fig.layout.title.text


def test_several_strategies_get_their_own_points_and_means(pairs):
    both = pd.concat(
        [pairs.assign(strategy="a"), pairs.assign(strategy="b", incremental_cost=-50.0)]
    )
    fig = ec.cost_effectiveness_plane(both)
    assert _trace(fig, "b: mean").y[0] == -50.0
    assert _trace(fig, "a: mean").y[0] == pytest.approx(300.0)
    assert (
        _trace(fig, "a: replication pairs").marker.color
        != _trace(fig, "b: replication pairs").marker.color
    )


def test_the_plane_with_no_pairs_says_so_and_bad_frames_are_refused(pairs):
    fig = ec.cost_effectiveness_plane(pairs.iloc[0:0])
    assert "(no replication pairs)" in fig.layout.title.text
    with pytest.raises(ValueError, match="incremental_cost"):
        ec.cost_effectiveness_plane(pairs.drop(columns="incremental_cost"))


def test_the_frontier_chart_joins_frontier_strategies_and_marks_the_rest():
    frontier = decision.efficiency_frontier(
        [0, 1000, 3000, 4000, 5000, 10000],
        [0.0, 0.5, 0.6, 1.0, 0.9, 1.2],
        ["A", "B", "C", "D", "E", "F"],
    )
    fig = ec.efficiency_frontier_chart(frontier)
    line = _trace(fig, "efficiency frontier")
    assert list(np.asarray(line.y, float)) == [0.0, 1000.0, 4000.0, 10000.0], "in cost order"
    assert list(np.asarray(line.x, float)) == [0.0, 0.5, 1.0, 1.2]
    assert list(_trace(fig, "frontier").text) == ["A", "B", "D", "F"]
    assert list(_trace(fig, "extendedly dominated").text) == ["C"]
    dominated = _trace(fig, "dominated")
    assert list(dominated.text) == ["E"] and dominated.marker.symbol == "x"
    assert list(_trace(fig, "frontier").customdata)[1] == "ICER $2,000 per QALY"
    with pytest.raises(ValueError, match="status"):
        ec.efficiency_frontier_chart(frontier.drop(columns="status"))
