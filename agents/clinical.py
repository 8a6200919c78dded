"""The three-layer clinical model (docs/ODD.md §3.3), as pure functions.

Every function here is a pure function of (state, time, parameters): no Mesa, no model, no
randomness except where a generator is passed in. Each works on Python floats and on NumPy arrays
alike, so that the agent-based model (one patient at a time) and the virtual-trial runner (a whole
cohort at once) share one implementation.

The layers (1 = fully entrenched depression in that layer):
    b: motivational/behavioural system (the "animal" approach system),
    r: relational/attachment system,
    n: narrative self.

A patient's state is held as structural values (b, r, n), their pre-treatment baselines
(b0, r0, n0), the acute drug relief on ``b`` at the last dose (``relief_last``) with the time of
that dose, the number of doses in the current course, and the times of the recent doses (for the
plasticity pulse). Clinical state is advanced lazily, in closed form, between events
(docs/ODD.md §1.3).
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Maximum number of recent doses whose plasticity pulses are kept per patient. Pulses older than
# about three weeks contribute < 1 % (half-life 3 days), so four suffice for any course at most
# twice weekly; older doses fall out of a ring buffer.
N_RECENT_DOSES = 4

MADRS_MAX = 60.0
"""Top of the MADRS-like severity scale."""

Prob = Annotated[float, Field(ge=0.0, le=1.0)]
PosDays = Annotated[float, Field(gt=0.0, le=3650.0)]


class ClinicalParams(BaseModel):
    """Parameters of the clinical model (the scenario's ``[clinical]`` table).

    Units are in each field's description. Sources: Han et al. 2016 (single-dose response curve),
    Coyle & Laws 2015 (single-dose effect gone by two weeks), Anand et al. 2023 (ELEKT-D) and
    Phillips et al. 2019 (series response), Murrough et al. 2013 (median relapse 18 days),
    Wilkinson et al. 2017 (CBT after ketamine: relapse slowed about 3-5x; non-responders gain
    little). Values not in a source are marked as assumptions and calibrated to those targets by
    ``tests/test_calibration.py``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # --- layers and severity -------------------------------------------------------------
    # Assumption: anhedonia/approach deficits dominate treatment-resistant depression scores, so
    # the behavioural layer carries most of the MADRS-like weight.
    w_b: Prob = Field(0.6, description="Weight of the behavioural layer in severity (share).")
    w_r: Prob = Field(0.2, description="Weight of the relational layer in severity (share).")
    w_n: Prob = Field(0.2, description="Weight of the narrative layer in severity (share).")
    # Assumption: baselines chosen so mean baseline severity is ~37 on the 0-60 scale, the
    # range of TRD trial entry MADRS (ELEKT-D mean 32; Murrough 2013 mean 33-38).
    mean_b0: Prob = Field(0.72, description="Mean baseline behavioural layer (0-1).")
    mean_r0: Prob = Field(0.55, description="Mean baseline relational layer (0-1).")
    mean_n0: Prob = Field(0.55, description="Mean baseline narrative layer (0-1).")
    sd_layer0: Annotated[float, Field(ge=0.0, le=0.3)] = Field(
        0.08, description="Between-patient SD of each baseline layer (0-1 scale)."
    )
    p_response_threshold: Prob = Field(
        0.5, description="Response: severity at most this share of baseline (MADRS convention)."
    )
    remission_severity: Annotated[float, Field(ge=0.0, le=60.0)] = Field(
        10.0, description="Remission: severity at most this (MADRS <= 10 convention)."
    )

    # --- dose: acute relief ----------------------------------------------------------------
    # Calibrated (assumption) so that ~45 % of TRD patients are drug non-responders with little
    # relief and the rest share the Han et al. 2016 single-dose response curve.
    p_drug_responder: Prob = Field(
        0.6, description="Share of patients whose acute relief can reach response (0-1)."
    )
    mean_relief_responder: Prob = Field(
        0.93, description="Mean single-dose relief on b among drug responders (share of b)."
    )
    sd_relief_responder: Annotated[float, Field(ge=0.0, le=0.5)] = Field(
        0.12, description="SD of single-dose relief among drug responders."
    )
    mean_relief_nonresponder: Prob = Field(
        0.15, description="Mean single-dose relief on b among drug non-responders."
    )
    dur_relief_days: PosDays = Field(
        22.0, description="Scale of relief decay after a single dose, days (Weibull scale)."
    )
    shape_relief: Annotated[float, Field(ge=0.5, le=5.0)] = Field(
        2.5,
        description="Weibull shape of relief decay (>1: a plateau, then a fall; Han 2016 curve).",
    )
    sd_log_relief_dur: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.6,
        description=(
            "Between-patient SD of log relief duration (single-dose effects last from days to "
            "weeks: Han 2016; assumption)."
        ),
    )
    p_relief_stacking: Prob = Field(
        0.2,
        description=(
            "How far a dose's relief stacks on relief still present (0: a dose only refreshes "
            "relief; 1: independent chances). Series response is only a little above single-dose "
            "response (ELEKT-D 55 %, Han 2016 52 %; assumption)."
        ),
    )
    rel_relief_dur_per_dose: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        0.1,
        description=(
            "Lengthening of the relief scale per extra dose in a course (multiplier per dose; "
            "repeated infusions prolong the effect: Murrough 2013 vs Han 2016)."
        ),
    )
    n_course_dose_cap: Annotated[int, Field(ge=1, le=50)] = Field(
        6, description="Doses after which the relief scale stops lengthening."
    )
    dur_course_gap_days: PosDays = Field(
        28.0, description="A gap longer than this between doses starts a new course, days."
    )
    rel_esketamine_relief: Annotated[float, Field(ge=0.0, le=2.0)] = Field(
        0.95,
        description="Esketamine relief relative to IV racemic ketamine (TRANSFORM-2; assumption).",
    )

    # --- dose: plasticity pulse -----------------------------------------------------------
    dur_acute_days: Annotated[float, Field(ge=0.0, le=2.0)] = Field(
        0.125,
        description="Acute dissociative phase after a dose, days (~3 h; plasticity ~0).",
    )
    dur_plasticity_peak_days: PosDays = Field(
        1.0, description="Time from dose to the plasticity peak, days (~24 h; assumption)."
    )
    dur_plasticity_half_life_days: PosDays = Field(
        3.0, description="Half-life of the plasticity pulse after its peak, days (assumption)."
    )
    p_spontaneous_gain: Prob = Field(
        0.02,
        description=(
            "Structural gain on b per dose without therapy, share of b (the window mostly "
            "re-consolidates the old pattern; assumption)."
        ),
    )

    # --- therapy sessions -----------------------------------------------------------------
    p_session_base_gain: Prob = Field(
        0.04,
        description="Structural gain of a session outside any window, share of the layer.",
    )
    p_session_synergy_gain: Prob = Field(
        0.16, description="Extra gain of a session at full plasticity, share of the layer."
    )
    p_gate_floor: Prob = Field(
        0.1,
        description="Least gating of r by b and of n by r (therapy alone still helps a little).",
    )
    p_acute_session_gain: Prob = Field(
        0.2,
        description="Gain of a session in the acute phase, relative to outside the window.",
    )
    p_acute_narrative_harm: Prob = Field(
        0.02,
        description=(
            "Rise of n from a session in the acute phase, share of (1-n): integration during "
            "dissociation can reinforce maladaptive narratives (source's claim; assumption)."
        ),
    )

    # --- relapse: drift and stress ---------------------------------------------------------
    rate_drift_per_day: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.009,
        description="Rate of structural drift back toward baseline, per day (assumption).",
    )
    rate_stress_per_day: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.01, description="Hazard of a life stress event, per day (~one in 100 days; assumption)."
    )
    p_stress_setback: Prob = Field(
        0.35, description="Share of structural gains lost in one stress event (assumption)."
    )
    p_full_narrative_change: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.6,
        description=(
            "Narrative loosening (share of baseline n) at which stabilisation is complete "
            "(assumption)."
        ),
    )
    p_narrative_stabilisation: Prob = Field(
        0.95,
        description=(
            "How much full narrative change lowers drift and stress hazards (share; Wilkinson "
            "2017: therapy slows relapse; assumption)."
        ),
    )

    # --- engagement -----------------------------------------------------------------------
    p_relief_disengagement: Prob = Field(
        0.35,
        description=(
            "Drop in the chance of attending a session at full relief (share): 'if I feel better "
            "I won't have to do the work' (source's claim; assumption)."
        ),
    )
    p_preparation_effect: Prob = Field(
        0.7,
        description="Share of relief-driven disengagement removed by an integrated programme.",
    )

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> ClinicalParams:
        total = self.w_b + self.w_r + self.w_n
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"w_b + w_r + w_n must equal 1 (got {total:g})")
        if self.dur_acute_days >= self.dur_plasticity_peak_days:
            raise ValueError("dur_acute_days must be shorter than dur_plasticity_peak_days")
        return self


