"""The catchment's patients as arrays: traits, clinical state, pathway state and outcomes.

One row a patient, for every patient from day 0. Patient agents (created when a person starts
seeking care) write their row at events; the daily sample reads all rows at once with NumPy, so
metrics need no Python loop over patients (docs/ODD.md §1.2).
"""

from __future__ import annotations

import numpy as np

from agents import clinical as cm
from agents.clinical_state import ClinicalState
from agents.codes import PayerKind
from agents.patient import CareCategory, DropReason, PathwayState
from model.params import Scenario
from model.sessions import SESSION_YEAR, SESSIONS_USED, PendingDoses
from model.streams import Streams


class Population:
    """Per-patient arrays for a run."""

    def __init__(self, scenario: Scenario, n: int, streams: Streams) -> None:
        pp = scenario.patients
        rng = streams["patient_traits"]
        self.n = n
        shares = pp.payer_shares()
        kinds = np.array([int(k) for k in shares])
        self.payer_kind = rng.choice(kinds, size=n, p=np.array(list(shares.values()))).astype(
            np.int8
        )
        cash = np.array([pp.cash_shares()[PayerKind(int(k))] for k in kinds])
        self.can_pay_cash = rng.random(n) < cash[self.payer_kind]
        # Beta with mean mean_adherence; its shapes at least a thousandth (numeric: a mean of
        # 0 or 1 would give a shape of 0, which NumPy refuses).
        concentration = pp.n_adherence_concentration
        a = concentration * pp.mean_adherence
        self.adherence = rng.beta(max(a, 1e-3), max(concentration - a, 1e-3), n)
        self.wait_tolerance = rng.exponential(pp.dur_wait_tolerance_days, n)
        self.clinical = ClinicalState(
            *cm.draw_baselines(rng, n, scenario.clinical), scenario.clinical
        )

        self.state = np.zeros(n, dtype=np.int8)  # PathwayState
        # Rows per pathway state, kept at each move: a list, since a move updates two of its
        # items and a Python list's item costs a fraction of a NumPy element's.
        self.state_counts = [0] * len(PathwayState)
        self.state_counts[PathwayState.NOT_SEEKING] = n
        self.sought = np.zeros(n, dtype=bool)
        self.treated = np.zeros(n, dtype=bool)
        self.got_dose = np.zeros(n, dtype=bool)
        self.got_session = np.zeros(n, dtype=bool)
        self.got_in_window = np.zeros(n, dtype=bool)
        self.start_day = np.full(n, np.nan)
        self.n_doses = np.zeros(n, dtype=np.int32)
        self.n_sessions = np.zeros(n, dtype=np.int32)
        self.n_doses_in_window = np.zeros(n, dtype=np.int32)
        self.drop_reason = np.zeros(n, dtype=np.int8)
        self.responding = np.zeros(n, dtype=bool)
        self.remitting = np.zeros(n, dtype=bool)
        self.first_response_day = np.full(n, np.nan)
        self.relapse_day = np.full(n, np.nan)
        self.durable_checked = np.zeros(n, dtype=bool)
        self.durable_remission = np.zeros(n, dtype=bool)
        self.qalys = np.zeros(n)
        self.spend_cents = np.zeros(n, dtype=np.int64)
        # Billing of each patient's care, for the fragmentation index (docs/ODD.md §3.4).
        self.drug_org = np.full(n, -1, dtype=np.int64)
        self.therapy_org = np.full(n, -1, dtype=np.int64)
        self.drug_silos = np.zeros(n, dtype=np.int8)
        self.therapy_silos = np.zeros(n, dtype=np.int8)
        self.split_orgs = np.zeros(n, dtype=bool)
        self.coordinated = np.zeros(n, dtype=bool)
        # Therapy sessions covered in a calendar year (the payer's cap): the year and how many,
        # and the doses not yet covered by a session (model/sessions.py).
        self.sessions = np.zeros((2, n), dtype=np.int64)
        self.sessions[SESSION_YEAR] = -1
        self.pending = PendingDoses(n)

    # -- written at events ---------------------------------------------------------------
    def set_state(self, i: int, state: PathwayState, old: PathwayState) -> None:
        """Move row ``i`` from pathway state ``old`` to ``state`` (the counts stay conserved).

        ``old`` is the row's state as its patient agent keeps it (the two are checked equal by
        ``model.invariants``), which saves reading it back from the array.
        """
        counts = self.state_counts
        counts[old] -= 1
        counts[state] += 1
        self.state[i] = state
        if state is not PathwayState.NOT_SEEKING:
            self.sought[i] = True

    def sessions_used(self, i: int, year: int) -> int:
        """Row ``i``'s covered sessions in ``year``, the current calendar year of the run.

        Only the latest year's count is kept: the clock never goes back, and a payer's cap
        counts this year's sessions.
        """
        sessions = self.sessions
        return int(sessions[SESSIONS_USED, i]) if sessions[SESSION_YEAR, i] == year else 0

    def use_session(self, i: int, year: int, used: int) -> None:
        """Row ``i`` has used ``used`` covered sessions in ``year``."""
        self.sessions[SESSION_YEAR, i] = year
        self.sessions[SESSIONS_USED, i] = used

    def record_drop_reason(self, i: int, reason: DropReason) -> None:
        """Remember why row ``i`` left (first reason wins)."""
        if self.drop_reason[i] == DropReason.NONE:
            self.drop_reason[i] = reason

    def schedule_first_stress(self, rows: np.ndarray, times: np.ndarray, streams: Streams) -> None:
        """Draw the first stress events of ``rows``, which started treatment at ``times``.

        Before treatment a patient sits at baseline, where stress changes nothing, so stress
        events are drawn only from the start of treatment (in the order the rows started).
        """
        if rows.size:
            self.clinical.schedule_stress(times, rows, streams["stress"])

    def in_response(self, i: int, t: float) -> bool:
        """Whether row ``i`` is in response at time ``t``."""
        sev = self.clinical.severity_row(t, i)
        return bool(cm.is_response(sev, float(self.clinical.sev0[i]), self.clinical.p))

    # -- read at the daily sample ----------------------------------------------------------
    def categories(self) -> np.ndarray:
        """Each row's care category (docs/ODD.md §3.4 pathway shares)."""
        cat = np.full(self.n, CareCategory.UNTREATED, dtype=np.int8)
        cat[self.got_session & ~self.got_dose] = CareCategory.THERAPY_ONLY
        cat[self.got_dose] = CareCategory.DRUG_ONLY
        cat[self.got_dose & self.got_in_window] = CareCategory.INTEGRATED
        cat[self.state == PathwayState.DROPPED_OUT] = CareCategory.DROPPED_OUT
        cat[~self.sought] = CareCategory.NOT_SEEKING
        return cat

    def category_counts(self) -> np.ndarray:
        """Rows per care category: ``np.bincount(categories())`` without building the array.

        Read every day, so counted from the flags directly, with the same precedence: not
        seeking, then dropped out, then integrated, drug only, therapy only, untreated.
        """
        dropped = self.state == PathwayState.DROPPED_OUT
        staying = self.sought & ~dropped
        dosed = self.got_dose & staying
        n_integrated = np.count_nonzero(dosed & self.got_in_window)
        n_drug_only = np.count_nonzero(dosed) - n_integrated
        n_therapy_only = np.count_nonzero(self.got_session & ~self.got_dose & staying)
        n_dropped = np.count_nonzero(dropped & self.sought)
        n_sought = np.count_nonzero(self.sought)
        counts = np.zeros(len(CareCategory), dtype=np.int64)
        counts[CareCategory.NOT_SEEKING] = self.n - n_sought
        counts[CareCategory.INTEGRATED] = n_integrated
        counts[CareCategory.DRUG_ONLY] = n_drug_only
        counts[CareCategory.THERAPY_ONLY] = n_therapy_only
        counts[CareCategory.DROPPED_OUT] = n_dropped
        counts[CareCategory.UNTREATED] = (
            n_sought - n_dropped - n_integrated - n_drug_only - n_therapy_only
        )
        return counts

    def fragmented(self) -> np.ndarray:
        """Rows whose drug and therapy were billed apart with no coordination claim.

        Apart means by different organisations or to different payer budgets; only rows that
        had both a drug and a therapy claim are meaningful.
        """
        split_silo = self.drug_silos != self.therapy_silos
        org = self.split_orgs | (self.drug_org != self.therapy_org)
        return (org | split_silo) & ~self.coordinated
