"""The Mesa model: the agents, the timetable of institutional reviews, doses and sessions.

Time is continuous, in days. Patients act only at their own events (arrival, intake, prior
authorisation, doses, sessions, relapse; ``agents/patient.py``); institutions act on recurring
schedules (``_schedule_timetable``); metrics are sampled once a day from the population arrays.
Who pays for care is decided by the payment rules (``agents/payments.py``) and written as
claims by ``model/claims.py``; where patients find care is ``model/market.py``.
"""

from __future__ import annotations

import gc
import heapq
import math
from collections import Counter

import mesa
import numpy as np
import pandas as pd
from mesa.experimental.mesa_signals import ObservableSignals
from mesa.time import Priority, Schedule

from agents import payments
from agents.calendar import DAYS_PER_QUARTER, DAYS_PER_WEEK, DAYS_PER_YEAR, WEEKS_PER_YEAR, week_of
from agents.clinical_state import ClinicalState  # noqa: F401  (re-exported for type hints)
from agents.codes import PartyKind, PayerKind
from agents.patient import Patient, PatientEvent, SessionOutcome
from agents.payer import Payer
from agents.pharma import Pharma
from agents.prescriber import BusinessModel, Market, Prescriber
from agents.therapist import Therapist, TherapistPool, draw_reservation
from agents.weeks import WeekBook
from model import outcomes
from model.care import CareJournal
from model.catchment import catchment
from model.claims import Claims, DoseBilling
from model.events import BucketedEventList
from model.kernels import DoseKernel, TherapyKernel, warm_up_kernels
from model.market import CareSearch
from model.metrics import (
    DailyRecorder,
    Tally,
    patient_frame,
    payer_frame,
    summarise,
    summarise_extended,
)
from model.params import Scenario
from model.population import Population
from model.sessions import ATTENDED
from model.streams import DrawBlock, Streams

__all__ = ["KetasimModel", "warm_up_kernels"]

