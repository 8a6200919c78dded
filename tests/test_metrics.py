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
