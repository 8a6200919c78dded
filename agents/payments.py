"""Who pays for care, how much, from which budget and who bills it: the payment rules.

Each rule is written once, as a pure function of plain numbers (ints for the enums of
``agents/codes.py``, floats for USD), and registered with Numba: the agents and the model call
it as Python, and the compiled steps (``model/sessions.py``, ``model/doses.py``) compile the
same text. The agents' own valuations (a patient's out-of-pocket estimate, a clinic's margin,
a therapist's network test) call the same functions, so what an agent expects to pay or earn
follows the rule that bills it. docs/ODD.md §3.3 ("Billing") states the rules in words.

The rules read no scenario and no agent: a caller hands over the lever or fee that applies
(``Payer.allowed`` for a payer's fees, ``PolicyLevers`` for the levers).
"""

from __future__ import annotations

import math
from enum import IntEnum

from numba.extending import register_jitable

from agents.codes import BusinessModel, ClaimStatus, Code, PartyKind, PayerKind, Route, Silo


class SessionPayer(IntEnum):
    """Who pays a therapy session."""

    PAYER = 0  # the patient's payer, less the patient's cost share
    CASH = 1  # the patient, at the cash rate
    NOBODY = 2  # nobody: the session is not held
    BUNDLE = 3  # the programme's episode bundle: no claim of its own
    PROGRAMME = 4  # the integrated programme absorbs it: no claim


class DosePayer(IntEnum):
    """Who pays a dose, and for what."""

    IV_BY_PAYER = 0  # the infusion, at the payer's fee (IV ketamine covered)
    IV_CASH = 1  # the infusion, at the clinic's cash price
    ESKETAMINE = 2  # the REMS session fee to the clinic and the drug to pharma, by the payer
    IN_BUNDLE = 3  # nothing of its own: the course's bundle pays it


# The enums as plain ints, the constants compiled code reads.
_PAYER, _CASH, _NOBODY, _BUNDLE, _PROGRAMME = (int(x) for x in SessionPayer)
_IV_BY_PAYER, _IV_CASH, _ESKETAMINE, _IN_BUNDLE = (int(x) for x in DosePayer)
_INFUSION_CLINIC = int(BusinessModel.INFUSION_CASH)
_REMS_CLINIC = int(BusinessModel.REMS_ESKETAMINE)
_INTEGRATED_CLINIC = int(BusinessModel.INTEGRATED)
_INFUSION_ROUTE = int(Route.INFUSION_CASH)
_INTEGRATED_ROUTE = int(Route.INTEGRATED)
_DRUG = int(Code.ESKETAMINE_DRUG)
_PSYCHOTHERAPY = int(Code.PSYCHOTHERAPY_90837)
_BUNDLED_EPISODE = int(Code.BUNDLED_EPISODE)
_MEDICAID = int(PayerKind.MEDICAID)
_MEDICAL, _BEHAVIORAL, _BUNDLE_BUDGET = int(Silo.MEDICAL), int(Silo.BEHAVIORAL), int(Silo.BUNDLE)
_DENIED = int(ClaimStatus.DENIED)


# -- amounts ------------------------------------------------------------------------------------


@register_jitable
def to_cents(usd):
    """Round a dollar amount to whole cents (half away from zero)."""
    # math.floor, not np.floor: the same value for a Python float, without NumPy's per-call cost.
    return math.floor(abs(usd) * 100.0 + 0.5) * (1 if usd >= 0 else -1)


@register_jitable
def allowed_fee(code, schedule_usd, rel_rate, drug_price):
    """A payer's allowed amount for ``code``, USD: its whole payment before cost sharing.

    The fee schedule's amount times the payer kind's rate multiplier; the drug is paid at the
    manufacturer's current price, the same for every payer kind.
    """
    if code == _DRUG:
        return drug_price
    return schedule_usd * rel_rate


@register_jitable
def cost_share(payer_kind, p_medicaid, p_policy):
    """The share of an allowed amount the patient pays.

    Medicaid's own nominal copay for a Medicaid member; the policy's coinsurance otherwise.
    """
    return p_medicaid if payer_kind == _MEDICAID else p_policy


@register_jitable
def split_cents(usd, share):
    """A payment of ``usd`` split into (the payer's cents, the patient's cents).

    The patient's share is ``usd x share`` rounded to cents; the payer pays the rest of the
    whole amount in cents, so the two always add up to the amount rounded to cents.
    """
    total = to_cents(usd)
    oop = to_cents(usd * share)
    return total - oop, oop


