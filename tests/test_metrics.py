"""The running tallies' daily means (model/metrics.py)."""

import math
import sys
from array import array

import numpy as np
import pytest

from model.metrics import mean_or_nan


def test_tally_means_equal_numpy_and_leave_no_view_that_stops_the_tally_growing():
    rng = np.random.default_rng(3)
    for size in (0, 1, 7, 129, 10_000):
        values = array("d", rng.exponential(5.0, size))
        expected = float(np.mean(np.frombuffer(values))) if size else math.nan
        got = mean_or_nan(values)
        assert got == expected or (math.isnan(got) and math.isnan(expected))
    # A sampling profiler (as in a Dask worker) may keep the frames it saw, and their locals,
    # alive after they return. Keep every frame entered during the call, then grow the tally:
    # no view of its buffer may survive in them.
    kept = []
    sys.setprofile(lambda frame, event, arg: kept.append(frame))
    try:
        mean_or_nan(values)
    finally:
        sys.setprofile(None)
    assert kept
    values.append(1.0)  # BufferError if any kept frame still held a view


def test_a_days_outcomes_first_response_relapse_durable_remission_and_qalys():
    """``outcomes.record_day`` on four treated patients whose day is stated."""
    from model import outcomes

    t, weight, u = 250.0, 0.9, {"remission": 0.85, "response": 0.72, "none": 0.58}
    nan = math.nan
    # 0: responds for the first time; 1: was responding, loses it (a first relapse);
    # 2: loses response again (relapsed first on day 100); 3: in remission 200 days after
    # starting treatment, not yet judged for durable remission (judged at 180 days).
    cols = {
        "start_day": np.array([100.0, 100.0, 100.0, 50.0]),
        "first_response_day": np.array([nan, 120.0, 90.0, 60.0]),
        "relapse_day": np.array([nan, nan, 100.0, nan]),
        "responding": np.array([False, True, True, True]),
        "remitting": np.array([False, False, False, True]),
        "durable_checked": np.array([True, True, True, False]),
        "durable_remission": np.zeros(4, dtype=bool),
        "qalys": np.zeros(4),
    }
    rows = np.arange(4)
    resp = np.array([True, False, False, True])
    remit = np.array([False, False, False, True])
    by_kind, lost = np.zeros(4, dtype=np.int64), np.empty(4, dtype=np.int64)
    n_lost = outcomes.record_day(
        t, rows, resp, remit, 180.0, u["remission"], u["response"], u["none"], weight,
        *cols.values(), np.array([0, 0, 1, 2], dtype=np.int8), by_kind, lost,
    )  # fmt: skip
    assert lost[:n_lost].tolist() == [1, 2]
    assert cols["first_response_day"].tolist()[0] == t
    assert cols["relapse_day"].tolist()[1:3] == [t, 100.0], "only a first loss is dated"
    assert cols["responding"].tolist() == resp.tolist()
    assert cols["durable_checked"][3] and cols["durable_remission"][3]
    assert by_kind.tolist() == [0, 0, 1, 0], "one remission-day, payer kind 2"
    day = weight / 365.0
    expected = [u["response"] * day, u["none"] * day, u["none"] * day, u["remission"] * day]
    assert cols["qalys"].tolist() == pytest.approx(expected)
