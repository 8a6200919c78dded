"""Patients: treatment-resistant depression, a care pathway, choices and dropout.

Pathway (docs/ODD.md §3.3): arrives seeking care -> chooses a prescriber (coverage,
out-of-pocket cost, wait, referral) -> intake -> prior authorisation if required -> induction
course -> maintenance or discharge -> possible relapse and return. Therapy comes by referral
(fragmented) or inside an integrated programme. Patients drop out on cost, waits or
relief-driven disengagement.

A patient's clinical state lives in the model's population arrays (row ``idx``); the agent holds
its pathway and schedules its own events, so a patient costs nothing on a day without events.
"""

from __future__ import annotations

import math
from enum import IntEnum
from types import MappingProxyType
from typing import Annotated, NamedTuple

import mesa
from mesa.time.events import Event, Priority
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents import clinical as cm
from agents import payments
from agents.calendar import DAYS_PER_YEAR
from agents.codes import BusinessModel, Code, PayerKind, Route
from agents.payer import NO_PAYER, FeeTerms
from agents.payments import DosePayer
from agents.policy import IntegrationTiming
from agents.prescriber import Prescriber
from agents.therapist import Therapist

Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Days = Annotated[float, Field(ge=0.0, le=3650.0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=1000)]


_DEFAULT_PRIORITY = Priority.DEFAULT.value


_PAYER_KINDS = tuple(PayerKind)  # by value: PayerKind's values are 0, 1, 2, ...
_UNPRICED = object()  # not yet in KetasimModel.course_values (None there: cannot have it)


class PatientEvent(Event):
    """A Mesa ``Event`` (default priority) that holds its callback directly.

    Mesa wraps an event's callback in a weak reference so that an event cannot keep a removed
    agent alive. Patients are never removed from a model, so the weak reference would only cost
    time (docs/performance.md, step 5). The unique id
    comes from Mesa's own counter, so the event orders exactly as a plain ``Event`` would.
    """

    # A patient's callback takes no arguments: one shared, read-only empty set of them instead
    # of a new list and dict per event (Mesa's ``cancel`` still replaces them per instance).
    function_args: tuple = ()
    function_kwargs = MappingProxyType({})

    def __init__(self, time: float, function) -> None:
        # Not Event.__init__: that would build the weak reference this class exists to avoid.
        self.time = time
        self.priority = _DEFAULT_PRIORITY
        self._canceled = False
        self.fn = function
        self.unique_id = next(Event._ids)

    def execute(self) -> None:
        """Call the callback unless the event was cancelled."""
        if not self._canceled:
            self.fn()

    # Mesa's Event pickles by dereferencing its weak reference, ``self.fn()``; here that would
    # call the callback (a pickle or deepcopy of a model would run its patients' events), so
    # the state is the plain attributes, the callback included.
    def __getstate__(self) -> dict:
        return self.__dict__.copy()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class DoseContext(NamedTuple):
    """What a course's doses cost and pay, kept while its clinic, model, price and route hold."""

    clinic: Prescriber
    business_model: BusinessModel
    drug_price: float
    route: Route
    cost_drop: float  # the added dropout chance from a dose's out-of-pocket cost
    rel_relief: float  # the drug's relief relative to IV ketamine
    # What the model needs to bill and book a dose (model.claims.DoseBilling, a NamedTuple:
    # agents do not import the model, so it is typed here by its base).
    billing: tuple


class PathwayState(IntEnum):
    """Where a patient is in the care pathway (exactly one at any time)."""

    NOT_SEEKING = 0
    SEEKING = 1  # looking for care, at intake, awaiting prior authorisation or a first slot
    IN_TREATMENT = 2
    DISCHARGED = 3
    DROPPED_OUT = 4


class CareCategory(IntEnum):
    """What a patient who sought care has received: the pathway shares of docs/ODD.md §3.4."""

    NOT_SEEKING = 0
    UNTREATED = 1  # sought care, nothing received yet
    DRUG_ONLY = 2
    INTEGRATED = 3  # at least one dose followed by a session inside the window
    THERAPY_ONLY = 4
    DROPPED_OUT = 5


class DropReason(IntEnum):
    """Why a patient left care."""

    NONE = 0
    COST = 1
    WAIT = 2
    DISENGAGEMENT = 3
    ACCESS = 4


class SessionOutcome(IntEnum):
    """What came of a booked therapy session (``KetasimModel.therapy_session``)."""

    ATTENDED = 0
    MISSED = 1
    UNPAID = 2  # nobody would pay for it


