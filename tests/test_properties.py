"""Property-based tests: the invariants of docs/reliability.md on random valid scenarios.

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

import copy
import math
import os
import pickle
import re

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
from scenarios.batch import _revalidated
from scenarios.loader import ScenarioError, preset_names, scenario_hash

# CI budget: 30 examples a property, the same ones every run (derandomized: CI is reproducible
# and a red build means the code changed). KETASIM_PROPERTY_EXAMPLES=N runs N fresh random
# examples instead: a longer local search.
RANDOM_SEARCH = "KETASIM_PROPERTY_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("KETASIM_PROPERTY_EXAMPLES", "30"))
PROPERTY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not RANDOM_SEARCH,
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


@settings(max_examples=200, deadline=None, derandomize=not RANDOM_SEARCH)
@given(scenario=strat.scenarios())
def test_a_pickled_scenario_revalidates_to_an_equal_one(scenario):
    """Batch workers run a re-validated copy of the scenario they unpickle: it must be equal."""
    received = pickle.loads(pickle.dumps(scenario))
    again = _revalidated(received)
    assert again == scenario
    assert scenario_hash(again) == scenario_hash(scenario)


@settings(max_examples=10, deadline=None, derandomize=not RANDOM_SEARCH)
@given(
    preset=st.sampled_from(preset_names()),
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
# Regressions: bugs the properties found, pinned as plain tests (docs/reliability.md, "Bugs found").
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


def test_tiny_relief_duration_does_not_crash():
    """``clinical.dur_relief_days`` may be any value in (0, 3650]; a tiny one must not crash.

    With 1e-300 the relief scale underflows: ``relief_at`` raises OverflowError (or
    ZeroDivisionError when the scale rounds to 0) in the scalar path used at each dose
    (agents/clinical.py ``relief_at`` via ``ClinicalState.relief_row``).
    """
    for value in (1e-300, 5e-324):
        scenario = scenario_from_dict(
            {"extends": "no_prior_auth", "clinical": {"dur_relief_days": value}}
        )
        model = build(scenario, n_patients=200, days=60, seed=0)
        model.run()
        check_all(model)


def test_esketamine_relief_multiplier_keeps_relief_within_one():
    """Relief is a share of b (0-1), whatever ``rel_esketamine_relief`` in its range [0, 2].

    ``receive_dose`` passes ``sensitivity * rel_esketamine_relief`` (up to 2) to
    ``relief_after_dose``, which assumes a share: relief reaches ~1.7, the felt behavioural
    layer goes negative and severity drops below 0 on the 0-60 scale.
    """
    scenario = scenario_from_dict(
        {"extends": "no_prior_auth", "clinical": {"rel_esketamine_relief": 2.0}}
    )
    model = build(scenario, n_patients=300, days=90, seed=1)
    model.run()
    check_all(model)


def test_session_gains_keep_layers_at_or_above_zero():
    """Layers stay in [0, 1] with session gains anywhere in their declared [0, 1] ranges.

    ``session_gain`` returns ``base + synergy * plasticity``, which exceeds 1 when the two sum
    above 1; ``apply_session`` then sets ``b * (1 - gain)`` < 0 (agents/clinical.py).
    """
    scenario = scenario_from_dict(
        {
            "extends": "integrated_ideal",
            "clinical": {"p_session_base_gain": 0.5, "p_session_synergy_gain": 1.0},
        }
    )
    model = build(scenario, n_patients=200, days=90, seed=0)
    model.run()
    check_all(model)


def _extremes(field) -> list:
    """A field's declared extremes: the bounds, or just inside an open bound (and 1e-300)."""
    low, low_open, high, high_open = strat.bounds(field)
    if field.annotation is int:
        return [v for v in (low, high) if v is not None]
    values = []
    if low is not None:
        values += [math.nextafter(low, math.inf), 1e-300] if low_open else [low]
    if high is not None:
        values.append(math.nextafter(high, -math.inf) if high_open else high)
    return values


