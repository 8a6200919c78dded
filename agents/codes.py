"""The shared vocabulary of categorical state: billing codes, budgets, payer kinds, routes.

Agents name claims with these and the payment rules (``agents/payments.py``) decide with them;
``model/billing.py`` keeps the ledger. Code names follow US practice; amounts are scenario
parameters.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Silo(IntEnum):
    """The budget a claim is paid from."""

    MEDICAL = 0
    BEHAVIORAL = 1
    OUT_OF_POCKET = 2
    BUNDLE = 3


class Code(IntEnum):
    """Illustrative billing codes."""

    PSYCH_EVAL_90791 = 0
    PSYCHOTHERAPY_90837 = 1
    ESKETAMINE_SESSION_G2083 = 2
    ESKETAMINE_DRUG = 3
    IV_KETAMINE_INFUSION = 4
    CARE_COORDINATION = 5
    BUNDLED_EPISODE = 6
    PRIOR_AUTH_REQUEST = 7


class ClaimStatus(IntEnum):
    """Outcome of a claim."""

    PAID = 0
    DENIED = 1
    SELF_PAY = 2


class PayerKind(IntEnum):
    """A patient's coverage."""

    COMMERCIAL = 0
    MEDICAID = 1
    MEDICARE = 2
    UNINSURED = 3


class BusinessModel(IntEnum):
    """A prescriber's business model."""

    INFUSION_CASH = 0
    REMS_ESKETAMINE = 1
    INTEGRATED = 2


class Route(IntEnum):
    """The treatment a patient has chosen for this episode."""

    NONE = 0
    INFUSION_CASH = 1
    REMS_ESKETAMINE = 2
    INTEGRATED = 3
    THERAPY_ONLY = 4


class PartyKind(StrEnum):
    """Who receives a payment."""

    PRESCRIBER = "prescriber"
    THERAPIST = "therapist"
    PHARMA = "pharma"


SILO_NAMES = {s: s.name.lower() for s in Silo}
CODE_NAMES = {c: c.name for c in Code}
PAYER_NAMES = {k: k.name.lower() for k in PayerKind}
