"""The Python API behind the commands: load, run, trial; each returns plain data or frames.

The CLI calls these and prints; notebooks and other tools call them directly.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.model import KetasimModel
from model.params import Scenario
from model.trial import TrialProtocol, TrialResult, run_trial
from scenarios.loader import (
    PRESET_DIR,
    ScenarioError,
    is_file,
    load_protocol,
    load_scenario,
    scenario_from_dict,
)

PROTOCOL_DIR = Path(__file__).resolve().parent / "protocols"

__all__ = [
    "PRESET_DIR",
    "PROTOCOL_DIR",
    "RunResult",
    "ScenarioError",
    "load_protocol",
    "load_scenario",
    "resolve_protocol",
    "run",
    "scenario_from_dict",
    "trial",
    "write_run",
]


@dataclass(frozen=True)
class RunResult:
    """Everything one run reports."""

    summary: dict
    extended: dict
    daily: pd.DataFrame
    patients: pd.DataFrame
    claims: pd.DataFrame
    by_payer: pd.DataFrame


def _as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def build(
    scenario: Scenario | str | Path,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    replication: int = 0,
    keep_claims: bool = True,
) -> KetasimModel:
    """Validate run settings and build (but not run) a model."""
    sc = _as_scenario(scenario)
    changes = {
        k: v
        for k, v in {"n_patients": n_patients, "days": days, "seed": seed}.items()
        if v is not None
    }
    if changes:
        try:
            sc = sc.with_run(**changes)
        except ValueError as exc:
            err = exc.errors()[0] if hasattr(exc, "errors") else None
            if err is None:
                raise ScenarioError(str(exc).splitlines()[0]) from None
            flag = {"n_patients": "--patients", "days": "--days", "seed": "--seed"}
            key = str(err["loc"][0]) if err["loc"] else ""
            value = err.get("input")
            raise ScenarioError(
                f"{flag.get(key, key)} {value}: {err['msg'][0].lower()}{err['msg'][1:]}"
            ) from None
    return KetasimModel(sc, replication=replication, keep_claims=keep_claims)


def run(
    scenario: Scenario | str | Path,
    n_patients: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    replication: int = 0,
    keep_claims: bool = True,
) -> RunResult:
    """Run one scenario and return its summary and frames."""
    model = build(scenario, n_patients, days, seed, replication, keep_claims)
    model.run()
    return RunResult(
        summary=model.summary(),
        extended=model.summary_extended(),
        daily=model.daily_frame(),
        patients=model.patient_frame(),
        claims=model.claims_frame(),
        by_payer=model.payer_frame(),
    )


def write_run(result: RunResult, out_dir: str | Path) -> Path:
    """Write a run's outputs to ``out_dir`` all at once (nothing is left half-written).

    Files: ``summary.json``, ``daily.csv``, ``patients.csv``, ``claims.csv``, ``by_payer.csv``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"--out {out}: exists and is not a directory")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".ketasim-", dir=parent))
    except OSError as exc:
        raise ScenarioError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    try:
        (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
        result.daily.to_csv(tmp / "daily.csv", index=False)
        result.patients.to_csv(tmp / "patients.csv", index=False)
        result.claims.to_csv(tmp / "claims.csv", index=False)
        result.by_payer.to_csv(tmp / "by_payer.csv", index=False)
        out.mkdir(parents=True, exist_ok=True)
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
    except OSError as exc:
        raise ScenarioError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve_protocol(name_or_path: str | Path) -> TrialProtocol:
    """Load a trial protocol by path, or by the name of a bundled protocol."""
    text = str(name_or_path)
    if "/" not in text and not text.endswith(".toml") and is_file(PROTOCOL_DIR / f"{text}.toml"):
        return load_protocol(PROTOCOL_DIR / f"{text}.toml")
    return load_protocol(text)


def trial(protocol: TrialProtocol | str | Path) -> TrialResult:
    """Run a virtual trial."""
    proto = protocol if isinstance(protocol, TrialProtocol) else resolve_protocol(protocol)
    return run_trial(proto)
