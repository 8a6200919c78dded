"""The Mesa model: set-up, the timetable of recurring institutional reviews, billing, metrics.

Time is continuous, in days. Patients act only at their own events (arrival, intake, prior
authorisation, doses, sessions, relapse); institutions act on recurring schedules; metrics are
sampled once a day from the population arrays.
"""

from __future__ import annotations

import gc
import heapq
import math
from array import array
from collections import Counter

import mesa
import numpy as np
import pandas as pd
from mesa.experimental.mesa_signals import ObservableSignals
from mesa.time import Priority, Schedule

from agents import payments
from agents.calendar import (
    DAYS_PER_QUARTER,
    DAYS_PER_WEEK,
    DAYS_PER_YEAR,
    WEEKS_PER_YEAR,
    month_of,
    week_of,
    year_of,
)
from agents.clinical_state import ClinicalState  # noqa: F401  (re-exported for type hints)
from agents.codes import ClaimStatus, Code, PartyKind, PayerKind, Silo
from agents.patient import PathwayState, Patient, PatientEvent, Route, SessionOutcome
from agents.payer import Payer
from agents.payments import BILLER_CODES, DRUG_CODES, DosePayer, SessionPayer, to_cents
from agents.pharma import Pharma
from agents.prescriber import BusinessModel, Market, Prescriber
from agents.therapist import Therapist, TherapistPool, draw_reservation
from agents.weeks import WeekBook
from model import outcomes, postings
from model.billing import OUT_OF_POCKET_PAYER, PAYEE_INDEX, Ledger
from model.events import BucketedEventList
from model.kernels import (
    DoseKernel,
    ReferralKernel,
    SearchKernel,
    TherapyKernel,
    warm_up_kernels,
)
from model.metrics import (
    DailyRecorder,
    Tally,
    discount_factor,
    patient_frame,
    payer_frame,
    summarise,
    summarise_extended,
)
from model.params import Scenario
from model.population import Population
from model.sessions import ATTENDED
from model.streams import DrawBlock, Streams

_THERAPIST_ORG = payments.org_of(PartyKind.THERAPIST, 0)  # + unique id: _track_billing


