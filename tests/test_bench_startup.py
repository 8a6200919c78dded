"""The bookkeeping of ``benchmarks/bench_startup.py`` (the benchmark itself is never run here)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_startup.py"
_SPEC = importlib.util.spec_from_file_location("bench_startup", _PATH)
bench_startup = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_startup)


def _round(ketasim: float, mesa: float, compiled: bool = False) -> dict:
    def rec(wall: float, uv: bool) -> dict:
        return {"wall_s": wall, "cpu_s": wall * 0.9, "bytecode_compiled": compiled and uv}

    return {
        "uv_run_ketasim": rec(ketasim + 0.1, True),
        "uv_run_mesa": rec(mesa + 0.1, True),
        "venv_ketasim": rec(ketasim, False),
        "venv_mesa": rec(mesa, False),
    }


def test_medians_over_rounds_and_the_ratio_of_medians():
    # ketasim 1.5, 3.9 (a busy moment), 1.4 s; mesa 0.9, 1.0, 2.0 s: medians 1.5 and 1.0.
    rounds = [_round(1.4, 0.9), _round(3.8, 1.0), _round(1.3, 1.9)]
    s = bench_startup.summarise(rounds)
    assert s["commands"]["uv_run_ketasim"]["wall_s"] == pytest.approx(1.5)
    assert s["commands"]["uv_run_mesa"]["wall_s"] == pytest.approx(1.1)
    assert s["commands"]["venv_ketasim"]["wall_s_rounds"] == pytest.approx([1.4, 3.8, 1.3])
    assert s["ratios"]["uv_run"]["wall"] == pytest.approx(1.5 / 1.1)
    assert s["ratios"]["venv"]["wall"] == pytest.approx(1.4 / 1.0)
    assert s["ratios"]["uv_run_vs_venv_mesa"]["wall"] == pytest.approx(1.5 / 1.0)
    assert s["target"]["met"]


@pytest.mark.parametrize(("ketasim", "met"), [(1.9, True), (2.1, False)])
def test_the_target_is_twice_mesa_through_uv_run(ketasim, met):
    # uv adds 0.1 s to both: (1.9 + 0.1) / (0.9 + 0.1) = 2.0 is met; 2.2 / 1.0 is not.
    s = bench_startup.summarise([_round(ketasim, 0.9)])
    assert s["target"]["value"] == pytest.approx((ketasim + 0.1) / 1.0)
    assert s["target"]["met"] is met


def test_rounds_where_uv_compiled_bytecode_are_counted():
    s = bench_startup.summarise([_round(1.0, 0.5, compiled=True), _round(1.0, 0.5)])
    assert s["commands"]["uv_run_ketasim"]["rounds_with_bytecode_compiled"] == 1
    assert s["commands"]["venv_ketasim"]["rounds_with_bytecode_compiled"] == 0
    assert "1 of 2 rounds" in bench_startup.table(s)


def test_a_run_that_printed_no_summary_is_not_timed():
    with pytest.raises(SystemExit, match="no JSON"):
        bench_startup.check_run_output("ketasim: error: something")
    with pytest.raises(SystemExit, match="unexpected"):
        bench_startup.check_run_output('{"n_patients": 2000, "days": 365}')
    bench_startup.check_run_output('{"n_patients": 100, "days": 10}')


@pytest.mark.parametrize("bad", ["out.txt", "."])
def test_out_must_be_a_writable_json_path(bad):
    with pytest.raises(argparse.ArgumentTypeError):
        bench_startup._json_out(bad)
