"""Named streams and their block draws (model/streams.py)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from model.streams import DrawBlock, Streams


def test_a_stream_depends_on_seed_replication_and_name_only():
    a, b = Streams(5, 1), Streams(5, 1)
    b["other"].random(100)  # another stream's use changes nothing here
    assert a["adherence"].random() == b["adherence"].random()
    assert Streams(5, 2)["adherence"].random() != Streams(5, 1)["adherence"].random()


def test_a_block_gives_the_numbers_of_drawing_one_at_a_time():
    rng, ref = np.random.default_rng(8), np.random.default_rng(8)
    block = DrawBlock(rng, "random", size=7)  # several refills
    assert [block.next() for _ in range(30)] == [ref.random() for _ in range(30)]


def test_block_rows_are_the_draws_next_hands_out():
    """``next_row`` gives the very rows ``next`` does, in order, across refills and interleaved
    with another block on the same stream (the search's clinics and shocks)."""
    ours, theirs = np.random.default_rng(4), np.random.default_rng(4)
    picks = DrawBlock(ours, "integers", 0, 50, shape=(3,), size=7)
    shocks = DrawBlock(ours, "gumbel", shape=(4,), size=5)
    ref_picks = DrawBlock(theirs, "integers", 0, 50, shape=(3,), size=7)
    ref_shocks = DrawBlock(theirs, "gumbel", shape=(4,), size=5)
    for _ in range(30):
        for block, ref in ((picks, ref_picks), (shocks, ref_shocks)):
            rows, k = block.next_row()
            assert rows[k].tolist() == ref.next()


def test_rows_have_the_asked_shape_and_range():
    block = DrawBlock(np.random.default_rng(1), "integers", 0, 5, shape=(3,), size=10)
    rows = [block.next() for _ in range(25)]
    assert all(isinstance(r, list) and len(r) == 3 for r in rows)
    values = np.array(rows)
    assert values.min() >= 0 and values.max() <= 4
    assert len(np.unique(values)) == 5


def test_block_draws_keep_their_distribution():
    block = DrawBlock(np.random.default_rng(2), "gumbel", shape=(4,), size=256)
    x = np.array([block.next() for _ in range(5_000)]).ravel()
    # Standard Gumbel: mean = Euler's gamma, variance = pi^2 / 6 (20,000 draws: ~4 se bounds).
    assert abs(x.mean() - np.euler_gamma) < 4 * np.sqrt(np.pi**2 / 6 / x.size)
    assert x.var() == pytest.approx(np.pi**2 / 6, rel=0.05)


def test_a_copied_model_state_keeps_its_place_in_the_block():
    rng = np.random.default_rng(4)
    block = DrawBlock(rng, "random")
    block.next()
    twins = [copy.deepcopy(block), pickle.loads(pickle.dumps(block))]
    expected = [block.next() for _ in range(2_000)]  # past the end of the first block
    for twin in twins:
        assert [twin.next() for _ in range(2_000)] == expected


@pytest.mark.parametrize(("method", "size"), [("no_such_draw", 8), ("_private", 8), ("random", 0)])
def test_bad_blocks_are_refused(method, size):
    with pytest.raises(ValueError, match=r"draw|block"):
        DrawBlock(np.random.default_rng(0), method, size=size)
