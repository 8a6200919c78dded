"""Property-based tests: DESIGN §10's invariants on random valid scenarios (issue 7, item 1).

Hypothesis draws a valid scenario (random values within every field's declared bounds on top of
a random preset: ``tests/strategies.py``), a run size, a seed and replication, and times at which
to pause. The model is advanced with ``model.run_until(t)`` in those chunks and
``model.invariants.check_all`` runs at every pause: patients conserved, money conserved to the
cent, capacities and waitlists never negative, layers/shares/rates within range, no event in the
past, every day sampled once. A second property runs the same scenario and seed three times
(twice straight through, once in chunks) and asserts identical outputs.

Each example's wall time is limited (``RUN_TIME_LIMIT_S``), so a run that hangs fails with a
message instead of stalling CI. The number of cases tried and passed is written to
``artifacts/property_counts.json`` (see ``docs/reliability.md``).
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
import strategies as strat
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from agents.codes import ClaimStatus
from model.invariants import check_all
from model.model import KetasimModel
from model.params import Scenario
from scenarios.api import build, scenario_from_dict

# CI budget: 30 examples a property; set KETASIM_PROPERTY_EXAMPLES for a longer local search.
MAX_EXAMPLES = int(os.environ.get("KETASIM_PROPERTY_EXAMPLES", "30"))
PROPERTY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

counter = strat.CaseCounter("tests/test_properties.py")


@pytest.fixture(scope="module", autouse=True)
def _write_counts():
    yield
    counter.write()


def _describe(scenario: Scenario, run: dict) -> None:
    """Attach what a failing example needs to be reproduced to Hypothesis's report."""
    changed = scenario.model_dump(mode="json", exclude_defaults=True)
    note(f"run settings: {run}")
    note(f"scenario (non-default values): {changed}")


@PROPERTY_SETTINGS
@given(
    scenario=strat.scenarios(),
    run=strat.run_settings(),
    data=st.data(),
    keep_claims=st.booleans(),
)
def test_invariants_hold_at_every_sampled_day(scenario, run, data, keep_claims):
    """Patients, money, capacities, ranges and event times hold throughout random runs."""
    stops = data.draw(strat.stop_times(run["days"]), label="pauses")
    counter.tried("invariants_at_sampled_days")
    _describe(scenario, run)
    with strat.time_limit(strat.RUN_TIME_LIMIT_S):
        model = build(scenario, keep_claims=keep_claims, **run)
        check_all(model)
        for t in stops:
            model.run_until(t)
            check_all(model)
    assert model.time == run["days"]
    assert len(model.daily.rows) == run["days"]
    counter.passed("invariants_at_sampled_days")


def _outputs(model: KetasimModel) -> dict:
    return {
        "summary": model.summary(),
        "extended": model.summary_extended(),
        "daily": model.daily_frame(),
        "claims": model.claims_frame(),
        "patients": model.patient_frame(),
        "by_payer": model.payer_frame(),
    }


def _assert_same(a: dict, b: dict, what: str) -> None:
    assert a["summary"] == b["summary"], f"{what}: summaries differ"
    assert a["extended"] == b["extended"], f"{what}: extended summaries differ"
    for key in ("daily", "claims", "patients", "by_payer"):
        try:
            pd.testing.assert_frame_equal(a[key], b[key], check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"{what}: {key} frames differ: {exc}") from None


@PROPERTY_SETTINGS
@given(scenario=strat.scenarios(), run=strat.run_settings(), data=st.data())
def test_same_seed_gives_identical_outputs_however_the_run_is_chunked(scenario, run, data):
    """Same scenario + seed + replication => identical summary, daily, claims, patient frames.

    The third run pauses at random times: stopping and resuming must not change anything.
    """
    stops = data.draw(strat.stop_times(run["days"]), label="pauses")
    counter.tried("same_seed_identical")
    _describe(scenario, run)
    with strat.time_limit(3 * strat.RUN_TIME_LIMIT_S):
        first = build(scenario, **run)
        first.run()
        second = build(scenario, **run)
        second.run()
        chunked = build(scenario, **run)
        for t in stops:
            chunked.run_until(t)
    a, b, c = _outputs(first), _outputs(second), _outputs(chunked)
    _assert_same(a, b, "two runs with the same seed")
    _assert_same(a, c, "a run paused and resumed vs one straight through")
    counter.passed("same_seed_identical")


@settings(max_examples=10, deadline=None)
@given(
    preset=st.sampled_from(strat.preset_names()),
    seed=st.integers(0, 2**63 - 1),
)
def test_replications_differ_but_each_is_reproducible(preset, seed):
    """Replication r is its own stream family: r=0 and r=1 differ, r=1 repeats exactly."""
    counter.tried("replications")
    runs = [build(preset, n_patients=150, days=60, seed=seed, replication=r) for r in (0, 1, 1)]
    for model in runs:
        model.run()
    one, two = runs[1].claims_frame(), runs[2].claims_frame()
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert runs[0].population.payer_kind.tolist() != runs[1].population.payer_kind.tolist()
    counter.passed("replications")


# ------------------------------------------------------------------------------------------
# Bugs the properties found, pinned as plain tests (see docs/reliability.md, "Known bugs").
# ------------------------------------------------------------------------------------------


def test_clinic_with_fewer_chair_hours_than_one_dose_does_not_hang():
    """A clinic whose week is shorter than one dose must not loop for ever looking for a week.

    ``prescribers.n_chair_hours_per_week`` may be any value in (0, 1000] and
    ``hours_esketamine_dose`` any in (0, 24]; with 1 chair-hour a week and 2.5-hour doses,
    ``Prescriber.next_chair_time`` never finds a week with room (agents/prescriber.py).
    """
    scenario = scenario_from_dict({"prescribers": {"n_chair_hours_per_week": 1.0}})
    with strat.time_limit(10.0):
        model = build(scenario, n_patients=100, days=60, seed=0)
        model.run()
    check_all(model)


def test_no_claim_is_dated_after_the_run_ends():
    """Every claim in a run's ledger happened within the run.

    A denied prior-authorisation claim is written when the request is made but dated at the
    decision, up to ``dur_pa_delay_days`` later (model.record_prior_auth), so a run's claims
    frame holds denials dated after its last day (and counts them in ``n_pa_denied``).
    """
    scenario = scenario_from_dict({"policy": {"p_pa_denial": 1.0, "dur_pa_delay_days": 30.0}})
    model = build(scenario, n_patients=400, days=60, seed=1)
    model.run()
    claims = model.claims_frame()
    late = claims[claims["day"] > model.days]
    assert late.empty, (
        f"{len(late)} claim(s) dated after day {model.days}, up to day {late['day'].max():.1f} "
        f"(statuses: {sorted(late['status'].unique())})"
    )
    denied = int((claims["status"] == ClaimStatus.DENIED.name.lower()).sum())
    assert denied == model.tally.n_pa_denied
