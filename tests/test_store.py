"""The DuckDB results store: one transaction per write, resume keys, exports, `results`."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from scenarios import cli
from scenarios.api import load_scenario
from scenarios.batch import RunOutcome, make_specs, run_group
from scenarios.store import PERSPECTIVE, Store, StoreError, code_version

SMALL = {"n_patients": 300, "days": 60}


@pytest.fixture(scope="module")
def outcomes():
    """Three finished runs (two baseline replications, one carve_in), with claims."""
    specs = make_specs(
        [load_scenario("baseline"), load_scenario("carve_in")], 2, keep_claims=True, **SMALL
    )
    return run_group(specs[:3])


def test_write_and_read_back(tmp_path, outcomes):
    with Store(tmp_path / "s.duckdb") as db:
        db.write(outcomes)
        runs = db.runs()
        counts = db.tables()
        assert db.finished_ids([o.spec for o in outcomes]) == {o.spec.run_id for o in outcomes}
    assert len(runs) == 3 and runs["run_id"].is_unique
    row = runs[(runs["scenario"] == "baseline") & (runs["replication"] == 1)].iloc[0]
    summary = outcomes[1].summary
    assert row["integrated_delivery_rate"] == pytest.approx(summary["integrated_delivery_rate"])
    assert row["cost_per_patient_discounted"] == summary["cost_per_patient_discounted"]
    assert row["perspective"] == PERSPECTIVE
    assert row["status"] == "ok" and pd.isna(row["error"])
    assert row["code_version"] == code_version() and row["code_version"].startswith("0.")
    assert row["finished"] >= row["started"]
    assert counts["daily"] == 3 * 60 and counts["patients"] == 3 * 300
    assert counts["claims"] == sum(len(o.claims) for o in outcomes)


def test_a_failed_write_leaves_nothing(tmp_path, outcomes, monkeypatch):
    db = Store(tmp_path / "s.duckdb")
    db.write(outcomes[:1])
    original = Store._append

    def broken(self, table, frame):
        if table == "patients":  # after runs and daily rows went in, inside the transaction
            raise duckdb.IOException("No space left on device")
        return original(self, table, frame)

    monkeypatch.setattr(Store, "_append", broken)
    with pytest.raises(StoreError, match="disk full"):
        db.write(outcomes[1:])
    monkeypatch.undo()
    assert len(db.runs()) == 1, "the failed transaction kept no runs rows"
    assert db.tables()["daily"] == 60, "... and no daily rows"
    db.write(outcomes[1:])  # the store is still usable
    assert len(db.runs()) == 3
    db.close()


def test_rewrite_replaces_a_run_exactly_once(tmp_path, outcomes):
    first = outcomes[0]
    failed = RunOutcome(first.spec, "failed", first.started, first.finished, 0.1, error="boom")
    with Store(tmp_path / "s.duckdb") as db:
        db.write([failed])
        assert db.finished_ids([first.spec]) == set(), "failed runs are not finished"
        db.write([first])
        runs = db.runs()
        assert db.tables()["daily"] == 60
    assert len(runs) == 1 and runs["status"].iloc[0] == "ok"


def test_new_columns_widen_the_table(tmp_path, outcomes):
    a, b = outcomes[0], outcomes[1]
    wider = RunOutcome(
        b.spec,
        b.status,
        b.started,
        b.finished,
        b.seconds,
        summary=b.summary,
        daily=b.daily.assign(new_metric=1.5),
    )
    with Store(tmp_path / "s.duckdb") as db:
        db.write([a])
        db.write([wider])
        daily = db.query("SELECT run_id, new_metric FROM daily")
    assert daily.loc[daily["run_id"] == a.spec.run_id, "new_metric"].isna().all()
    assert (daily.loc[daily["run_id"] == b.spec.run_id, "new_metric"] == 1.5).all()


def test_integer_drop_reasons_of_an_older_store_become_names(tmp_path, outcomes):
    # A store written before patients.csv named its drop reasons holds integer codes
    # (DropReason: 0 none, 1 cost, 3 disengagement); new runs arriving convert them in place.
    a, b = outcomes[0], outcomes[1]
    old_codes = a.patients["drop_reason"].map({"none": 0, "cost": 1, "disengagement": 3})
    assert old_codes.notna().all(), "this run's reasons are among the three mapped here"
    older = RunOutcome(
        a.spec,
        a.status,
        a.started,
        a.finished,
        a.seconds,
        summary=a.summary,
        patients=a.patients.assign(drop_reason=old_codes.astype("int8")),
    )
    with Store(tmp_path / "s.duckdb") as db:
        db.write([older])
        assert db.query("SELECT drop_reason FROM patients")["drop_reason"].dtype.kind == "i"
        db.write([b])
        reasons = db.query("SELECT run_id, drop_reason FROM patients")
    got_a = reasons.loc[reasons["run_id"] == a.spec.run_id, "drop_reason"].tolist()
    assert got_a == a.patients["drop_reason"].tolist(), "old codes read as today's names"
    got_b = reasons.loc[reasons["run_id"] == b.spec.run_id, "drop_reason"]
    assert set(got_b) <= {"none", "cost", "wait", "disengagement", "access"}


def test_exports(tmp_path, outcomes, capsys):
    store = tmp_path / "s.duckdb"
    with Store(store) as db:
        db.write(outcomes)
    pq, cea = tmp_path / "pq", tmp_path / "cea"
    assert cli.main(["export", "--parquet", str(pq), "--cea", str(cea), "--store", str(store)]) == 0
    capsys.readouterr()
    for name, rows in {"runs": 3, "daily": 180, "patients": 900, "scenarios": 2}.items():
        assert len(pd.read_parquet(pq / f"{name}.parquet")) == rows, name
    assert (pq / "claims.parquet").exists()
    frame = pd.read_csv(cea / "cea.csv")
    assert list(frame.columns[:4]) == ["strategy", "replication", "cost", "qalys"]
    assert sorted(frame["strategy"].unique()) == ["baseline", "carve_in"]
    assert (frame["perspective"] == PERSPECTIVE).all() and (frame["discount_rate"] == 0.03).all()
    base0 = frame[(frame["strategy"] == "baseline") & (frame["replication"] == 0)].iloc[0]
    assert base0["cost"] == pytest.approx(outcomes[0].summary["cost_per_patient_discounted"])
    params = json.loads(pd.read_parquet(pq / "scenarios.parquet")["params"].iloc[0])
    assert "policy" in params and "run" not in params


def test_results_lists_the_store(tmp_path, outcomes, capsys):
    store = tmp_path / "s.duckdb"
    with Store(store) as db:
        db.write(outcomes)
    assert cli.main(["results", "--store", str(store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["scenario"], r["ok"]) for r in rows} == {("baseline", 2), ("carve_in", 1)}
    assert cli.main(["results", "--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert "baseline" in text and "carve_in" in text and "3 runs rows" in text


def test_not_a_store(tmp_path, capsys):
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    assert cli.main(["results", "--store", str(other)]) == 1
    assert "not a ketasim store" in capsys.readouterr().err
    assert cli.main(["results", "--store", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err
    text = tmp_path / "text.duckdb"
    text.write_text("hello")
    assert cli.main(["results", "--store", str(text)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ketasim: error: store")
