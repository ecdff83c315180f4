"""The compiled sampler: one chunk of patients, exact per-phase birth-death leaps.

The algorithm is derived in docs/model.md, section 2. Every function here is a numba ``njit``
function taking a ``numpy.random.Generator``: a chunk's numbers are a pure function of that
generator's state, so the result does not depend on which thread runs the chunk.

Codes in the output arrays are listed in :data:`EVENTS`, :data:`ORIGINS` and :data:`PHASES`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from remnant.model.mechanisms import (
    MECH_INDEX,
    PROFILE_INDEX,
    phase_transition,
)
from remnant.model.outcomes import BASE as _BASE
from remnant.model.outcomes import DEATH as _DEATH
from remnant.model.outcomes import DIP as _DIP
from remnant.model.outcomes import DISTANT as _DISTANT
from remnant.model.outcomes import LAPSE as _LAPSE
from remnant.model.outcomes import LOCAL as _LOCAL
from remnant.model.outcomes import MARGIN as _MARGIN
from remnant.model.outcomes import NONE as _NONE
from remnant.model.outcomes import PRE as _PRE
from remnant.model.outcomes import SEED as _SEED
from remnant.model.parameters import GROWTH_Z_MAX as _GROWTH_Z_MAX
from remnant.model.parameters import IMMUNITY_FLOOR as _FLOOR
from remnant.model.units import DAYS_PER_YEAR

# A stochastic leap never grows the expected size by more than e**20 (~5e8): keeps the
# negative-binomial draws inside int64; cutting a phase is exact by the Markov property.
MAX_LOG_GROWTH = 20.0

# Profile and mechanism columns (module constants so numba folds them).
_I_IMM = PROFILE_INDEX["immunity"]
_I_B = PROFILE_INDEX["birth"]
_I_D0 = PROFILE_INDEX["death0"]
_I_K = PROFILE_INDEX["kill"]
_I_DORM = PROFILE_INDEX["seeds_dormant"]
_I_WOKEN = PROFILE_INDEX["seeds_woken"]
_I_AGERATE = PROFILE_INDEX["woken_age_rate"]
_I_RES = PROFILE_INDEX["residual"]
_I_AGE = PROFILE_INDEX["age_years"]
_I_EPS = PROFILE_INDEX["wake_rate"]
_I_SPREAD = PROFILE_INDEX["immune_spread"]
_I_BAND_LO = PROFILE_INDEX["band_lo_z"]
_I_BAND_HI = PROFILE_INDEX["band_hi_z"]
_I_GROWTH = PROFILE_INDEX["growth_spread"]
_M_KAPPA = MECH_INDEX["wake_exponent"]
_M_DELTA = MECH_INDEX["dormant_death"]
_M_BURST = MECH_INDEX["burst"]
_M_BURST_DAYS = MECH_INDEX["burst_days"]
_M_DIP_DAYS = MECH_INDEX["dip_step_days"]
_M_DIP_STEPS = MECH_INDEX["dip_steps"]
_M_LAPSE_RATE = MECH_INDEX["lapse_rate"]
_M_LAPSE_MULT = MECH_INDEX["lapse_multiplier"]
_M_LAPSE_DAYS = MECH_INDEX["lapse_days"]
_M_DET_LOCAL = MECH_INDEX["detect_local"]
_M_DET_DIST = MECH_INDEX["detect_distant"]
_M_VISIBLE = MECH_INDEX["visible"]
_M_SWITCH = MECH_INDEX["switch"]
_M_MORT_A = MECH_INDEX["mort_a"]
_M_MORT_B = MECH_INDEX["mort_b"]
_M_MORT_C = MECH_INDEX["mort_c"]


@njit(cache=True)
def _geometric(rng: np.random.Generator, q: float) -> float:
    # Geometric on {1, 2, ...} with success probability q, by inversion, as a float so that
    # huge sizes never overflow an integer.
    if q >= 1.0:
        return 1.0
    u = rng.random()
    return 1.0 + math.floor(math.log1p(-u) / math.log1p(-q))


@njit(cache=True)
def band_normal(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A standard normal draw conditioned on ``lo < Z < hi``, by rejection (exact; the band
    holds at least 1% of the mass, so at most 100 draws are expected)."""
    while True:
        z = rng.standard_normal()
        if lo < z < hi:
            return z