class KetasimModel(mesa.Model):
    """One simulation run of a scenario.

    Args:
        scenario: The validated scenario.
        n_patients: Catchment size (defaults to ``scenario.run.n_patients``).
        days: Run length (defaults to ``scenario.run.days``).
        seed: Random seed (defaults to ``scenario.run.seed``).
        replication: Replication number; with the seed it derives every random stream.
        keep_claims: Keep every claim row (needed for ``--out``; large runs may skip it).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        n_patients: int | None = None,
        days: int | None = None,
        seed: int | None = None,
        replication: int = 0,
        keep_claims: bool = True,
    ) -> None:
        warm_up_kernels()
        scenario = scenario if scenario is not None else Scenario()
        seed = scenario.run.seed if seed is None else int(seed)
        super().__init__(rng=seed)
        # Same events and order as Mesa's list, compared in C (model/events.py).
        self._event_list = BucketedEventList(list(self._event_list._events))
        self.scenario = scenario
        self.seed = seed
        self.replication = int(replication)
        self.days = int(scenario.run.days if days is None else days)
        n = int(scenario.run.n_patients if n_patients is None else n_patients)
        if n < 1 or self.days < 1:
            raise ValueError("n_patients and days must be at least 1")
        self.streams = Streams(seed, self.replication)
        self.ledger = Ledger(keep_claims=keep_claims)
        self.tally = Tally(self.days, scenario.metrics)
        # Prior-authorisation denials asked for but not yet decided: a heap by decision time.
        self._pending_pa_denials: list[tuple[float, int, int, int, int]] = []
        # Payments made but not yet posted (see _pay and model/postings.py), and their plans.
        # Typed arrays, not lists: the journal becomes NumPy arrays by a copy of its buffer.
        self._journal = (array("d"), array("q"), array("q"), array("q"))
        # Doses and sessions given but not yet counted: time, row, doses covered (-1: a dose).
        self._care = (array("d"), array("q"), array("q"))
        self._post_at_once = False  # set while an observer watches the run (_advance_time)
        self._plan_of: dict[tuple, int] = {}
        self._plans: list[tuple] = []  # (claims, payee kind, code, credit USD) by plan number
        self._plan_table: tuple[np.ndarray, ...] | None = None
        self._dose_payments: dict[tuple, tuple] = {}  # see _dose_plan
        # A dose's dropout cost, esketamine or not and relief, by (route, payer, cash,
        # clinic model, drug price): worked out by Patient._dose_terms, kept here for everyone.
        self.dose_terms: dict[tuple, tuple[float, bool, float]] = {}
        # What a course is worth to a patient before the wait and the taste shock, by (business
        # model, payer, cash, past denial, drug price), and therapy alone by (payer, cash):
        # worked out by Patient._value_model and _value_therapy_only, kept here for everyone.
        self.course_values: dict[tuple, float | None] = {}
        # Every business model's value by (payer, cash, past denial, drug price), for a search
        # (Patient._course_values).
        self.course_value_rows: dict[tuple, tuple[float, ...]] = {}
        self._billers: dict[tuple[int, int], tuple[int, int]] = {}  # see _track_billing
        # Patient events that have run, for patients to book again (see _advance_time).
        self._spent_events: list[PatientEvent] = []
        self.daily = DailyRecorder()
        self.pharma_revenue_cents = 0
        self.population = Population(scenario, n, self.streams)
        self._max_delay = scenario.metrics.max_delay_days
        # A session's budget bits and payment plans by payer, by the payer and in cash
        # ([bit, bit, plan, plan], a plan -1 until first paid): see therapy_session.
        self._session_terms: dict[Payer | None, list[int]] = {}
        self._patients: list[Patient | None] = [None] * n

        pp = scenario.patients
        self.payer_mix = pp.payer_shares()
        self.cash_share_by_payer = pp.cash_shares()
        counts = np.bincount(self.population.payer_kind, minlength=len(PayerKind))
        self.payers = [
            Payer(self, kind, int(counts[kind]))
            for kind in PayerKind
            if kind != PayerKind.UNINSURED
        ]
        self._payer_by_kind = {p.kind: p for p in self.payers}
        self.pharma = Pharma(self)
        self.prescribers = self._make_prescribers(n)
        self.pool: TherapistPool | None = None
        self.therapists = self._make_therapists(n)
        # The compiled steps of the busiest handlers (model/sessions.py, doses.py, search.py),
        # each with the arrays it reads: the population's, the week books, the clinics' models
        # and the therapists' networks (one of each kind of agent, shared by all of them).
        weeks = self.therapists[0].weeks if self.therapists else WeekBook(0, 1)
        self._therapy = TherapyKernel(self.population, weeks, self.tally)
        clinic = self.prescribers[0]
        hours = np.array([clinic.hours_per_dose(bm) for bm in BusinessModel])
        self._search = SearchKernel(self.population, clinic.weeks, clinic.models, hours)
        self._chair_room = clinic.capacity_hours + 1e-9  # as next_chair_time
        self._hear_of_all = len(self.prescribers) <= pp.n_candidate_clinics
        self._no_picks = np.zeros((1, 1), dtype=np.int64)  # when every one is heard of
        self._call_all = len(self.therapists) <= scenario.therapists.n_calls
        if self.therapists:
            first = self.therapists[0]
            self._referral = ReferralKernel(self.population, first.weeks, first.networks)
            self._therapist_capacity = first.capacity  # the same for every therapist
        self._doses = DoseKernel(self.population, self.prescribers[0].weeks)
        self.pool = TherapistPool(self.therapists)
        for therapist in self.therapists:
            therapist.review_networks()
        # The draws patients take at their events, a block at a time (model/streams.py,
        # DrawBlock): the clinics and therapists they hear of, their taste shocks, dropout and
        # attendance, referral and its delay, an integration session's day and therapist.
        # Each block draws from the stream its draws always came from.
        choice, referral = self.streams["choice"], self.streams["referral"]
        scheduling = self.streams["scheduling"]
        k_clinics, k_calls = pp.n_candidate_clinics, scenario.therapists.n_calls
        # At least one of each to draw among: with none, no block is ever drawn from.
        n_clinics, n_therapists = max(len(self.prescribers), 1), max(len(self.therapists), 1)
        self.clinic_picks = DrawBlock(choice, "integers", 0, n_clinics, shape=(k_clinics,))
        self.taste_shocks = DrawBlock(choice, "gumbel", shape=(k_clinics + 1,))
        self.adherence_draws = DrawBlock(self.streams["adherence"], "random")
        self.referral_draws = DrawBlock(referral, "random")
        self.referral_delays = DrawBlock(referral, "standard_exponential")
        self.therapist_picks = DrawBlock(referral, "integers", 0, n_therapists, shape=(k_calls,))
        self.integration_delays = DrawBlock(scheduling, "random")
        self.integration_starts = DrawBlock(scheduling, "integers", 0, n_therapists)
        # Everyone who can be paid, by slot (the journal's payee column).
        self._payees: list = [*self.prescribers, *self.therapists, self.pharma]
        self._slot_of = {payee: k for k, payee in enumerate(self._payees)}
        self._prescriber_slot = {c.unique_id: self._slot_of[c] for c in self.prescribers}
        self._revenue = np.zeros(len(self._payees))  # USD received, by slot (revenue_of)
        self._payee_uid = np.array([payee.unique_id for payee in self._payees], dtype=np.int64)
        self._cum_discount = np.concatenate(
            [
                [0.0],
                np.cumsum(
                    discount_factor(
                        np.arange(1, self.days + 1), scenario.metrics.p_discount_per_year
                    )
                    / DAYS_PER_YEAR
                ),
            ]
        )
        self._arrival_order, self._arrival_times = self._draw_arrivals(n)
        self._next_arrival = 0
        self._arrival_log: list[float] = []
        self._schedule_timetable()

    # Mesa's Model exposes ``scenario`` as a property holding its own (unvalidated) Scenario.
    # Ours is the strict pydantic scenario, read on every event by every agent, so it shadows
    # the property with a plain instance attribute (a dictionary look-up, not a call).
    scenario: Scenario = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ set-up
    def _make_prescribers(self, n: int) -> list[Prescriber]:
        pp = self.scenario.prescribers
        rng = self.streams["institutions"]
        count = max(1, round(pp.n_per_1000_patients * n / 1000.0))
        shares = np.array([pp.p_infusion_cash, pp.p_rems_esketamine, pp.p_integrated])
        models = rng.choice(len(BusinessModel), size=count, p=shares)
        if not self.scenario.policy.therapy_available:
            models[models == BusinessModel.INTEGRATED] = BusinessModel.REMS_ESKETAMINE
        norms = rng.normal(0.0, pp.usd_sd_norm_per_hour, count)
        # Chair-hours by week: a run's bookings reach a few weeks past its end; the book
        # widens if they reach further.
        weeks = WeekBook(count, math.ceil(self.days / DAYS_PER_WEEK) + 8, np.float64)
        by_row = np.zeros(count, dtype=np.int8)
        return [
            Prescriber(self, BusinessModel(int(m)), float(s), weeks, k, by_row)
            for k, (m, s) in enumerate(zip(models, norms, strict=True))
        ]

    def _make_therapists(self, n: int) -> list[Therapist]:
        tp = self.scenario.therapists
        policy = self.scenario.policy
        if not policy.therapy_available:
            return []
        rng = self.streams["institutions"]
        count = max(1, round(tp.n_per_1000_patients * n / 1000.0 * policy.rel_therapist_supply))
        n_trained = round(count * tp.p_trained_initial)
        # A run's bookings reach a few weeks past its end; the book widens if they reach further.
        weeks = WeekBook(count, math.ceil(self.days / DAYS_PER_WEEK) + 8)
        networks = np.zeros((count, len(PayerKind)), dtype=bool)
        return [
            Therapist(self, draw_reservation(rng, tp), k < n_trained, weeks, k, networks)
            for k in range(count)
        ]

    def _draw_arrivals(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """When each person starts seeking care (inf: not within the run)."""
        pp = self.scenario.patients
        rng = self.streams["arrivals"]
        early = rng.random(n) < pp.p_seeking_at_start
        # Those already seeking arrive over the first month; the rest at a constant hazard.
        times = np.where(
            early,
            rng.uniform(0.0, 30.0, n),
            rng.exponential(1.0 / pp.rate_seek_per_day, n) if pp.rate_seek_per_day > 0 else np.inf,
        )
        times = np.where(times < self.days, times, np.inf)
        order = np.argsort(times, kind="stable")
        return order, times[order]

    def _schedule_timetable(self) -> None:
        """The recurring schedules, declared in one place.

        Order within a day: arrivals are admitted first (HIGH), patients' own events run at
        their times (DEFAULT), and the daily sample reads the day's end state last (LOW).
        Quarterly reviews run pharma -> payers -> prescribers: detailing is set from last
        quarter's revenue, payers tighten on last quarter's spending, and clinics then choose
        their model under the new rules.
        """
        self.schedule_recurring(
            self._admit_arrivals, Schedule(interval=1.0, start=0.0), Priority.HIGH
        )
        self.schedule_recurring(self._sample_day, Schedule(interval=1.0, start=1.0), Priority.LOW)
        self.schedule_recurring(
            self._review_quarter, Schedule(interval=DAYS_PER_QUARTER, start=DAYS_PER_QUARTER)
        )
        self.schedule_recurring(
            self._review_year, Schedule(interval=DAYS_PER_YEAR, start=DAYS_PER_YEAR)
        )
        expiry = self.scenario.policy.patent_expiry_day
        if expiry <= 0.0:
            self.pharma.expire_patent()
        elif expiry < self.days:
            self.schedule_event(self.pharma.expire_patent, at=expiry)

    # ------------------------------------------------------------------ timetable callbacks
    def _admit_arrivals(self) -> None:
        """Create the patients who start seeking care during the coming day."""
        times = self._arrival_times  # sorted
        k = self._next_arrival
        end = k + int(np.searchsorted(times[k:], self.time + 1.0))  # the first not before then
        # The day's rows and times as Python numbers, read in one go rather than one by one.
        rows, when = self._arrival_order[k:end].tolist(), times[k:end].tolist()
        for idx, at in zip(rows, when, strict=True):
            patient = Patient(self, idx)
            self._patients[idx] = patient
            patient.arrive(at)
        self._arrival_log.append(end - k)
        self._next_arrival = end

    def _sample_day(self) -> None:
        self._post_journal()
        self.population.clinical.stress_due(
            self.time, self.streams["stress"], self.population.treated
        )
        self.daily.sample(self, self.time)

    def _review_quarter(self) -> None:
        self._post_journal()  # pharma and the payers review the quarter's money
        self.pharma.review_quarter()
        for payer in self.payers:
            payer.review_quarter()
        market = self.market_snapshot()
        for clinic in self.prescribers:
            clinic.review_business_model(market)

    def _review_year(self) -> None:
        for therapist in self.therapists:
            therapist.review_networks()
        # The market signal is last year's integration sessions, read once for everyone before
        # the year's counters restart.
        demand = self.integration_demand_per_year()
        n_trained = sum(1 for t in self.therapists if t.trained)
        for therapist in self.therapists:
            n_trained += therapist.review_training(demand, n_trained)
        for therapist in self.therapists:
            therapist.integration_sessions = 0
        self.pool.rebuild()

    # ------------------------------------------------------------------ running
    def run(self) -> None:
        """Run to the end of the scenario's horizon."""
        self.run_until(self.days)

    def run_until(self, end_time: float) -> None:
        """Run to ``end_time`` (Mesa's ``run_until``) with the cyclic garbage collector paused.

        A run allocates millions of short-lived objects (events, claims, tuples) and makes no
        reference cycles: every preset's run leaves no cyclic garbage
        (``tests/test_events.py::test_a_run_makes_no_cyclic_garbage``), and reference counting
        frees the rest at once. The cyclic collector would only re-traverse the growing
        population's agents: 0.4 s of a 100,000-patient year and 14 s of a 1,000,000-patient
        one (timed with ``gc.callbacks``). Its state is restored afterwards (also on an error),
        so any cycle made meanwhile (by an observer of the run, say) is collected then.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            super().run_until(end_time)
        finally:
            if was_enabled:
                gc.enable()

    def _advance_time(self, until: float) -> None:
        """Mesa's ``_advance_time`` (the same events in the same order), then the day's postings.

        When nothing observes ``time``, the events run in ``_advance_unobserved``; a Solara page
        that subscribes gets Mesa's own loop, and payments and care are then posted as each is
        made. Either way the journals are posted before this returns, also after an error, so
        whoever reads the model next sees every payment (model/postings.py).
        """
        try:
            if until <= self.time or self._has_subscribers("time", ObservableSignals.CHANGED):
                # An observer may read the money at any event: payments are posted as made.
                self._post_at_once = True
                super()._advance_time(until)
            else:
                self._advance_unobserved(until)
        finally:
            self._post_at_once = False
            self._post_journal()  # whoever reads the model next sees every payment

    def _advance_unobserved(self, until: float) -> None:
        """Mesa's event loop with less per event (the same events, in the same order).

        Three costs of Mesa's loop are skipped: the observable's setter of ``time``, a Python
        call per event, is replaced by writing the value it would store; the entries are popped
        here from the event list's day heap (``BucketedEventList.today``) rather than by a
        method call per event, and a patient's callback is called directly (a popped entry is
        never cancelled, which is all ``PatientEvent.execute`` checks); and a patient event
        that has run is kept for its patient's next booking instead of being garbage
        (``Patient._schedule``), which saves building an object for most of a run's events. An
        event that has run is in no list and held by nobody (each handler first forgets the
        event that called it).
        """
        event_list = self._event_list
        spent = self._spent_events
        heappop = heapq.heappop
        while (heap := event_list.today()) is not None:
            while heap:
                entry = heappop(heap)
                event = entry[3]
                # The attribute behind Event.CANCELED (a property): read once per event popped.
                if event._canceled:
                    continue
                if entry[0] > until:
                    heapq.heappush(heap, entry)  # not due yet: back where it was
                    self.time = until
                    return
                self._time = entry[0]  # what ``self.time = event.time`` stores
                if type(event) is PatientEvent:
                    event.fn()
                    spent.append(event)
                else:
                    event.execute()
        self.time = until

    def summary(self) -> dict:
        """The end-of-run summary (the ``ketasim run --json`` object)."""
        return summarise(self)

    def summary_extended(self) -> dict:
        """The summary plus discounted cost per patient and the costing perspective."""
        return summarise_extended(self)

    def daily_frame(self) -> pd.DataFrame:
        """The tidy daily series."""
        return self.daily.frame(self.scenario.name, self.replication, self.seed)

    def patient_frame(self) -> pd.DataFrame:
        """Per-patient outcomes."""
        return patient_frame(self)

    def payer_frame(self) -> pd.DataFrame:
        """Headline rates by payer type (equity)."""
        return payer_frame(self)

    def claims_frame(self) -> pd.DataFrame:
        """The claims ledger."""
        df = self.ledger.frame()
        df.insert(0, "seed", self.seed)
        df.insert(0, "replication", self.replication)
        df.insert(0, "scenario", self.scenario.name)
        return df

    # ------------------------------------------------------------------ look-ups for agents
    def payer_of(self, kind: PayerKind) -> Payer | None:
        """The payer agent of a coverage kind (None for the uninsured)."""
        return self._payer_by_kind.get(kind)

    def search_clinics(
        self,
        values: tuple[float, ...],
        earliest: float,
        now: float,
        tolerance: float,
        best_u: float,
    ) -> tuple[Prescriber | None, float, float, float]:
        """A search among the clinics a patient hears of (``model.search.best_clinic``).

        Draws the distinct clinics heard of (every clinic when the catchment has no more than
        a patient hears of) and the taste shocks, then finds the clinic
        of best utility above ``best_u``: a course's value by business model (``values``,
        NaN where this patient cannot have it), less the wait from ``now`` to its first free
        chair from ``earliest`` over ``tolerance``, plus its shock. A dose's chair-hours and a
        week's are the scenario's, the same at every clinic.

        Returns:
            ``(the clinic or None, its start, the best utility, the last shock)``: the last
            shock is therapy alone's.
        """
        kernel = self._search
        if kernel.stale():
            kernel.bind()
        picks, pick = self._heard_of(self.clinic_picks, self._hear_of_all)
        shocks, shock = self.taste_shocks.next_row()
        best, start, best_u = kernel.entry(
            *kernel.arrays, picks, pick, shocks, shock, len(self.prescribers),
            self._hear_of_all, values[0], values[1], values[2], self._chair_room, earliest,
            now, tolerance, best_u,
        )  # fmt: skip
        clinic = self.prescribers[best] if best >= 0 else None
        return clinic, start, best_u, shocks[shock, -1].item()

    def _heard_of(self, picks: DrawBlock, everyone: bool) -> tuple[np.ndarray, int]:
        """The next row of draws of who is heard of; nothing is drawn when ``everyone`` is."""
        return (self._no_picks, 0) if everyone else picks.next_row()

    def call_therapists(self, patient: Patient, ready: float) -> tuple[Therapist | None, float]:
        """A referral's calls (``model.search.best_therapist``): who offers the earliest slot.

        Draws the distinct therapists called (every one when there are no more than a patient
        calls); those outside the network of
        the patient's payer count only for a patient who can pay cash; each offers its first
        free slot from ``ready`` (``Therapist.next_free_slot``); calls stop at a slot no later
        than ``ready``.

        Returns:
            ``(the therapist or None, the slot's time or inf)``.
        """
        if not self.therapists:
            return None, math.inf
        kernel = self._referral
        if kernel.stale():
            kernel.bind()
        picks, pick = self._heard_of(self.therapist_picks, self._call_all)
        best, slot = kernel.entry(
            *kernel.arrays, picks, pick, len(self.therapists), self._call_all,
            self._therapist_capacity, patient.can_pay_cash, patient.payer_kind, ready,
        )  # fmt: skip
        return (self.therapists[best] if best >= 0 else None), slot

    def integration_therapist(self, at: float) -> Therapist | None:
        """A therapist with a free slot in the week of ``at``: trained ones first."""
        if not self.therapists:
            return None
        return self.pool.first_free(at, self.integration_starts.next())

    def arrivals_per_week(self) -> float:
        """People who started seeking care per week over the last quarter (at least one)."""
        recent = self._arrival_log[-int(DAYS_PER_QUARTER) :]
        return max(DAYS_PER_WEEK * sum(recent) / max(len(recent), 1), 1.0)

    def market_snapshot(self) -> Market:
        """What clinics see at a quarterly review (counted once, not once per clinic)."""
        return Market(
            n_offering=Counter(c.business_model for c in self.prescribers),
            any_trained_therapist=self.any_trained_therapist(),
            arrivals_per_week=self.arrivals_per_week(),
        )

    def prescriber_utilisation(self, t: float) -> float:
        """Mean share of this week's chair-hours booked over the clinics (``utilisation``).

        Read from the clinics' week book in one go (a row each, in the clinics' order): the
        same divisions and the same mean as asking each clinic, without 500 calls a day.
        """
        counts = self.prescribers[0].weeks.counts
        week = week_of(t)
        booked = counts[:, week] if week < counts.shape[1] else np.zeros(len(counts))
        capacity = np.array([clinic.capacity_hours for clinic in self.prescribers])
        with np.errstate(over="ignore"):  # a tiny capacity gives inf, as Python's division
            return float(np.mean(booked / capacity))

    def business_model_counts(self) -> np.ndarray:
        """Clinics by business model (indexed by ``BusinessModel``), from their row array."""
        return np.bincount(self.prescribers[0].models, minlength=len(BusinessModel))

    def any_trained_therapist(self) -> bool:
        """Whether anyone can staff an integrated programme."""
        return any(t.trained for t in self.therapists)

    def integration_demand_per_year(self) -> float:
        """Integration sessions booked in the last year (the training market signal)."""
        sessions = sum(t.integration_sessions for t in self.therapists)
        clinics = sum(1 for c in self.prescribers if c.business_model is BusinessModel.INTEGRATED)
        # A clinic that has just switched has no history yet: count what one integrated clinic
        # of this size would book in a year (one session per chair-dose).
        per_clinic = WEEKS_PER_YEAR * self.scenario.prescribers.n_chair_hours_per_week / 3.0
        return max(float(sessions), clinics * per_clinic)

    # ------------------------------------------------------------------ billing
    def _track_billing(
        self, patient: Patient, code: Code, payee_kind: PartyKind, payee, silo: Silo
    ) -> None:
        """Remember who billed a patient's drug and therapy, and to which budget.

        A patient's doses (or sessions) are mostly billed by the same organisation to the same
        budget as the last one, which changes nothing here; the patient keeps the last
        (organisation, budget) of each so that such a repeat costs no array reads.
        """
        if code is Code.CARE_COORDINATION:
            self.population.coordinated[patient.idx] = True
            return
        if code not in BILLER_CODES:
            return
        drug = code in DRUG_CODES
        org = payments.org_of(payee_kind, payee.unique_id)
        billed_by = (org, 1 << int(silo))
        pop = self.population
        if drug:
            if patient.drug_billed_by != billed_by:
                patient.drug_billed_by = self._note_biller(
                    patient.idx, billed_by, pop.drug_org, pop.drug_silos
                )
        elif patient.therapy_billed_by != billed_by:
            patient.therapy_billed_by = self._note_biller(
                patient.idx, billed_by, pop.therapy_org, pop.therapy_silos
            )

    def _note_biller(
        self, i: int, billed_by: tuple[int, int], orgs: np.ndarray, silos: np.ndarray
    ) -> tuple[int, int]:
        """Write a new (organisation, budget bit) for row ``i`` of a drug or therapy column.

        A second organisation billing the same side marks the patient's care as split. Returns
        the one shared tuple for this (organisation, budget): a million patients keep one each.
        """
        org, bit = billed_by
        payments.note_biller(orgs, silos, self.population.split_orgs, i, org, bit)
        return self._billers.setdefault(billed_by, billed_by)

    def _pay(
        self,
        patient: Patient,
        t: float,
        code: Code,
        payee_kind: PartyKind,
        payee,
        usd: float,
        payer: Payer | None,
    ) -> None:
        """Pay ``usd`` to ``payee`` for a service: its claims and money, posted with the day's.

        The payer pays it less the patient's cost share (two claims); the patient pays all of
        it when ``payer`` is None (one claim). What is paid is settled here (the payment's
        plan); the claims are written and the money moved by ``_post_journal``, before
        anything reads them (model/postings.py).
        """
        plan = self._plan_for(code, payee_kind, usd, payer)
        self._note(t, patient.idx, plan, self._slot_of[payee])
        self._track_billing(patient, code, payee_kind, payee, self._plans[plan][0][0][1])

    def _plan_for(self, code: Code, payee_kind: PartyKind, usd: float, payer: Payer | None) -> int:
        """The number of the plan that pays ``usd`` for ``code`` (made the first time)."""
        key = (payer, code, usd, payee_kind)
        plan = self._plan_of.get(key)
        if plan is None:
            claims = self._claims_of_payment(code, usd, payer)
            plan = self._add_plan(key, claims, payee_kind, code, 0.0)
        return plan

    def _credit(self, patient: Patient, t: float, payee_kind: PartyKind, payee, usd: float) -> None:
        """Credit ``usd`` to ``payee`` without a claim (a programme paying its own therapist)."""
        key = ("credit", usd, payee_kind)
        plan = self._plan_of.get(key)
        if plan is None:
            plan = self._add_plan(key, (), payee_kind, Code.PSYCHOTHERAPY_90837, usd)
        self._note(t, patient.idx, plan, self._slot_of[payee])

    def _note(self, t: float, i: int, plan: int, slot: int) -> None:
        """Add a payment to the journal (posted at once while an observer watches)."""
        times, rows, plans, slots = self._journal
        times.append(t)
        rows.append(i)
        plans.append(plan)
        slots.append(slot)
        if self._post_at_once:
            self._post_journal()

    def _note_care(self, t: float, i: int, covered: int) -> None:
        """Add a dose (``covered`` -1) or a session to the care journal."""
        times, rows, doses_covered = self._care
        times.append(t)
        rows.append(i)
        doses_covered.append(covered)
        if self._post_at_once:
            self._post_journal()

    def _add_plan(
        self, key: tuple, claims: tuple, payee_kind: PartyKind, code: Code, credit: float
    ) -> int:
        """Number a new plan: ``claims`` (see ``_claims_of_payment``) or a bare credit, USD."""
        plan = len(self._plans)
        self._plans.append((claims, payee_kind, code, credit))
        self._plan_of[key] = plan
        self._plan_table = None  # rebuilt at the next posting
        return plan

    def _claims_of_payment(self, code: Code, usd: float, payer: Payer | None) -> tuple:
        """The claims that pay ``usd`` for ``code``: ``(payer id, budget, status, cents, payer)``.

        The payer's share (PAID, in the payer's budget for the code) then the patient's cost
        share (SELF_PAY, out of pocket, written only when not zero); everything out of pocket
        when ``payer`` is None. A pure function of its arguments for a run (cost shares and
        carve-outs are fixed by the scenario), so each payment's plan is worked out once: a
        run pays a few dozen distinct amounts hundreds of thousands of times.

        Raises:
            ValueError: ``usd`` is negative (nothing is paid or recorded).
        """
        if not usd >= 0.0:
            raise ValueError(f"a payment must be a non-negative amount, got {usd!r} USD")
        if payer is None:
            cents = to_cents(usd)
            return ((OUT_OF_POCKET_PAYER, Silo.OUT_OF_POCKET, ClaimStatus.SELF_PAY, cents, None),)
        cents, oop = payments.split_cents(usd, payer.cost_share)
        silo = payer.silo_for(code)
        claims = [(int(payer.kind), silo, ClaimStatus.PAID, cents, payer)]
        if oop:
            claims.append(
                (OUT_OF_POCKET_PAYER, Silo.OUT_OF_POCKET, ClaimStatus.SELF_PAY, oop, None)
            )
        return tuple(claims)

    def revenue_of(self, payee) -> float:
        """What a clinic or therapist has received over the run, USD (payments made so far)."""
        self._post_journal()
        return float(self._revenue[self._slot_of[payee]])

    def _count_care(self) -> None:
        """Count the care journal's doses and sessions (``postings.count_care``), in order."""
        if not self._care[1]:
            return
        t, rows, covered = (np.array(entries) for entries in self._care)
        for entries in self._care:
            del entries[:]
        pop = self.population
        tally = self.tally
        started = np.empty(t.size, dtype=np.int64)
        n_started = postings.count_care(
            t,
            rows,
            covered,
            pop.payer_kind,
            pop.treated,
            pop.start_day,
            pop.n_doses,
            pop.got_dose,
            pop.n_sessions,
            pop.got_session,
            pop.n_doses_in_window,
            pop.got_in_window,
            tally.doses_by_day,
            tally.doses_by_payer,
            started,
        )
        first = started[:n_started]
        pop.schedule_first_stress(rows[first], t[first], self.streams)

    def _plan_arrays(self) -> tuple[np.ndarray, ...]:
        """The plans as the arrays ``postings.post`` reads (see its Args)."""
        if self._plan_table is not None:
            return self._plan_table
        n = len(self._plans)
        n_claims = np.zeros(n, dtype=np.int64)
        payer_id = np.zeros((n, 2), dtype=np.int64)
        silo = np.zeros((n, 2), dtype=np.int64)
        status = np.zeros((n, 2), dtype=np.int64)
        cents = np.zeros((n, 2), dtype=np.int64)
        paid = np.zeros((n, 2))
        budget = np.full((n, 2), -1, dtype=np.int64)
        kind = np.zeros(n, dtype=np.int64)
        code = np.zeros(n, dtype=np.int64)
        total = np.zeros(n, dtype=np.int64)
        credit = np.zeros(n)
        budget_row = {payer: k for k, payer in enumerate(self.payers)}
        for p, (claims, payee_kind, plan_code, usd) in enumerate(self._plans):
            n_claims[p] = len(claims)
            kind[p] = PAYEE_INDEX[payee_kind]
            code[p] = plan_code
            credit[p] = usd
            for c, (payer_no, claim_silo, claim_status, claim_cents, payer) in enumerate(claims):
                payer_id[p, c] = payer_no
                silo[p, c] = claim_silo
                status[p, c] = claim_status
                cents[p, c] = claim_cents
                paid[p, c] = claim_cents / 100.0
                if payer is not None:
                    budget[p, c] = budget_row[payer]
                if claim_status is not ClaimStatus.DENIED:
                    total[p] += claim_cents
        self._plan_table = (
            n_claims,
            payer_id,
            silo,
            status,
            cents,
            paid,
            budget,
            kind,
            code,
            total,
            credit,
        )
        return self._plan_table

    def _post_journal(self) -> None:
        """Post the journal's payments (model/postings.py): claims, totals, revenue, budgets.

        The payees' revenue lives in one array (``revenue_of``); the other running totals
        live on the ledger, the tally, pharma and the payers, and are handed to the compiled
        pass as arrays and written back, so that readers see plain attributes as before.
        """
        self._count_care()
        if not self._journal[2]:
            return
        t, patient, plan, slot = (np.array(entries) for entries in self._journal)
        for entries in self._journal:
            del entries[:]
        table = self._plan_arrays()
        budget_spend = np.zeros((len(self.payers), len(Silo)))
        for b, payer in enumerate(self.payers):
            for budget_silo, usd in payer.quarter_spend.items():
                budget_spend[b, budget_silo] = usd
        ledger = self.ledger
        paid_by_silo = np.array([ledger.paid_by_silo[x] for x in Silo], dtype=np.int64)
        received = np.array([ledger.received_by_payee_kind[k] for k in PAYEE_INDEX], dtype=np.int64)
        counts = np.array(
            [ledger.n_claims, ledger.n_denied, self.pharma_revenue_cents], dtype=np.int64
        )
        sums = np.array([self.tally.disc_cost_cents, self.pharma.quarter_revenue])
        start, cols = ledger.reserve(int(table[0][plan].sum()))
        end = postings.post(
            t,
            patient,
            plan,
            slot,
            *table,
            PAYEE_INDEX[PartyKind.PHARMA],
            int(ClaimStatus.DENIED),
            self._payee_uid,
            self._revenue,
            self.population.spend_cents,
            budget_spend,
            paid_by_silo,
            received,
            counts,
            sums,
            1.0 + self.scenario.metrics.p_discount_per_year,
            ledger.keep_claims,
            start,
            cols["day"],
            cols["patient"],
            cols["payee_kind"],
            cols["payee"],
            cols["payer"],
            cols["silo"],
            cols["code"],
            cols["status"],
            cols["cents"],
        )
        ledger.advance(end)
        for b, payer in enumerate(self.payers):
            for budget_silo in payer.quarter_spend:
                payer.quarter_spend[budget_silo] = float(budget_spend[b, budget_silo])
        for x in Silo:
            ledger.paid_by_silo[x] = int(paid_by_silo[x])
        for k, index in PAYEE_INDEX.items():
            ledger.received_by_payee_kind[k] = int(received[index])
        ledger.n_claims, ledger.n_denied, self.pharma_revenue_cents = map(int, counts)
        self.tally.disc_cost_cents = float(sums[0])
        self.pharma.quarter_revenue = float(sums[1])

    def bill_service(self, patient: Patient, code: Code, clinic: Prescriber, t: float) -> None:
        """Bill an intake evaluation (``payments.intake_in_cash``: cash clinics charge cash)."""
        payer = patient.payer
        covers_iv = self.scenario.policy.covers_iv_ketamine
        if payments.intake_in_cash(clinic.business_model, payer is not None, covers_iv):
            payer = None
        usd = payer.allowed(code) if payer is not None else self.scenario.payers.usd_psych_eval
        self._pay(patient, t, code, PartyKind.PRESCRIBER, clinic, usd, payer)

    def give_dose(
        self, patient: Patient, t: float, rel_relief: float, billing: tuple, book_from: float
    ) -> float:
        """A dose: its clinical update, payments and care, and the chair for the next one.

        The clinical update (``ClinicalState.dose_row``), who billed the drug
        (``_track_billing``), the dose among those a session may cover (``PendingDoses``) and,
        unless ``book_from`` is NaN, the chair for the next dose from then on
        (``Prescriber.next_chair_time`` and ``book``) are one compiled step
        (``model.doses.give_dose``); the dose's payments (``_dose_plan``), the course's fees
        (``_pay_course_fees``) and the care are noted in the day's journals here. ``billing``
        is ``dose_billing``'s for this patient's dose.

        Returns:
            The next dose's time: NaN when none was to be booked, or when the clinic's week
            book must widen first (``Prescriber.book`` does that).
        """
        notes, in_bundle, coordinated, org, bit, row, need, room = billing
        kernel = self._doses
        if kernel.stale():
            kernel.bind()
        i = patient.idx
        while True:
            done, at = kernel.entry(
                *kernel.arrays, t, i, rel_relief, org, bit, self._max_delay, row, need, room,
                book_from,
            )  # fmt: skip
            if done:
                break
            self.population.pending.grow()  # no room for another pending dose
            kernel.bind()
        if org >= 0:
            # The kernel wrote who billed the drug (the columns _track_billing keeps): the
            # patient's memo of it is stale.
            patient.drug_billed_by = None
        for plan, slot in notes:  # the dose's own payments (the biller is tracked above)
            self._note(t, i, plan, slot)
        if in_bundle or coordinated:
            self._pay_course_fees(patient, t, in_bundle, coordinated)
        self._note_care(t, i, -1)
        return at

    def dose_billing(self, patient: Patient, esketamine: bool) -> tuple:
        """What ``give_dose`` needs to bill and book a dose of this patient's course.

        The dose's own payments as (plan, payee slot) and whether it is in a bundle
        (``_dose_plan``), whether the course earns a monthly coordination fee, who bills the
        drug (organisation and budget bit, -1 and 0 when no payment says), and the clinic's row
        in its week book, a dose's chair-hours and the week's room. Fixed while the clinic, its
        business model, the drug's price and the route are (the patient keeps it meanwhile).
        """
        clinic = patient.prescriber
        payments, in_bundle, tracked = self._dose_plan(patient, esketamine)
        notes = tuple(
            (plan, self._slot_of[self.pharma if payee_kind is PartyKind.PHARMA else clinic])
            for plan, _, payee_kind, _ in payments
        )
        org, bit = (-1, 0) if tracked is None else (tracked[0] + clinic.unique_id, tracked[1])
        room = clinic.capacity_hours + 1e-9  # as next_chair_time
        return (
            notes,
            in_bundle,
            self._coordinated(patient),
            org,
            bit,
            clinic.row,
            clinic.dose_hours(),
            room,
        )

    def _dose_plan(self, patient: Patient, esketamine: bool) -> tuple[tuple, bool, tuple | None]:
        """A dose's own payments, whether it is in a bundle, and who bills the drug.

        Planned once for each (route, payer, esketamine or not, drug price); see
        ``_plan_dose``. The last is None when the dose's payments say nothing of who billed
        the drug, else (the clinic's organisation less its id, the budget's bit) of the one
        that does.
        """
        key = (patient.route, patient.payer, esketamine, self.pharma.price_per_session)
        planned = self._dose_payments.get(key)
        if planned is None:
            planned, in_bundle = self._plan_dose(patient.route, patient.payer, esketamine)
            billers = [
                (payments.org_of(payee_kind, 0), 1 << int(silo))
                for _, code, payee_kind, silo in planned
                if silo is not None and payee_kind is PartyKind.PRESCRIBER and code in DRUG_CODES
            ]
            if len(billers) != sum(silo is not None for *_, silo in planned) or len(billers) > 1:
                # _plan_dose tracks at most the clinic's fee: the compiled step relies on it.
                raise ValueError(f"a dose's payments track more than its clinic's fee: {planned}")
            tracked = (billers or [None])[0]
            planned = self._dose_payments[key] = (planned, in_bundle, tracked)
        return planned

    def _coordinated(self, patient: Patient) -> bool:
        """Whether the patient's course earns the monthly care-coordination fee."""
        return payments.earns_coordination(
            patient.route, patient.payer is not None, self.scenario.policy.coordination_payment
        )

    def _pay_course_fees(
        self, patient: Patient, t: float, in_bundle: bool, coordinated: bool
    ) -> None:
        """At a dose: the course's bundle (at its first dose), the month's coordination fee."""
        clinic = patient.prescriber
        payer = patient.payer
        if in_bundle and not patient.bundle_paid:
            patient.bundle_paid = True
            self._pay(
                patient,
                t,
                Code.BUNDLED_EPISODE,
                PartyKind.PRESCRIBER,
                clinic,
                payer.allowed(Code.BUNDLED_EPISODE),
                payer,
            )
        if coordinated:
            month = month_of(t)
            if patient.coordination_months is None:
                patient.coordination_months = set()
            if month not in patient.coordination_months:
                patient.coordination_months.add(month)
                self._pay(
                    patient,
                    t,
                    Code.CARE_COORDINATION,
                    PartyKind.PRESCRIBER,
                    clinic,
                    payer.allowed(Code.CARE_COORDINATION),
                    payer,
                )

    def _plan_dose(self, route: Route, payer: Payer | None, esketamine: bool) -> tuple[tuple, bool]:
        """A dose's own payments, and whether the dose is inside a bundle.

        The payments are ``(plan, code, payee kind, budget)`` each, in billing order (the budget
        None for a payment that says nothing about who billed the drug); a bundle's
        fee is paid once a course, by ``_pay_course_fees``. Infusion clinics bill the infusion (to a
        payer that covers IV ketamine, else cash); esketamine is the REMS session fee to the
        clinic and the drug to pharma; inside a bundle a dose bills nothing itself; otherwise
        the infusion is paid cash.
        """
        policy = self.scenario.policy
        cash = self.scenario.prescribers.usd_cash_iv_price
        iv = Code.IV_KETAMINE_INFUSION
        clinic = PartyKind.PRESCRIBER
        payment = payments.dose_payer(
            route, esketamine, payer is not None, policy.covers_iv_ketamine, policy.bundled_payment
        )
        match payment:
            case DosePayer.IV_BY_PAYER:
                fees = [(iv, clinic, payer.allowed(iv), payer)]
            case DosePayer.IV_CASH:
                fees = [(iv, clinic, cash, None)]
            case DosePayer.ESKETAMINE:
                session, drug = Code.ESKETAMINE_SESSION_G2083, Code.ESKETAMINE_DRUG
                fees = [
                    (session, clinic, payer.allowed(session), payer),
                    (drug, PartyKind.PHARMA, payer.allowed(drug), payer),
                ]
            case DosePayer.IN_BUNDLE:
                return (), True  # the bundle, paid at the course's first dose (_pay_course_fees)
            case _:
                raise ValueError(f"unknown dose payment {payment!r}")
        planned = []
        for code, payee_kind, usd, fee_payer in fees:
            plan = self._plan_for(code, payee_kind, usd, fee_payer)
            # No budget for what bills neither side (the drug paid to pharma): give_dose then
            # has no biller to track, decided here once rather than at every dose.
            silo = self._plans[plan][0][0][1] if code in BILLER_CODES else None
            planned.append((plan, code, payee_kind, silo))
        return tuple(planned), False

    def bill_session(self, patient: Patient, t: float) -> bool:
        """Bill an integration session inside a programme; False when nobody will pay for it.

        Who pays is ``payments.programme_session_payer``. The programme pays its own therapist
        first, whoever pays it (even nobody).
        """
        clinic = patient.prescriber
        if clinic is None:
            return False
        payer = patient.payer
        therapist = patient.therapist
        if therapist is not None:
            cost = self.scenario.prescribers.usd_integration_session_cost
            self._credit(patient, t, PartyKind.THERAPIST, therapist, cost)
        year = year_of(t)
        used = patient.sessions_used(year)
        insured = payer is not None
        who = payments.programme_session_payer(
            insured,
            self.scenario.policy.bundled_payment,
            used,
            payer.n_session_cap if insured else -1,
            insured and clinic.bills_therapy(payer),
            patient.can_pay_cash,
        )
        code = Code.PSYCHOTHERAPY_90837
        match who:
            case SessionPayer.BUNDLE:  # inside the bundle: no claim of its own
                self._track_billing(patient, code, PartyKind.PRESCRIBER, clinic, Silo.BUNDLE)
            case SessionPayer.PAYER:
                self.population.use_session(patient.idx, year, used + 1)
                usd = payer.allowed(code)
                self._pay(patient, t, code, PartyKind.PRESCRIBER, clinic, usd, payer)
            case SessionPayer.CASH:
                usd = self.scenario.therapists.usd_cash_rate
                self._pay(patient, t, code, PartyKind.PRESCRIBER, clinic, usd, None)
            case SessionPayer.PROGRAMME:  # provided unpaid, as the integrated model promises
                self._track_billing(patient, code, PartyKind.PRESCRIBER, clinic, Silo.MEDICAL)
            case SessionPayer.NOBODY:
                return False
            case _:
                raise ValueError(f"unknown session payer {who!r}")
        return True

    def therapy_session(
        self, patient: Patient, therapist: Therapist, t: float, book_from: float
    ) -> tuple[SessionOutcome, float]:
        """A booked session with ``therapist`` outside an integrated programme.

        Attendance, who pays (as ``bill_session``: the payer within its cap and network, else
        cash), the session's gains, the doses it covers (as ``record_session``) and, unless
        ``book_from`` is NaN, the booking of the next session with the same therapist from
        then on are one compiled step (``model.sessions.attend_therapy``) on the population's
        arrays and the therapists' week book; the payment and the care are then noted in the
        day's journals. A missed or unpaid session changes nothing here (the patient handles
        it).

        Returns:
            What came of the session, and the next session's time: NaN when none was to be
            booked, or when the book must widen first (``Therapist.book`` does that).
        """
        payer = patient.payer
        terms = self._session_terms.get(payer)
        if terms is None:
            code = Code.PSYCHOTHERAPY_90837
            # The budget of a payment's first claim (_claims_of_payment): the payer's for the
            # code, and out of pocket in cash.
            by_payer = 0 if payer is None else 1 << int(payer.silo_for(code))
            terms = self._session_terms[payer] = [by_payer, 1 << int(Silo.OUT_OF_POCKET), -1, -1]
        i = patient.idx
        kernel = self._therapy
        if kernel.stale():
            kernel.bind()
        outcome, by_payer, covered, n_delays, at, filled = kernel.entry(
            *kernel.arrays,
            t,
            i,
            self.adherence_draws.next(),
            patient.payer_kind,
            -1 if payer is None else payer.n_session_cap,
            payer is not None and payer.kind in therapist.in_network,
            patient.can_pay_cash,
            terms[0],
            terms[1],
            _THERAPIST_ORG + therapist.unique_id,
            therapist.row,
            therapist.capacity,
            book_from,
        )
        if outcome != ATTENDED:
            return SessionOutcome(outcome), math.nan
        if filled:
            self.pool.note_booking(therapist, week_of(at))
        # The kernel wrote who billed the therapy (the columns _track_billing keeps): the
        # patient's memo of it is stale.
        patient.therapy_billed_by = None
        # The payment's plan: the payer's in-network fee or the cash rate, numbered the first
        # time it is paid (as _pay would).
        plan = terms[2] if by_payer else terms[3]
        if plan < 0:
            code = Code.PSYCHOTHERAPY_90837
            if by_payer:
                plan = terms[2] = self._plan_for(
                    code, PartyKind.THERAPIST, payer.allowed(code), payer
                )
            else:
                usd = self.scenario.therapists.usd_cash_rate
                plan = terms[3] = self._plan_for(code, PartyKind.THERAPIST, usd, None)
        self._note(t, i, plan, self._slot_of[therapist])
        self.tally.count_session(self.population.pending, n_delays)
        self._note_care(t, i, covered)
        self._end_therapy_wait(patient, t)
        return SessionOutcome.ATTENDED, at

    # ------------------------------------------------------------------ tallies for agents
    def record_session(self, patient: Patient, t: float) -> None:
        """A therapy or integration session took place (counted with the day's care)."""
        covered = self.tally.session(
            t, self.population.pending, patient.idx, int(patient.payer_kind)
        )
        self._note_care(t, patient.idx, covered)
        self._end_therapy_wait(patient, t)

    def _end_therapy_wait(self, patient: Patient, t: float) -> None:
        """A session at ``t`` ends the patient's wait for a first session, if they waited."""
        if not math.isnan(patient.therapy_requested_at):
            self.tally.therapy_waits.append(t - patient.therapy_requested_at)
            self.tally.n_waiting_for_therapy -= 1
            patient.therapy_requested_at = math.nan

    def record_therapy_request(self, patient: Patient, t: float) -> None:
        """A patient starts waiting for a first therapy session."""
        self.tally.n_waiting_for_therapy += 1

    def cancel_therapy_request(self, patient: Patient) -> None:
        """A patient stops waiting for a first session without having one."""
        if not math.isnan(patient.therapy_requested_at):
            self.tally.n_waiting_for_therapy -= 1
            patient.therapy_requested_at = math.nan

    def record_missed_session(self, patient: Patient) -> None:
        """A booked session was missed."""
        self.tally.n_missed += 1

    def record_prior_auth(self, patient: Patient, approved: bool, t_decision: float) -> None:
        """A prior-authorisation request now, and its decision at ``t_decision``.

        A denial is written to the ledger (and counted) when it is decided, not when it is
        asked for, so that no claim is dated after the moment it is written: a denial still
        pending when the run ends is not in the run's ledger.
        """
        self.tally.n_pa_requests += 1
        if approved:
            return
        payer = patient.payer
        claim = (
            t_decision,
            patient.idx,
            patient.prescriber.unique_id,
            int(payer.kind),
            payer.allowed(Code.ESKETAMINE_DRUG),
        )
        if t_decision <= self.time:
            self._write_pa_denial(*claim)
            return
        heapq.heappush(self._pending_pa_denials, claim)
        self.schedule_event(self._flush_pa_denials, at=t_decision)

    def _flush_pa_denials(self) -> None:
        """Write the prior-authorisation denials decided by now, earliest first."""
        pending = self._pending_pa_denials
        while pending and pending[0][0] <= self.time:
            self._write_pa_denial(*heapq.heappop(pending))

    def _write_pa_denial(
        self, t: float, idx: int, prescriber_id: int, payer_kind: int, drug_price: float
    ) -> None:
        self.tally.n_pa_denied += 1
        silo, status, cents = payments.denied_claim(drug_price)
        key = ("denied", payer_kind, cents)
        plan = self._plan_of.get(key)
        if plan is None:
            claims = ((payer_kind, Silo(silo), ClaimStatus(status), cents, None),)
            plan = self._add_plan(key, claims, PartyKind.PRESCRIBER, Code.PRIOR_AUTH_REQUEST, 0.0)
        self._note(t, idx, plan, self._prescriber_slot[prescriber_id])

    def update_outcomes(
        self, t: float, treated: np.ndarray, resp: np.ndarray, remit: np.ndarray
    ) -> None:
        """Daily outcome bookkeeping: first response, relapse, durable remission, QALYs."""
        pop = self.population
        mp = self.scenario.metrics
        remission_days = np.zeros(len(PayerKind), dtype=np.int64)
        lost_rows = np.empty(treated.size, dtype=np.int64)
        n_lost = outcomes.record_day(
            float(t),
            treated,
            resp,
            remit,
            float(mp.dur_durable_days),
            float(mp.u_remission),
            float(mp.u_response),
            float(mp.u_nonresponse),
            float(discount_factor(t, mp.p_discount_per_year)),
            pop.start_day,
            pop.first_response_day,
            pop.relapse_day,
            pop.responding,
            pop.remitting,
            pop.durable_checked,
            pop.durable_remission,
            pop.qalys,
            pop.payer_kind,
            remission_days,
            lost_rows,
        )
        for payer in self.payers:
            payer.quarter_remission_days += float(remission_days[payer.kind])
        lost_rows = lost_rows[:n_lost].tolist()
        for i in lost_rows:
            patient = self._patients[i]
            if patient is not None and patient.state is PathwayState.DISCHARGED:
                patient.relapse()
        if t >= self.days:
            self._finalise_qalys()

    def _finalise_qalys(self) -> None:
        """Add the untreated days' QALYs (utility of an untreated episode) for every patient."""
        pop = self.population
        mp = self.scenario.metrics
        start = np.where(np.isnan(pop.start_day), np.inf, pop.start_day)
        untreated_samples = np.clip(np.ceil(start) - 1, 0, self.days).astype(int)
        pop.qalys += mp.u_untreated * self._cum_discount[untreated_samples]
