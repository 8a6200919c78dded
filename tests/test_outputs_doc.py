"""docs/outputs.md describes every column the outputs really have and every code they hold."""

from __future__ import annotations

import pandas as pd
import pytest

from agents.codes import CODE_NAMES, PAYER_NAMES, SILO_NAMES, ClaimStatus, PartyKind
from agents.patient import CareCategory, DropReason, PathwayState
from agents.prescriber import BUSINESS_MODEL_NAMES
from model.metric_info import CODES, column
from scenarios import api, outputs_doc


@pytest.fixture(scope="module")
def outputs():
    return outputs_doc.real_outputs()


def test_the_page_in_the_repository_is_the_one_the_registry_and_a_run_give(outputs):
    assert outputs_doc.DOC.read_text() == outputs_doc.render(outputs), (
        "docs/outputs.md is out of date: uv run python -m scenarios.outputs_doc"
    )


def test_every_output_column_is_registered(outputs):
    assert [o.name for o in outputs] == [
        "summary.json",
        "daily.csv",
        "patients.csv",
        "claims.csv",
        "by_payer.csv",
        "compare --json",
        "compare --json (several policies)",
        "compare --json frontier",
    ]
    for out in outputs:
        assert out.columns, out.name
        for name in out.columns:
            entry = outputs_doc.describe(out.name, name)
            assert entry.definition, f"{out.name} {name}"


@pytest.fixture(scope="module")
def frames():
    """Coded columns of runs that between them write most codes (bundles, denials, cash)."""
    results = [
        api.run(name, n_patients=400, days=150, seed=1, keep_claims=True)
        for name in ("baseline", "bundled_payment", "coordination_payment")
    ]
    return {
        "patients.csv": pd.concat([r.patients for r in results]),
        "claims.csv": pd.concat([r.claims for r in results]),
        "by_payer.csv": pd.concat([r.by_payer for r in results]),
    }


def test_every_code_a_run_writes_is_documented(frames):
    seen = 0
    for file, df in frames.items():
        for name in df.columns:
            codes = getattr(column(file, name), "codes", None)
            if codes is None:
                continue
            written = set(df[name].astype(str))
            assert written <= set(CODES[codes]), f"{file} {name}: {written - set(CODES[codes])}"
            seen += len(written)
    assert seen >= 25, "the runs wrote most of the codes"


def test_drop_reason_holds_names(frames):
    reasons = frames["patients.csv"]["drop_reason"]
    assert set(reasons) >= {"none", "cost", "disengagement"}, set(reasons)
    assert set(reasons) <= {r.name.lower() for r in DropReason}


@pytest.mark.parametrize(
    ("codes", "names"),
    [
        ("drop_reason", [r.name.lower() for r in DropReason]),
        ("pathway_state", [s.name.lower() for s in PathwayState]),
        ("care_category", [c.name.lower() for c in CareCategory]),
        ("status", [s.name.lower() for s in ClaimStatus]),
        ("payer", list(PAYER_NAMES.values())),
        ("claim_payer", [*(n for n in PAYER_NAMES.values() if n != "uninsured"), "patient"]),
        ("silo", list(SILO_NAMES.values())),
        ("code", list(CODE_NAMES.values())),
        ("payee_kind", [k.value for k in PartyKind]),
        ("business_model", list(BUSINESS_MODEL_NAMES.values())),
    ],
)
def test_every_member_of_every_code_list_has_a_meaning(codes, names):
    assert list(CODES[codes]) == names