# ------------------------------------------------------------------------------------------
# Element-wise helpers: NumPy for arrays, plain floats otherwise.
#
# The agent-based model updates one patient at a time, where NumPy's per-call overhead (about a
# microsecond) would dominate; the trial runner and the daily sample work on whole arrays. These
# helpers keep one implementation of every formula for both.
# ------------------------------------------------------------------------------------------


_ND = np.ndarray


def _is_array(x) -> bool:
    return type(x) is _ND


def _exp(x):
    return np.exp(x) if type(x) is _ND else math.exp(x)


def _maximum(a, b):
    if type(a) is _ND or type(b) is _ND:
        return np.maximum(a, b)
    return a if a >= b else b


def _minimum(a, b):
    if type(a) is _ND or type(b) is _ND:
        return np.minimum(a, b)
    return a if a <= b else b


def _clip(x, lo, hi):
    if type(x) is _ND:
        return np.clip(x, lo, hi)
    return lo if x < lo else hi if x > hi else x


def _where(cond, a, b):
    if type(cond) is _ND or type(a) is _ND or type(b) is _ND:
        return np.where(cond, a, b)
    return a if cond else b


# ------------------------------------------------------------------------------------------
# Severity and outcome
# ------------------------------------------------------------------------------------------


def severity(b_eff, r, n, p: ClinicalParams):
    """MADRS-like severity (0-60) from effective layer values."""
    return MADRS_MAX * (p.w_b * b_eff + p.w_r * r + p.w_n * n)


