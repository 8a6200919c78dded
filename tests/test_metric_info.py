"""The metric registry covers every number a run and a comparison report."""

from __future__ import annotations

import math

import pytest

from model.metric_info import METRICS, Unit, format_value, label_with_unit, metric
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