@register_jitable
def budget_for(code, carve_out):
    """The payer's budget (a ``Silo``) that pays ``code``.

    A bundle from the bundle budget; psychotherapy from the behavioural budget under a
    carve-out; everything else (and therapy under a carve-in) from the medical budget.
    """
    if code == _BUNDLED_EPISODE:
        return _BUNDLE_BUDGET
    if code == _PSYCHOTHERAPY and carve_out:
        return _BEHAVIORAL
    return _MEDICAL


@register_jitable
def denied_claim(drug_price):
    """A denied prior-authorisation request as a claim: (budget, status, cents asked).

    Written against the medical budget for the drug's price; a denial moves no money.
    """
    return _MEDICAL, _DENIED, to_cents(drug_price)


# -- networks -----------------------------------------------------------------------------------


@register_jitable
def joins_network(fee, admin_burden, reservation):
    """Whether a provider joins a payer's network, at a fee and admin burden per session.

    It joins when the fee, net of the network's admin burden, is at least its reservation rate
    (all USD per session).
    """
    return fee - admin_burden >= reservation


@register_jitable
def programme_bills_therapy(carve_out, therapy_fee, admin_burden, therapist_cost):
    """Whether an integrated programme is paid by a payer for the sessions it provides.

    Under a carve-in it bills therapy on its medical contract. Under a carve-out therapy is the
    behavioural plan's, whose network the programme joins only when the behavioural fee, net of
    the network's admin burden, covers what it pays its therapist; otherwise it absorbs them.
    """
    return not carve_out or joins_network(therapy_fee, admin_burden, therapist_cost)


# -- sessions -----------------------------------------------------------------------------------


@register_jitable
def referred_session_payer(used, cap, in_network, can_pay_cash):
    """Who pays a session with a therapist outside an integrated programme (``SessionPayer``).

    The payer while the patient's covered sessions this year (``used``) are under its cap and
    the therapist is in its network; else the patient in cash when they can; else nobody. An
    uninsured patient has a cap of -1 (never under it).
    """
    if used < cap and in_network:
        return _PAYER
    if can_pay_cash:
        return _CASH
    return _NOBODY


@register_jitable
def programme_session_payer(insured, bundled, used, cap, bills_therapy, can_pay_cash):
    """Who pays an integration session inside a programme (``SessionPayer``).

    For an insured patient: the episode's bundle where bundled payment is on; else the payer,
    billed by the programme, while under the yearly cap and when the programme bills therapy
    (``programme_bills_therapy``); else the programme absorbs it, as its model promises. An
    uninsured patient pays cash when they can; else nobody does.
    """
    if insured and bundled:
        return _BUNDLE
    if insured and used < cap and bills_therapy:
        return _PAYER
    if not insured:
        return _CASH if can_pay_cash else _NOBODY
    return _PROGRAMME


@register_jitable
def session_oop(insured, share, therapy_fee, cash_rate):
    """What a patient expects to pay for one session, USD.

    Their share of the payer's fee when insured, else the cash rate.
    """
    return share * therapy_fee if insured else cash_rate


# -- doses --------------------------------------------------------------------------------------


@register_jitable
def uses_esketamine(business_model, insured, bundled):
    """Whether a course at a clinic of ``business_model`` is esketamine billed to a payer.

    At a REMS clinic, and in an integrated programme without a bundle (a bundled programme
    uses generic IV ketamine); never for an uninsured patient, nor at an infusion clinic.
    """
    if not insured:
        return False
    if business_model == _REMS_CLINIC:
        return True
    if business_model == _INTEGRATED_CLINIC:
        return not bundled
    if business_model == _INFUSION_CLINIC:
        return False
    raise ValueError("unknown business model")


@register_jitable
def dose_payer(route, esketamine, insured, covers_iv, bundled):
    """Who pays a dose on ``route`` (``DosePayer``).

    An infusion: the payer's IV fee where it covers IV ketamine, else the cash price. An
    esketamine course (``uses_esketamine``): the REMS session fee and the drug, by the payer.
    An integrated course of an insured patient under bundled payment: nothing per dose (the
    course's bundle). Otherwise the cash price of an infusion.
    """
    if route == _INFUSION_ROUTE:
        return _IV_BY_PAYER if insured and covers_iv else _IV_CASH
    if esketamine:
        return _ESKETAMINE
    if route == _INTEGRATED_ROUTE and insured and bundled:
        return _IN_BUNDLE
    return _IV_CASH