def is_response(sev, sev0, p: ClinicalParams):
    """Response: severity at most ``p_response_threshold`` of the patient's baseline."""
    return sev <= p.p_response_threshold * sev0


def is_remission(sev, p: ClinicalParams):
    """Remission: severity at most ``remission_severity``."""
    return sev <= p.remission_severity


# ------------------------------------------------------------------------------------------
# Dose: acute relief
# ------------------------------------------------------------------------------------------


def relief_scale(n_course_doses, rel_dur, p: ClinicalParams):
    """Relief decay scale (days) after the n-th dose of a course.

    ``rel_dur`` is how many times the typical duration this patient's relief lasts.

    Repeated doses prolong relief (single dose: about a week, Han 2016; six-infusion series:
    median relapse 18 days, Murrough 2013), capped after ``n_course_dose_cap`` doses.
    """
    extra = _minimum(_maximum(n_course_doses, 1), p.n_course_dose_cap) - 1
    return p.dur_relief_days * rel_dur * (1.0 + p.rel_relief_dur_per_dose * extra)


def relief_at(relief_last, dt_since_dose, n_course_doses, rel_dur, p: ClinicalParams):
    """Acute relief on b at ``dt_since_dose`` days after the last dose (share of b, 0-1).

    A Weibull survival curve: a plateau for some days, then a fall, matching the slow decline
    from 24 h to day 7 and the steep one to day 14 of single-dose data (Han 2016).
    """
    return relief_last * relief_survival(relief_ratio(dt_since_dose, n_course_doses, rel_dur, p), p)


