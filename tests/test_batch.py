"""The batch engine: common random numbers, grouping, and a REAL Dask cluster on 127.0.0.1.

The cluster fixture starts ``dask scheduler`` and two ``dask worker`` processes (each with a nanny,
one thread) as subprocesses and stops them at the end. Results through it must equal the
in-process results exactly. A run that kills its worker process is recorded as lost, the others
complete, and a re-run completes it.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from pydantic import BaseModel

from scenarios import cli
from scenarios.api import load_scenario, run, scenario_from_dict
from scenarios.batch import (
    MAX_GROUP,
    QUIET_WORKERS,
    BatchError,
    Cluster,
    RunSpec,
    check_settings,
    execute,
    group_size,
    make_specs,
    run_group,
    run_one,
)
from scenarios.compare import compare, compare_on
from scenarios.experiments import run_batch
from scenarios.loader import scenario_hash
from scenarios.store import Store

SMALL = {"n_patients": 300, "days": 60}
DASK = Path(sys.executable).parent / "dask"
NO_DASH = ["--no-dashboard"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler_addr(tmp_path_factory):
    """A dask scheduler and two dask workers on 127.0.0.1, started here and stopped at the end.

    The workers carry a fault for the scenario named 'doomed', replication 1 (its process
    exits), and the scheduler gives up on a task after its first worker death.
    """
    if not DASK.exists():
        pytest.skip("the dask command is not installed in this environment")
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    env = {
        **os.environ,
        "KETASIM_TEST_FAULTS": "exit:doomed:1",
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), *NO_DASH],
                env=env,
                stdout=(logs / "scheduler.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [str(DASK), "worker", addr, "--nthreads", "1", "--host", "127.0.0.1", *NO_DASH],
                    env=env,
                    stdout=(logs / f"worker{i}.log").open("w"),
                    stderr=subprocess.STDOUT,
                )
            )
        from distributed import Client

        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(addr, timeout="5s") as client:
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dask cluster did not come up; logs in {logs}")
            time.sleep(0.5)
        yield addr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame, drop=()) -> None:
    cols = [c for c in a.columns if c not in drop]
    pd.testing.assert_frame_equal(
        a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), check_dtype=False
    )


# ---- pure engine behaviour -----------------------------------------------------------------


def test_replication_r_is_seed_s_replication_r():
    specs = make_specs([load_scenario("baseline")], 2, seed=7, **SMALL)
    assert [(s.seed, s.replication) for s in specs] == [(7, 0), (7, 1)]
    out = run_group(specs[1:])[0]
    direct = run("baseline", seed=7, replication=1, **SMALL)
    assert out.status == "ok"
    assert out.summary == direct.extended, "replication r of a batch must be run(seed=S, rep=r)"
    _frames_equal(out.daily, direct.daily)


def test_same_parameters_under_two_names_run_once():
    twin = scenario_from_dict({"extends": "baseline", "name": "twin"})
    specs = make_specs([load_scenario("baseline"), twin], 3, **SMALL)
    assert len(specs) == 3, "identical parameters are one set of runs (the key is the hash)"
    assert {s.name for s in specs} == {"baseline"}


def test_group_size_bounds():
    assert group_size(1, 2) == 1
    assert group_size(40, 2) == 5
    assert group_size(10_000, 2) == MAX_GROUP
    assert group_size(3, 64) == 1


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, "not both"),
        ({"workers": 0}, "--workers"),
        ({"scheduler": "nonsense:port"}, "--scheduler"),
        ({"run_timeout": -1.0}, "--run-timeout"),
        ({"run_timeout": float("nan")}, "--run-timeout"),
    ],
)
def test_bad_execution_settings(kwargs, fragment):
    settings = {"workers": None, "scheduler": None, "run_timeout": None, **kwargs}
    with pytest.raises(BatchError, match=fragment):
        check_settings(**settings)


def test_bad_replications_and_run_settings():
    sc = load_scenario("baseline")
    with pytest.raises(BatchError, match="--replications"):
        make_specs([sc], 0)
    with pytest.raises(BatchError, match="--patients"):
        make_specs([sc], 1, n_patients=0)
    with pytest.raises(BatchError, match="--days"):
        make_specs([sc], 1, days=-3)


def test_spec_key_ignores_name_and_tag():
    sc = load_scenario("baseline").with_run(n_patients=300, days=60)
    a, b = RunSpec(sc, 2, tag="base"), RunSpec(sc, 2, tag="policy")
    assert a.key == b.key and a.run_id == b.run_id
    assert a.key == (a.scenario_hash, 2, 300, 60, 0)


def _field_names(model) -> list[str]:
    """Attribute names of a pydantic model and of every model nested in it."""
    names = []
    for key, value in vars(model).items():
        names.append(key)
        if isinstance(value, BaseModel):
            names.extend(_field_names(value))
    return names


def test_runs_use_an_interned_copy_of_a_pickled_scenario(monkeypatch):
    # What a worker receives: a pickled spec, whose field names are not interned (slow reads).
    spec = pickle.loads(pickle.dumps(make_specs([load_scenario("bundled_payment")], 1, **SMALL)[0]))
    assert not all(k is sys.intern(k) for k in _field_names(spec.scenario))
    seen = []
    import scenarios.api

    real_run = scenarios.api.run
    monkeypatch.setattr(
        scenarios.api, "run", lambda sc, **kw: seen.append(sc) or real_run(sc, **kw)
    )
    out = run_one(spec)
    assert out.status == "ok"
    (used,) = seen
    assert used == spec.scenario and scenario_hash(used) == spec.scenario_hash
    assert all(k is sys.intern(k) for k in _field_names(used))
    assert out.summary == run("bundled_payment", **SMALL).extended


def test_local_cluster_workers_are_quiet_and_give_in_process_results():
    specs = make_specs([load_scenario("baseline")], 2, **SMALL)
    here, there = [], []
    execute(specs, here.extend, workers=1)
    with Cluster(workers=1) as cluster:
        import dask

        settings = cluster.client.run(lambda: {k: dask.config.get(k) for k in QUIET_WORKERS})
        execute(specs, there.extend, cluster=cluster)
    assert list(settings.values()) == [QUIET_WORKERS]
    assert [o.summary for o in there] == [o.summary for o in here]


# ---- a real scheduler and two workers --------------------------------------------------------


def test_batch_on_real_cluster_equals_in_process(scheduler_addr, tmp_path):
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    names = ["baseline", "carve_in"]
    r1 = run_batch(names, 3, store=one, workers=1, **SMALL)
    r2 = run_batch(names, 3, store=two, scheduler=scheduler_addr, **SMALL)
    assert r1.report.ok == r2.report.ok == 6
    assert r2.report.workers == 2
    volatile = ("code_version", "started", "finished", "seconds")
    _frames_equal(r1.runs, r2.runs, drop=volatile)
    with Store(one, read_only=True) as a, Store(two, read_only=True) as b:
        for table in ("daily", "patients"):
            q = f"SELECT * FROM {table} ORDER BY run_id, {'day' if table == 'daily' else 'patient'}"
            _frames_equal(a.query(q), b.query(q))


def test_compare_on_real_cluster_equals_in_process(scheduler_addr):
    local = compare("baseline", "therapy_parity", 2, **SMALL)
    remote = compare_on("baseline", "therapy_parity", 2, scheduler=scheduler_addr, **SMALL)
    assert remote.to_json_dict() == local.to_json_dict()


def test_killed_worker_is_reported_and_rerun_completes_it(scheduler_addr, tmp_path, capsys):
    """Replication 1 of 'doomed' kills the worker process running it (see the fixture)."""
    doomed = tmp_path / "doomed.toml"
    doomed.write_text('extends = "baseline"\nname = "doomed"\n')
    store = tmp_path / "s.duckdb"
    args = ["batch", str(doomed), "-r", "10", "--patients", "200", "--days", "30"]
    code = cli.main([*args, "--scheduler", scheduler_addr, "--store", str(store)])
    out = capsys.readouterr().out
    assert code == 1, "a batch with a lost run exits non-zero"
    assert "9 ok, 1 failed" in out, out
    assert "lost a worker process" in out and "KilledWorker" in " ".join(out.split())
    with Store(store, read_only=True) as db:
        runs = db.runs()
    assert len(runs) == 10
    bad = runs[runs["status"] != "ok"]
    assert bad["replication"].tolist() == [1]
    assert "worker process running it died 3 times" in bad["error"].iloc[0]
    # Re-run without the fault (in this process): only the lost run runs, and it completes.
    code = cli.main([*args, "--workers", "1", "--store", str(store)])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 ok, 0 failed, 0 timed out, 9 skipped" in out
    with Store(store, read_only=True) as db:
        runs = db.runs()
        assert db.query("SELECT count(DISTINCT run_id) AS n FROM daily")["n"][0] == 10
    assert len(runs) == 10 and runs["run_id"].is_unique, "exactly one runs row per run"
    assert (runs["status"] == "ok").all()


def test_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("scenarios.batch.CONNECT_TIMEOUT", "2s")
    store = tmp_path / "new" / "none.duckdb"
    port = _free_port()  # nothing listens there
    addr = f"tcp://127.0.0.1:{port}"
    code = cli.main(["batch", "baseline", "-r", "2", "--scheduler", addr, "--store", str(store)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ketasim: error: --scheduler tcp://127.0.0.1:")
    assert "cannot connect" in err
    assert not store.parent.exists(), "nothing written when the scheduler cannot be reached"


def test_execute_hands_every_outcome_to_the_callback_in_order():
    specs = make_specs([load_scenario("baseline")], 3, **SMALL)
    seen = []
    report = execute(specs, lambda outs: seen.extend(o.spec.replication for o in outs), workers=1)
    assert seen == [0, 1, 2]
    assert report.ok == 3 and report.workers == 1
