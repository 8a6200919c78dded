"""The metric registry covers every number a run and a comparison report."""

from __future__ import annotations

import math

import pytest

from model.metric_info import (
    CODES,
    COLUMNS,
    METRICS,
    Column,
    Unit,
    change_verdict,
    column,
    format_difference,
    format_value,
    label_with_unit,
    metric,
)
from model.metrics import SUMMARY_KEYS


def test_every_summary_key_is_registered():
    missing = [k for k in SUMMARY_KEYS if k not in METRICS]
    assert not missing, f"summary keys without a registry entry: {missing}"


def test_every_entry_has_a_label_a_unit_and_a_definition():
    for m in METRICS.values():
        assert m.label and m.definition and isinstance(m.unit, Unit), m.name
        assert m.definition.endswith("."), f"{m.name}: a definition is one sentence"


@pytest.mark.parametrize(
    ("unit", "value", "text"),
    [
        (Unit.SHARE, 0.1234, "12.3%"),
        (Unit.USD, 1234567.4, "$1,234,567"),
        (Unit.USD_PER_QALY, -2500.0, "-$2,500"),
        (Unit.DAYS, 18.26, "18.3"),
        (Unit.SHARE, None, "-"),
        (Unit.USD, math.nan, "-"),
    ],
)
def test_values_print_in_their_unit(unit, value, text):
    assert format_value(unit, value) == text


def test_an_unknown_metric_is_refused_by_name():
    with pytest.raises(KeyError, match="not_a_metric"):
        metric("not_a_metric")


def test_a_header_names_the_unit_and_period():
    assert label_with_unit("spend_medical") == "Medical budget spend (USD, over the run)"
    assert label_with_unit("scenario") == "Scenario"


@pytest.mark.parametrize(
    ("unit", "value", "text"),
    [
        (Unit.SHARE, 0.28, "+28.0 pp"),  # a difference of shares is in percentage points
        (Unit.SHARE, -0.015, "-1.5 pp"),
        (Unit.USD, -1234.4, "-$1,234"),
        (Unit.USD_PER_PATIENT, 56.0, "+$56"),
        (Unit.QALYS_PER_PATIENT, 0.0021, "+0.0021"),
        (Unit.DAYS, -3.25, "-3.2"),
        (Unit.SHARE, None, "-"),
        (Unit.USD, math.nan, "-"),
    ],
)
def test_differences_print_signed_in_their_unit(unit, value, text):
    assert format_difference(unit, value) == text


@pytest.mark.parametrize(
    ("name", "low", "high", "verdict"),
    [
        # Integrated delivery: higher is better.
        ("integrated_delivery_rate", 0.10, 0.30, "better"),
        ("integrated_delivery_rate", -0.30, -0.10, "worse"),
        ("integrated_delivery_rate", -0.10, 0.20, "no clear change"),
        ("integrated_delivery_rate", 0.0, 0.0, "no clear change"),  # a scenario against itself
        # Fragmentation: lower is better, so a fall is good news.
        ("fragmentation_index", -0.30, -0.10, "better"),
        ("fragmentation_index", 0.05, 0.10, "worse"),
        # A pathway share only describes: no verdict either way.
        ("share_drug_only", 0.10, 0.30, ""),
        # An undefined interval (one replication) gives none.
        ("integrated_delivery_rate", math.nan, math.nan, ""),
        ("integrated_delivery_rate", None, None, ""),
    ],
)
def test_a_change_is_judged_by_its_interval_and_the_metrics_good_direction(
    name, low, high, verdict
):
    assert change_verdict(name, low, high) == verdict


def test_output_columns_resolve_to_an_entry():
    reason = column("patients.csv", "drop_reason")
    assert isinstance(reason, Column) and reason.codes == "drop_reason"
    assert column("claims.csv", "payer").codes == "claim_payer", "claims name the patient too"
    assert column("patients.csv", "payer").codes == "payer"
    assert column("daily.csv", "replication").unit is Unit.ID, "a column of any file"
    assert column("daily.csv", "share_integrated") is metric("share_integrated")
    with pytest.raises(KeyError, match="not_a_column"):
        column("daily.csv", "not_a_column")


def test_every_coded_column_names_a_code_list():
    for group in COLUMNS.values():
        for col in group.values():
            assert (col.codes is None) == (col.unit is not Unit.CODE), col.name
            assert col.codes is None or col.codes in CODES, col.name
    for name, meanings in CODES.items():
        assert meanings and all(m.endswith(".") for m in meanings.values()), name
