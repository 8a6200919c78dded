"""What every reported number means: one registry of metrics for every output.

Each metric a run, a comparison, the dashboard or a report shows has one entry here: a label
for people, its unit, the period it covers, a one-line definition that names its denominator,
and whether a higher value is better for patients and the health system (None where neither
direction is good or bad in itself, e.g. a pathway share that is only a description). The CLI
tables, the dashboard's number boxes and the HTML reports read labels, units and formats from
here, so a metric means the same thing wherever it appears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    """How a metric's value is measured (and so how it is printed)."""

    SHARE = "share"  # a proportion in [0, 1], printed as a percentage
    DAYS = "days"
    USD = "USD"
    USD_PER_PATIENT = "USD per patient"
    USD_PER_QALY = "USD per QALY"
    QALYS_PER_PATIENT = "QALYs per patient"
    MADRS = "MADRS points (0-60)"
    LAYER = "layer value (0-1, 1 = entrenched)"
    COUNT = "count"
    PER_WEEK = "per week"
    RATE = "share per year"
    TEXT = "text"


@dataclass(frozen=True)
class Metric:
    """One reported number.

    Attributes:
        name: Its key in JSON, CSV and the store.
        label: A short human name for tables and number boxes.
        unit: What it is measured in.
        period: What time it covers (e.g. "over the run", "at the run's end").
        definition: One line: what is counted, over what denominator.
        higher_is_better: True or False where a direction is good for patients and the health
            system, None where the number only describes (colour it neutrally).
    """

    name: str
    label: str
    unit: Unit
    period: str
    definition: str
    higher_is_better: bool | None = None

    def format(self, value: float | int | str | None) -> str:
        """The value as a person reads it: shares as %, money in USD, days with one decimal."""
        return format_value(self.unit, value)