@njit(cache=True)
def advance_clone(
    n: float,
    b: float,
    d: float,
    tau: float,
    switch: float,
    detect: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Advance a clone of ``n`` cells over ``tau`` days at constant birth ``b``, death ``d``.

    Returns ``(n_end, t_hit)``: the size at ``tau`` (0 if extinct) and the time (days from the
    phase start) at which it reached ``detect`` cells, or -1 if it did not. Below ``switch``
    cells the leap is exact (binomial survivors plus a negative binomial); above it the
    clone is followed deterministically and the hitting time is solved in closed form.
    """
    r = b - d
    t = 0.0
    while True:
        rem = tau - t
        if rem <= 0.0:
            return n, -1.0
        if n >= switch:
            if r > 0.0:
                need = math.log(detect / n) / r
                if need <= rem:
                    return detect, t + max(need, 0.0)
                return n * math.exp(r * rem), -1.0
            if r == 0.0:
                return n, -1.0
            # declining: back to exact sampling once below the switch size
            drop = math.log(switch / n) / r
            if drop >= rem:
                return n * math.exp(r * rem), -1.0
            t += drop
            n = math.ceil(switch) - 1.0  # the largest whole size below the switch
            continue
        step = rem
        if r > 0.0 and r * step > MAX_LOG_GROWTH:
            step = MAX_LOG_GROWTH / r
        p0, beta = phase_transition(b, d, step)
        k = rng.binomial(np.int64(n), 1.0 - p0)
        if k == 0:
            return 0.0, -1.0
        q = 1.0 - beta
        if k == 1:
            m = _geometric(rng, q)
        elif q >= 1.0:
            m = float(k)
        else:
            m = float(k) + float(rng.negative_binomial(k, q))
        t += step
        if m >= detect:
            # crossed inside this leap: solve backwards along the deterministic path
            th = t
            if r > 0.0:
                th = max(t - math.log(m / detect) / r, t - step)
            return detect, th
        n = m


@njit(cache=True)
def _death_time_days(rng: np.random.Generator, age: float, a: float, bb: float, c: float) -> float:
    # Gompertz-Makeham: competing exponential (A) and Gompertz (B e^{C x}) hazards, per year.
    t = math.inf
    if a > 0.0:
        t = rng.exponential(1.0 / a)
    if bb > 0.0:
        e = rng.exponential(1.0)
        tg = math.log1p(e * c * math.exp(-c * age) / bb) / c
        if tg < t:
            t = tg
    return t * DAYS_PER_YEAR


@njit(cache=True)
def _grow(
    c_n: np.ndarray, c_site: np.ndarray, c_est: np.ndarray, c_low: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # double the clone store (rare: a patient with many live clones at once)
    cap = 2 * c_n.shape[0]
    n2 = np.zeros(cap)
    site2 = np.zeros(cap, dtype=np.int8)
    est2 = np.zeros(cap, dtype=np.int8)
    low2 = np.zeros(cap, dtype=np.bool_)
    m = c_n.shape[0]
    n2[:m] = c_n
    site2[:m] = c_site
    est2[:m] = c_est
    low2[:m] = c_low
    return n2, site2, est2, low2


@njit(cache=True, nogil=True)
def simulate_chunk(
    rng: np.random.Generator,
    n_patients: int,
    profiles: np.ndarray,
    cum_weights: np.ndarray,
    mech: np.ndarray,
    dips: np.ndarray,
    horizon: float,
    out_time: np.ndarray,
    out_event: np.ndarray,
    out_origin: np.ndarray,
    out_escaped: np.ndarray,
    out_phase: np.ndarray,
    out_alive: np.ndarray,
    out_dormant: np.ndarray,
    out_profile: np.ndarray,
) -> None:
    """Simulate ``n_patients`` patients into the ``out_*`` arrays (see docs/model.md).

    ``profiles`` has one row per patient profile (columns ``PROFILE_COLUMNS``),
    ``cum_weights`` the cumulative mixing weights (last = 1), ``mech`` the mechanism vector
    (``MECH_COLUMNS``), ``dips`` the immunity multiplier per post-operative step, ``horizon``
    the follow-up (days).
    """
    n_prof = profiles.shape[0]
    kappa = mech[_M_KAPPA]
    delta = mech[_M_DELTA]
    burst_mult = mech[_M_BURST]
    burst_days = mech[_M_BURST_DAYS]
    dip_days = mech[_M_DIP_DAYS]
    n_dips = int(mech[_M_DIP_STEPS])
    lapse_rate = mech[_M_LAPSE_RATE]
    lapse_mult = mech[_M_LAPSE_MULT]
    lapse_days = mech[_M_LAPSE_DAYS]
    det_local = mech[_M_DET_LOCAL]
    det_dist = mech[_M_DET_DIST]
    visible = mech[_M_VISIBLE]
    switch = mech[_M_SWITCH]

    cap = 64
    c_n = np.zeros(cap)
    c_site = np.zeros(cap, dtype=np.int8)
    c_est = np.zeros(cap, dtype=np.int8)
    c_low = np.zeros(cap, dtype=np.bool_)  # woke or became established with I < 1

    for i in range(n_patients):
        j = 0
        if n_prof > 1:
            u = rng.random()
            while j < n_prof - 1 and u >= cum_weights[j]:
                j += 1
        i0 = profiles[j, _I_IMM]
        b = profiles[j, _I_B]
        d0 = profiles[j, _I_D0]
        k = profiles[j, _I_K]
        eps0 = profiles[j, _I_EPS]
        woken_mean = profiles[j, _I_WOKEN]
        sigma = profiles[j, _I_SPREAD]
        if sigma > 0.0:
            # this patient's baseline immunity within the band of the population's spread;
            # the seeds asleep at surgery stay, those woken follow eps(I0) (docs/model.md 1.9)
            z = band_normal(rng, profiles[j, _I_BAND_LO], profiles[j, _I_BAND_HI])
            drawn = max(i0 * math.exp(sigma * z), _FLOOR)
            woken_mean *= (drawn / i0) ** (-kappa)
            i0 = drawn
        clock = 1.0
        if profiles[j, _I_GROWTH] > 0.0:
            # this patient's disease clock: after surgery its whole residual disease (growth,
            # kill, waking, the immune dip and lapses it meets) runs a times as fast, i.e. it
            # lives the mechanism's history in disease time a t (docs/model.md 1.10)
            clock = math.exp(
                profiles[j, _I_GROWTH] * band_normal(rng, -_GROWTH_Z_MAX, _GROWTH_Z_MAX)
            )

        t_death = _death_time_days(
            rng, profiles[j, _I_AGE], mech[_M_MORT_A], mech[_M_MORT_B], mech[_M_MORT_C]
        )
        end = min(horizon, t_death)
        end_d = end * clock  # the follow-up in disease time

        # --- clones at surgery: the margin residual, then seeds woken before surgery ---
        nc = 0
        n_res = rng.poisson(profiles[j, _I_RES])
        if n_res > 0:
            c_n[0] = float(n_res)
            c_site[0] = _LOCAL
            c_est[0] = _PRE if n_res >= switch else _NONE
            c_low[0] = i0 < 1.0 and n_res >= switch
            nc = 1
        n_woken = rng.poisson(woken_mean)
        d_pre = d0 + k * i0
        age_rate = profiles[j, _I_AGERATE]
        for _ in range(n_woken):
            a = rng.exponential(1.0 / age_rate)
            nn, th = advance_clone(1.0, b, d_pre, a, switch, visible, rng)
            if th >= 0.0 or nn <= 0.0:
                continue  # extinct, or visible at surgery: thinned away (M0 resection)
            if nc == c_n.shape[0]:
                c_n, c_site, c_est, c_low = _grow(c_n, c_site, c_est, c_low)
            c_n[nc] = nn
            c_site[nc] = _DISTANT
            c_est[nc] = _PRE if nn >= switch else _NONE
            c_low[nc] = i0 < 1.0
            nc += 1
        dormant = rng.poisson(profiles[j, _I_DORM])

        # --- after surgery: phases of constant immunity ---
        t = 0.0
        dip_idx = 0
        lapse_on = False
        next_lapse = rng.exponential(1.0 / lapse_rate) if lapse_rate > 0.0 else math.inf
        hit_t = math.inf
        hit_c = -1
        n_alive = nc
        while t < end_d:
            if n_alive == 0 and dormant == 0:
                break  # nothing left that could recur
            t1 = end_d
            dip_end = (dip_idx + 1) * dip_days if dip_idx < n_dips else math.inf
            if dip_end < t1:
                t1 = dip_end
            if t < burst_days < t1:
                t1 = burst_days
            if next_lapse < t1:
                t1 = next_lapse
            m = 1.0
            kind = _BASE
            if dip_idx < n_dips:
                m *= dips[dip_idx]
                kind = _DIP
            if lapse_on:
                m *= lapse_mult
                kind = _LAPSE
            imm = i0 * m
            low = imm < 1.0
            d = d0 + k * imm
            tau = t1 - t
            det = 0.0

            # awake clones
            for c in range(nc):
                n0 = c_n[c]
                if n0 <= 0.0:
                    continue
                det = det_local if c_site[c] == _LOCAL else det_dist
                nn, th = advance_clone(n0, b, d, tau, switch, det, rng)
                c_n[c] = nn
                if c_est[c] == _NONE and (nn >= switch or th >= 0.0):
                    c_est[c] = kind
                    c_low[c] = c_low[c] or low
                if th >= 0.0 and t + th < hit_t:
                    hit_t = t + th
                    hit_c = c

            # dormant seeds: how many leave the pool, how many of those wake
            if dormant > 0:
                burst = burst_mult if t < burst_days else 1.0
                eps = eps0 * imm ** (-kappa) * burst
                out_rate = eps + delta
                if out_rate > 0.0:
                    p_leave = -math.expm1(-out_rate * tau)
                    n_leave = rng.binomial(dormant, p_leave)
                    dormant -= n_leave
                    n_wake = rng.binomial(n_leave, eps / out_rate) if n_leave > 0 else 0
                    for _ in range(n_wake):
                        uw = -math.log1p(-rng.random() * p_leave) / out_rate
                        nn, th = advance_clone(1.0, b, d, tau - uw, switch, det_dist, rng)
                        if nn <= 0.0:
                            continue
                        if nc == c_n.shape[0]:
                            c_n, c_site, c_est, c_low = _grow(c_n, c_site, c_est, c_low)
                        c_n[nc] = nn
                        c_site[nc] = _DISTANT
                        c_est[nc] = kind if (nn >= switch or th >= 0.0) else _NONE
                        c_low[nc] = low
                        if th >= 0.0 and t + uw + th < hit_t:
                            hit_t = t + uw + th
                            hit_c = nc
                        nc += 1

            if hit_c >= 0:
                break
            # drop extinct clones so that later phases only visit live ones
            w = 0
            for c in range(nc):
                if c_n[c] > 0.0:
                    c_n[w] = c_n[c]
                    c_site[w] = c_site[c]
                    c_est[w] = c_est[c]
                    c_low[w] = c_low[c]
                    w += 1
            nc = w
            n_alive = nc

            t = t1
            if t >= dip_end:
                dip_idx += 1
            if t >= next_lapse:
                if lapse_on:
                    lapse_on = False
                    next_lapse = t + rng.exponential(1.0 / lapse_rate)
                else:
                    lapse_on = True
                    next_lapse = t + lapse_days

        alive = 0
        for c in range(nc):
            if c_n[c] > 0.0:
                alive += 1
        out_alive[i] = alive
        out_dormant[i] = dormant
        out_profile[i] = j
        if hit_c >= 0:
            out_time[i] = hit_t / clock
            out_event[i] = c_site[hit_c]
            out_origin[i] = _MARGIN if c_site[hit_c] == _LOCAL else _SEED
            out_phase[i] = c_est[hit_c]
            out_escaped[i] = c_low[hit_c]
        else:
            out_time[i] = end
            out_event[i] = _DEATH if t_death < horizon else _NONE
            out_origin[i] = _NONE
            out_phase[i] = _NONE
            out_escaped[i] = False
