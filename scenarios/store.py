"""The results store: one DuckDB file, written by the client process only.

Tables:

* ``runs``: one row per (scenario hash, replication, patients, days, seed): scenario name and
  hash, replication, seed, n_patients, days, code version, started/finished (UTC), seconds,
  status ('ok' | 'failed' | 'timeout'), error, and the run's extended summary (every
  ``ketasim run --json`` metric plus ``cost_per_patient_discounted``, ``spend_total``,
  ``perspective``, ``discount_rate``).
* ``daily``: the tidy daily series of every finished run (``run_id`` + the model's columns).
* ``patients``: per-patient outcomes of every finished run.
* ``claims``: the claims ledger, when the batch asked for it.
* ``scenarios``: the full parameters (JSON) behind each scenario hash.
* ``meta``: the store's schema version.

Every finished task group is written in ONE transaction (its ``runs`` rows and all their frames,
replacing earlier failed attempts of the same runs), so a store is never half-written: an
interrupted batch leaves only whole runs, and re-running it skips them. The file is held open
(locked) for the whole batch so two batches cannot write one store at once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import duckdb
import pandas as pd

from agents.patient import DropReason
from model.metrics import SUMMARY_KEYS
from scenarios.batch import RunOutcome, RunSpec
from scenarios.loader import ScenarioError
from scenarios.locations import DEFAULT_STORE

SCHEMA_VERSION = "1"
PERSPECTIVE = "health sector (payers + patients)"

_METRIC_COLUMNS = [k for k in SUMMARY_KEYS if k not in {"scenario", "seed", "n_patients", "days"}]
_EXTRA_COLUMNS = ["cost_per_patient_discounted", "spend_total", "discount_rate"]

_RUNS_DDL = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR NOT NULL,
    scenario VARCHAR NOT NULL,
    scenario_hash VARCHAR NOT NULL,
    replication INTEGER NOT NULL,
    seed BIGINT NOT NULL,
    n_patients INTEGER NOT NULL,
    days INTEGER NOT NULL,
    code_version VARCHAR,
    started TIMESTAMP,
    finished TIMESTAMP,
    seconds DOUBLE,
    status VARCHAR NOT NULL,
    error VARCHAR,
    {", ".join(f"{c} DOUBLE" for c in _METRIC_COLUMNS + _EXTRA_COLUMNS)},
    perspective VARCHAR
)
"""
_FRAME_TABLES = ("daily", "patients", "claims")
# Coded columns that stores written by earlier versions hold as integer codes and this version
# writes as names: converted in place when new rows arrive, so old and new runs read alike.
_NAMED_CODES = {("patients", "drop_reason"): {int(r): r.name.lower() for r in DropReason}}


class StoreError(ScenarioError):
    """The store cannot be opened or written (locked, read-only, disk full, not a store)."""