def relief_ratio(dt_since_dose, n_course_doses, rel_dur, p: ClinicalParams):
    """Time since the last dose in units of the relief scale (the Weibull curve's argument)."""
    dt = _maximum(dt_since_dose, 0.0)
    # A scale of a few femtodays or less (legal, if silly) would overflow the power or divide by
    # zero. Capping the ratio at 1e6 changes nothing: with shape >= 0.5, exp(-1e6 ** shape)
    # already underflows to exactly 0.
    scale = _maximum(relief_scale(n_course_doses, rel_dur, p), 1e-300)
    return _minimum(dt / scale, 1e6)


def relief_survival(ratio, p: ClinicalParams):
    """Share of a dose's relief left at ``ratio`` relief-scales after it (Weibull survival)."""
    return _exp(-(ratio**p.shape_relief))


def relief_zero_ratio(p: ClinicalParams) -> float:
    """Time since a dose, in relief-scale units, from which ``relief_at`` is exactly zero.

    ``exp(-x)`` underflows to 0.0 in double precision for x above about 745.13, so once
    ``ratio ** shape_relief`` passes 746 the curve is exactly zero, whatever the relief it
    started from. A relative margin of 1e-6 covers the rounding of ``dt / scale``. Callers
    evaluating many rows skip those past this point and get the same values.
    """
    return 746.0 ** (1.0 / p.shape_relief) * (1.0 + 1e-6)


def relief_after_dose(relief_now, sensitivity, p: ClinicalParams):
    """Relief just after a dose: the larger of the two, plus a partial stacking of the other.

    ``sensitivity`` (the patient's response times a drug's relief multiplier) is capped at 1:
    relief is a share of b, so a multiplier above 1 can at most give full relief.
    """
    sensitivity = _minimum(sensitivity, 1.0)
    hi = _maximum(relief_now, sensitivity)
    lo = _minimum(relief_now, sensitivity)
    return 1.0 - (1.0 - hi) * (1.0 - p.p_relief_stacking * lo)


def effective_b(b, relief):
    """Behavioural layer as felt: the structural value lessened by acute relief."""
    return b * (1.0 - relief)


# ------------------------------------------------------------------------------------------
# Dose: plasticity pulse and window
# ------------------------------------------------------------------------------------------


def plasticity_pulse(dt_since_dose, p: ClinicalParams):
    """Plasticity p(t) in [0, 1] from one dose, ``dt_since_dose`` days earlier.

    Zero before the dose and through the acute dissociative phase, rising linearly to 1 at the
    peak (~24 h), then halving every ``dur_plasticity_half_life_days``.
    """
    if not isinstance(dt_since_dose, np.ndarray):
        return _plasticity_pulse_one(float(dt_since_dose), p)
    dt = dt_since_dose.astype(float, copy=False)
    rising = (dt - p.dur_acute_days) / (p.dur_plasticity_peak_days - p.dur_acute_days)
    # Before the peak ``falling`` is discarded, so its exponent is clipped there (no overflow);
    # a vanishing half-life sends it to exp(-inf) = 0, the right limit.
    with np.errstate(invalid="ignore", over="ignore"):
        since_peak = np.maximum(dt - p.dur_plasticity_peak_days, 0.0)
        falling = np.exp(-np.log(2.0) * since_peak / p.dur_plasticity_half_life_days)
        out = np.where(dt < p.dur_plasticity_peak_days, np.clip(rising, 0.0, 1.0), falling)
        return np.where(np.isfinite(dt) & (dt >= 0.0), out, 0.0)


