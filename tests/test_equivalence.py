"""The statistics of ``benchmarks/equivalence.py`` (the check for model revisions).

The script itself runs two revisions' code in git worktrees and is not part of the suite; its
interval, its verdict and its argument checks are pure and tested here.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "equivalence.py"
_SPEC = importlib.util.spec_from_file_location("equivalence", _PATH)
equivalence = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(equivalence)


def _runs(values: dict[str, np.ndarray]) -> list[dict]:
    n = len(next(iter(values.values())))
    return [{k: float(v[i]) for k, v in values.items()} for i in range(n)]


def test_welch_interval_is_scipys():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.0, 1.0, 10), rng.normal(0.3, 2.0, 12)
    diff, (half,) = equivalence.welch(x, y, (0.05,))
    ci = stats.ttest_ind(y, x, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(y.mean() - x.mean())
    assert diff - half == pytest.approx(ci.low)
    assert diff + half == pytest.approx(ci.high)


def test_welch_of_constant_samples_has_no_width():
    diff, halves = equivalence.welch(np.full(5, 2.0), np.full(5, 2.5), (0.05, 0.001))
    assert diff == 0.5
    assert halves == [0.0, 0.0]


def test_same_model_passes_and_a_shifted_one_fails(capsys):
    rng = np.random.default_rng(11)
    presets = ["baseline", "carve_in"]
    keys = ("response_rate", "spend_medical")

    def draws(shift: float) -> dict:
        return {
            p: _runs(
                {
                    "response_rate": rng.normal(0.4 + shift, 0.02, 20),
                    "spend_medical": rng.normal(1e6, 5e4, 20),
                }
            )
            for p in presets
        }

    same = equivalence.compare(draws(0.0), draws(0.0), presets)
    out = capsys.readouterr().out
    assert same == 0
    assert f"of {len(presets) * len(keys)} differences" in out
    assert equivalence.compare(draws(0.0), draws(0.1), presets) == 1
    assert "outside the family-wise bound" in capsys.readouterr().out


def test_metrics_undefined_under_both_are_skipped(capsys):
    nan = float("nan")
    runs = [{"mean_therapy_wait_days": nan, "response_rate": 0.4 + 0.01 * i} for i in range(4)]
    assert equivalence.compare({"baseline": runs}, {"baseline": runs}, ["baseline"]) == 0
    out = capsys.readouterr().out
    assert "mean_therapy_wait_days" not in out
    assert "1 of 1 differences inside" in out


@pytest.mark.parametrize("text", ["no_such_preset", "baseline,nope", " , "])
def test_unknown_presets_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="preset"):
        equivalence.parse_presets(text)


@pytest.mark.parametrize("text", ["1", "0", "-3", "ten"])
def test_seeds_must_be_two_or_more(text, capsys):
    # Through main, so that the bound --seeds is given is the one tested.
    with pytest.raises(SystemExit) as exc:
        equivalence.main(["--seeds", text, "HEAD", "HEAD"])
    assert exc.value.code == 2
    assert "argument --seeds" in capsys.readouterr().err


def test_a_revision_that_is_not_a_commit_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        equivalence.main(["HEAD", "no-such-revision-xyz"])
    assert exc.value.code == 2
    assert "not a commit here: 'no-such-revision-xyz'" in capsys.readouterr().err


def test_constant_metrics_are_counted_apart(capsys):
    runs = [{"spend_bundle": 0.0, "response_rate": 0.4 + 0.01 * i} for i in range(5)]
    assert equivalence.compare({"baseline": runs}, {"baseline": runs}, ["baseline"]) == 0
    assert "2 of 2 differences inside" in capsys.readouterr().out
    assert equivalence.compare({"baseline": runs}, {"baseline": runs[:4]}, ["baseline"]) == 0
    assert "1 of them one constant value" in capsys.readouterr().out
