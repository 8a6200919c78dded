"""Whether a catchment is big enough for the policy levers to act: warnings before a run.

A catchment's clinics and therapists are sized from its patients (``KetasimModel._make_prescribers``
and ``_make_therapists``), and only therapists trained in ketamine integration at the start can
staff an integrated programme until the first yearly training review. A small catchment can round
that number to zero: 300 patients give 2 clinics and 4 therapists, and 10 % of 4 therapists
rounds to none trained. Then no clinic can become an integrated programme at its quarterly
reviews (the integrated model is closed to a clinic while no trained therapist exists), and every
lever that acts through integrated programmes (bundled payment, the coordination payment, the
professional norm for integrated care, the session's timing) changes nothing: the policy
difference is exactly zero, silently. These functions say so before the run, from the same
rounding the model uses.

Pure functions of a scenario and a size: nothing is run.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from agents.calendar import DAYS_PER_QUARTER, DAYS_PER_YEAR
from agents.policy import IntegrationTiming, PolicyLevers
from model.params import RunSettings, Scenario

MAX_SEARCH_PATIENTS = 1_000_000
"""The largest catchment ``smallest_integrating_size`` looks at."""


@dataclass(frozen=True)
class Catchment:
    """The institutions a catchment of ``n_patients`` starts with.

    Attributes:
        n_patients: Treatment-resistant people in the catchment.
        n_clinics: Ketamine/esketamine clinics.
        n_therapists: Therapists (0 in a world without therapy).
        n_trained: Therapists trained in ketamine integration at the start.
    """

    n_patients: int
    n_clinics: int
    n_therapists: int
    n_trained: int


def catchment(scenario: Scenario, n_patients: int) -> Catchment:
    """The clinics and therapists a run of ``n_patients`` starts with.

    The one sizing rule: ``KetasimModel`` builds exactly these counts, so a warning made from
    them speaks of the run that will happen.
    """
    pp, tp, policy = scenario.prescribers, scenario.therapists, scenario.policy
    clinics = max(1, round(pp.n_per_1000_patients * n_patients / 1000.0))
    therapists = 0
    if policy.therapy_available:
        therapists = max(
            1, round(tp.n_per_1000_patients * n_patients / 1000.0 * policy.rel_therapist_supply)
        )
    return Catchment(n_patients, clinics, therapists, round(therapists * tp.p_trained_initial))


def integration_levers(policy: PolicyLevers) -> list[str]:
    """The levers switched on that act only through integrated programmes."""
    levers = []
    if policy.bundled_payment:
        levers.append("bundled payment")
    if policy.coordination_payment:
        levers.append("the coordination payment")
    if policy.usd_integrated_norm_per_hour > 0.0:
        levers.append("the professional norm for integrated care")
    if policy.integration_timing is IntegrationTiming.ACUTE:
        levers.append("acute-session integration")
    return levers


def first_integration_day(scenario: Scenario, n_patients: int) -> float:
    """The earliest day a clinic can become an integrated programme.

    Clinics choose their business model at quarterly reviews, and the integrated model is open
    only while a trained therapist exists. With one trained at the start, that is the first
    review. With none, therapists can train only at the first yearly review, which runs after
    that day's quarterly review, so the first chance is the quarter after it.
    """
    if catchment(scenario, n_patients).n_trained > 0:
        return DAYS_PER_QUARTER
    return DAYS_PER_YEAR + DAYS_PER_QUARTER


def smallest_integrating_size(scenario: Scenario) -> int | None:
    """The fewest patients that give at least one trained therapist at the start.

    Returns:
        The size, or None when no size up to ``MAX_SEARCH_PATIENTS`` does (e.g. no therapy, or
        no therapist trained at the start).
    """
    if catchment(scenario, MAX_SEARCH_PATIENTS).n_trained == 0:
        return None
    lo, hi = 1, MAX_SEARCH_PATIENTS  # trained therapists never fall as the catchment grows
    while lo < hi:
        mid = (lo + hi) // 2
        if catchment(scenario, mid).n_trained > 0:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def lever_warnings(
    scenario: Scenario, n_patients: int | None = None, days: int | None = None
) -> list[str]:
    """One-line warnings for levers that cannot act in a run of this size and length.

    Args:
        scenario: The scenario (its levers and institution parameters).
        n_patients: The run's catchment size (default: the scenario's ``[run]`` size).
        days: The run's length, days (default: the scenario's).

    Returns:
        One sentence per problem (empty when every lever switched on can act, and for a size or
        length the run's own rules refuse: that refusal is the message then).
    """
    n_patients = scenario.run.n_patients if n_patients is None else n_patients
    days = scenario.run.days if days is None else days
    try:
        RunSettings(n_patients=n_patients, days=days)
    except ValidationError:
        return []
    warnings = []
    levers = integration_levers(scenario.policy)
    place = catchment(scenario, n_patients)
    if levers and scenario.policy.therapy_available and place.n_trained == 0:
        first = first_integration_day(scenario, n_patients)
        when = f"within the run's {days:,} days" if days <= first else f"before day {first:g}"
        smallest = smallest_integrating_size(scenario)
        advice = (
            f"use at least {smallest:,} patients"
            if smallest is not None
            else "no catchment size gives a trained therapist at the start"
        )
        warnings.append(
            f"{n_patients:,} patients give {place.n_clinics} clinic(s) and "
            f"{place.n_therapists} therapist(s), none trained in ketamine integration at the "
            f"start, so no clinic can become an integrated programme {when} and "
            f"{_listed(levers)} can change little or nothing; {advice}."
        )
    if scenario.policy.usd_training_subsidy > 0.0 and days <= DAYS_PER_YEAR:
        warnings.append(
            "the training subsidy is taken up at the yearly training review (day "
            f"{DAYS_PER_YEAR:g}), so a run of {days:,} days ends before it can change anything; "
            f"run more than {DAYS_PER_YEAR:g} days to see it act."
        )
    return warnings
