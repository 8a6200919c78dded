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
    USD_PER_SESSION = "USD per session"
    SESSIONS_PER_YEAR = "sessions per year"
    CENTS = "US cents"
    DAY = "day of the run (0 = its start)"
    FLAG = "true or false"
    ID = "row number"
    CODE = "a name from a code list"


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
        case Unit.USD | Unit.USD_PER_PATIENT | Unit.USD_PER_QALY | Unit.USD_PER_SESSION:
            sign = "-" if value < 0 else ""
            return f"{sign}${abs(value):,.0f}"
        case Unit.QALYS_PER_PATIENT:
            return f"{value:.4f}"
        case Unit.LAYER:
            return f"{value:.3f}"
        case Unit.DAYS | Unit.MADRS | Unit.PER_WEEK | Unit.SESSIONS_PER_YEAR | Unit.DAY:
            return f"{value:,.1f}"
        case Unit.COUNT | Unit.CENTS:
            return f"{value:,.0f}"
        case Unit.TEXT | Unit.FLAG | Unit.ID | Unit.CODE:
            return str(value)
        case _:
            raise ValueError(f"no format for unit {unit!r}")


def format_difference(unit: Unit, value: float | None) -> str:
    """A difference between two values of ``unit``, signed: shares in percentage points.

    A difference of two shares is not a share of anything: 0.12 - 0.10 prints as "+2.0 pp",
    not "+2.0%".
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit in (Unit.SHARE, Unit.RATE):
        return f"{100.0 * value:+.1f} pp"
    text = format_value(unit, abs(value))
    return ("-" if value < 0 else "+") + text


def change_verdict(name: str, low: float | None, high: float | None) -> str:
    """Whether a change with 95 % interval [low, high] is good or bad news for ``name``.

    Returns:
        "better" or "worse" when the interval excludes zero and the metric has a good
        direction; "no clear change" when the interval holds zero; "" when the metric only
        describes (no good direction) or the interval is undefined.
    """
    m = metric(name)
    if m.higher_is_better is None or low is None or high is None:
        return ""
    if math.isnan(low) or math.isnan(high):
        return ""
    if low <= 0.0 <= high:
        return "no clear change"
    up = low > 0.0
    return "better" if up == m.higher_is_better else "worse"


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
    # -- the daily series only (daily.csv, one row a day) ---------------------------------------
    Metric(
        "integrated_delivery_rate_rolling",
        "Integrated delivery (rolling)",
        Unit.SHARE,
        "rolling window",
        "Integrated delivery among the doses whose window closed in the last "
        "metrics.dur_rolling_days days (28 by default).",
        True,
    ),
    Metric(
        "doses_cumulative",
        "Doses given",
        Unit.COUNT,
        "from day 0",
        "Ketamine and esketamine doses given since the start of the run.",
    ),
    Metric(
        "sessions_cumulative",
        "Sessions held",
        Unit.COUNT,
        "from day 0",
        "Therapy and integration sessions attended since the start of the run.",
    ),
    Metric(
        "n_sought_care",
        "People who sought care",
        Unit.COUNT,
        "from day 0",
        "People who have started seeking care at some time (the pathway shares' denominator).",
    ),
    Metric(
        "n_treated",
        "People treated",
        Unit.COUNT,
        "from day 0",
        "People who have had at least one dose or session (the clinical rates' denominator).",
    ),
    Metric(
        "mean_b",
        "Behavioural layer",
        Unit.LAYER,
        "on the day",
        "Mean effective motivational/behavioural layer over everyone in the catchment.",
        False,
    ),
    Metric(
        "mean_r",
        "Relational layer",
        Unit.LAYER,
        "on the day",
        "Mean relational/attachment layer over everyone in the catchment.",
        False,
    ),
    Metric(
        "mean_n",
        "Narrative layer",
        Unit.LAYER,
        "on the day",
        "Mean narrative-self layer over everyone in the catchment.",
        False,
    ),
    Metric(
        "pharma_detailing",
        "Pharma detailing",
        Unit.USD,
        "from day 0",
        "Spent by the esketamine maker on detailing (marketing to prescribers), undiscounted USD.",
    ),
    Metric(
        "drug_price_per_session",
        "Esketamine price",
        Unit.USD_PER_SESSION,
        "on the day",
        "The branded drug's price per dosing session (falls once the patent expires).",
    ),
    Metric(
        "therapy_waitlist",
        "Waiting for a first session",
        Unit.COUNT,
        "on the day",
        "People referred to therapy who have not had their first session yet.",
        False,
    ),
    Metric(
        "prescriber_utilisation",
        "Clinic utilisation",
        Unit.SHARE,
        "this week",
        "Chair-hours booked this week over chair-hours available, mean over the clinics.",
    ),
    Metric(
        "therapists_in_network_share",
        "Therapists in network",
        Unit.SHARE,
        "on the day",
        "Therapists in at least one payer's network, over all therapists.",
        True,
    ),
    Metric(
        "therapists_trained_share",
        "Therapists trained",
        Unit.SHARE,
        "on the day",
        "Therapists trained in ketamine integration, over all therapists.",
        True,
    ),
    Metric(
        "pa_denial_rate",
        "Prior-authorisation denials",
        Unit.SHARE,
        "on the day",
        "The share of prior-authorisation requests payers deny, mean over the payers.",
        False,
    ),
    Metric(
        "session_cap",
        "Session cap",
        Unit.SESSIONS_PER_YEAR,
        "on the day",
        "Psychotherapy sessions a year a payer covers per patient, mean over the payers.",
    ),
    Metric(
        "n_not_seeking",
        "Not seeking care",
        Unit.COUNT,
        "on the day",
        "People not (yet) seeking care.",
    ),
    Metric(
        "n_seeking",
        "Seeking care",
        Unit.COUNT,
        "on the day",
        "People looking for care: searching, at intake, awaiting prior authorisation or a first "
        "slot.",
    ),
    Metric("n_in_treatment", "In treatment", Unit.COUNT, "on the day", "People in treatment."),
    Metric(
        "n_discharged",
        "Discharged",
        Unit.COUNT,
        "on the day",
        "People whose course ended as planned (they may seek care again on relapse).",
    ),
    Metric(
        "n_dropped_out",
        "Dropped out",
        Unit.COUNT,
        "on the day",
        "People who left care for good.",
        False,
    ),
    Metric(
        "clinics_infusion_cash",
        "Cash infusion clinics",
        Unit.COUNT,
        "on the day",
        "Clinics running the infusion_cash business model (IV racemic ketamine, self-pay).",
    ),
    Metric(
        "clinics_rems_esketamine",
        "REMS esketamine clinics",
        Unit.COUNT,
        "on the day",
        "Clinics running the rems_esketamine business model (branded esketamine, billed to "
        "payers).",
    ),
    Metric(
        "clinics_integrated",
        "Integrated clinics",
        Unit.COUNT,
        "on the day",
        "Clinics running the integrated business model (drug and therapy in one programme).",
        True,
    ),
    # -- by payer type (by_payer.csv, one row a coverage kind) ----------------------------------
    Metric(
        "share_sought_care",
        "Share who sought care",
        Unit.SHARE,
        _END,
        "People of this coverage who have sought care, over people of this coverage.",
    ),
    Metric(
        "share_treated",
        "Share treated",
        Unit.SHARE,
        _END,
        "People of this coverage with at least one dose or session, over those who sought care.",
        True,
    ),
    Metric(
        "spend_per_patient",
        "Spend per patient",
        Unit.USD_PER_PATIENT,
        _RUN,
        "Everything paid for the care of people of this coverage (payers and patients, "
        "undiscounted), over people of this coverage.",
    ),
)

METRICS: dict[str, Metric] = {m.name: m for m in _ENTRIES}
"""Every reported metric by name."""


@dataclass(frozen=True)
class Column:
    """A column of an output file that is not a metric: an identifier, a fact of one row, a code.

    Attributes:
        name: The column's header.
        unit: What it holds.
        definition: One line: what it records.
        codes: For a column of names from a code list, that list's key in ``CODES``.
    """

    name: str
    unit: Unit
    definition: str
    codes: str | None = None


def _columns(*cols: Column) -> dict[str, Column]:
    return {c.name: c for c in cols}


_ANY_FILE = "*"
COLUMNS: dict[str, dict[str, Column]] = {
    _ANY_FILE: _columns(
        Column("replication", Unit.ID, "The replication (0, 1, ...); paired runs share one."),
        Column("day", Unit.DAY, "The day of the run the row reports (its end)."),
    ),
    "patients.csv": _columns(
        Column("patient", Unit.ID, "The patient's row number in the catchment (0 to N-1)."),
        Column("payer", Unit.CODE, "The patient's coverage.", "payer"),
        Column("can_pay_cash", Unit.FLAG, "Whether the patient can pay for care in cash."),
        Column("pathway_state", Unit.CODE, "Where the patient is at the end.", "pathway_state"),
        Column(
            "care_category", Unit.CODE, "What the patient has received by the end.", "care_category"
        ),
        Column(
            "start_day",
            Unit.DAY,
            "Day of the patient's first dose or session (empty: never treated).",
        ),
        Column("n_doses", Unit.COUNT, "Doses the patient received."),
        Column("n_sessions", Unit.COUNT, "Therapy and integration sessions the patient attended."),
        Column(
            "n_doses_in_window",
            Unit.COUNT,
            "The patient's doses followed by a session inside the plasticity window.",
        ),
        Column("baseline_severity", Unit.MADRS, "Severity when the run starts."),
        Column(
            "final_severity",
            Unit.MADRS,
            "Severity at the end (untreated people: their baseline).",
        ),
        Column(
            "in_response",
            Unit.FLAG,
            "In response at the end (severity at most half the baseline).",
        ),
        Column("in_remission", Unit.FLAG, "In remission at the end (severity at most 10)."),
        Column("first_response_day", Unit.DAY, "Day the patient first responded (empty: never)."),
        Column(
            "relapse_day",
            Unit.DAY,
            "Day the patient first lost response after responding (empty: never).",
        ),
        Column(
            "durable_remission",
            Unit.FLAG,
            "1 if in remission 180 days after starting treatment, 0 if not; empty when the "
            "patient started less than 180 days before the end (or never).",
        ),
        Column(
            "qalys",
            Unit.QALYS_PER_PATIENT,
            "Quality-adjusted life years the patient lived over the run, discounted.",
        ),
        Column(
            "spend_usd",
            Unit.USD,
            "Everything paid for the patient's care over the run (payers and the patient), "
            "undiscounted.",
        ),
        Column(
            "drop_reason",
            Unit.CODE,
            "Why the patient first left a course early (none: never).",
            "drop_reason",
        ),
    ),
    "claims.csv": _columns(
        Column("day", Unit.DAY, "When the service was given (days, fractional)."),
        Column("patient", Unit.ID, "The patient's row number (as in patients.csv)."),
        Column("payee_kind", Unit.CODE, "Who receives the payment.", "payee_kind"),
        Column(
            "payee",
            Unit.ID,
            "Which prescriber or therapist receives it (their row number within their kind; "
            "0 for pharma).",
        ),
        Column("payer", Unit.CODE, "Who pays: a coverage kind, or the patient.", "claim_payer"),
        Column("silo", Unit.CODE, "The budget the claim is paid from.", "silo"),
        Column("code", Unit.CODE, "The billing code.", "code"),
        Column("status", Unit.CODE, "What came of the claim.", "status"),
        Column(
            "amount_usd",
            Unit.USD,
            "The amount of the claim (denied claims: the amount asked, not paid).",
        ),
        Column("cents", Unit.CENTS, "The same amount in whole cents (sums are exact)."),
    ),
    "by_payer.csv": _columns(
        Column("payer", Unit.CODE, "The coverage kind the row reports.", "payer"),
        Column("n_patients", Unit.COUNT, "People of this coverage in the catchment."),
    ),
    "compare --json": _columns(
        Column("base", Unit.TEXT, "The reference scenario's name."),
        Column("policy", Unit.TEXT, "The name of the scenario compared with it."),
        Column(
            "replications",
            Unit.COUNT,
            "Paired replications: both arms run replications 0 to R-1 with the same seed.",
        ),
    ),
}
"""Columns of the output files that are not metrics, by file (``"*"``: in any file)."""

CODES: dict[str, dict[str, str]] = {
    "payer": {
        "commercial": "Commercial (employer or private) insurance.",
        "medicaid": "Medicaid.",
        "medicare": "Medicare.",
        "uninsured": "No coverage: pays cash or goes without.",
    },
    "claim_payer": {
        "commercial": "A commercial insurer.",
        "medicaid": "Medicaid.",
        "medicare": "Medicare.",
        "patient": "The patient: cost sharing on a covered claim, or cash for an uncovered one.",
    },
    "pathway_state": {
        "not_seeking": "Not (yet) seeking care.",
        "seeking": "Looking for care: searching, at intake, awaiting prior authorisation or a "
        "first slot.",
        "in_treatment": "In a drug course, therapy or both.",
        "discharged": "Course ended as planned; may seek care again on relapse.",
        "dropped_out": "Left care for good.",
    },
    "care_category": {
        "not_seeking": "Never sought care.",
        "untreated": "Sought care, received nothing yet.",
        "drug_only": "Had doses, none followed by a session inside the window.",
        "integrated": "At least one dose followed by a session inside the window.",
        "therapy_only": "Had therapy sessions and no dose.",
        "dropped_out": "Left care for good.",
    },
    "drop_reason": {
        "none": "Never left a course early.",
        "cost": "The out-of-pocket cost of a dose, or a session nobody would pay for.",
        "wait": "Reserved for the wait for care; the model records a wait too long to accept as "
        "access.",
        "disengagement": "Stopped attending: missed sessions, or left a drug course without a "
        "cost reason (including relief-driven disengagement).",
        "access": "No clinic or therapist in reach worth choosing, after every search allowed.",
    },
    "payee_kind": {
        "prescriber": "A clinic (prescriber), for an evaluation, a dosing session, an infusion, "
        "coordination or a bundle.",
        "therapist": "A therapist, for a session.",
        "pharma": "The esketamine maker, for the drug.",
    },
    "silo": {
        "medical": "A payer's medical budget.",
        "behavioral": "A payer's behavioural-health budget (separate under a carve-out).",
        "out_of_pocket": "The patient's own money.",
        "bundle": "A bundled episode payment.",
    },
    "code": {
        "PSYCH_EVAL_90791": "Psychiatric diagnostic evaluation (CPT 90791), at intake.",
        "PSYCHOTHERAPY_90837": "Psychotherapy, 60 minutes (CPT 90837).",
        "ESKETAMINE_SESSION_G2083": "Esketamine dosing session with at least 2 h of observation "
        "(HCPCS G2082/G2083-like).",
        "ESKETAMINE_DRUG": "The branded esketamine itself, per session.",
        "IV_KETAMINE_INFUSION": "An IV racemic ketamine infusion (usually self-pay).",
        "CARE_COORDINATION": "A monthly care-coordination payment to an integrated programme.",
        "BUNDLED_EPISODE": "One bundled payment for an integrated episode (drug and therapy).",
        "PRIOR_AUTH_REQUEST": "A denied prior authorisation, recorded with the amount the course "
        "would have cost (status denied; no money moves).",
    },
    "status": {
        "paid": "Paid by the payer named.",
        "denied": "Denied: no money moved.",
        "self_pay": "Paid by the patient.",
    },
    "business_model": {
        "infusion_cash": "IV racemic ketamine for cash (self-pay).",
        "rems_esketamine": "Branded esketamine under the REMS rule, billed to payers.",
        "integrated": "Drug and therapy in one programme, sessions booked inside the window.",
    },
}
"""What each name in a coded column means, by code list (``Column.codes``)."""


def column(file: str, name: str) -> Column | Metric:
    """What column ``name`` of output ``file`` holds: its own entry, or the metric it reports.

    Raises:
        KeyError: The column is neither (a new output column must be registered here).
    """
    for group in (COLUMNS.get(file, {}), COLUMNS[_ANY_FILE]):
        if name in group:
            return group[name]
    try:
        return metric(name)
    except KeyError:
        raise KeyError(f"column {name!r} of {file} is not in model.metric_info") from None


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
