"""The day-bucketed event list pops exactly what Mesa's own event list pops, in the same order."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mesa.time.events import Event, EventList, Priority

from model.events import BucketedEventList

PRIORITIES = [Priority.HIGH, Priority.DEFAULT, Priority.LOW]


def _noop() -> None:
    """A module-level callback (Mesa keeps only a weak reference to it)."""


# One step of a run: add an event some time after the last one popped (often at the same
# time, or on the same day), cancel a pending one, or pop the next.
STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.sampled_from([0.0, 0.0, 0.25, 0.5, 0.999, 1.0, 1.5, 3.0, 7.0, 30.0, 365.25]),
            st.integers(0, 2),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 10_000)),
        st.tuples(st.just("pop")),
    ),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(steps=STEPS)
def test_pops_the_same_events_in_the_same_order_as_mesa(steps):
    mesa_list, ours = EventList(), BucketedEventList()
    now, made, popped_mesa, popped_ours = 0.0, [], [], []
    for step in steps:
        match step:
            case ("add", after, priority):
                event = Event(now + after, _noop, priority=PRIORITIES[priority])
                made.append(event)
                mesa_list.add_event(event)
                ours.add_event(event)
            case ("cancel", k) if made:
                made[k % len(made)].cancel()
            case ("pop",):
                if mesa_list.is_empty():
                    assert ours.is_empty()
                    continue
                a, b = mesa_list.pop_event(), ours.pop_event()
                popped_mesa.append(a)
                popped_ours.append(b)
                now = a.time
        assert len(ours) == len(mesa_list)
    assert popped_ours == popped_mesa
    # And whatever is left drains in the same order.
    while not mesa_list.is_empty():
        assert ours.pop_event() is mesa_list.pop_event()
    assert ours.is_empty()
    with pytest.raises(IndexError):
        ours.pop_event()


def test_views_of_the_pending_events():
    ours = BucketedEventList()
    events = [Event(t, _noop) for t in (5.5, 0.2, 40.0, 0.1, math.inf)]
    for event in events:
        ours.add_event(event)
    events[2].cancel()
    assert [e.time for e in ours.peek_ahead(3)] == [0.1, 0.2, 5.5]
    assert sorted(e.time for e in ours.pending()) == [0.1, 0.2, 5.5, math.inf]
    assert events[0] in ours and events[2] not in ours
    assert len(ours) == 4
    assert ours.pop_event() is events[3]  # a day's bucket becomes the current heap
    ours.add_event(late := Event(0.15, _noop))  # same day, after popping began
    assert ours.pop_event() is late
    ours.compact()
    assert len(ours) == 3 and "time=5.5" in repr(ours)
    ours.clear()
    assert ours.is_empty()


def test_copying_a_model_mid_run_changes_nothing_and_the_copy_runs_on_identically():
    import copy

    from scenarios.api import build

    model = build("integrated_ideal", n_patients=300, days=120, seed=5)
    model.run_until(60.5)
    pending = sorted((e.time, e.unique_id) for e in model._event_list.pending())
    doses = int(model.population.n_doses.sum())
    twin = copy.deepcopy(model)
    # Copying must not run anything: the original is where it was.
    assert sorted((e.time, e.unique_id) for e in model._event_list.pending()) == pending
    assert int(model.population.n_doses.sum()) == doses
    model.run()
    twin.run()
    assert twin.summary() == model.summary()


def _held_events(model) -> list:
    """Every event a patient holds (booked dose, session, or other)."""
    return [
        event
        for patient in model._patients
        if patient is not None
        for event in (patient._dose_event, patient._session_event, patient._other_event)
        if event is not None
    ]


@pytest.mark.parametrize("preset", ["baseline", "integrated_ideal", "therapy_parity"])
def test_a_patient_event_is_booked_again_only_once_it_has_run_and_nobody_holds_it(preset):
    from scenarios.api import build

    model = build(preset, n_patients=600, days=200, seed=3)
    recycled, ever_spent = 0, set()
    for day in range(1, 201):
        model.run_until(float(day))
        spent = {id(e) for e in model._spent_events}
        assert len(spent) == len(model._spent_events), "an event kept twice"
        pending = {id(e) for e in model._event_list.pending()}
        assert not spent & pending, "a kept event is still waiting to run"
        assert not spent & {id(e) for e in _held_events(model)}, "a patient holds a kept event"
        assert not any(e.CANCELED for e in model._spent_events)
        recycled += len(pending & ever_spent)  # booked again since an earlier day
        ever_spent |= spent
    assert recycled > 0


def test_a_run_observed_through_time_takes_mesas_loop_and_gives_the_same_run():
    from scenarios.api import build

    plain = build("baseline", n_patients=400, days=90, seed=11)
    plain.run()
    watched = build("baseline", n_patients=400, days=90, seed=11)
    seen = []

    def announce(signal) -> None:  # a named function: Mesa holds observers weakly
        seen.append(signal.additional_kwargs["new"])

    watched.observe("time", "changed", announce)
    watched.run()
    assert watched._spent_events == []  # Mesa's own loop ran every event
    assert len(seen) > 90  # every event's time was announced, not only each day's
    assert watched.summary() == plain.summary()


def _preset_names() -> list[str]:
    from pathlib import Path

    presets = Path(__file__).resolve().parents[1] / "scenarios" / "presets"
    return sorted(p.stem for p in presets.glob("*.toml"))


@pytest.mark.parametrize("preset", _preset_names())
def test_a_run_makes_no_cyclic_garbage(preset):
    """Why ``KetasimModel.run_until`` may pause the cyclic collector: a run frees all it drops."""
    import gc

    from scenarios.api import build

    model = build(preset, n_patients=1500, days=400, seed=5)
    gc.collect()
    gc.disable()
    try:
        model.run()
        assert gc.collect() == 0, "the run left objects only the cyclic collector can free"
    finally:
        gc.enable()


def test_run_until_restores_the_collector_also_after_an_error(monkeypatch):
    import gc

    from scenarios.api import build

    model = build("baseline", n_patients=300, days=30, seed=1)
    assert gc.isenabled()
    model.run_until(5.0)
    assert gc.isenabled()
    gc.disable()
    try:
        model.run_until(10.0)
        assert not gc.isenabled(), "a caller's paused collector was switched on"
    finally:
        gc.enable()

    def fail(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(model.daily, "sample", fail)
    with pytest.raises(RuntimeError, match="boom"):
        model.run_until(20.0)
    assert gc.isenabled()

    # An error inside an event, after a dose's or session's payment was noted: the payments and care
    # made before it are posted, not lost.
    from model.care import CareJournal

    noted = {"n": 0}
    note_care = CareJournal.note

    def fail_later(self, *args):
        # Care is noted after the dose's or session's payment: the fourth fails after its
        # payment was noted.
        noted["n"] += 1
        if noted["n"] > 3:
            raise RuntimeError("boom")
        return note_care(self, *args)

    monkeypatch.setattr(model.daily, "sample", lambda *args: None)
    monkeypatch.setattr(CareJournal, "note", fail_later)
    claims = model.ledger.n_claims
    with pytest.raises(RuntimeError, match="boom"):
        model.run_until(30.0)
    assert model.ledger.n_claims > claims
    assert not model.claims.journal[2] and not model.care.entries[1]
    from model.invariants import check_money_conserved

    check_money_conserved(model)