@functools.cache
def code_version() -> str:
    """Package version, plus ``git describe`` of the checkout when there is one."""
    try:
        version = metadata.version("ketasim")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            return f"{version} ({out.stdout.strip()})"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _explain(path: Path, exc: BaseException) -> str:
    """A one-line reason for a DuckDB or OS failure on ``path``."""
    text = _one_line(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        pid = re.search(r"PID (\d+)", text)
        who = f" (PID {pid.group(1)})" if pid else ""
        return f"store {path}: locked by another process{who}; wait for it or use another --store"
    if "No space left" in text or "disk is full" in text.lower() or "File too large" in text:
        return f"store {path}: disk full; nothing from the failed write was kept ({text[:160]})"
    if "Read-only file system" in text or "Permission denied" in text:
        return f"store {path}: not writable ({text[:160]})"
    if "not a valid DuckDB database" in text or "file is not a" in text.lower():
        return f"store {path}: not a ketasim DuckDB store"
    return f"store {path}: {text[:300]}"


class Store:
    """A DuckDB results store; a context manager.

    Args:
        path: The ``.duckdb`` file.
        read_only: Open for reading only (``results``, ``export``); the file must exist.
    """

    def __init__(self, path: str | Path = DEFAULT_STORE, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.created = False
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"store {self.path}: is a directory, not a store file")
        if read_only:
            if not self.path.is_file():
                raise StoreError(f"store {self.path}: no such store (run `ketasim batch` first)")
        else:
            self._check_writable()
            self.created = not self.path.exists()
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except (duckdb.Error, OSError) as exc:
            if self.created:
                self._remove_files()
            raise StoreError(_explain(self.path, exc)) from None
        try:
            if not read_only:
                self._init_schema()
            elif not self._has_table("runs"):
                raise StoreError(f"store {self.path}: not a ketasim store (no runs table)")
        except duckdb.Error as exc:
            self.close()
            raise StoreError(_explain(self.path, exc)) from None
        except StoreError:
            self.close()
            raise

    def _check_writable(self) -> None:
        """Fail early, in one line, on a path we cannot create or write."""
        parent = self.path.parent
        # Folders made here are removed again if the store ends up unused (nothing written).
        self._made_dirs = [p for p in (parent, *parent.parents) if not p.exists()]
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"store {self.path}: cannot create its folder ({exc.strerror})"
            ) from None
        # os.access is not enough (root passes it on read-only mounts): try creating a file.
        try:
            fd, probe = tempfile.mkstemp(prefix=".ketasim-probe-", dir=parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StoreError(f"store {self.path}: not writable ({exc.strerror})") from None
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise StoreError(f"store {self.path}: not writable (read-only file)")

    def _remove_files(self) -> None:
        for p in (self.path, Path(f"{self.path}.wal")):
            with contextlib.suppress(OSError):
                p.unlink()
        for d in getattr(self, "_made_dirs", []):  # innermost first
            with contextlib.suppress(OSError):
                d.rmdir()

    def _has_table(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return bool(rows[0][0])

    def _init_schema(self) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(_RUNS_DDL)
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS scenarios (scenario_hash VARCHAR, scenario VARCHAR, "
                "params JSON)"
            )
            self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR)")
            if not self.con.execute("SELECT count(*) FROM meta").fetchall()[0][0]:
                self.con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
            self.con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise

    # -- reading -------------------------------------------------------------------------

    def finished_ids(self, specs: Iterable[RunSpec]) -> set[str]:
        """The ``run_id`` of every spec already finished ('ok') in the store."""
        ids = [s.run_id for s in specs]
        if not ids:
            return set()
        rows = self.con.execute(
            "SELECT run_id FROM runs WHERE status = 'ok' AND run_id IN (SELECT unnest(?))", [ids]
        ).fetchall()
        return {r[0] for r in rows}

    def query(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        """Run SQL against the store and return a frame."""
        return self.con.execute(sql, params or []).df()

    def runs(self) -> pd.DataFrame:
        """Every ``runs`` row."""
        return self.query("SELECT * FROM runs ORDER BY scenario, scenario_hash, replication")

    def overview(self) -> pd.DataFrame:
        """What the store holds: one row per (scenario, hash, patients, days, seed)."""
        return self.query(
            """
            SELECT scenario, scenario_hash, n_patients, days, seed,
                   count(*) FILTER (WHERE status = 'ok') AS ok,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   count(*) FILTER (WHERE status = 'timeout') AS timeout,
                   min(replication) AS first_replication,
                   max(replication) AS last_replication,
                   max(finished) AS last_finished,
                   string_agg(DISTINCT code_version, '; ') AS code_versions
            FROM runs
            GROUP BY ALL
            ORDER BY scenario, scenario_hash, n_patients, days, seed
            """
        )

    def tables(self) -> dict[str, int]:
        """Row counts of the store's data tables."""
        out = {}
        for name in ("runs", *_FRAME_TABLES):
            if self._has_table(name):
                out[name] = int(self.con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
        return out

    # -- writing -------------------------------------------------------------------------

    def write(self, outcomes: Sequence[RunOutcome]) -> None:
        """Write finished outcomes in ONE transaction (all of them, or nothing).

        A run already in the store (e.g. failed before) is replaced, so each run has exactly
        one ``runs`` row.
        """
        if self.read_only:
            raise StoreError(f"store {self.path}: opened read-only")
        if not outcomes:
            return
        con = self.con
        con.register("_runs_frame", runs_frame(outcomes))
        try:
            con.execute("BEGIN TRANSACTION")
            ids = [o.spec.run_id for o in outcomes]
            for table in ("runs", *_FRAME_TABLES):
                if self._has_table(table):
                    con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?))", [ids])
            con.execute("INSERT INTO runs BY NAME SELECT * FROM _runs_frame")
            self._write_scenarios(outcomes)
            for table in _FRAME_TABLES:
                frames = [
                    getattr(o, table).assign(run_id=o.spec.run_id)
                    for o in outcomes
                    if getattr(o, table) is not None
                ]
                if frames:
                    self._append(table, pd.concat(frames, ignore_index=True))
            con.execute("COMMIT")
        except (duckdb.Error, OSError) as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise StoreError(_explain(self.path, exc)) from None
        finally:
            with contextlib.suppress(duckdb.Error):
                con.unregister("_runs_frame")

    def _append(self, table: str, frame: pd.DataFrame) -> None:
        """Insert a frame by column name, creating the table or adding new columns as needed."""
        con = self.con
        frame = frame[["run_id", *[c for c in frame.columns if c != "run_id"]]]
        con.register("_frame", frame)
        try:
            if not self._has_table(table):
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM _frame LIMIT 0")
            have = {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            described = con.execute("DESCRIBE SELECT * FROM _frame").fetchall()
            types = {r[0]: r[1] for r in described}
            self._name_old_codes(table, have, types)
            missing = [c for c in frame.columns if c not in have]
            if missing:
                # A newer model version reports more columns: widen the table (old rows NULL).
                for col in missing:
                    con.execute(f'ALTER TABLE {table} ADD COLUMN "{col}" {types[col]}')
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
        finally:
            con.unregister("_frame")

    def _name_old_codes(self, table: str, have: dict[str, str], new: dict[str, str]) -> None:
        """Turn an earlier version's integer codes in ``table`` into names (``_NAMED_CODES``).

        Args:
            table: The table new rows go to.
            have: Its columns' types now.
            new: The new rows' column types.
        """
        for (coded_table, col), names in _NAMED_CODES.items():
            if coded_table != table or col not in have or col not in new:
                continue
            if have[col] != "VARCHAR" and new[col] == "VARCHAR":
                cases = " ".join(f"WHEN {code} THEN '{name}'" for code, name in names.items())
                self.con.execute(
                    f'ALTER TABLE {table} ALTER "{col}" SET DATA TYPE VARCHAR '
                    f'USING (CASE "{col}" {cases} END)'
                )

    def _write_scenarios(self, outcomes: Sequence[RunOutcome]) -> None:
        known = {r[0] for r in self.con.execute("SELECT scenario_hash FROM scenarios").fetchall()}
        for o in outcomes:
            h = o.spec.scenario_hash
            if h in known:
                continue
            known.add(h)
            params = o.spec.scenario.model_dump(mode="json", exclude={"run"})
            self.con.execute(
                "INSERT INTO scenarios VALUES (?, ?, ?)", [h, o.spec.name, json.dumps(params)]
            )

    def close(self) -> None:
        """Close the connection (releasing the file lock)."""
        with contextlib.suppress(duckdb.Error):
            self.con.close()

    def discard_if_new_and_empty(self) -> None:
        """Remove a store file this object created if nothing was written to it."""
        if not self.created:
            return
        try:
            empty = self.con.execute("SELECT count(*) FROM runs").fetchall()[0][0] == 0
        except duckdb.Error:
            empty = True
        self.close()
        if empty:
            self._remove_files()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- exports -------------------------------------------------------------------------

    def export_parquet(self, out_dir: str | Path) -> list[Path]:
        """Write every data table as ``<table>.parquet`` in ``out_dir`` (all or nothing)."""
        names = [t for t in ("runs", "scenarios", *_FRAME_TABLES) if self._has_table(t)]

        def write(tmp: Path) -> None:
            for name in names:
                target = str(tmp / f"{name}.parquet").replace("'", "''")
                self.con.execute(f"COPY (SELECT * FROM {name}) TO '{target}' (FORMAT parquet)")

        return _write_dir(out_dir, write, [f"{n}.parquet" for n in names], "--parquet")

    def cea_frame(self) -> pd.DataFrame:
        """Per-replication (strategy, replication, cost, qalys) rows of every finished run.

        Costs are the discounted health-sector cost per patient (payers + patients), QALYs the
        discounted QALYs per patient; the perspective and discount rate are columns.
        """
        return self.query(
            """
            SELECT scenario AS strategy, replication, cost_per_patient_discounted AS cost,
                   qalys_per_patient AS qalys, perspective, discount_rate,
                   'USD per patient, discounted' AS cost_unit,
                   'QALYs per patient, discounted' AS qaly_unit,
                   scenario_hash, seed, n_patients, days
            FROM runs WHERE status = 'ok'
            ORDER BY strategy, scenario_hash, n_patients, days, seed, replication
            """
        )

    def export_cea(self, out_dir: str | Path) -> list[Path]:
        """Write ``cea.csv``: long-format per-replication cost and QALYs (all or nothing)."""
        frame = self.cea_frame()
        if frame.empty:
            raise StoreError(f"store {self.path}: no finished runs to export")

        def write(tmp: Path) -> None:
            frame.to_csv(tmp / "cea.csv", index=False)

        return _write_dir(out_dir, write, ["cea.csv"], "--cea")


def _write_dir(out_dir: str | Path, write, names: list[str], flag: str) -> list[Path]:
    """Write files into a temporary folder beside ``out_dir``, then move them in."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise StoreError(f"{flag} {out}: exists and is not a directory")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".ketasim-export-", dir=parent))
    except OSError as exc:
        raise StoreError(f"{flag} {out}: cannot write ({exc.strerror or exc})") from None
    try:
        write(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.replace(tmp / name, out / name)
    except (OSError, duckdb.Error) as exc:
        raise StoreError(f"{flag} {out}: cannot write ({_one_line(exc)[:200]})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / n for n in names]


def runs_frame(outcomes: Sequence[RunOutcome]) -> pd.DataFrame:
    """The ``runs`` rows of some outcomes (what ``Store.write`` inserts)."""
    version = code_version()
    rows = []
    for o in outcomes:
        s = o.spec
        row = {
            "run_id": s.run_id,
            "scenario": s.name,
            "scenario_hash": s.scenario_hash,
            "replication": s.replication,
            "seed": s.seed,
            "n_patients": s.n_patients,
            "days": s.days,
            "code_version": version,
            "started": o.started,
            "finished": o.finished,
            "seconds": o.seconds,
            "status": o.status,
            "error": o.error,
        }
        summary = o.summary or {}
        for col in _METRIC_COLUMNS + _EXTRA_COLUMNS:
            value = summary.get(col)
            row[col] = float(value) if value is not None else None
        row["perspective"] = summary.get("perspective")
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in _METRIC_COLUMNS + _EXTRA_COLUMNS + ["seconds"]:
        frame[col] = frame[col].astype("float64")
    return frame
