"""The claims ledger: every payment a claim, money conserved to the cent (docs/ODD.md §3.3).

Claims are stored column-wise in growable NumPy arrays (a million-patient run makes tens of
millions of claims; Python objects per claim would not fit in memory). Amounts are integer cents,
so sums are exact: what payers and patients pay equals what providers and pharma receive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agents.codes import CODE_NAMES, PAYER_NAMES, SILO_NAMES, ClaimStatus, PartyKind, Silo

PAYEE_KINDS = list(PartyKind)
PAYEE_INDEX = {k: i for i, k in enumerate(PAYEE_KINDS)}
OUT_OF_POCKET_PAYER = -1
"""Payer id of a claim paid by the patient."""

_COLUMNS = {
    "day": np.float64,
    "patient": np.int32,
    "payee_kind": np.int8,
    "payee": np.int32,
    "payer": np.int8,
    "silo": np.int8,
    "code": np.int8,
    "status": np.int8,
    "cents": np.int64,
}


class Ledger:
    """An append-only claims ledger with running totals.

    Args:
        keep_claims: Keep every claim row (for ``--out`` and tests). When False only the
            running totals are kept, which is what large runs need.
    """

    def __init__(self, keep_claims: bool = True, capacity: int = 4096) -> None:
        self.keep_claims = keep_claims
        self._n = 0
        self._cols = {
            k: np.empty(capacity if keep_claims else 0, dtype=t) for k, t in _COLUMNS.items()
        }
        self.paid_by_silo = dict.fromkeys(Silo, 0)  # cents
        self.received_by_payee_kind = dict.fromkeys(PartyKind, 0)  # cents
        self.n_claims = 0
        self.n_denied = 0

    def reserve(self, extra: int) -> tuple[int, dict[str, np.ndarray]]:
        """Room for ``extra`` more claim rows: returns the next free row and the columns.

        For a writer that fills rows itself (``model.postings.post``) and then calls
        ``advance``. Without a kept claim table the columns are empty and nothing is written.
        """
        if self.keep_claims and self._n + extra > len(self._cols["day"]):
            size = max(2 * len(self._cols["day"]), self._n + extra, 1024)
            for k, col in self._cols.items():
                grown = np.empty(size, dtype=col.dtype)
                grown[: self._n] = col[: self._n]
                self._cols[k] = grown
        return self._n, self._cols

    def advance(self, end: int) -> None:
        """The rows up to ``end`` were written (after ``reserve``)."""
        if self.keep_claims:
            self._n = end

    def total_paid_cents(self) -> int:
        """Everything payers and patients paid, in cents."""
        return sum(self.paid_by_silo.values())

    def total_received_cents(self) -> int:
        """Everything providers and pharma received, in cents."""
        return sum(self.received_by_payee_kind.values())

    def frame(self) -> pd.DataFrame:
        """The ledger as a tidy frame, one row a claim (empty when claims are not kept)."""
        c = {k: v[: self._n] for k, v in self._cols.items()}
        return pd.DataFrame(
            {
                "day": c["day"],
                "patient": c["patient"],
                "payee_kind": pd.Categorical.from_codes(
                    c["payee_kind"], categories=[k.value for k in PAYEE_KINDS]
                ),
                "payee": c["payee"],
                "payer": pd.Series(c["payer"]).map(
                    {**{int(k): v for k, v in PAYER_NAMES.items()}, OUT_OF_POCKET_PAYER: "patient"}
                ),
                "silo": pd.Series(c["silo"]).map({int(k): v for k, v in SILO_NAMES.items()}),
                "code": pd.Series(c["code"]).map({int(k): v for k, v in CODE_NAMES.items()}),
                "status": pd.Series(c["status"]).map({int(s): s.name.lower() for s in ClaimStatus}),
                "amount_usd": c["cents"] / 100.0,
                "cents": c["cents"],
            }
        )
