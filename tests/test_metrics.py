"""The running tallies' daily means (model/metrics.py)."""

import math
import sys
from array import array

import numpy as np

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


def _record_day_numpy(t, treated, resp, remit, mp, weight, cols, payer_kind, n_kinds):
    """The day's outcome bookkeeping as it was written in NumPy (the reference)."""
    first = cols["first_response_day"][treated]
    cols["first_response_day"][treated[resp & np.isnan(first)]] = t
    lost_rows = treated[cols["responding"][treated] & ~resp]
    first_relapse = lost_rows[np.isnan(cols["relapse_day"][lost_rows])]
    cols["relapse_day"][first_relapse] = t
    cols["responding"][treated] = resp
    cols["remitting"][treated] = remit
    due = ~cols["durable_checked"][treated] & (t - cols["start_day"][treated] >= mp["dur"])
    rows = treated[due]
    cols["durable_remission"][rows] = remit[due]
    cols["durable_checked"][rows] = True
    util = np.where(remit, mp["u_rem"], np.where(resp, mp["u_resp"], mp["u_non"]))
    cols["qalys"][treated] += util * weight / 365.0
    return lost_rows, np.bincount(payer_kind[treated[remit]], minlength=n_kinds)


def test_compiled_daily_outcomes_match_numpy():
    """``outcomes.record_day`` (compiled) does what the NumPy bookkeeping did, to the bit."""
    from model import outcomes

    rng = np.random.default_rng(4)
    n, n_kinds = 500, 4
    mp = {"dur": 90.0, "u_rem": 0.86, "u_resp": 0.72, "u_non": 0.55}
    payer_kind = rng.integers(0, n_kinds, n).astype(np.int8)
    ours = {
        "start_day": rng.uniform(0.0, 200.0, n),
        "first_response_day": np.where(rng.random(n) < 0.3, rng.uniform(0, 200, n), np.nan),
        "relapse_day": np.where(rng.random(n) < 0.2, rng.uniform(0, 200, n), np.nan),
        "responding": rng.random(n) < 0.4,
        "remitting": rng.random(n) < 0.2,
        "durable_checked": rng.random(n) < 0.3,
        "durable_remission": rng.random(n) < 0.1,
        "qalys": rng.uniform(0.0, 1.0, n),
    }
    theirs = {k: v.copy() for k, v in ours.items()}
    for day in range(150, 260):
        t = float(day)
        treated = np.flatnonzero(rng.random(n) < 0.8)
        resp = rng.random(treated.size) < 0.45
        remit = resp & (rng.random(treated.size) < 0.5)
        weight = float(1.03 ** (-t / 365.0))
        lost_ref, by_kind_ref = _record_day_numpy(
            t, treated, resp, remit, mp, weight, theirs, payer_kind, n_kinds
        )
        by_kind = np.zeros(n_kinds, dtype=np.int64)
        lost = np.empty(treated.size, dtype=np.int64)
        n_lost = outcomes.record_day(
            t, treated, resp, remit, mp["dur"], mp["u_rem"], mp["u_resp"], mp["u_non"], weight,
            *ours.values(), payer_kind, by_kind, lost,
        )  # fmt: skip
        np.testing.assert_array_equal(lost[:n_lost], lost_ref)
        np.testing.assert_array_equal(by_kind, by_kind_ref)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name, strict=True)
    assert 0 < np.count_nonzero(ours["durable_checked"]) < n