@register_jitable
def course_oop(payment, n_doses, share, iv_fee, session_fee, drug_price, bundle_fee, cash_price):
    """What a patient pays out of pocket for ``n_doses`` doses paid as ``payment``, USD.

    Their share of the payer's fees per dose, or the cash price per dose; under a bundle their
    share of the whole episode's bundle, once, whatever ``n_doses``.
    """
    if payment == _IV_BY_PAYER:
        return n_doses * share * iv_fee
    if payment == _ESKETAMINE:
        return n_doses * share * (session_fee + drug_price)
    if payment == _IN_BUNDLE:
        return share * bundle_fee
    return n_doses * cash_price


@register_jitable
def dose_oop(payment, n_course, share, iv_fee, session_fee, drug_price, bundle_fee, cash_price):
    """What a patient pays out of pocket for one dose paid as ``payment``, USD.

    Under a bundle, their share of the episode's bundle spread over the ``n_course`` doses of
    an induction course.
    """
    one = course_oop(payment, 1, share, iv_fee, session_fee, drug_price, bundle_fee, cash_price)
    return one / n_course if payment == _IN_BUNDLE else one


@register_jitable
def course_open(business_model, payment, can_pay_cash):
    """Whether a patient can have a course paid as ``payment`` at a clinic of ``business_model``.

    A course paid in cash needs a patient who can pay cash, and a REMS clinic takes none: it
    bills esketamine to payers only.
    """
    if payment == _IV_CASH:
        return can_pay_cash and business_model != _REMS_CLINIC
    return True


@register_jitable
def clinic_income_per_dose(payment, iv_fee, session_fee, bundle_fee, n_course, cash_price):
    """What the clinic receives for one dose paid as ``payment``, USD (payer and patient).

    The infusion's fee or cash price; for esketamine the REMS session fee (the drug is paid to
    pharma); under a bundle the episode's bundle spread over the ``n_course`` doses.
    """
    if payment == _IV_BY_PAYER:
        return iv_fee
    if payment == _ESKETAMINE:
        return session_fee
    if payment == _IN_BUNDLE:
        return bundle_fee / n_course
    return cash_price


# -- course fees ----------------------------------------------------------------------------------


@register_jitable
def earns_coordination(route, insured, coordination_payment):
    """Whether a course earns the monthly care-coordination fee.

    An insured patient's integrated course does, where the coordination lever is on.
    """
    return route == _INTEGRATED_ROUTE and insured and coordination_payment


@register_jitable
def intake_in_cash(business_model, insured, covers_iv):
    """Whether the intake evaluation is charged in cash rather than to the patient's payer.

    An uninsured patient pays it; so does everyone at an infusion clinic when payers do not
    cover IV ketamine (a cash clinic is in no network).
    """
    return not insured or (business_model == _INFUSION_CLINIC and not covers_iv)


# -- who billed the care --------------------------------------------------------------------------

# A payment of one of these codes says who billed the patient's drug (the dose's clinic fee or
# the bundle) or therapy; the drug itself (paid to pharma) and the intake say neither.
DRUG_CODES = frozenset(
    {Code.ESKETAMINE_SESSION_G2083, Code.IV_KETAMINE_INFUSION, Code.BUNDLED_EPISODE}
)
BILLER_CODES = DRUG_CODES | {Code.PSYCHOTHERAPY_90837, Code.CARE_COORDINATION}

# An organisation's id: its party kind's place in ``PartyKind`` times this, plus its unique id.
ORG_STRIDE = 100_000_000
_PARTY_ORDER = {kind: k for k, kind in enumerate(PartyKind)}


def org_of(payee_kind: PartyKind, unique_id: int) -> int:
    """The organisation id of a payee, unique across the kinds of party."""
    return _PARTY_ORDER[payee_kind] * ORG_STRIDE + unique_id


@register_jitable
def note_biller(orgs, silos, split, i, org, bit):
    """Row ``i``'s drug or therapy was billed by ``org`` to the budget bit ``bit``.

    A second organisation billing the same side marks the patient's care as split; every
    budget that paid it is kept (a bit each), for the fragmentation index.
    """
    if orgs[i] >= 0 and orgs[i] != org:
        split[i] = True
    orgs[i] = org
    silos[i] |= bit