def format_value(unit: Unit, value: float | int | str | None) -> str:
    """Format ``value`` for its unit; '-' for a missing or undefined value."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "-"
    match unit:
        case Unit.SHARE | Unit.RATE:
            return f"{value:.1%}"
        case Unit.USD | Unit.USD_PER_PATIENT | Unit.USD_PER_QALY:
            sign = "-" if value < 0 else ""
            return f"{sign}${abs(value):,.0f}"
        case Unit.QALYS_PER_PATIENT:
            return f"{value:.4f}"
        case Unit.LAYER:
            return f"{value:.3f}"
        case Unit.DAYS | Unit.MADRS | Unit.PER_WEEK:
            return f"{value:,.1f}"
        case Unit.COUNT:
            return f"{value:,.0f}"
        case _:
            return str(value)


_RUN = "over the run"
_END = "at the run's end"

_ENTRIES = (
    # -- identifiers -------------------------------------------------------------------------
    Metric("scenario", "Scenario", Unit.TEXT, "-", "The scenario's name."),
    Metric("seed", "Seed", Unit.COUNT, "-", "The run's random seed."),
    Metric(
        "n_patients",
        "Patients",
        Unit.COUNT,
        "-",
        "Treatment-resistant people in the simulated catchment, all present from day 0.",
    ),
    Metric("days", "Days", Unit.COUNT, "-", "Length of the run, days."),
    # -- the headline ------------------------------------------------------------------------
    Metric(
        "integrated_delivery_rate",
        "Integrated delivery",
        Unit.SHARE,
        _RUN,
        "Doses followed by a therapy or integration session inside the plasticity window "
        "(0.5-7 days after the dose), over doses whose window closed by the end.",
        True,
    ),
    Metric(
        "mean_days_dose_to_therapy",
        "Days from dose to therapy",
        Unit.DAYS,
        _RUN,
        "Mean days from a dose to the first session after it, over doses followed by one "
        "within 60 days.",
        False,
    ),
    # -- pathway shares ------------------------------------------------------------------------
    Metric(
        "share_integrated",
        "Share integrated",
        Unit.SHARE,
        _END,
        "People with at least one dose covered by a session in its window, over people who "
        "sought care.",
        True,
    ),
    Metric(
        "share_drug_only",
        "Share drug only",
        Unit.SHARE,
        _END,
        "People with doses but none covered by a session in its window, over people who "
        "sought care.",
    ),
    Metric(
        "share_therapy_only",
        "Share therapy only",
        Unit.SHARE,
        _END,
        "People with therapy sessions and no dose, over people who sought care.",
    ),
    Metric(
        "share_untreated",
        "Share untreated",
        Unit.SHARE,
        _END,
        "People who sought care and have received nothing yet, over people who sought care.",
        False,
    ),
    Metric(
        "share_dropped_out",
        "Share dropped out",
        Unit.SHARE,
        _END,
        "People who left care for good (cost, waits, disengagement, no access), over people "
        "who sought care.",
        False,
    ),
    # -- clinical ------------------------------------------------------------------------------
    Metric(
        "response_rate",
        "In response at the end",
        Unit.SHARE,
        _END,
        "People in response (MADRS at most half their baseline) on the last day, over people "
        "who ever started treatment (point prevalence).",
        True,
    ),
    Metric(
        "remission_rate",
        "In remission at the end",
        Unit.SHARE,
        _END,
        "People in remission (MADRS at most 10) on the last day, over people who ever started "
        "treatment (point prevalence).",
        True,
    ),
    Metric(
        "relapse_rate_180d",
        "Relapse within 180 days",
        Unit.SHARE,
        _RUN,
        "People who lost response within 180 days of first responding, over people whose first "
        "response came at least 180 days before the end.",
        False,
    ),
    Metric(
        "durable_remission_rate",
        "Durable remission",
        Unit.SHARE,
        _RUN,
        "People in remission 180 days after starting treatment, over people who started at "
        "least 180 days before the end.",
        True,
    ),
    Metric(
        "mean_severity",
        "Mean severity",
        Unit.MADRS,
        _END,
        "Mean MADRS-like severity over everyone in the catchment (untreated people at their "
        "baseline).",
        False,
    ),
    Metric(
        "qalys_per_patient",
        "QALYs per patient",
        Unit.QALYS_PER_PATIENT,
        _RUN,
        "Quality-adjusted life years lived over the run, discounted, over everyone in the "
        "catchment.",
        True,
    ),
    # -- money ---------------------------------------------------------------------------------
    Metric(
        "spend_medical",
        "Medical budget spend",
        Unit.USD,
        _RUN,
        "Paid from payers' medical budgets over the run, undiscounted USD.",
    ),
    Metric(
        "spend_behavioral",
        "Behavioural budget spend",
        Unit.USD,
        _RUN,
        "Paid from payers' behavioural (carve-out) budgets over the run, undiscounted USD.",
    ),
    Metric(
        "spend_out_of_pocket",
        "Out-of-pocket spend",
        Unit.USD,
        _RUN,
        "Paid by patients (cost sharing and cash) over the run, undiscounted USD.",
        False,
    ),
    Metric(
        "spend_bundle",
        "Bundle spend",
        Unit.USD,
        _RUN,
        "Paid as bundled episode payments over the run, undiscounted USD.",
    ),
    Metric(
        "pharma_revenue",
        "Pharma revenue",
        Unit.USD,
        _RUN,
        "Paid for the branded drug over the run, undiscounted USD.",
    ),
    Metric(
        "cost_per_durable_remission",
        "Cost per durable remission",
        Unit.USD,
        _RUN,
        "All spending (payers and patients, undiscounted) over the number of durable "
        "remissions; undefined with none.",
        False,
    ),
    Metric(
        "fragmentation_index",
        "Fragmentation index",
        Unit.SHARE,
        _RUN,
        "People whose drug and therapy were billed by different organisations or to different "
        "budgets with no coordination claim, over people with both a drug and a therapy claim.",
        False,
    ),
    Metric(
        "mean_therapy_wait_days",
        "Wait for first session",
        Unit.DAYS,
        _RUN,
        "Mean days from a referral (or a programme's first booking) to the first session, over "
        "people who had one.",
        False,
    ),
    # -- the extended summary (comparisons) ------------------------------------------------------
    Metric(
        "cost_per_patient_discounted",
        "Cost per patient (discounted)",
        Unit.USD_PER_PATIENT,
        _RUN,
        "Health-sector spending (payers and patients), discounted at the scenario's rate, over "
        "everyone in the catchment.",
        False,
    ),
    Metric(
        "spend_total",
        "Total spend",
        Unit.USD,
        _RUN,
        "Everything payers and patients paid over the run, undiscounted USD.",
    ),
    # -- comparisons ---------------------------------------------------------------------------
    Metric(
        "incremental_cost",
        "Incremental cost",
        Unit.USD_PER_PATIENT,
        _RUN,
        "Policy minus base discounted health-sector cost per patient, mean over paired "
        "replications.",
        False,
    ),
    Metric(
        "incremental_qalys",
        "Incremental QALYs",
        Unit.QALYS_PER_PATIENT,
        _RUN,
        "Policy minus base discounted QALYs per patient, mean over paired replications.",
        True,
    ),
    Metric(
        "icer",
        "ICER",
        Unit.USD_PER_QALY,
        _RUN,
        "Incremental cost over incremental QALYs; read only with its label (dominant, "
        "dominated) and the plane.",
    ),
    Metric(
        "nmb",
        "Net monetary benefit",
        Unit.USD_PER_PATIENT,
        _RUN,
        "Willingness to pay per QALY times incremental QALYs, less incremental cost, per patient.",
        True,
    ),
)

METRICS: dict[str, Metric] = {m.name: m for m in _ENTRIES}
"""Every reported metric by name."""


def metric(name: str) -> Metric:
    """The registry entry of ``name``.

    Raises:
        KeyError: ``name`` is not a registered metric (a new output must be registered here).
    """
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"metric {name!r} is not in model.metric_info.METRICS") from None


def label_with_unit(name: str) -> str:
    """``"Label (unit, period)"`` for a column header or an axis title."""
    m = metric(name)
    if m.unit is Unit.TEXT or m.period == "-":
        return m.label
    return f"{m.label} ({m.unit.value}, {m.period})"
