"""Batch fault handling: failing and stuck runs, interruption, unusable stores (reliability.md).

Faults are injected through ``KETASIM_TEST_FAULTS`` (read only by ``scenarios.batch``) or by
real conditions: a batch process killed mid-way, a store locked by another process, a read-only
folder, a file-size limit standing in for a full disk.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from scenarios import cli
from scenarios.api import run
from scenarios.store import Store

SMALL = ["--patients", "300", "--days", "60"]
CLI = [sys.executable, "-c", "from scenarios.cli import console_main; console_main()"]


def _runs(store: Path):
    with Store(store, read_only=True) as db:
        return db.runs(), db.tables()


def test_failing_run_is_recorded_and_the_rest_complete(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.duckdb"
    monkeypatch.setenv("KETASIM_TEST_FAULTS", "raise:baseline:1")
    args = ["batch", "baseline", "-r", "3", *SMALL, "--workers", "1", "--store", str(store)]
    assert cli.main(args) == 1, "a batch with a failed run exits non-zero"
    out = capsys.readouterr().out
    assert "2 ok, 1 failed" in out
    assert "injected fault in baseline replication 1" in out
    runs, tables = _runs(store)
    assert runs.set_index("replication")["status"].to_dict() == {0: "ok", 1: "failed", 2: "ok"}
    assert "RuntimeError: injected fault" in runs.loc[runs["status"] == "failed", "error"].iloc[0]
    assert tables["daily"] == 2 * 60, "a failed run stores no frames"
    # Fixed: the re-run does only the failed run; one row per run, all ok.
    monkeypatch.delenv("KETASIM_TEST_FAULTS")
    assert cli.main(args) == 0
    assert "1 ok, 0 failed, 0 timed out, 2 skipped" in capsys.readouterr().out
    runs, tables = _runs(store)
    assert len(runs) == 3 and runs["run_id"].is_unique and (runs["status"] == "ok").all()
    assert tables["daily"] == 3 * 60 and tables["patients"] == 3 * 300


def test_run_timeout_stops_a_stuck_run_and_the_rest_complete(tmp_path, capsys, monkeypatch):
    """Replication 1 hangs (sleeps an hour inside the run); the limit kills it."""
    store = tmp_path / "s.duckdb"
    monkeypatch.setenv("KETASIM_TEST_FAULTS", "hang:baseline:1")
    started = time.monotonic()
    args = ["batch", "baseline", "-r", "2", *SMALL, "--workers", "1", "--run-timeout", "3"]
    code = cli.main([*args, "--store", str(store)])
    assert time.monotonic() - started < 120, "a stuck run must not hold the batch"
    assert code == 1
    assert "1 ok, 0 failed, 1 timed out" in capsys.readouterr().out
    runs, _ = _runs(store)
    status = runs.set_index("replication")["status"].to_dict()
    assert status == {0: "ok", 1: "timeout"}
    assert "time limit of 3 s" in runs.set_index("replication").loc[1, "error"]
    # The run done in a child process is the same run as in this process.
    direct = run("baseline", n_patients=300, days=60, seed=0, replication=0).summary
    ok = runs.set_index("replication").loc[0]
    assert ok["integrated_delivery_rate"] == pytest.approx(direct["integrated_delivery_rate"])
    assert ok["qalys_per_patient"] == direct["qalys_per_patient"]


def test_killed_batch_resumes_with_one_row_per_run(tmp_path, capsys):
    """Kill a batch process after some runs are stored; the re-run completes it exactly."""
    store = tmp_path / "s.duckdb"
    args = ["batch", "baseline", "carve_in", "-r", "4", *SMALL, "--workers", "1"]
    proc = subprocess.Popen(
        [*CLI, *args, "--store", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    stored = 0
    try:
        for line in proc.stdout:
            if line.startswith("stored "):
                stored += 1
                if stored == 3:
                    proc.send_signal(signal.SIGKILL)  # no clean-up of any kind
                    break
    finally:
        proc.kill()
        proc.wait()
    assert stored == 3, "the batch should have stored some runs before it was killed"
    runs, _ = _runs(store)
    assert 3 <= len(runs) < 8, "the kill happened mid-batch"
    assert cli.main([*args, "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert f"{8 - len(runs)} ok, 0 failed, 0 timed out, {len(runs)} skipped" in out
    runs, tables = _runs(store)
    assert len(runs) == 8 and runs["run_id"].is_unique, "exactly one runs row per run"
    assert tables["daily"] == 8 * 60 and tables["patients"] == 8 * 300, "no lost or doubled rows"
    # Identical numbers to an uninterrupted batch.
    fresh = tmp_path / "fresh.duckdb"
    assert cli.main([*args, "--store", str(fresh)]) == 0
    capsys.readouterr()
    a, _ = _runs(store)
    b, _ = _runs(fresh)
    cols = ["run_id", "integrated_delivery_rate", "qalys_per_patient", "spend_medical"]
    assert a[cols].sort_values("run_id").values.tolist() == (
        b[cols].sort_values("run_id").values.tolist()
    )


def test_store_locked_by_another_process(tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "c.execute('CREATE TABLE t (x INT)'); print('ready', flush=True); time.sleep(60)",
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        code = cli.main(["batch", "baseline", "-r", "2", *SMALL, "--store", str(store)])
        captured = capsys.readouterr()
        assert code == 1
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert "locked by another process" in lines[0]
        assert f"PID {holder.pid}" in lines[0]
        assert "stored" not in captured.out, "nothing ran"
        assert cli.main(["results", "--store", str(store)]) == 1
        assert "locked" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    con = duckdb.connect(str(store), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()
    assert tables == {"t"}, "the batch wrote nothing to the locked store"


@pytest.fixture
def readonly_dir(tmp_path):
    """A folder this process cannot write to (a read-only tmpfs when running as root)."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot make a read-only folder as root here (mount not permitted)")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def test_read_only_store_path(readonly_dir, capsys):
    store = readonly_dir / "s.duckdb"
    code = cli.main(["batch", "baseline", "-r", "2", *SMALL, "--store", str(store)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and "not writable" in captured.err, captured.err
    assert not store.exists()
    assert "stored" not in captured.out


def test_full_disk_fails_in_one_line_and_keeps_only_whole_runs(tmp_path):
    """A file-size limit makes DuckDB's writes fail as on a full disk, part-way through."""
    store = tmp_path / "s.duckdb"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write (EFBIG), don't kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, 600_000))

    proc = subprocess.run(
        [*CLI, "batch", "baseline", "-r", "8", *SMALL, "--workers", "1", "--store", str(store)],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ketasim: error")]
    assert len(errors) == 1 and "disk full" in errors[0], proc.stderr
    runs, tables = _runs(store)
    assert 0 < len(runs) < 8
    assert tables["daily"] == len(runs) * 60, "every stored run is whole"
    assert tables["patients"] == len(runs) * 300


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["batch", "no_such_scenario", "-r", "2"], "unknown scenario 'no_such_scenario'"),
        (["batch", "baseline", "-r", "0"], "--replications 0"),
        (["batch", "baseline", "-r", "2", "--patients", "0"], "--patients 0"),
        (["batch", "baseline", "-r", "2", "--workers", "1", "--scheduler", "x:1"], "not both"),
        (["batch", "baseline", "-r", "2", "--run-timeout", "0"], "--run-timeout"),
        (["compare", "baseline", "nope", "-r", "2"], "unknown scenario 'nope'"),
        (["compare", "baseline", "carve_in", "-r", "2", "--report", "x.txt"], "--report"),
        (["export", "--store", "missing.duckdb", "--cea", "out"], "no such store"),
        (["export"], "--parquet DIR and/or --cea DIR"),
        (["results", "--store", "missing.duckdb"], "no such store"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(args, fragment, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("ketasim: error: "), err
    assert fragment in err
    assert list(tmp_path.iterdir()) == [], "nothing written"
