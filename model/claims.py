"""The run's claims: who bills each service, the claims that pay it, the journal, the posting.

Who pays for a service, how much and from which budget is decided by the payment rules
(``agents/payments.py``) at the service's event. This module turns the decision into claims:

* a *plan* is what one payment pays: the payer's claim and the patient's cost share (or the
  patient's whole payment, or a bare credit to a payee without a claim). A run pays a few dozen
  distinct amounts hundreds of thousands of times, so each plan is worked out once and numbered;
* the event notes ``(time, patient, plan, payee)`` in the journal; ``post`` writes the
  journal's claims to the ledger and moves the money (``model/postings.py``) before anything
  reads it: at the daily sample, at a quarterly review, at the end of each advance of the clock
  and whenever a payee's revenue is read (at once while an observer watches the run);
* who billed each patient's drug and therapy, and to which budgets, is written to the
  population (the fragmentation index), and prior-authorisation denials are written as denied
  claims when they are decided.
"""

from __future__ import annotations

import heapq
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from agents import payments
from agents.calendar import month_of, year_of
from agents.codes import ClaimStatus, Code, PartyKind, Route, Silo
from agents.payer import Payer
from agents.payments import BILLER_CODES, DRUG_CODES, DosePayer, SessionPayer, to_cents
from model import postings
from model.billing import OUT_OF_POCKET_PAYER, PAYEE_INDEX, Ledger

if TYPE_CHECKING:
    from agents.patient import Patient
    from agents.prescriber import Prescriber

_THERAPIST_ORG = payments.org_of(PartyKind.THERAPIST, 0)  # + a therapist's unique id
_PSYCHOTHERAPY = Code.PSYCHOTHERAPY_90837


class ClaimLine(NamedTuple):
    """One claim of a plan."""

    payer_id: int  # a ``PayerKind``, or ``OUT_OF_POCKET_PAYER`` for the patient
    silo: Silo
    status: ClaimStatus
    cents: int
    payer: Payer | None  # whose quarterly budget it spends (None: nobody's)


class Plan(NamedTuple):
    """What one payment pays: its claims to ``payee_kind`` for ``code``, or a bare credit."""

    lines: tuple[ClaimLine, ...]
    payee_kind: PartyKind
    code: Code
    credit_usd: float  # credited to the payee without a claim (when ``lines`` is empty)


class DoseFee(NamedTuple):
    """One of a dose's own payments."""

    plan: int
    code: Code
    payee_kind: PartyKind
    silo: Silo | None  # its budget when it says who billed the drug, else None


class DosePlan(NamedTuple):
    """A dose's own payments, whether it is inside a bundle, and who bills the drug."""

    fees: tuple[DoseFee, ...]
    in_bundle: bool
    biller: tuple[int, int] | None  # (the clinic's organisation less its id, budget bit)


class DoseBilling(NamedTuple):
    """What ``KetasimModel.give_dose`` needs to bill and book a dose of a patient's course.

    Fixed while the clinic, its business model, the drug's price and the route are, so the
    patient keeps it meanwhile (``Patient.receive_dose``).
    """

    notes: tuple[tuple[int, int], ...]  # the dose's own payments: (plan, payee slot)
    in_bundle: bool  # the course's bundle pays it (paid at the course's first dose)
    coordinated: bool  # the course earns the monthly coordination fee
    org: int  # who bills the drug (-1: no payment of the dose says)
    bit: int  # and to which budget
    row: int  # the clinic's row of the week book
    need: float  # a dose's chair-hours
    room: float  # the week's chair-hours (``Prescriber.chair_room``)


class PendingDenial(NamedTuple):
    """A prior-authorisation denial asked for, to be written when it is decided."""

    t: float  # when it is decided
    idx: int  # the patient's row
    prescriber_id: int
    payer_kind: int
    drug_price: float  # the drug's price when it was asked for


