"""The compiled search for care (model/search.py) against the Python loop it replaced."""

from __future__ import annotations

import math

import pytest

from model.model import KetasimModel
from scenarios.api import build
from tests.test_sessions import _fingerprint


def _heard_of(block, everyone: bool, agents: list) -> list:
    """The distinct clinics or therapists heard of, first drawn first (everyone, in order)."""
    if everyone:
        return agents
    picks, k = block.next_row()
    return [agents[i] for i in dict.fromkeys(picks[k].tolist())]


def _python_search(self, values, earliest, now, tolerance, best_u):
    """``KetasimModel.search_clinics`` as the patient's loop did it, in Python."""
    clinics = _heard_of(self.clinic_picks, self._hear_of_all, self.prescribers)
    shocks, k = self.taste_shocks.next_row()
    noise = shocks[k].tolist()
    best, best_start = None, math.nan
    for clinic, shock in zip(clinics, noise, strict=False):
        value = values[clinic.business_model]
        if math.isnan(value):
            continue
        start = clinic.next_chair_time(earliest)
        u = value - (start - now) / tolerance + shock
        if u > best_u:
            best_u, best, best_start = u, clinic, start
    return best, best_start, best_u, noise[-1]


def _python_calls(self, patient, ready):
    """``KetasimModel.call_therapists`` as the patient's loop did it, in Python."""
    best_t, best = math.inf, None
    for therapist in _heard_of(self.therapist_picks, self._call_all, self.therapists):
        if not (patient.can_pay_cash or therapist.accepts(patient.payer_kind)):
            continue
        slot = therapist.next_free_slot(ready)
        if slot < best_t:
            best_t, best = slot, therapist
            if slot <= ready:
                break
    return best, best_t


@pytest.mark.parametrize(
    ("preset", "n"),
    [("baseline", 3000), ("integrated_ideal", 3000), ("no_prior_auth", 3000), ("baseline", 120)],
)
def test_compiled_searches_choose_as_the_python_did(preset, n, monkeypatch):
    """Runs with the compiled search and calls equal runs with the Python loops, every frame.

    The Python reference looks up every clinic's chair (the compiled search skips those that
    could not win), and 120 patients make a catchment whose every clinic is heard of and every
    therapist called.
    """
    ours = build(preset, n_patients=n, days=250, seed=11)
    ours.run()
    assert ours._hear_of_all == (n == 120) == ours._call_all
    monkeypatch.setattr(KetasimModel, "search_clinics", _python_search)
    monkeypatch.setattr(KetasimModel, "call_therapists", _python_calls)
    theirs = build(preset, n_patients=n, days=250, seed=11)
    theirs.run()
    assert int(theirs.population.sought.sum()) > n / 10
    assert _fingerprint(ours) == _fingerprint(theirs)


def test_business_model_counts_follow_the_clinics():
    """The clinics' row array of business models counts what the clinics say, after switches."""
    from collections import Counter

    model = build("bundled_payment", n_patients=3000, days=200, seed=2)
    model.run()
    assert sum(c.n_switches for c in model.prescribers) > 0, "some clinics should have switched"
    by_clinic = Counter(int(c.business_model) for c in model.prescribers)
    counts = model.business_model_counts()
    assert [counts[bm] for bm in range(len(counts))] == [by_clinic[bm] for bm in range(3)]