class PatientParams(BaseModel):
    """The catchment's patients and their choices (the scenario's ``[patients]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    p_commercial: Prob = Field(0.50, description="Share with commercial insurance.")
    p_medicaid: Prob = Field(0.20, description="Share with Medicaid.")
    p_medicare: Prob = Field(0.20, description="Share with Medicare.")
    p_uninsured: Prob = Field(0.10, description="Share uninsured.")
    p_cash_commercial: Prob = Field(0.45, description="Commercial members able to pay cash.")
    p_cash_medicaid: Prob = Field(0.08, description="Medicaid members able to pay cash.")
    p_cash_medicare: Prob = Field(0.30, description="Medicare members able to pay cash.")
    p_cash_uninsured: Prob = Field(0.20, description="Uninsured able to pay cash.")
    p_seeking_at_start: Prob = Field(
        0.1, description="Share already seeking care at day 0 (arriving over the first month)."
    )
    rate_seek_per_day: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        1.0 / DAYS_PER_YEAR,
        description="Daily hazard of starting to seek care (~once a year; assumption).",
    )
    mean_adherence: Prob = Field(
        0.9, description="Mean chance of attending a booked therapy session (assumption)."
    )
    dur_wait_tolerance_days: Days = Field(
        30.0, description="Mean wait a patient tolerates for a first appointment, days."
    )
    dur_wait_tolerance_min_days: Annotated[float, Field(gt=0.0, le=365.0)] = Field(
        1.0,
        description=(
            "Least wait tolerance a patient weighs a clinic's wait against, days (a patient "
            "drawn to tolerate less still weighs a wait against a day; assumption)."
        ),
    )
    rel_referral_wait_tolerance: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        3.0,
        description=(
            "A referral goes nowhere when the earliest therapist slot is further off than this "
            "multiple of the patient's wait tolerance (assumption)."
        ),
    )
    n_adherence_concentration: Annotated[float, Field(gt=0.0, le=1000.0)] = Field(
        8.0,
        description=(
            "Concentration (a + b) of the Beta distribution of patients' adherence around "
            "mean_adherence: higher is less spread (assumption: moderate spread)."
        ),
    )
    dur_early_arrivals_days: Annotated[float, Field(gt=0.0, le=365.0)] = Field(
        30.0,
        description=(
            "Days over which the patients already seeking care at day 0 arrive, uniformly "
            "(assumption: the first month)."
        ),
    )
    usd_oop_scale_cash: Annotated[float, Field(gt=0.0, le=1e6)] = Field(
        4000.0, description="Out-of-pocket cost that weighs like one unit of utility, able to pay."
    )
    usd_oop_scale_no_cash: Annotated[float, Field(gt=0.0, le=1e6)] = Field(
        600.0, description="Same for patients unable to pay cash."
    )
    u_integrated: Annotated[float, Field(ge=-10.0, le=10.0)] = Field(
        0.3, description="Patients' preference for an integrated programme (utility units)."
    )
    u_therapy_only: Annotated[float, Field(ge=-10.0, le=10.0)] = Field(
        -0.8,
        description="Utility of choosing therapy without a drug (most TRD patients seek a drug).",
    )
    u_outside_option: Annotated[float, Field(ge=-100.0, le=10.0)] = Field(
        -3.0, description="Utility below which a patient defers care and tries again later."
    )
    n_candidate_clinics: Annotated[int, Field(ge=1, le=100)] = Field(
        6, description="Clinics a patient considers (referral networks are local)."
    )
    dur_intake_lag_days: Days = Field(
        3.0, description="Least days from choosing a clinic to the intake visit."
    )
    n_induction_doses: Annotated[int, Field(ge=1, le=30)] = Field(
        6, description="Doses in an induction course (IV: 6 over 2-3 weeks)."
    )
    dur_dose_interval_days: Annotated[float, Field(gt=0.0, le=60.0)] = Field(
        3.0, description="Days between induction doses (twice weekly)."
    )
    p_maintenance: Prob = Field(
        0.5, description="Share of responders after induction who continue maintenance doses."
    )
    n_maintenance_doses: Count = Field(6, description="Maintenance doses after induction.")
    dur_maintenance_interval_days: Annotated[float, Field(gt=0.0, le=120.0)] = Field(
        14.0, description="Days between maintenance doses."
    )
    n_therapy_course: Annotated[int, Field(ge=1, le=200)] = Field(
        12, description="Sessions in a course of outside (referred) therapy."
    )
    dur_session_interval_days: Annotated[float, Field(gt=0.0, le=60.0)] = Field(
        7.0, description="Days between ordinary therapy sessions (weekly)."
    )
    n_post_induction_sessions: Count = Field(
        4, description="Weekly integration sessions an integrated programme adds after induction."
    )
    dur_integration_delay_min_days: Days = Field(
        1.0, description="Earliest integration session after a dose in a programme, days."
    )
    dur_integration_delay_max_days: Days = Field(
        3.0, description="Latest integration session after a dose in a programme, days."
    )
    dur_acute_session_delay_days: Days = Field(
        0.05, description="Integration 'during the dosing session': ~1 h after the dose, days."
    )
    p_dropout_per_dose: Prob = Field(
        0.02, description="Chance of leaving the drug course at each dose (side effects, life)."
    )
    p_dropout_per_oop_scale: Prob = Field(
        0.05,
        description=(
            "Added chance of leaving the course at a dose per oop-scale of the dose's "
            "out-of-pocket cost (usd_oop_scale_cash or _no_cash: what the patient can bear; "
            "assumption)."
        ),
    )
    p_dropout_cost_max: Prob = Field(
        0.5, description="Most that a dose's cost adds to its dropout chance (assumption)."
    )
    n_missed_to_stop_therapy: Annotated[int, Field(ge=1, le=50)] = Field(
        2, description="Missed sessions after which a patient stops therapy."
    )
    p_return_on_relapse: Prob = Field(
        0.5, description="Chance a discharged patient who relapses seeks care again."
    )
    dur_return_delay_days: Days = Field(30.0, description="Mean days from relapse to seeking care.")
    n_seek_attempts: Annotated[int, Field(ge=1, le=20)] = Field(
        3, description="Attempts to find care before giving up."
    )
    dur_retry_days: Annotated[float, Field(gt=0.0, le=365.0)] = Field(
        45.0, description="Days between attempts to find care."
    )

    @model_validator(mode="after")
    def _payer_shares_sum_to_one(self) -> PatientParams:
        total = self.p_commercial + self.p_medicaid + self.p_medicare + self.p_uninsured
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"payer shares p_commercial..p_uninsured must sum to 1 (got {total:g})"
            )
        if self.dur_integration_delay_min_days > self.dur_integration_delay_max_days:
            raise ValueError(
                "dur_integration_delay_min_days must not exceed dur_integration_delay_max_days"
            )
        return self

    def payer_shares(self) -> dict[PayerKind, float]:
        """Share of patients by coverage."""
        return {
            PayerKind.COMMERCIAL: self.p_commercial,
            PayerKind.MEDICAID: self.p_medicaid,
            PayerKind.MEDICARE: self.p_medicare,
            PayerKind.UNINSURED: self.p_uninsured,
        }

    def cash_shares(self) -> dict[PayerKind, float]:
        """Share able to pay cash, by coverage."""
        return {
            PayerKind.COMMERCIAL: self.p_cash_commercial,
            PayerKind.MEDICAID: self.p_cash_medicaid,
            PayerKind.MEDICARE: self.p_cash_medicare,
            PayerKind.UNINSURED: self.p_cash_uninsured,
        }


ROUTE_OF_MODEL = {
    BusinessModel.INFUSION_CASH: Route.INFUSION_CASH,
    BusinessModel.REMS_ESKETAMINE: Route.REMS_ESKETAMINE,
    BusinessModel.INTEGRATED: Route.INTEGRATED,
}
MODEL_OF_ROUTE = {route: bm for bm, route in ROUTE_OF_MODEL.items()}


class Patient(mesa.Agent):
    """A person with treatment-resistant depression in the catchment.

    Created when the person starts seeking care; until then the population arrays alone hold
    them. Row ``idx`` of the model's population holds the clinical state.
    """

    # A national run holds a million of these. Slots keep each one small (CPython gives up
    # sharing instance-dict keys past 30 attributes; docs/performance.md, steps 8 and 27) and make
    # the attribute reads of every event cheaper. Mesa's own attributes (set by
    # ``mesa.Agent.__init__``) have slots too, so no patient needs an instance dict at all.
    __slots__ = (
        "_dose_context",
        "_dose_event",
        "_other_event",
        "_session_event",
        "adherence",
        "bundle_paid",
        "can_pay_cash",
        "coordination_months",
        "doses_given",
        "doses_planned",
        "drug_billed_by",
        "idx",
        "in_maintenance",
        "integrated_sessions",
        "missed_sessions",
        "model",
        "pa_denied",
        "payer",
        "payer_kind",
        "pos",
        "prescriber",
        "route",
        "seek_attempts",
        "sessions_left",
        "state",
        "therapist",
        "therapy_billed_by",
        "therapy_ongoing",
        "therapy_requested_at",
        "unique_id",
        "wait_tolerance",
    )

    def __init__(self, model: mesa.Model, idx: int) -> None:
        super().__init__(model)
        pop = model.population
        self.idx = idx
        self.payer_kind = _PAYER_KINDS[pop.payer_kind[idx]]  # PayerKind(...) without the call
        self.can_pay_cash = bool(pop.can_pay_cash[idx])
        self.adherence = float(pop.adherence[idx])
        self.wait_tolerance = float(pop.wait_tolerance[idx])
        # Coverage never changes within a run, so the payer is looked up once.
        self.payer = model.payer_of(self.payer_kind)
        self.state = PathwayState.NOT_SEEKING
        self.route = Route.NONE
        self.prescriber: Prescriber | None = None
        self.therapist: Therapist | None = None
        self.seek_attempts = 0
        self.doses_given = 0
        self.doses_planned = 0
        self.in_maintenance = False
        self.sessions_left = 0
        self.missed_sessions = 0
        self.pa_denied = False
        self.integrated_sessions = False
        self.therapy_ongoing = False
        self.therapy_requested_at = math.nan
        self.bundle_paid = False
        self.coordination_months: set[int] | None = None  # created at the first coordination fee
        # The last (organisation, budget bit) that billed this patient's drug and therapy
        # (Claims.track_billing skips a repeat).
        self.drug_billed_by: tuple[int, int] | None = None
        self.therapy_billed_by: tuple[int, int] | None = None
        self._dose_event = None
        self._session_event = None
        self._other_event = None
        # What the current course's doses cost and pay (see receive_dose).
        self._dose_context: DoseContext | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def params(self) -> PatientParams:
        """The scenario's patient parameters."""
        return self.model.scenario.patients

    def _set_state(self, state: PathwayState) -> None:
        self.model.population.set_state(self.idx, state, self.state)
        self.state = state

    def _schedule(self, method, at: float) -> Event:
        # Model.schedule_event without its argument checks (``at`` is never in the past here,
        # ``method`` is always a bound method of this patient): an Event on the same list.
        model = self.model
        now = model._time  # what the observable ``model.time`` reads, without its descriptor
        spent = model._spent_events
        if spent:
            # An event that has run, as new: the fields PatientEvent.__init__ sets.
            event = spent.pop()
            event.time = at if at > now else now
            event.fn = method
            event.unique_id = next(Event._ids)
        else:
            event = PatientEvent(at if at > now else now, method)
        model._event_list.add_event(event)
        return event

    # ------------------------------------------------------------------ seeking care
    def arrive(self, at: float) -> None:
        """Start seeking care at time ``at`` (the model admits a day's arrivals ahead)."""
        self._other_event = self._schedule(self.seek_care, at)

    def seek_care(self) -> None:
        """Choose among candidate clinics, therapy alone, or deferring care."""
        self._other_event = None
        if self.state in (PathwayState.DROPPED_OUT, PathwayState.IN_TREATMENT):
            return
        self._set_state(PathwayState.SEEKING)
        self.seek_attempts += 1
        now = self.model._time  # ``model.time`` without its descriptor (see _schedule)
        params = self.params
        # The clinics heard of and their taste shocks (the last shock is therapy alone's):
        # each clinic's course is valued by its business model, less the wait to its first
        # free chair (CareSearch.clinics_heard_of, compiled).
        earliest = now + params.dur_intake_lag_days
        tolerance = max(self.wait_tolerance, params.dur_wait_tolerance_min_days)
        clinic, start, best_u, shock = self.model.search.clinics_heard_of(
            self._course_values(), earliest, now, tolerance, params.u_outside_option
        )
        best = None if clinic is None else (clinic, start)
        if self.model.scenario.policy.therapy_available:
            u = self._value_therapy_only() + shock
            if u > best_u:
                best_u, best = u, (None, now)
        if best is None:
            self._defer(DropReason.ACCESS)
            return
        clinic, start = best
        if clinic is None:
            self.route = Route.THERAPY_ONLY
            self._set_state(PathwayState.IN_TREATMENT)
            self._refer_to_therapy(now)
            return
        self.prescriber = clinic
        self.route = ROUTE_OF_MODEL[clinic.business_model]
        self._other_event = self._schedule(self.intake, start)

    def _defer(self, reason: DropReason) -> None:
        if self.seek_attempts >= self.params.n_seek_attempts:
            self.drop_out(reason)
            return
        self._other_event = self._schedule(
            self.seek_care, self.model.time + self.params.dur_retry_days
        )

    def _oop_scale(self) -> float:
        p = self.params
        return p.usd_oop_scale_cash if self.can_pay_cash else p.usd_oop_scale_no_cash

    def _fee_terms(self) -> FeeTerms:
        """The payer's cost share and fees this patient's estimates read (none uninsured)."""
        return NO_PAYER if self.payer is None else self.payer.fee_terms()

    def _therapy_oop_per_session(self) -> float:
        """What one therapy session costs this patient out of pocket, USD."""
        payer = self.payer
        fee = 0.0 if payer is None else payer.allowed(Code.PSYCHOTHERAPY_90837)
        share = 0.0 if payer is None else payer.cost_share
        cash = self.model.scenario.therapists.usd_cash_rate
        return payments.session_oop(payer is not None, share, fee, cash)

    def _uses_esketamine(self, bm: BusinessModel) -> bool:
        """Whether this patient's course at a clinic of model ``bm`` is esketamine via a payer."""
        bundled = self.model.scenario.policy.bundled_payment
        return payments.uses_esketamine(bm, self.payer is not None, bundled)

    def _dose_oop(self) -> float:
        """What the patient pays out of pocket for one dose of their course, USD.

        The dose is paid as its route implies (``payments.dose_payer``): esketamine on a REMS
        or unbundled integrated route of an insured patient.
        """
        policy = self.model.scenario.policy
        insured = self.payer is not None
        bm = MODEL_OF_ROUTE.get(self.route)
        if bm is None:
            raise ValueError(f"no dose cost for route {self.route!r}")
        esketamine = payments.uses_esketamine(bm, insured, policy.bundled_payment)
        payment = payments.dose_payer(
            self.route, esketamine, insured, policy.covers_iv_ketamine, policy.bundled_payment
        )
        terms = self._fee_terms()
        return payments.dose_oop(
            payment,
            self.params.n_induction_doses,
            terms.share,
            terms.iv_fee,
            terms.session_fee,
            terms.drug_price,
            terms.bundle_fee,
            self.model.scenario.prescribers.usd_cash_iv_price,
        )

    def _value_model(self, bm: BusinessModel) -> float | None:
        """Utility (before the wait and noise) of a course at a clinic of model ``bm``.

        None when this patient cannot have it (no coverage and no cash, or a denied prior
        authorisation for esketamine). It depends only on the business model, the payer, cash,
        a past denial and the drug's price, so each combination is worked out once and kept by
        the model (``KetasimModel.course_values``).
        """
        model = self.model
        key = (bm, self.payer, self.can_pay_cash, self.pa_denied, model.pharma.price_per_session)
        value = model.course_values.get(key, _UNPRICED)
        if value is _UNPRICED:
            value = model.course_values[key] = self._work_out_value(bm)
        return value

    def _course_values(self) -> tuple[float, ...]:
        """``_value_model`` of every business model, by its number, NaN for None (kept).

        A search looks at several clinics; the values depend on what ``_value_model``'s do but
        the business model, so one look-up serves the whole search.
        """
        model = self.model
        key = (self.payer, self.can_pay_cash, self.pa_denied, model.pharma.price_per_session)
        values = model.course_value_rows.get(key)
        if values is None:
            values = model.course_value_rows[key] = tuple(
                math.nan if value is None else value
                for value in (self._value_model(bm) for bm in BusinessModel)
            )
        return values

    def _value_therapy_only(self) -> float:
        """Utility (before the noise) of therapy alone, by payer and cash (kept by the model)."""
        key = ("therapy only", self.payer, self.can_pay_cash)
        value = self.model.course_values.get(key)
        if value is None:
            params = self.params
            oop = self._therapy_oop_per_session() * params.n_therapy_course
            value = self.model.course_values[key] = params.u_therapy_only - oop / self._oop_scale()
        return value

    def _work_out_value(self, bm: BusinessModel) -> float | None:
        """``_value_model`` worked out: preference less the course's out-of-pocket cost.

        The course is valued as it would be paid (``payments.dose_payer``), except that a
        patient once denied prior authorisation expects esketamine to be denied again; a
        course in cash needs a patient who can pay it, at a clinic that takes cash
        (``payments.course_open``). An integrated course outside a bundle adds a session a dose.
        """
        params = self.params
        policy = self.model.scenario.policy
        insured = self.payer is not None
        esketamine = payments.uses_esketamine(bm, insured, policy.bundled_payment)
        payment = payments.dose_payer(
            ROUTE_OF_MODEL[bm],
            esketamine and not self.pa_denied,
            insured,
            policy.covers_iv_ketamine,
            policy.bundled_payment,
        )
        if not payments.course_open(bm, payment, self.can_pay_cash):
            return None
        n = params.n_induction_doses
        terms = self._fee_terms()
        oop = payments.course_oop(
            payment,
            n,
            terms.share,
            terms.iv_fee,
            terms.session_fee,
            terms.drug_price,
            terms.bundle_fee,
            self.model.scenario.prescribers.usd_cash_iv_price,
        )
        pref = 0.0
        if bm is BusinessModel.INTEGRATED:
            pref = params.u_integrated
            if payment != DosePayer.IN_BUNDLE:
                oop += n * self._therapy_oop_per_session()
        return pref - oop / self._oop_scale()

    # ------------------------------------------------------------------ intake and PA
    def intake(self) -> None:
        """Intake evaluation; then prior authorisation or the first dose."""
        self._other_event = None
        clinic = self.prescriber
        if self.state is PathwayState.DROPPED_OUT or clinic is None:
            return
        if ROUTE_OF_MODEL.get(clinic.business_model) is not self.route:
            # The clinic changed its model since booking: the patient re-chooses.
            self.prescriber, self.route = None, Route.NONE
            self.seek_care()
            return
        now = self.model._time  # ``model.time`` without its descriptor (see _schedule)
        self.model.claims.bill_intake(self, clinic, now)
        self._maybe_refer(now)
        payer = self.payer
        if self._uses_esketamine(clinic.business_model) and payer.requires_prior_auth():
            approved, delay = payer.decide_prior_auth()
            self.model.record_prior_auth(self, approved, now + delay)
            if not approved:
                self.pa_denied = True
                self.prescriber, self.route = None, Route.NONE
                self._other_event = self._schedule(self.seek_care, now + delay)
                return
            self._other_event = self._schedule(self.begin_course, now + delay)
            return
        self.begin_course()

    def begin_course(self) -> None:
        """Start the induction course (and, in fragmented care, perhaps a referral)."""
        self._other_event = None
        if self.state is PathwayState.DROPPED_OUT or self.prescriber is None:
            return
        self._set_state(PathwayState.IN_TREATMENT)
        self.doses_given = 0
        self.doses_planned = self.params.n_induction_doses
        self.in_maintenance = False
        self.bundle_paid = False
        self.integrated_sessions = self.route is Route.INTEGRATED
        self._book_dose(self.model.time)

    def _maybe_refer(self, now: float) -> None:
        """A fragmented prescriber refers to an outside therapist at intake, perhaps."""
        if self.route is Route.INTEGRATED:
            return
        policy = self.model.scenario.policy
        p_refer = self.model.scenario.prescribers.p_refer_therapy
        if policy.carve_out:
            p_refer *= 1.0 - self.model.scenario.therapists.p_carve_out_referral_loss
        if policy.therapy_available and self.model.referral_draws.next() < p_refer:
            self._refer_to_therapy(now)

    # ------------------------------------------------------------------ doses
    def _book_dose(self, earliest: float) -> None:
        clinic = self.prescriber
        at = clinic.next_chair_time(earliest)
        clinic.book(at)
        self._dose_event = self._schedule(self.receive_dose, at)

    def receive_dose(self) -> None:
        """A dose: clinical update, claims, the integration session, the next dose."""
        self._dose_event = None
        if self.state is not PathwayState.IN_TREATMENT or self.prescriber is None:
            return
        model = self.model
        now = model._time  # ``model.time`` without its descriptor (see _schedule)
        params = self.params
        # A dose's dropout cost, relief and billing depend on the clinic, its model, the drug's
        # price and the route, so they are worked out again only when one of these changed.
        clinic = self.prescriber
        context = self._dose_context
        if (
            context is None
            or context.clinic is not clinic
            or context.business_model is not clinic.business_model
            or context.drug_price != model.pharma.price_per_session
            or context.route is not self.route
        ):
            cost_drop, esk, rel = self._dose_terms()
            context = self._dose_context = DoseContext(
                clinic,
                clinic.business_model,
                model.pharma.price_per_session,
                self.route,
                cost_drop,
                rel,
                model.claims.dose_billing(self, esk),
            )
        cost_drop = context.cost_drop
        if model.adherence_draws.next() < params.p_dropout_per_dose + cost_drop:
            self._end_drug_course(
                DropReason.COST
                if cost_drop > params.p_dropout_per_dose
                else DropReason.DISENGAGEMENT
            )
            return
        doses = self.doses_given + 1
        book_from = math.nan
        if doses < self.doses_planned:
            interval = (
                params.dur_maintenance_interval_days
                if self.in_maintenance
                else params.dur_dose_interval_days
            )
            book_from = now + interval
        # The clinical update, payments, care and the next chair in one step (model/doses.py).
        at = model.give_dose(self, now, context.rel_relief, context.billing, book_from)
        self.doses_given = doses
        if self.integrated_sessions and self.model.scenario.policy.therapy_available:
            self._book_integration_session(now)
        if doses < self.doses_planned:
            if at == at:
                self._dose_event = self._schedule(self.receive_dose, at)
            else:  # the week found lies past the clinic's week book: it widens
                self._book_dose(book_from)
            return
        self._finish_induction_or_maintenance(now)

    def _dose_terms(self) -> tuple[float, bool, float]:
        """A dose's added dropout chance from its cost, whether it is esketamine, its relief.

        They depend only on the route, the payer, cash, the clinic's business model and the
        drug's price, so each combination is worked out once and kept by the model.
        """
        model = self.model
        bm = self.prescriber.business_model
        key = (self.route, self.payer, self.can_pay_cash, bm, model.pharma.price_per_session)
        terms = model.dose_terms.get(key)
        if terms is None:
            # Each dose's out-of-pocket cost adds to the dropout chance in proportion to what
            # the patient can bear.
            params = self.params
            per_scale = params.p_dropout_per_oop_scale
            cost_drop = min(
                per_scale * self._dose_oop() / self._oop_scale(), params.p_dropout_cost_max
            )
            esk = self._uses_esketamine(bm)
            rel = model.scenario.clinical.rel_esketamine_relief if esk else 1.0
            terms = model.dose_terms[key] = (cost_drop, esk, rel)
        return terms

    def _finish_induction_or_maintenance(self, now: float) -> None:
        params = self.params
        if not self.in_maintenance and params.n_maintenance_doses > 0:
            in_response = self.model.population.in_response(self.idx, now)
            if in_response and self.model.adherence_draws.next() < params.p_maintenance:
                self.in_maintenance = True
                self.doses_given = 0
                self.doses_planned = params.n_maintenance_doses
                self._book_dose(now + params.dur_maintenance_interval_days)
                return
        if self.integrated_sessions:
            self.sessions_left = params.n_post_induction_sessions
        self._end_drug_course(None)

    def _end_drug_course(self, reason: DropReason | None) -> None:
        """The drug course ends: discharge, or dropout when it ended early."""
        if self._dose_event is not None:
            self._dose_event.cancel()
            self._dose_event = None
        if reason is not None and not self.therapy_ongoing:
            self.drop_out(reason)
            return
        if reason is not None:
            self.model.population.record_drop_reason(self.idx, reason)
        if not self.therapy_ongoing and self.sessions_left > 0 and self.integrated_sessions:
            # Post-course integration sessions follow the last dose's integration session, or
            # start a week on when that one could not be booked.
            self.therapy_ongoing = True
            if self._session_event is None:
                self._book_next_session(self.model.time + self.params.dur_session_interval_days)
        if not self.therapy_ongoing:
            self._discharge()

    # ------------------------------------------------------------------ therapy
    def _refer_to_therapy(self, now: float) -> None:
        """An outside referral: call therapists, take the earliest slot one offers."""
        if self.therapy_ongoing:
            return
        tp = self.model.scenario.therapists
        ready = now + tp.dur_referral_delay_days * self.model.referral_delays.next()
        if self.model.scenario.policy.carve_out and self.route is not Route.THERAPY_ONLY:
            ready += tp.dur_carve_out_referral_extra_days
        # Call therapists for the earliest slot (CareSearch.call_therapists, compiled).
        best, best_t = self.model.search.call_therapists(self, ready)
        tolerance = self.params.rel_referral_wait_tolerance * self.wait_tolerance
        if best is None or best_t - now > tolerance:
            # Nobody in reach: the referral goes nowhere.
            if self.route is Route.THERAPY_ONLY:
                self.route = Route.NONE
                self._set_state(PathwayState.SEEKING)
                self._defer(DropReason.ACCESS)
            return
        self.therapist = best
        self.therapy_ongoing = True
        self.sessions_left = self.params.n_therapy_course
        self._start_therapy_wait(now)
        best.book(best_t)
        self._session_event = self._schedule(self.attend_session, best_t)

    def _book_integration_session(self, dose_time: float) -> None:
        """Inside a programme: a slot 1-3 days after the dose (or in the dosing session)."""
        params = self.params
        policy = self.model.scenario.policy
        if policy.integration_timing is IntegrationTiming.ACUTE:
            at = dose_time + params.dur_acute_session_delay_days
        else:
            low, high = params.dur_integration_delay_min_days, params.dur_integration_delay_max_days
            at = dose_time + low + (high - low) * self.model.integration_delays.next()
        therapist = self.model.integration_therapist(at)
        if therapist is None:
            return
        if math.isnan(self.therapy_requested_at):
            self._start_therapy_wait(dose_time)
        therapist.book(at)
        self.therapist = therapist
        if self._session_event is not None:
            self._session_event.cancel()
        self._session_event = self._schedule(self.attend_session, at)

    def _book_next_session(self, earliest: float) -> None:
        therapist = self.therapist
        if therapist is None or self.sessions_left <= 0:
            self._stop_therapy()
            return
        at = therapist.next_free_slot(earliest)
        therapist.book(at)
        self._session_event = self._schedule(self.attend_session, at)

    def attend_session(self) -> None:
        """A booked session: attend (or not), bill, update the layers, book the next one."""
        self._session_event = None
        if self.state in (PathwayState.DROPPED_OUT, PathwayState.DISCHARGED):
            return
        model = self.model
        now = model._time  # ``model.time`` without its descriptor (see _schedule)
        therapist = self.therapist
        if not self.integrated_sessions:
            # Outside a programme, the common case: attendance, payment, gains, the doses
            # covered and the booking of the next session (when one is left) in one compiled
            # step (model/sessions.py).
            left = self.sessions_left - 1
            book_from = now + self.params.dur_session_interval_days if left > 0 else math.nan
            outcome, at = model.therapy_session(self, therapist, now, book_from)
            if outcome is SessionOutcome.ATTENDED:
                self._end_therapy_wait(now)
                self._after_session(now, at)
                return
            if outcome is SessionOutcome.UNPAID:
                self._stop_therapy(DropReason.COST)
                return
            self._miss_session(now)
            return
        pop = model.population
        relief = pop.clinical.relief_row(now, self.idx)
        p = cm.p_attend(self.adherence, relief, self.integrated_sessions, model.scenario.clinical)
        if model.adherence_draws.next() >= p:
            self._miss_session(now)
            return
        if not model.claims.bill_integration_session(self, now):
            self._stop_therapy(DropReason.COST)
            return
        pop.clinical.session_row(now, self.idx, relief)
        model.record_session(self, now)
        self._end_therapy_wait(now)
        if therapist is not None and self.integrated_sessions:
            therapist.integration_sessions += 1
        self._after_session(now)

    def _miss_session(self, now: float) -> None:
        """A booked session missed: too many and therapy stops."""
        self.missed_sessions += 1
        self.model.tally.n_missed += 1
        if self.missed_sessions >= self.params.n_missed_to_stop_therapy:
            self._stop_therapy(DropReason.DISENGAGEMENT)
            return
        self._after_session(now)

    def _after_session(self, now: float, booked_at: float = math.nan) -> None:
        """After a session: the next one, or therapy's end when none is left.

        ``booked_at`` is the next session's time when it is booked already (the compiled
        step books it; NaN when it did not, as when the therapist's week book must widen).
        """
        in_course = self.state is PathwayState.IN_TREATMENT and self._dose_event is not None
        if self.integrated_sessions and in_course:
            return  # the next dose books the next integration session
        self.sessions_left -= 1
        if self.sessions_left <= 0:
            self._stop_therapy()
        elif booked_at == booked_at:
            self._session_event = self._schedule(self.attend_session, booked_at)
        else:
            self._book_next_session(now + self.params.dur_session_interval_days)

    def _stop_therapy(self, reason: DropReason | None = None) -> None:
        if self._session_event is not None:
            self._session_event.cancel()
            self._session_event = None
        self._cancel_therapy_wait()
        self.therapy_ongoing = False
        self.sessions_left = 0
        if self._dose_event is not None:
            return  # the drug course goes on
        if reason is not None and self.route is Route.THERAPY_ONLY:
            self.drop_out(reason)
        elif self.state is PathwayState.IN_TREATMENT:
            self._discharge()

    def _start_therapy_wait(self, t: float) -> None:
        """Start waiting at ``t`` for a first therapy session (counted on the waitlist)."""
        self.therapy_requested_at = t
        self.model.tally.n_waiting_for_therapy += 1

    def _end_therapy_wait(self, t: float) -> None:
        """A session at ``t`` ends the wait for a first session, if the patient waited."""
        if not math.isnan(self.therapy_requested_at):
            tally = self.model.tally
            tally.therapy_waits.append(t - self.therapy_requested_at)
            tally.n_waiting_for_therapy -= 1
            self.therapy_requested_at = math.nan

    def _cancel_therapy_wait(self) -> None:
        """Stop waiting for a first session without having one."""
        if not math.isnan(self.therapy_requested_at):
            self.model.tally.n_waiting_for_therapy -= 1
            self.therapy_requested_at = math.nan

    # ------------------------------------------------------------------ exits
    def _discharge(self) -> None:
        self.prescriber = None
        self._set_state(PathwayState.DISCHARGED)

    def drop_out(self, reason: DropReason) -> None:
        """Leave care for the rest of the run."""
        for attr in ("_dose_event", "_session_event", "_other_event"):
            event = getattr(self, attr)
            if event is not None:
                event.cancel()
                setattr(self, attr, None)
        self.therapy_ongoing = False
        self._cancel_therapy_wait()
        self.model.population.record_drop_reason(self.idx, reason)
        self._set_state(PathwayState.DROPPED_OUT)

    def relapse(self) -> None:
        """Loss of response after discharge: perhaps seek care again."""
        if self.state is not PathwayState.DISCHARGED:
            return
        rng = self.model.streams["relapse"]
        if rng.random() < self.params.p_return_on_relapse:
            self.seek_attempts = 0
            self.pa_denied = False
            self.route = Route.NONE
            self._set_state(PathwayState.SEEKING)
            delay = rng.exponential(self.params.dur_return_delay_days)
            self._other_event = self._schedule(self.seek_care, self.model.time + delay)