def _plasticity_pulse_one(dt: float, p: ClinicalParams) -> float:
    """``plasticity_pulse`` for one float (plain Python, so also compiled: clinical_rows)."""
    if not (dt >= 0.0 and math.isfinite(dt)):  # before the dose, or no dose (NaN)
        return 0.0
    if dt < p.dur_plasticity_peak_days:
        rising = (dt - p.dur_acute_days) / (p.dur_plasticity_peak_days - p.dur_acute_days)
        return _clip(rising, 0.0, 1.0)
    return math.exp(
        -math.log(2.0) * (dt - p.dur_plasticity_peak_days) / p.dur_plasticity_half_life_days
    )


def plasticity(t, dose_times, p: ClinicalParams):
    """Plasticity at time ``t`` from recent doses (pulses add, capped at 1).

    Args:
        t: Time, days (scalar or array of shape (N,)).
        dose_times: Times of recent doses, days; NaN for none. Shape (K,) or (N, K).
        p: Clinical parameters.
    """
    if not _is_array(t) and not (_is_array(dose_times) and dose_times.ndim == 2):
        return plasticity_one(t, dose_times, p)
    dose_times = np.asarray(dose_times, dtype=float)
    t_arr = np.asarray(t, dtype=float)
    if dose_times.ndim == 2:
        t_arr = t_arr[..., None]
    pulses = plasticity_pulse(t_arr - dose_times, p)
    total = np.minimum(np.sum(pulses, axis=-1), 1.0)
    return total if np.ndim(total) else float(total)


def plasticity_one(t: float, dose_times, p: ClinicalParams) -> float:
    """``plasticity`` for one patient at one time (plain Python, so also compiled).

    ``dose_times`` is the patient's recent dose times (floats, NaN for none). The pulses are
    added with Neumaier's compensated sum, as Python's ``sum`` of floats does since 3.12, so
    that compiled and Python callers add them alike.
    """
    total = 0.0
    carry = 0.0
    for d in dose_times:
        x = _plasticity_pulse_one(float(t) - float(d), p)
        s = total + x
        carry += (total - s) + x if abs(total) >= abs(x) else (x - s) + total
        total = s
    if carry != 0.0 and math.isfinite(carry):
        total += carry
    return _minimum(total, 1.0)


def is_acute_phase(t, last_dose_time, p: ClinicalParams):
    """Whether ``t`` falls in the acute dissociative phase of the last dose."""
    dt = t - last_dose_time
    return (dt >= 0.0) & (dt < p.dur_acute_days)


def spontaneous_gain(b, p: ClinicalParams):
    """Structural b after a dose with no therapy: a small consolidation gain only."""
    return b * (1.0 - p.p_spontaneous_gain)


# ------------------------------------------------------------------------------------------
# Therapy sessions: the gated, multiplicative layer gains
# ------------------------------------------------------------------------------------------


def session_gain(plasticity_now, acute, p: ClinicalParams):
    """Proportional structural gain of one session: ``base + synergy * p(s)``.

    In the acute phase the session gains only a fraction of the base gain: the patient is
    dissociated and the window is not yet open. The gain is a share of the layer's distance
    still to go, so it is capped at 1 when base and synergy gains sum above 1.
    """
    gain = _minimum(p.p_session_base_gain + p.p_session_synergy_gain * plasticity_now, 1.0)
    return _where(acute, p.p_acute_session_gain * p.p_session_base_gain, gain)


def loosening(value, baseline):
    """How far a layer has moved from its baseline (0 = not at all, 1 = fully)."""
    return _clip((baseline - value) / _maximum(baseline, 1e-9), 0.0, 1.0)


def apply_session(b, r, n, b0, r0, n0, relief, plasticity_now, acute, p: ClinicalParams):
    """Layer values after one therapy/integration session.

    The layers are gated in order b -> r -> n: work on r is scaled by how far b (as felt,
    including acute relief) is loosened, and work on n by how far r has moved. The gains
    therefore multiply rather than add (docs/ODD.md §2). A session in the acute phase adds a small
    rise to n (reinforcing maladaptive narratives).

    Returns:
        The new structural (b, r, n).
    """
    gain = session_gain(plasticity_now, acute, p)
    gate_r = _maximum(loosening(effective_b(b, relief), b0), p.p_gate_floor)
    new_b = b * (1.0 - gain)
    new_r = r * (1.0 - gain * gate_r)
    gate_n = _maximum(loosening(new_r, r0), p.p_gate_floor)
    new_n = n * (1.0 - gain * gate_n)
    new_n = _where(acute, new_n + p.p_acute_narrative_harm * (1.0 - new_n), new_n)
    return new_b, new_r, _minimum(new_n, 1.0)


