"""The bookkeeping of ``benchmarks/bench_run.py`` (the benchmark itself is never run here).

Repeated runs of a case, the Covasim ratio paired per run, the verdict on it, the record of how
the interpreter was built and the argument checks are pure and tested here.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_run.py"
_SPEC = importlib.util.spec_from_file_location("bench_run", _PATH)
bench_run = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_run)


def _run(ketasim_s: float, covasim_s: float | None, n: int = 100_000, days: int = 365) -> dict:
    return {
        "patients": n,
        "days": days,
        "ketasim": {
            "cpu_s": ketasim_s,
            "patient_days_per_s": n * days / ketasim_s,
            "peak_mib": 300.0 + ketasim_s,
        },
        "boltzmann": {"agents": n, "steps": 3, "agent_steps_per_s": 90_000.0 + ketasim_s},
        "covasim": None
        if covasim_s is None
        else {"version": "4.0.1", "cpu_s": covasim_s, "person_days_per_s": n * days / covasim_s},
    }


def _covasim_target(cases: list[dict]) -> dict:
    (target,) = [t for t in bench_run.assess(cases) if "Covasim" in t["target"]]
    return target


def test_one_run_is_its_own_case():
    run = _run(9.0, 10.0)
    assert bench_run.combine_runs([run]) is run
    assert _covasim_target([run])["value"] == pytest.approx(10.0 / 9.0)


def test_repeated_runs_take_medians_and_pair_the_ratio():
    runs = [_run(9.0, 10.0), _run(12.0, 11.0), _run(10.0, 9.0)]
    case = bench_run.combine_runs(runs)
    assert case["ketasim"]["cpu_s"] == 10.0
    assert case["ketasim"]["cpu_s_runs"] == [9.0, 12.0, 10.0]
    assert case["ketasim"]["patient_days_per_s"] == pytest.approx(100_000 * 365 / 10.0)
    assert case["ketasim"]["peak_mib"] == 312.0  # the largest peak, not a median
    assert case["covasim"]["cpu_s"] == 10.0
    assert case["covasim_ratios"] == pytest.approx([10 / 9, 11 / 12, 9 / 10])
    target = _covasim_target([case])
    # The median of the paired ratios (10/9, 0.917, 0.9) is 0.917, not 10 s / 10 s = 1.
    assert target["value"] == pytest.approx(11 / 12)
    assert not target["met"]
    assert "median of 3 runs, 0.90-1.11" in target["target"]


def test_an_even_number_of_runs_takes_the_middle_pair():
    runs = [_run(9.0, 10.0), _run(10.0, 10.5), _run(11.0, 12.0), _run(12.0, 12.0)]
    case = bench_run.combine_runs(runs)
    assert case["ketasim"]["cpu_s"] == 10.5
    assert _covasim_target([case])["value"] == pytest.approx((10.5 / 10.0 + 12.0 / 11.0) / 2)
    assert _covasim_target([case])["met"]


def test_runs_without_covasim_have_no_covasim_target():
    case = bench_run.combine_runs([_run(9.0, None), _run(10.0, None)])
    assert case["covasim"] is None
    assert not [t for t in bench_run.assess([case]) if "Covasim" in t["target"]]
    assert "-" in bench_run.table([case], [])


def test_runs_of_different_cases_are_refused():
    with pytest.raises(ValueError, match="different cases"):
        bench_run.combine_runs([_run(9.0, 10.0), _run(9.0, 10.0, n=10_000)])
    with pytest.raises(ValueError, match="no runs"):
        bench_run.combine_runs([])


def test_the_table_shows_the_paired_ratio():
    case = bench_run.combine_runs([_run(9.0, 10.0), _run(12.0, 11.0), _run(10.0, 9.0)])
    row = bench_run.table([case], []).splitlines()[2]
    assert row.split()[-1] == f"{11 / 12:.2f}"


def test_the_interpreter_record_reads_the_build():
    info = bench_run.interpreter()
    assert set(info) >= {"implementation", "version", "pgo", "lto", "shared"}
    assert isinstance(info["pgo"], bool) and isinstance(info["lto"], bool)
    assert bench_run.describe_interpreter(
        {
            "implementation": "CPython",
            "version": "3.13.0",
            "pgo": False,
            "lto": False,
            "shared": True,
        }
    ) == ("CPython 3.13.0, built without PGO or LTO, shared libpython")
    assert bench_run.describe_interpreter(
        {
            "implementation": "CPython",
            "version": "3.13.5",
            "pgo": True,
            "lto": True,
            "shared": False,
        }
    ) == ("CPython 3.13.5, built with PGO and LTO")


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5", ""])
def test_bad_repeat_counts_are_refused(text, capsys):
    # Through main, so that the bound --repeat is given is the one tested.
    with pytest.raises(SystemExit) as exc:
        bench_run.main(["--cases", "1000x10", "--no-covasim", "--repeat", text])
    assert exc.value.code == 2
    assert "argument --repeat" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["100000", "0x365", "ax365", "10x-1"])
def test_bad_cases_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        bench_run._parse_case(text)


def test_a_bad_repeat_stops_before_any_run(capsys):
    with pytest.raises(SystemExit):
        bench_run.main(["--cases", "1000x10", "--repeat", "0"])
    assert "must be >= 1" in capsys.readouterr().err


def test_an_out_path_is_checked_before_any_run(tmp_path, capsys):
    for bad in (str(tmp_path), str(tmp_path / "record.txt")):
        with pytest.raises(SystemExit):
            bench_run.main(["--cases", "1000x10", "--no-covasim", "--out", bad])
        assert "--out" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_out_path_under_new_folders_is_accepted(tmp_path):
    path = tmp_path / "new" / "deeper" / "record.json"
    assert bench_run._json_out(str(path)) == path