_THERAPIST_ORG = payments.org_of(PartyKind.THERAPIST, 0)  # + a therapist's unique id


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
        self.tally = Tally(self.days, scenario.metrics)
        self.claims = Claims(self, keep_claims)
        self.ledger = self.claims.ledger
        self.care = CareJournal(self)
        # What agents work out once and share, kept for the run: a dose's dropout cost,
        # esketamine or not and relief (Patient._dose_terms); what a course is worth to a
        # patient before the wait and the taste shock (Patient._value_model,
        # _value_therapy_only), and every business model's value for a search
        # (Patient._course_values).
        self.dose_terms: dict[tuple, tuple[float, bool, float]] = {}
        self.course_values: dict[tuple, float | None] = {}
        self.course_value_rows: dict[tuple, tuple[float, ...]] = {}
        # Patient events that have run, for patients to book again (see _advance_unobserved).
        self._spent_events: list[PatientEvent] = []
        self.daily = DailyRecorder()
        self.population = Population(scenario, n, self.streams)
        self._max_delay = scenario.metrics.max_delay_days
        self._patients: list[Patient | None] = [None] * n

        self.payer_mix = scenario.patients.payer_shares()
        self.cash_share_by_payer = scenario.patients.cash_shares()
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
        self.claims.enrol_payees(self.prescribers, self.therapists, self.pharma)
        # The compiled steps of a dose and a session (model/doses.py, sessions.py) with the
        # arrays they read: the population's and the week books (one of each kind of agent,
        # shared by all of them); the searches for care (model/market.py).
        weeks = self.therapists[0].weeks if self.therapists else WeekBook(0, 1)
        self._therapy = TherapyKernel(self.population, weeks, self.tally)
        self.search = CareSearch(self)
        self._doses = DoseKernel(self.population, self.prescribers[0].weeks)
        self.pool = TherapistPool(self.therapists)
        for therapist in self.therapists:
            therapist.review_networks()
        self._make_draws()
        self._arrival_order, self._arrival_times = self._draw_arrivals(n)
        self._next_arrival = 0
        self._arrival_log: list[float] = []
        self._schedule_timetable()

    # Mesa's Model exposes ``scenario`` as a property holding its own (unvalidated) Scenario.
    # Ours is the strict pydantic scenario, read on every event by every agent, so it shadows
    # the property with a plain instance attribute (a dictionary look-up, not a call).
    scenario: Scenario = None  # type: ignore[assignment]

    @property
    def pharma_revenue_cents(self) -> int:
        """What pharma has received over the run, cents (payments posted so far)."""
        return self.claims.pharma_revenue_cents

    # ------------------------------------------------------------------ set-up
    def _make_prescribers(self, n: int) -> list[Prescriber]:
        pp = self.scenario.prescribers
        rng = self.streams["institutions"]
        count = catchment(self.scenario, n).n_clinics
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
        sizes = catchment(self.scenario, n)
        count, n_trained = sizes.n_therapists, sizes.n_trained
        # A run's bookings reach a few weeks past its end; the book widens if they reach further.
        weeks = WeekBook(count, math.ceil(self.days / DAYS_PER_WEEK) + 8)
        networks = np.zeros((count, len(PayerKind)), dtype=bool)
        return [
            Therapist(self, draw_reservation(rng, tp), k < n_trained, weeks, k, networks)
            for k in range(count)
        ]

    def _make_draws(self) -> None:
        """The draws patients take at their events, a block at a time (``DrawBlock``).

        Dropout and attendance, referral and its delay, an integration session's day and
        therapist (the clinics and therapists heard of, and taste shocks: ``CareSearch``).
        Each block draws from the stream its draws belong to.
        """
        referral, scheduling = self.streams["referral"], self.streams["scheduling"]
        n_therapists = max(len(self.therapists), 1)  # with none, no block is ever drawn from
        self.adherence_draws = DrawBlock(self.streams["adherence"], "random")
        self.referral_draws = DrawBlock(referral, "random")
        self.referral_delays = DrawBlock(referral, "standard_exponential")
        self.integration_delays = DrawBlock(scheduling, "random")
        self.integration_starts = DrawBlock(scheduling, "integers", 0, n_therapists)

    def _draw_arrivals(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """When each person starts seeking care (inf: not within the run)."""
        pp = self.scenario.patients
        rng = self.streams["arrivals"]
        early = rng.random(n) < pp.p_seeking_at_start
        # Those already seeking arrive over the first days; the rest at a constant hazard.
        times = np.where(
            early,
            rng.uniform(0.0, pp.dur_early_arrivals_days, n),
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
        self.post_journal()
        self.population.clinical.stress_due(
            self.time, self.streams["stress"], self.population.treated
        )
        self.daily.sample(self, self.time)

    def _review_quarter(self) -> None:
        self.post_journal()  # pharma and the payers review the quarter's money
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
        reference cycles (``tests/test_events.py::test_a_run_makes_no_cyclic_garbage``);
        reference counting frees them at once, and the cyclic collector would only re-traverse
        the growing population's agents. Its state is restored afterwards (also on an error),
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
        whoever reads the model next sees every payment.
        """
        try:
            if until <= self.time or self._has_subscribers("time", ObservableSignals.CHANGED):
                # An observer may read the money at any event: payments are posted as made.
                self.claims.post_at_once = True
                super()._advance_time(until)
            else:
                self._advance_unobserved(until)
        finally:
            self.claims.post_at_once = False
            self.post_journal()

    def _advance_unobserved(self, until: float) -> None:
        """Mesa's event loop with less per event (the same events, in the same order).

        The clock is written without the observable's setter; the entries are popped here from
        the event list's day heap (``BucketedEventList.today``), and a patient's callback is
        called directly (a popped entry is never cancelled, which is all
        ``PatientEvent.execute`` checks); a patient event that has run is kept for its
        patient's next booking (``Patient._schedule``). An event that has run is in no list and
        held by nobody (each handler first forgets the event that called it).
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

    def post_journal(self) -> None:
        """Count the care and post the payments noted so far (``CareJournal``, ``Claims``)."""
        self.care.count()
        self.claims.post()

    # ------------------------------------------------------------------ outputs
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

    # ------------------------------------------------------------------ what agents see
    def payer_of(self, kind: PayerKind) -> Payer | None:
        """The payer agent of a coverage kind (None for the uninsured)."""
        return self._payer_by_kind.get(kind)

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
        """Mean share of this week's chair-hours booked over the clinics.

        Read from the clinics' week book in one go (a row each, in the clinics' order).
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
        # of this size would book in a year (one session a dose).
        pp = self.scenario.prescribers
        per_clinic = (
            WEEKS_PER_YEAR * pp.n_chair_hours_per_week / pp.hours_chair_per_integration_session
        )
        return max(float(sessions), clinics * per_clinic)

    # ------------------------------------------------------------------ doses and sessions
    def give_dose(
        self,
        patient: Patient,
        t: float,
        rel_relief: float,
        billing: DoseBilling,
        book_from: float,
    ) -> float:
        """A dose: its clinical update, payments and care, and the chair for the next one.

        The clinical update, who billed the drug, the dose among those a session may cover and,
        unless ``book_from`` is NaN, the chair for the next dose from then on are one compiled
        step (``doses.give_dose``); the dose's own payments and the course's fees
        (``Claims.pay_course_fees``) and the care are noted in the day's journals here.
        ``billing`` is ``Claims.dose_billing``'s for this patient's course.

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
            # The kernel wrote who billed the drug: the patient's memo of it is stale.
            patient.drug_billed_by = None
        claims = self.claims
        for plan, slot in notes:  # the dose's own payments (the biller is tracked above)
            claims.note(t, i, plan, slot)
        if in_bundle or coordinated:
            claims.pay_course_fees(patient, t, in_bundle, coordinated)
        self.care.note(t, i, -1)
        return at

    def therapy_session(
        self, patient: Patient, therapist: Therapist, t: float, book_from: float
    ) -> tuple[SessionOutcome, float]:
        """A booked session with ``therapist`` outside an integrated programme.

        Attendance, who pays (``payments.referred_session_payer``: the payer within its cap
        and network, else cash, else nobody), the session's gains, the doses it covers and,
        unless ``book_from`` is NaN, the booking of the next session with the same therapist
        are one compiled step (``sessions.attend_therapy``); the payment and the care are then
        noted in the day's journals. A missed or unpaid session changes nothing here (the
        patient handles it).

        Returns:
            What came of the session, and the next session's time: NaN when none was to be
            booked, or when the book must widen first (``Therapist.book`` does that).
        """
        payer = patient.payer
        claims = self.claims
        terms = claims.terms_by_payer.get(payer) or claims.session_terms(payer)
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
            terms.bit_by_payer,
            terms.bit_cash,
            _THERAPIST_ORG + therapist.unique_id,
            therapist.row,
            therapist.capacity,
            book_from,
        )
        if outcome != ATTENDED:
            return SessionOutcome(outcome), math.nan
        if filled:
            self.pool.note_booking(therapist, int(at // DAYS_PER_WEEK))
        # The kernel wrote who billed the therapy: the patient's memo of it is stale.
        patient.therapy_billed_by = None
        plan = terms.plan_by_payer if by_payer else terms.plan_cash
        if plan < 0:  # the first session paid this way
            plan = claims.session_plan(terms, payer, by_payer)
        claims.note(t, i, plan, claims.slot_of[therapist])
        self.tally.count_session(self.population.pending, n_delays)
        self.care.note(t, i, covered)
        return SessionOutcome.ATTENDED, at

    def record_session(self, patient: Patient, t: float) -> None:
        """An integration session took place (counted with the day's care)."""
        covered = self.tally.session(
            t, self.population.pending, patient.idx, int(patient.payer_kind)
        )
        self.care.note(t, patient.idx, covered)

    def record_prior_auth(self, patient: Patient, approved: bool, t_decision: float) -> None:
        """A prior-authorisation request now, and its decision at ``t_decision``.

        A denial is written to the ledger (and counted) when it is decided
        (``Claims.deny_prior_auth``).
        """
        self.tally.n_pa_requests += 1
        if not approved:
            self.claims.deny_prior_auth(patient, t_decision)

    def update_outcomes(
        self, t: float, treated: np.ndarray, resp: np.ndarray, remit: np.ndarray
    ) -> None:
        """The day's outcomes (``outcomes.record_outcomes``); those who lost response relapse."""
        for patient in outcomes.record_outcomes(self, t, treated, resp, remit):
            patient.relapse()