# ------------------------------------------------------------------------------------------
# Relapse: drift back toward entrenchment, and stress events
# ------------------------------------------------------------------------------------------


def stabilisation(n, n0, p: ClinicalParams):
    """Multiplier (0-1] on drift and stress hazard: narrative change stabilises the reset."""
    # min(l, full) / full is min(l / full, 1) exactly, without overflowing for a tiny ``full``.
    full = p.p_full_narrative_change
    change = _minimum(loosening(n, n0), full) / full
    return 1.0 - p.p_narrative_stabilisation * change


def drift(value, baseline, dt, stab, p: ClinicalParams):
    """Structural value after ``dt`` days of drift back toward its baseline (closed form)."""
    return drift_by(value, baseline, drift_remaining(dt, stab, p))


def drift_remaining(dt, stab, p: ClinicalParams):
    """Share of a layer's distance from baseline left after ``dt`` days of drift.

    The same for all three layers of a patient (one rate, one stabilisation), so a caller
    advancing b, r and n together computes it once and applies it with ``drift_by``.
    """
    return _exp(drift_exponent(dt, stab, p))


def drift_exponent(dt, stab, p: ClinicalParams):
    """The exponent of ``drift_remaining`` (log of the share left)."""
    return -p.rate_drift_per_day * stab * dt


def drift_by(value, baseline, remaining):
    """Structural value with ``remaining`` of its distance from baseline left (see ``drift``)."""
    return baseline - (baseline - value) * remaining


def stress_setback(value, baseline, p: ClinicalParams):
    """Structural value after a life stress event: part of the gain is lost."""
    return value + p.p_stress_setback * (baseline - value)


def stress_hazard(stab, p: ClinicalParams):
    """Hazard of a stress event (per day), lowered by narrative stabilisation."""
    return p.rate_stress_per_day * stab


# ------------------------------------------------------------------------------------------
# Engagement
# ------------------------------------------------------------------------------------------


def p_attend(adherence, relief, integrated, p: ClinicalParams):
    """Chance of attending a booked session.

    Fast relief lowers the motivation to do the work; an integrated programme's preparation
    removes most of that effect.
    """
    k = p.p_relief_disengagement * _where(integrated, 1.0 - p.p_preparation_effect, 1.0)
    return adherence * (1.0 - k * relief)


def draw_baselines(rng: np.random.Generator, size: int, p: ClinicalParams):
    """Draw baseline layers and drug sensitivity for ``size`` treatment-resistant patients.

    Returns:
        (b0, r0, n0, sensitivity, rel_dur) arrays. Sensitivity is the single-dose relief on b;
        rel_dur multiplies the typical relief duration.
    """
    lo, hi = 0.2, 0.98  # assumption: TRD patients are never near-well nor fully entrenched
    b0 = np.clip(rng.normal(p.mean_b0, p.sd_layer0, size), lo, hi)
    r0 = np.clip(rng.normal(p.mean_r0, p.sd_layer0, size), lo, hi)
    n0 = np.clip(rng.normal(p.mean_n0, p.sd_layer0, size), lo, hi)
    responder = rng.random(size) < p.p_drug_responder
    sens_hi = rng.normal(p.mean_relief_responder, p.sd_relief_responder, size)
    sens_lo = rng.normal(p.mean_relief_nonresponder, 0.1, size)
    sens = np.clip(np.where(responder, sens_hi, sens_lo), 0.0, 0.995)
    rel_dur = np.exp(rng.normal(0.0, p.sd_log_relief_dur, size))
    return b0, r0, n0, sens, rel_dur