@dataclass(slots=True)
class SessionTerms:
    """A referred session's budget bits and plans for one payer (a plan -1 until first paid)."""

    bit_by_payer: int
    bit_cash: int
    plan_by_payer: int = -1
    plan_cash: int = -1


class Claims:
    """The claims bookkeeping of one run (``KetasimModel.claims``).

    Args:
        model: The model whose payments these are.
        keep_claims: Keep every claim row (``Ledger``).
    """

    def __init__(self, model, keep_claims: bool) -> None:
        self.model = model
        self.ledger = Ledger(keep_claims=keep_claims)
        # Payments made but not yet posted. Typed arrays, not lists: the journal becomes NumPy
        # arrays by a copy of its buffer.
        self.journal = (array("d"), array("q"), array("q"), array("q"))
        self.post_at_once = False  # set while an observer watches the run
        self.plans: list[Plan] = []
        self._plan_of: dict[tuple, int] = {}
        self._plan_table: tuple[np.ndarray, ...] | None = None
        self.dose_plans: dict[tuple, DosePlan] = {}  # by (route, payer, esketamine, price)
        self.terms_by_payer: dict[Payer | None, SessionTerms] = {}  # see session_terms
        self._billers: dict[tuple[int, int], tuple[int, int]] = {}  # see track_billing
        self._pending_denials: list[PendingDenial] = []  # a heap by decision time
        self.pharma_revenue_cents = 0
        self._payees: list = []
        self.slot_of: dict = {}  # payee -> slot (enrol_payees)
        self._prescriber_slot: dict[int, int] = {}  # a clinic's unique id -> slot

    def enrol_payees(self, prescribers: list, therapists: list, pharma) -> None:
        """Everyone who can be paid, by slot (the journal's payee column)."""
        self._payees = [*prescribers, *therapists, pharma]
        self.slot_of = {payee: k for k, payee in enumerate(self._payees)}
        self._prescriber_slot = {c.unique_id: self.slot_of[c] for c in prescribers}
        self._revenue = np.zeros(len(self._payees))  # USD received, by slot (revenue_of)
        self._payee_uid = np.array([payee.unique_id for payee in self._payees], dtype=np.int64)

    # ------------------------------------------------------------------ paying
    def pay(
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
        it when ``payer`` is None (one claim).
        """
        plan = self.plan_for(code, payee_kind, usd, payer)
        self.note(t, patient.idx, plan, self.slot_of[payee])
        self.track_billing(patient, code, payee_kind, payee, self.plans[plan].lines[0].silo)

    def credit(self, patient: Patient, t: float, payee_kind: PartyKind, payee, usd: float) -> None:
        """Credit ``usd`` to ``payee`` without a claim (a programme paying its own therapist)."""
        key = ("credit", usd, payee_kind)
        plan = self._plan_of.get(key)
        if plan is None:
            plan = self._add_plan(key, Plan((), payee_kind, _PSYCHOTHERAPY, usd))
        self.note(t, patient.idx, plan, self.slot_of[payee])

    def note(self, t: float, i: int, plan: int, slot: int) -> None:
        """Add a payment to the journal (posted at once while an observer watches)."""
        times, rows, plans, slots = self.journal
        times.append(t)
        rows.append(i)
        plans.append(plan)
        slots.append(slot)
        if self.post_at_once:
            self.model.post_journal()

    def plan_for(self, code: Code, payee_kind: PartyKind, usd: float, payer: Payer | None) -> int:
        """The number of the plan that pays ``usd`` for ``code`` (made the first time)."""
        key = (payer, code, usd, payee_kind)
        plan = self._plan_of.get(key)
        if plan is None:
            plan = self._add_plan(key, Plan(claim_lines(code, usd, payer), payee_kind, code, 0.0))
        return plan

    def _add_plan(self, key: tuple, plan: Plan) -> int:
        number = len(self.plans)
        self.plans.append(plan)
        self._plan_of[key] = number
        self._plan_table = None  # rebuilt at the next posting
        return number

    # ------------------------------------------------------------------ who billed the care
    def track_billing(
        self, patient: Patient, code: Code, payee_kind: PartyKind, payee, silo: Silo
    ) -> None:
        """Remember who billed a patient's drug and therapy, and to which budget.

        A patient's doses (or sessions) are mostly billed by the same organisation to the same
        budget as the last one, which changes nothing here; the patient keeps the last
        (organisation, budget) of each so that such a repeat costs no array reads.
        """
        if code is Code.CARE_COORDINATION:
            self.model.population.coordinated[patient.idx] = True
            return
        if code not in BILLER_CODES:
            return
        billed_by = (payments.org_of(payee_kind, payee.unique_id), 1 << int(silo))
        pop = self.model.population
        if code in DRUG_CODES:
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

        Returns the one shared tuple for this (organisation, budget): a million patients keep
        one each.
        """
        org, bit = billed_by
        payments.note_biller(orgs, silos, self.model.population.split_orgs, i, org, bit)
        return self._billers.setdefault(billed_by, billed_by)

    # ------------------------------------------------------------------ services
    def bill_intake(self, patient: Patient, clinic: Prescriber, t: float) -> None:
        """Bill an intake evaluation (``payments.intake_in_cash``: cash clinics charge cash)."""
        scenario = self.model.scenario
        payer = patient.payer
        covers_iv = scenario.policy.covers_iv_ketamine
        if payments.intake_in_cash(clinic.business_model, payer is not None, covers_iv):
            payer = None
        code = Code.PSYCH_EVAL_90791
        usd = payer.allowed(code) if payer is not None else scenario.payers.usd_psych_eval
        self.pay(patient, t, code, PartyKind.PRESCRIBER, clinic, usd, payer)

    def dose_billing(self, patient: Patient, esketamine: bool) -> DoseBilling:
        """What ``KetasimModel.give_dose`` needs to bill and book a dose of this course."""
        clinic = patient.prescriber
        planned = self._dose_plan(patient, esketamine)
        pharma = self.model.pharma
        notes = tuple(
            (fee.plan, self.slot_of[pharma if fee.payee_kind is PartyKind.PHARMA else clinic])
            for fee in planned.fees
        )
        biller = planned.biller
        org, bit = (-1, 0) if biller is None else (biller[0] + clinic.unique_id, biller[1])
        coordinated = payments.earns_coordination(
            patient.route,
            patient.payer is not None,
            self.model.scenario.policy.coordination_payment,
        )
        return DoseBilling(
            notes,
            planned.in_bundle,
            coordinated,
            org,
            bit,
            clinic.row,
            clinic.dose_hours(),
            clinic.chair_room,
        )

    def _dose_plan(self, patient: Patient, esketamine: bool) -> DosePlan:
        """A dose's ``DosePlan``, planned once per (route, payer, esketamine, drug price)."""
        key = (patient.route, patient.payer, esketamine, self.model.pharma.price_per_session)
        planned = self.dose_plans.get(key)
        if planned is None:
            fees, in_bundle = self.plan_dose(patient.route, patient.payer, esketamine)
            billers = [
                (payments.org_of(fee.payee_kind, 0), 1 << int(fee.silo))
                for fee in fees
                if fee.silo is not None
                and fee.payee_kind is PartyKind.PRESCRIBER
                and fee.code in DRUG_CODES
            ]
            if len(billers) != sum(fee.silo is not None for fee in fees) or len(billers) > 1:
                # The compiled dose tracks at most the clinic's fee.
                raise ValueError(f"a dose's payments track more than its clinic's fee: {fees}")
            biller = billers[0] if billers else None
            planned = self.dose_plans[key] = DosePlan(fees, in_bundle, biller)
        return planned

    def plan_dose(
        self, route: Route, payer: Payer | None, esketamine: bool
    ) -> tuple[tuple[DoseFee, ...], bool]:
        """A dose's own payments in billing order, and whether the dose is inside a bundle.

        Who pays is ``payments.dose_payer``; a bundle's fee is paid once a course, at its first
        dose (``pay_course_fees``).
        """
        policy = self.model.scenario.policy
        cash = self.model.scenario.prescribers.usd_cash_iv_price
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
                return (), True
            case _:
                raise ValueError(f"unknown dose payment {payment!r}")
        planned = []
        for code, payee_kind, usd, fee_payer in fees:
            plan = self.plan_for(code, payee_kind, usd, fee_payer)
            # No budget for what bills neither side (the drug paid to pharma): the compiled
            # dose then has no biller to track, decided here once rather than at every dose.
            silo = self.plans[plan].lines[0].silo if code in BILLER_CODES else None
            planned.append(DoseFee(plan, code, payee_kind, silo))
        return tuple(planned), False

    def pay_course_fees(
        self, patient: Patient, t: float, in_bundle: bool, coordinated: bool
    ) -> None:
        """At a dose: the course's bundle (at its first dose), the month's coordination fee."""
        clinic = patient.prescriber
        payer = patient.payer
        if in_bundle and not patient.bundle_paid:
            patient.bundle_paid = True
            code = Code.BUNDLED_EPISODE
            self.pay(patient, t, code, PartyKind.PRESCRIBER, clinic, payer.allowed(code), payer)
        if coordinated:
            month = month_of(t)
            if patient.coordination_months is None:
                patient.coordination_months = set()
            if month not in patient.coordination_months:
                patient.coordination_months.add(month)
                code = Code.CARE_COORDINATION
                usd = payer.allowed(code)
                self.pay(patient, t, code, PartyKind.PRESCRIBER, clinic, usd, payer)

    def bill_integration_session(self, patient: Patient, t: float) -> bool:
        """Bill an integration session inside a programme; False when nobody will pay for it.

        Who pays is ``payments.programme_session_payer``. The programme pays its own therapist
        first, whoever pays it (even nobody).
        """
        clinic = patient.prescriber
        if clinic is None:
            return False
        scenario = self.model.scenario
        payer = patient.payer
        therapist = patient.therapist
        if therapist is not None:
            cost = scenario.prescribers.usd_integration_session_cost
            self.credit(patient, t, PartyKind.THERAPIST, therapist, cost)
        year = year_of(t)
        population = self.model.population
        used = population.sessions_used(patient.idx, year)
        insured = payer is not None
        who = payments.programme_session_payer(
            insured,
            scenario.policy.bundled_payment,
            used,
            payer.n_session_cap if insured else -1,
            insured and clinic.bills_therapy(payer),
            patient.can_pay_cash,
        )
        code = _PSYCHOTHERAPY
        match who:
            case SessionPayer.BUNDLE:  # inside the bundle: no claim of its own
                self.track_billing(patient, code, PartyKind.PRESCRIBER, clinic, Silo.BUNDLE)
            case SessionPayer.PAYER:
                population.use_session(patient.idx, year, used + 1)
                usd = payer.allowed(code)
                self.pay(patient, t, code, PartyKind.PRESCRIBER, clinic, usd, payer)
            case SessionPayer.CASH:
                usd = scenario.therapists.usd_cash_rate
                self.pay(patient, t, code, PartyKind.PRESCRIBER, clinic, usd, None)
            case SessionPayer.PROGRAMME:  # provided unpaid, as the integrated model promises
                self.track_billing(patient, code, PartyKind.PRESCRIBER, clinic, Silo.MEDICAL)
            case SessionPayer.NOBODY:
                return False
            case _:
                raise ValueError(f"unknown session payer {who!r}")
        return True

    def session_terms(self, payer: Payer | None) -> SessionTerms:
        """A referred session's budget bits for ``payer`` (kept for the run).

        The budget of a payment's first claim: the payer's for psychotherapy, and out of pocket
        in cash.
        """
        terms = self.terms_by_payer.get(payer)
        if terms is None:
            by_payer = 0 if payer is None else 1 << int(payer.silo_for(_PSYCHOTHERAPY))
            terms = SessionTerms(by_payer, 1 << int(Silo.OUT_OF_POCKET))
            self.terms_by_payer[payer] = terms
        return terms

    def session_plan(self, terms: SessionTerms, payer: Payer | None, by_payer: bool) -> int:
        """The plan of a referred session paid by the payer in network, or in cash (kept)."""
        plan = terms.plan_by_payer if by_payer else terms.plan_cash
        if plan < 0:
            therapist = PartyKind.THERAPIST
            if by_payer:
                usd = payer.allowed(_PSYCHOTHERAPY)
                plan = terms.plan_by_payer = self.plan_for(_PSYCHOTHERAPY, therapist, usd, payer)
            else:
                usd = self.model.scenario.therapists.usd_cash_rate
                plan = terms.plan_cash = self.plan_for(_PSYCHOTHERAPY, therapist, usd, None)
        return plan

    # ------------------------------------------------------------------ prior authorisation
    def deny_prior_auth(self, patient: Patient, t_decision: float) -> None:
        """A denied prior-authorisation request, written as a claim when it is decided.

        No claim is dated after the moment it is written: a denial still pending when the run
        ends is not in the run's ledger.
        """
        model = self.model
        denial = PendingDenial(
            t_decision,
            patient.idx,
            patient.prescriber.unique_id,
            int(patient.payer.kind),
            patient.payer.allowed(Code.ESKETAMINE_DRUG),
        )
        if t_decision <= model.time:
            self._write_denial(denial)
            return
        heapq.heappush(self._pending_denials, denial)
        model.schedule_event(self._flush_denials, at=t_decision)

    def _flush_denials(self) -> None:
        """Write the prior-authorisation denials decided by now, earliest first."""
        pending = self._pending_denials
        while pending and pending[0].t <= self.model.time:
            self._write_denial(heapq.heappop(pending))

    def _write_denial(self, denial: PendingDenial) -> None:
        self.model.tally.n_pa_denied += 1
        silo, status, cents = payments.denied_claim(denial.drug_price)
        key = ("denied", denial.payer_kind, cents)
        plan = self._plan_of.get(key)
        if plan is None:
            line = ClaimLine(denial.payer_kind, Silo(silo), ClaimStatus(status), cents, None)
            plan = self._add_plan(
                key, Plan((line,), PartyKind.PRESCRIBER, Code.PRIOR_AUTH_REQUEST, 0.0)
            )
        self.note(denial.t, denial.idx, plan, self._prescriber_slot[denial.prescriber_id])

    # ------------------------------------------------------------------ posting
    def revenue_of(self, payee) -> float:
        """What a clinic or therapist has received over the run, USD (payments made so far)."""
        self.model.post_journal()
        return float(self._revenue[self.slot_of[payee]])

    def _plan_arrays(self) -> tuple[np.ndarray, ...]:
        """The plans as the arrays ``postings.post`` reads (see its Args)."""
        if self._plan_table is not None:
            return self._plan_table
        n = len(self.plans)
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
        budget_row = {payer: k for k, payer in enumerate(self.model.payers)}
        for p, plan in enumerate(self.plans):
            n_claims[p] = len(plan.lines)
            kind[p] = PAYEE_INDEX[plan.payee_kind]
            code[p] = plan.code
            credit[p] = plan.credit_usd
            for c, line in enumerate(plan.lines):
                payer_id[p, c] = line.payer_id
                silo[p, c] = line.silo
                status[p, c] = line.status
                cents[p, c] = line.cents
                paid[p, c] = line.cents / 100.0
                if line.payer is not None:
                    budget[p, c] = budget_row[line.payer]
                if line.status is not ClaimStatus.DENIED:
                    total[p] += line.cents
        self._plan_table = (
            n_claims, payer_id, silo, status, cents, paid, budget, kind, code, total, credit
        )  # fmt: skip
        return self._plan_table

    def post(self) -> None:
        """Post the journal's payments (``postings.post``): claims, totals, revenue, budgets.

        The payees' revenue lives in one array (``revenue_of``); the other running totals
        live on the ledger, the tally, pharma and the payers, and are handed to the compiled
        pass as arrays and written back, so that readers see plain attributes.
        """
        if not self.journal[2]:
            return
        model = self.model
        t, patient, plan, slot = (np.array(entries) for entries in self.journal)
        for entries in self.journal:
            del entries[:]
        table = self._plan_arrays()
        budget_spend = np.zeros((len(model.payers), len(Silo)))
        for b, payer in enumerate(model.payers):
            for budget_silo, usd in payer.quarter_spend.items():
                budget_spend[b, budget_silo] = usd
        ledger = self.ledger
        paid_by_silo = np.array([ledger.paid_by_silo[x] for x in Silo], dtype=np.int64)
        received = np.array([ledger.received_by_payee_kind[k] for k in PAYEE_INDEX], dtype=np.int64)
        counts = np.array(
            [ledger.n_claims, ledger.n_denied, self.pharma_revenue_cents], dtype=np.int64
        )
        sums = np.array([model.tally.disc_cost_cents, model.pharma.quarter_revenue])
        start, cols = ledger.reserve(int(table[0][plan].sum()))
        end = postings.post(
            t, patient, plan, slot, *table, PAYEE_INDEX[PartyKind.PHARMA],
            int(ClaimStatus.DENIED), self._payee_uid, self._revenue,
            model.population.spend_cents, budget_spend, paid_by_silo, received, counts, sums,
            1.0 + model.scenario.metrics.p_discount_per_year, ledger.keep_claims, start,
            cols["day"], cols["patient"], cols["payee_kind"], cols["payee"], cols["payer"],
            cols["silo"], cols["code"], cols["status"], cols["cents"],
        )  # fmt: skip
        ledger.advance(end)
        for b, payer in enumerate(model.payers):
            for budget_silo in payer.quarter_spend:
                payer.quarter_spend[budget_silo] = float(budget_spend[b, budget_silo])
        for x in Silo:
            ledger.paid_by_silo[x] = int(paid_by_silo[x])
        for k, index in PAYEE_INDEX.items():
            ledger.received_by_payee_kind[k] = int(received[index])
        ledger.n_claims, ledger.n_denied, self.pharma_revenue_cents = map(int, counts)
        model.tally.disc_cost_cents = float(sums[0])
        model.pharma.quarter_revenue = float(sums[1])


def claim_lines(code: Code, usd: float, payer: Payer | None) -> tuple[ClaimLine, ...]:
    """The claims that pay ``usd`` for ``code``.

    The payer's share (PAID, from the payer's budget for the code) then the patient's cost
    share (SELF_PAY, out of pocket, written only when not zero; ``payments.split_cents``);
    everything out of pocket when ``payer`` is None.

    Raises:
        ValueError: ``usd`` is negative (nothing is paid or recorded).
    """
    if not usd >= 0.0:
        raise ValueError(f"a payment must be a non-negative amount, got {usd!r} USD")
    oop = Silo.OUT_OF_POCKET
    if payer is None:
        return (ClaimLine(OUT_OF_POCKET_PAYER, oop, ClaimStatus.SELF_PAY, to_cents(usd), None),)
    cents, share = payments.split_cents(usd, payer.cost_share)
    lines = [ClaimLine(int(payer.kind), payer.silo_for(code), ClaimStatus.PAID, cents, payer)]
    if share:
        lines.append(ClaimLine(OUT_OF_POCKET_PAYER, oop, ClaimStatus.SELF_PAY, share, None))
    return tuple(lines)