def test_every_numeric_field_at_its_declared_extremes_runs_cleanly():
    """Each numeric field, alone at each extreme of its declared range, runs and keeps invariants.

    Hypothesis reaches the extremes only by chance; this walks all of them (one field at a time
    on the defaults, ~300 small runs) and reports every failure at once.
    """
    failures = []
    for block in strat.BLOCKS:
        for name, field in strat.block_model(block).model_fields.items():
            if field.annotation not in (int, float):
                continue
            for value in _extremes(field):
                try:
                    scenario = scenario_from_dict({block: {name: value}})
                except ScenarioError:
                    continue  # a cross-field rule refuses it alone (e.g. weights summing to 1)
                counter.tried("declared_extremes")
                try:
                    with strat.time_limit(5.0):
                        model = build(scenario, n_patients=80, days=40, seed=1)
                        model.run()
                    check_all(model)
                except Exception as exc:  # every failure is collected, then reported together
                    failures.append(f"{block}.{name} = {value!r}: {type(exc).__name__}: {exc}")
                    continue
                counter.passed("declared_extremes")
    assert not failures, f"{len(failures)} extreme value(s) fail:\n" + "\n".join(failures)


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


# ------------------------------------------------------------------------------------------
# The checker itself: each invariant must fail when its quantity is corrupted.
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_model() -> KetasimModel:
    model = build("integrated_ideal", n_patients=300, days=120, seed=5)
    model.run()
    check_all(model)
    return model


def _corrupt_state_counts(m):
    m.population.state_counts[0] += 1


def _corrupt_agent_state(m):
    patient = next(p for p in m._patients if p is not None)
    m.population.state[patient.idx] = (int(patient.state) + 1) % 5


def _corrupt_category_counts(m):
    # A counting shortcut that drifts from the per-row categories (one integrated too many).
    right = m.population.category_counts()
    m.population.category_counts = lambda: right + (right == right.max())


def _corrupt_ledger_total(m):
    m.ledger.paid_by_silo[next(iter(m.ledger.paid_by_silo))] += 1


def _corrupt_claim_row(m):
    m.ledger._cols["cents"][0] += 1


def _corrupt_patient_spend(m):
    m.population.spend_cents[0] += 1


def _corrupt_booking(m):
    m.therapists[0].weeks.counts[0, 3] = -1


def _corrupt_chair_hours(m):
    m.prescribers[0].weeks.counts[0, 3] = -0.5


def _corrupt_waitlist(m):
    m.tally.n_waiting_for_therapy += 1


def _corrupt_layer(m):
    m.population.clinical.r[3] = 1.2


def _corrupt_relief(m):
    m.population.clinical.relief_last[3] = -0.1


def _corrupt_daily_share(m):
    m.daily.rows[10]["share_integrated"] = 1.5


def _corrupt_daily_day(m):
    m.daily.rows.pop(20)


def _corrupt_event_time(m):
    m._event_list.pending()[0].time = m.time - 1.0


CORRUPTIONS = {
    "patients conserved": [_corrupt_state_counts, _corrupt_agent_state, _corrupt_category_counts],
    "money conserved": [
        _corrupt_ledger_total,
        _corrupt_claim_row,
        _corrupt_patient_spend,
    ],
    "capacities": [_corrupt_booking, _corrupt_chair_hours, _corrupt_waitlist],
    "layers within [0, 1]": [_corrupt_layer, _corrupt_relief],
    "shares and rates within [0, 1]": [_corrupt_daily_share],
    "every day sampled once": [_corrupt_daily_day],
    "no event in the past": [_corrupt_event_time],
}


@pytest.mark.parametrize(
    ("invariant", "corrupt"),
    [(name, fn) for name, fns in CORRUPTIONS.items() for fn in fns],
    ids=lambda x: x if isinstance(x, str) else x.__name__,
)
def test_checker_reports_each_corruption(finished_model, invariant, corrupt):
    """``check_all`` fails, naming the right invariant, when one quantity is corrupted."""
    model = copy.deepcopy(finished_model)
    corrupt(model)
    with pytest.raises(AssertionError, match=re.escape(f"invariant '{invariant}' violated")):
        check_all(model)
