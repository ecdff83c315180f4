"""An event-by-event reference simulation of the model, used only to check the engine.

This is the slow, literal version of docs/model.md (sections 1 and 3). Every seed's lodging,
waking and death, and every cell's birth and death, before and after surgery, is one event
of a Gillespie simulation run within phases of constant rates and restarted at each change
point of the immune trajectory. Nothing here uses the engine's shortcuts: no closed-form
extinction or geometric laws, no binomial or negative-binomial leaps, no Poisson marking of
the seeds at surgery, no thinning of visible clones and no deterministic growth above the
switch size. Patients with a clone visible at surgery are rejected and drawn again, which is
what conditioning on an M0 resection means.

The cost grows with the number of cells, so the reference is only usable at reduced
detection sizes (about 1e4 cells): it checks the engine's algorithm, not clinical numbers.

Units: days, cells, rates per day (the mortality hazard is per year of age, as in the model).

Public functions
----------------
simulate_reference
    Patients after surgery: the same columns as the engine's table.
gillespie_clone
    One clone at constant rates: size after ``tau`` days and first-passage time of a size.
seed_history
    The pre-surgery seeding history of unconditioned patients (counts of seeds by fate).
immune_schedule
    One draw of the piecewise-constant immune trajectory after surgery.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from numba import njit

from remnant.model.mechanisms import band_quantiles, derive, dip_multiplier
from remnant.model.outcomes import BASE as _BASE
from remnant.model.outcomes import DEATH as _DEATH
from remnant.model.outcomes import DIP as _DIP
from remnant.model.outcomes import DISTANT as _DISTANT
from remnant.model.outcomes import EVENTS, ORIGINS, PHASES
from remnant.model.outcomes import LAPSE as _LAPSE
from remnant.model.outcomes import LOCAL as _LOCAL
from remnant.model.outcomes import MARGIN as _MARGIN
from remnant.model.outcomes import NONE as _NONE
from remnant.model.outcomes import PRE as _PRE
from remnant.model.outcomes import SEED as _SEED
from remnant.model.parameters import GROWTH_Z_MAX, IMMUNITY_FLOOR, Mechanism, Patient
from remnant.model.units import DAYS_PER_YEAR

__all__ = [
    "EVENTS",
    "ORIGINS",
    "PHASES",
    "gillespie_clone",
    "immune_schedule",
    "reference_parameters",
    "seed_history",
    "simulate_reference",
]


# Patients per random stream: results do not depend on the number of threads.
CHUNK_SIZE = 500

# Layout of the parameter vector handed to the compiled functions (plain model parameters).
_P_NAMES = (
    "immunity",  # I0
    "birth",  # b, per day
    "death0",  # d0, per day
    "kill",  # k, per day at I = 1
    "nu",  # seeding coefficient incl. nodes, per day per cell**gamma
    "n_surgery",  # N_s, cells
    "gamma",  # seeding exponent
    "r_primary",  # ln 2 / Td_p, per day
    "wake_rate",  # eps0 at I = 1, per day
    "kappa",  # wake immune exponent
    "dormant_death",  # delta, per day
    "burst",  # surgery wake multiplier
    "burst_days",
    "dip_step_days",
    "dip_steps",
    "lapse_rate",  # per day
    "lapse_multiplier",  # 1 - lapse depth
    "lapse_days",
    "detect_local",  # cells
    "detect_distant",  # cells
    "visible",  # cells
    "switch",  # cells
    "residual",  # mean residual cells at the margin
    "age",  # years
    "mort_a",  # per year
    "mort_b",  # per year
    "mort_c",  # per year of age
    "horizon",  # days
    "immune_spread",  # sd of log I0 between patients
    "band_lo_z",  # the immune band as standard normal quantiles
    "band_hi_z",
    "growth_spread",  # sd of log a, the disease's clock after surgery
    "clock",  # a: this patient's post-surgery rates are a times the mechanism's
)
_P = {name: i for i, name in enumerate(_P_NAMES)}
_I0, _B, _D0, _K = _P["immunity"], _P["birth"], _P["death0"], _P["kill"]
_NU, _NS, _GAMMA, _RP = _P["nu"], _P["n_surgery"], _P["gamma"], _P["r_primary"]
_EPS, _KAPPA, _DELTA = _P["wake_rate"], _P["kappa"], _P["dormant_death"]
_BURST, _BURST_DAYS = _P["burst"], _P["burst_days"]
_DIP_DAYS, _DIP_STEPS = _P["dip_step_days"], _P["dip_steps"]
_LAPSE_RATE, _LAPSE_MULT, _LAPSE_DAYS = _P["lapse_rate"], _P["lapse_multiplier"], _P["lapse_days"]
_DET_LOCAL, _DET_DIST, _VIS, _SWITCH = (
    _P["detect_local"],
    _P["detect_distant"],
    _P["visible"],
    _P["switch"],
)
_RES, _AGE = _P["residual"], _P["age"]
_MA, _MB, _MC, _HORIZON = _P["mort_a"], _P["mort_b"], _P["mort_c"], _P["horizon"]
_SPREAD, _BAND_LO, _BAND_HI = _P["immune_spread"], _P["band_lo_z"], _P["band_hi_z"]
_GROWTH, _CLOCK = _P["growth_spread"], _P["clock"]


@njit(cache=True)
def _lodging_factor(
    i_eff: float, i_rec: float, gamma: float, r_p: float, eps0: float, kappa: float, delta: float
) -> float:
    # The seeds asleep at surgery are those of the recorded immunity (docs/model.md 1.9): a
    # history lived at immunity i_eff keeps them when seeds lodge this much faster.
    g = gamma * r_p
    return (g + eps0 * i_eff ** (-kappa) + delta) / (g + eps0 * i_rec ** (-kappa) + delta)


def reference_parameters(
    patient: Patient, mechanism: Mechanism, horizon_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """The parameter vector and dip multipliers used by the compiled reference.

    Only plain parameters are taken from :func:`remnant.model.mechanisms.derive` (cells at
    surgery, rates, seeding coefficient, residual mean); nothing derived from the seeding
    formulas of the engine.

    Returns
    -------
    params : numpy.ndarray
        One float per entry of the module's parameter layout.
    dips : numpy.ndarray
        Immunity multiplier of each post-operative dip step.
    """
    der = derive(patient, mechanism)

    def plain(value: object) -> float:
        # some mechanism parameters are given per cancer type
        if isinstance(value, dict):
            value = value[patient.cancer]
        return float(value)  # type: ignore[arg-type]

    mech = {
        f: plain(getattr(mechanism, f))
        for f in (
            "seeding_exponent",
            "wake_rate",
            "wake_immune_exponent",
            "dormant_death_rate",
            "surgery_wake_multiplier",
            "surgery_wake_days",
            "dip_step_days",
            "lapse_rate_per_year",
            "lapse_depth",
            "lapse_days",
            "detection_cells_local",
            "detection_cells_distant",
            "visible_cells_at_surgery",
            "switch_cells",
            "mortality_a",
            "mortality_b",
            "mortality_c",
        )
    }
    r_p = math.log(2.0) / der.primary_doubling_days
    lodging = _lodging_factor(
        der.immunity,
        patient.immunity,
        mech["seeding_exponent"],
        r_p,
        mech["wake_rate"],
        mech["wake_immune_exponent"],
        mech["dormant_death_rate"],
    )
    lo_z, hi_z = band_quantiles(patient.immune_band)
    values = {
        "immunity": der.immunity,
        "birth": der.birth,
        "death0": der.death0,
        "kill": der.kill,
        "nu": der.nu * lodging,
        "n_surgery": der.n_surgery,
        "gamma": mech["seeding_exponent"],
        "r_primary": r_p,
        "wake_rate": mech["wake_rate"],
        "kappa": mech["wake_immune_exponent"],
        "dormant_death": mech["dormant_death_rate"],
        "burst": mech["surgery_wake_multiplier"],
        "burst_days": mech["surgery_wake_days"],
        "dip_step_days": mech["dip_step_days"],
        "dip_steps": float(mechanism.dip_steps),
        "lapse_rate": mech["lapse_rate_per_year"] / DAYS_PER_YEAR,
        "lapse_multiplier": 1.0 - mech["lapse_depth"],
        "lapse_days": mech["lapse_days"],
        "detect_local": mech["detection_cells_local"],
        "detect_distant": mech["detection_cells_distant"],
        "visible": mech["visible_cells_at_surgery"],
        "switch": mech["switch_cells"],
        "residual": der.residual,
        "age": patient.age,
        "mort_a": mech["mortality_a"],
        "mort_b": mech["mortality_b"],
        "mort_c": mech["mortality_c"],
        "horizon": float(horizon_days),
        "immune_spread": mechanism.immune_spread,
        "band_lo_z": lo_z,
        "band_hi_z": hi_z,
        "growth_spread": mechanism.growth_spread,
        "clock": 1.0,
    }
    params = np.array([float(values[name]) for name in _P_NAMES], dtype=np.float64)
    dips = np.array(
        [dip_multiplier(mechanism, j) for j in range(mechanism.dip_steps)], dtype=np.float64
    )
    return params, dips


# ---------------------------------------------------------------------------------------
# One clone at constant rates
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _clone_events(
    n0: int, b: float, d: float, tau: float, target: float, rng: np.random.Generator
) -> tuple[int, float]:
    # One birth or death at a time. Stops at tau, at extinction or when n first reaches target.
    n = n0
    if n >= target:
        return n, 0.0
    per_cell = b + d
    if per_cell <= 0.0:
        return n, -1.0
    p_birth = b / per_cell
    t = 0.0
    while n > 0:
        t += rng.exponential(1.0 / (n * per_cell))
        if t >= tau:
            break
        if rng.random() < p_birth:
            n += 1
            if n >= target:
                return n, t
        else:
            n -= 1
    return n, -1.0


@njit(cache=True)
def _clone_replicates(
    n0: int, b: float, d: float, tau: float, target: float, reps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.empty(reps, dtype=np.int64)
    hits = np.empty(reps)
    for i in range(reps):
        n, th = _clone_events(n0, b, d, tau, target, rng)
        sizes[i] = n
        hits[i] = th
    return sizes, hits


def gillespie_clone(
    n0: int,
    birth: float,
    death: float,
    tau: float,
    rng_or_seed: np.random.Generator | int | np.random.SeedSequence | None,
    *,
    target: float = math.inf,
    replicates: int | None = None,
) -> tuple[int, float] | tuple[np.ndarray, np.ndarray]:
    """Simulate a linear birth-death clone event by event at constant rates.

    Parameters
    ----------
    n0 : int
        Cells at time 0.
    birth, death : float
        Per-cell birth and death rates (per day).
    tau : float
        Length of the interval (days); ``math.inf`` runs to extinction or ``target``.
    rng_or_seed : numpy.random.Generator, int or SeedSequence
        Source of randomness (passed to ``numpy.random.default_rng``).
    target : float, optional
        A size (cells). The simulation stops the first time the clone has ``target`` cells.
    replicates : int, optional
        Number of independent clones; arrays are returned when given.

    Returns
    -------
    n_end : int or numpy.ndarray
        Cells at ``tau``; 0 if extinct; the size reached (``ceil(target)``) if it was reached.
    t_hit : float or numpy.ndarray
        The first time (days) the clone had ``target`` cells, or -1 if it did not.
    """
    if n0 < 0 or birth < 0 or death < 0 or not tau >= 0:
        raise ValueError("n0, birth, death and tau must be non-negative")
    rng = np.random.default_rng(rng_or_seed)
    if replicates is None:
        n, th = _clone_events(int(n0), float(birth), float(death), float(tau), float(target), rng)
        return int(n), float(th)
    return _clone_replicates(
        int(n0), float(birth), float(death), float(tau), float(target), int(replicates), rng
    )


# ---------------------------------------------------------------------------------------
# Before surgery: lodging, dormancy, growth of the woken seeds
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _lodging_times(rng: np.random.Generator, par: np.ndarray) -> np.ndarray:
    # Inhomogeneous Poisson process of intensity nu N_s^g e^{g r_p s} on (-inf, 0]: its
    # cumulative intensity Lambda(s) = mu e^{g r_p s} maps it onto a unit-rate process on
    # (0, mu]; the points are mapped back by inversion, s = ln(Lambda / mu) / (g r_p).
    grp = par[_GAMMA] * par[_RP]
    mu = par[_NU] * par[_NS] ** par[_GAMMA] / grp
    cap = 16
    out = np.empty(cap)
    n = 0
    lam = rng.exponential(1.0)
    while lam <= mu:
        if n == cap:
            cap *= 2
            bigger = np.empty(cap)
            bigger[:n] = out[:n]
            out = bigger
        out[n] = math.log(lam / mu) / grp
        n += 1
        lam += rng.exponential(1.0)
    return out[:n]


@njit(cache=True)
def _grow_before_surgery(
    rng: np.random.Generator, age: float, b: float, d: float, switch: float, visible: float
) -> tuple[int, bool, bool]:
    # A one-cell clone grown event by event for `age` days up to surgery. Returns its size
    # at surgery, whether it ever reached `switch` cells, and whether it is visible at surgery.
    # Once it has twice the visible size a clone is counted as visible at surgery without
    # simulating the rest: the chance that it later falls below the visible size is at most
    # (d / b)**visible, which is required to be below e**-30.
    early_stop = b > d and (d <= 0.0 or visible * math.log(b / d) > 30.0)
    cap = 2.0 * visible if early_stop else math.inf
    n = 1
    t = 0.0
    reached = 1.0 >= switch
    per_cell = b + d
    p_birth = b / per_cell
    while n > 0:
        t += rng.exponential(1.0 / (n * per_cell))
        if t >= age:
            break
        if rng.random() < p_birth:
            n += 1
            if n >= switch:
                reached = True
            if n >= cap:
                return n, reached, True
        else:
            n -= 1
    return n, reached, n >= visible


@njit(cache=True)
def _presurgery(
    rng: np.random.Generator, par: np.ndarray, stop_at_visible: bool
) -> tuple[int, int, int, int, int, np.ndarray, np.ndarray]:
    # One unconditioned pre-surgery history. Returns (clones visible at surgery, lodged,
    # asleep at surgery, woken before surgery, died asleep, sizes at surgery of the live
    # invisible woken clones, whether each reached the switch size). With stop_at_visible
    # the history is abandoned at the first visible clone (the patient will be rejected).
    i0 = par[_I0]
    eps = par[_EPS] * i0 ** (-par[_KAPPA])
    delta = par[_DELTA]
    b = par[_B]
    d = par[_D0] + par[_K] * i0
    lodged = _lodging_times(rng, par)
    asleep = 0
    woken = 0
    died = 0
    sizes = np.empty(lodged.shape[0], dtype=np.int64)
    est = np.zeros(lodged.shape[0], dtype=np.bool_)
    alive = 0
    n_visible = 0
    for s in lodged:
        # competing exponential clocks from the lodging time
        t_wake = s + rng.exponential(1.0 / eps) if eps > 0.0 else math.inf
        t_die = s + rng.exponential(1.0 / delta) if delta > 0.0 else math.inf
        if t_wake < t_die and t_wake < 0.0:
            woken += 1
            n, reached, visible = _grow_before_surgery(rng, -t_wake, b, d, par[_SWITCH], par[_VIS])
            if visible:
                n_visible += 1
                if stop_at_visible:
                    break
            elif n > 0:
                sizes[alive] = n
                est[alive] = reached
                alive += 1
        elif t_die <= t_wake and t_die < 0.0:
            died += 1
        else:
            asleep += 1
    return n_visible, lodged.shape[0], asleep, woken, died, sizes[:alive], est[:alive]


@njit(cache=True)
def _history_chunk(
    rng: np.random.Generator, par: np.ndarray, n_patients: int, out: np.ndarray
) -> None:
    for i in range(n_patients):
        n_visible, lodged, asleep, woken, died, sizes, _ = _presurgery(rng, par, False)
        out[i, 0] = lodged
        out[i, 1] = asleep
        out[i, 2] = woken
        out[i, 3] = died
        out[i, 4] = n_visible
        out[i, 5] = sizes.shape[0]


# ---------------------------------------------------------------------------------------
# After surgery
# ---------------------------------------------------------------------------------------


@njit(cache=True)
def _death_time(rng: np.random.Generator, par: np.ndarray) -> float:
    # Gompertz-Makeham from the age at surgery (docs/model.md 1.8), in days.
    a = par[_MA]
    bb = par[_MB]
    c = par[_MC]
    years = math.inf
    if a > 0.0:
        years = rng.exponential(1.0 / a)
    if bb > 0.0:
        e = rng.exponential(1.0)
        tg = math.log(1.0 + e * c * math.exp(-c * par[_AGE]) / bb) / c
        years = min(years, tg)
    return years * DAYS_PER_YEAR


@njit(cache=True)
def _patient(
    rng: np.random.Generator, par: np.ndarray, dips: np.ndarray, max_tries: int
) -> tuple[float, int, int, bool, int, int, int, int]:
    # One patient conditioned on M0 by rejection. Returns (time, event, origin, escaped,
    # phase, clones alive, seeds asleep, rejected draws); rejected = -1 if max_tries ran out.
    i0 = par[_I0]
    b = par[_B]
    d0 = par[_D0]
    k = par[_K]
    switch = par[_SWITCH]
    n_dips = int(par[_DIP_STEPS])
    dip_days = par[_DIP_DAYS]
    lapse_rate = par[_LAPSE_RATE]

    rejected = 0
    while True:
        n_visible, _, asleep, _, _, sizes, reached = _presurgery(rng, par, True)
        if n_visible == 0:
            break
        rejected += 1
        if rejected >= max_tries:
            return 0.0, _NONE, _NONE, False, _NONE, 0, 0, -1

    t_death = _death_time(rng, par)
    end = min(par[_HORIZON], t_death)
    # After surgery every rate of the disease is a times the mechanism's and every duration
    # of the host's (dip steps, the wake burst, lapses) 1/a times (docs/model.md 1.10).
    a = par[_CLOCK]
    b *= a
    d0 *= a
    k *= a
    dip_days /= a
    lapse_rate *= a
    lapse_days = par[_LAPSE_DAYS] / a
    burst_days = par[_BURST_DAYS] / a

    # Clones alive at surgery: the margin clone, then the seeds that woke before surgery (they
    # woke, and if so became established, at I = I0). The margin clone never wakes
    # (docs/model.md 1.7): only the immunity at its establishment counts.
    n_res = rng.poisson(par[_RES])
    cap = 8 + sizes.shape[0]
    c_n = np.zeros(cap, dtype=np.int64)
    c_site = np.zeros(cap, dtype=np.int8)
    c_est = np.zeros(cap, dtype=np.int8)
    c_low = np.zeros(cap, dtype=np.bool_)
    nc = 0
    if n_res > 0:
        c_n[0] = n_res
        c_site[0] = _LOCAL
        c_est[0] = _PRE if n_res >= switch else _NONE
        c_low[0] = n_res >= switch and i0 < 1.0  # the margin clone never wakes
        nc = 1
    for j in range(sizes.shape[0]):
        c_n[nc] = sizes[j]
        c_site[nc] = _DISTANT
        c_est[nc] = _PRE if reached[j] else _NONE
        c_low[nc] = i0 < 1.0
        nc += 1
    dormant = asleep
    total = 0
    for c in range(nc):
        total += c_n[c]

    t = 0.0
    hit = -1
    # a clone may already be at its detection size on the day of surgery
    for c in range(nc):
        det = par[_DET_LOCAL] if c_site[c] == _LOCAL else par[_DET_DIST]
        if c_n[c] >= det:
            hit = c
            break

    dip_idx = 0
    lapse_on = False
    next_lapse = rng.exponential(1.0 / lapse_rate) if lapse_rate > 0.0 else math.inf
    while hit < 0 and t < end:
        # the current phase of constant rates and where it ends
        t1 = end
        dip_end = (dip_idx + 1) * dip_days if dip_idx < n_dips else math.inf
        t1 = min(t1, dip_end, next_lapse)
        if t < burst_days:
            t1 = min(t1, burst_days)
        m = 1.0
        kind = _BASE
        if dip_idx < n_dips:
            m *= dips[dip_idx]
            kind = _DIP
        if lapse_on:
            m *= par[_LAPSE_MULT]
            kind = _LAPSE
        imm = i0 * m
        low = imm < 1.0
        d = d0 + k * imm
        burst = par[_BURST] if t < burst_days else 1.0
        eps = a * par[_EPS] * imm ** (-par[_KAPPA]) * burst
        delta = a * par[_DELTA]
        per_cell = b + d
        p_birth = b / per_cell if per_cell > 0.0 else 0.0
        per_seed = eps + delta
        p_wake = eps / per_seed if per_seed > 0.0 else 0.0

        # Gillespie over every cell of every clone and every asleep seed
        while True:
            rate_cells = total * per_cell
            rate_seeds = dormant * per_seed
            rate = rate_cells + rate_seeds
            if rate <= 0.0:
                t = t1
                break
            t_next = t + rng.exponential(1.0 / rate)
            if t_next >= t1:
                t = t1  # memoryless: the clock restarts with the next phase's rates
                break
            t = t_next
            u = rng.random() * rate
            if u < rate_seeds:
                dormant -= 1
                if rng.random() < p_wake:
                    if nc == cap:
                        cap *= 2
                        c_n2 = np.zeros(cap, dtype=np.int64)
                        c_site2 = np.zeros(cap, dtype=np.int8)
                        c_est2 = np.zeros(cap, dtype=np.int8)
                        c_low2 = np.zeros(cap, dtype=np.bool_)
                        c_n2[:nc] = c_n[:nc]
                        c_site2[:nc] = c_site[:nc]
                        c_est2[:nc] = c_est[:nc]
                        c_low2[:nc] = c_low[:nc]
                        c_n, c_site, c_est, c_low = c_n2, c_site2, c_est2, c_low2
                    c_n[nc] = 1
                    c_site[nc] = _DISTANT
                    c_est[nc] = kind if 1.0 >= switch else _NONE
                    c_low[nc] = low
                    nc += 1
                    total += 1
                    if 1.0 >= par[_DET_DIST]:
                        hit = nc - 1
                        break
                continue
            # a cell: which clone (proportional to its size), then birth or death
            pos = (u - rate_seeds) / per_cell
            c = 0
            acc = float(c_n[0])
            while acc <= pos and c < nc - 1:
                c += 1
                acc += c_n[c]
            if rng.random() < p_birth:
                c_n[c] += 1
                total += 1
                if c_est[c] == _NONE and c_n[c] >= switch:
                    c_est[c] = kind
                    c_low[c] = c_low[c] or low
                det = par[_DET_LOCAL] if c_site[c] == _LOCAL else par[_DET_DIST]
                if c_n[c] >= det:
                    hit = c
                    break
            else:
                c_n[c] -= 1
                total -= 1
                if c_n[c] == 0:
                    # remove the extinct clone (order does not matter)
                    last = nc - 1
                    c_n[c] = c_n[last]
                    c_site[c] = c_site[last]
                    c_est[c] = c_est[last]
                    c_low[c] = c_low[last]
                    nc = last
        if hit >= 0:
            break
        # change point: move the trajectory on
        if t >= dip_end:
            dip_idx += 1
        if t >= next_lapse:
            if lapse_on:
                lapse_on = False
                next_lapse = t + rng.exponential(1.0 / lapse_rate)
            else:
                lapse_on = True
                next_lapse = t + lapse_days

    if hit >= 0:
        site = c_site[hit]
        origin = _MARGIN if site == _LOCAL else _SEED
        return t, site, origin, c_low[hit], c_est[hit], nc, dormant, rejected
    event = _DEATH if t_death < par[_HORIZON] else _NONE
    return end, event, _NONE, False, _NONE, nc, dormant, rejected


@njit(cache=True, nogil=True)
def _patients_chunk(
    rng: np.random.Generator,
    par: np.ndarray,
    dips: np.ndarray,
    n_patients: int,
    max_tries: int,
    out_time: np.ndarray,
    out_codes: np.ndarray,
) -> None:
    # out_codes columns: event, origin, escaped, phase, clones alive, asleep, rejected
    for i in range(n_patients):
        own = par
        if par[_SPREAD] > 0.0:
            # this patient's baseline immunity, drawn from the band of the spread; its whole
            # history is lived at it, the seeds lodging faster by _lodging_factor
            while True:
                z = rng.standard_normal()
                if par[_BAND_LO] < z < par[_BAND_HI]:
                    break
            own = par.copy()
            own[_I0] = max(par[_I0] * math.exp(par[_SPREAD] * z), IMMUNITY_FLOOR)
            own[_NU] = par[_NU] * _lodging_factor(
                own[_I0], par[_I0], par[_GAMMA], par[_RP], par[_EPS], par[_KAPPA], par[_DELTA]
            )
        if par[_GROWTH] > 0.0:
            # this patient's disease clock, from the band of its spread
            while True:
                z = rng.standard_normal()
                if -GROWTH_Z_MAX < z < GROWTH_Z_MAX:
                    break
            own = own.copy()
            own[_CLOCK] = math.exp(par[_GROWTH] * z)
        t, ev, org, esc, ph, alive, asleep, rej = _patient(rng, own, dips, max_tries)
        out_time[i] = t
        out_codes[i, 0] = ev
        out_codes[i, 1] = org
        out_codes[i, 2] = esc
        out_codes[i, 3] = ph
        out_codes[i, 4] = alive
        out_codes[i, 5] = asleep
        out_codes[i, 6] = rej
        if rej < 0:
            return


def _chunk_streams(
    seed: int | np.random.SeedSequence, n: int, chunk: int
) -> list[tuple[np.random.Generator, int, int]]:
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    n_chunks = max(1, -(-n // chunk))
    children = ss.spawn(n_chunks)
    return [
        (np.random.default_rng(children[i]), i * chunk, min(n, (i + 1) * chunk))
        for i in range(n_chunks)
    ]


def simulate_reference(
    patient: Patient,
    mechanism: Mechanism,
    n_patients: int,
    *,
    seed: int | np.random.SeedSequence,
    horizon_days: float,
    workers: int = 1,
    max_tries: int = 100_000,
) -> pd.DataFrame:
    """Simulate patients after surgery event by event (docs/model.md, section 3).

    Parameters
    ----------
    patient : Patient
        The patient profile (one profile: the reference has no mixtures).
    mechanism : Mechanism
        Shared mechanism parameters. Keep detection and visible sizes near 1e4 cells: the
        work per patient is proportional to the cells simulated.
    n_patients : int
        Number of M0 patients to return.
    seed : int or numpy.random.SeedSequence
        Seed; patients are cut into chunks of :data:`CHUNK_SIZE`, each with its own spawned
        stream, so the result does not depend on ``workers``.
    horizon_days : float
        Follow-up after surgery (days).
    workers : int
        Threads running chunks in parallel (the compiled loop releases the GIL).
    max_tries : int
        Give up (``RuntimeError``) when this many consecutive draws of one patient had a
        visible clone at surgery.

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``time_days`` (recurrence, death or horizon, days), ``event``
        ('local', 'distant', 'death', 'none'), ``origin`` ('margin', 'seed', 'none'),
        ``escaped_low_immunity`` (bool), ``immune_phase`` ('pre-surgery', 'dip', 'lapse',
        'baseline', 'none'), ``clones_alive`` (awake clones alive at the end),
        ``dormant_alive`` (seeds asleep at the end) and ``rejected`` (draws rejected before
        this patient because a clone was visible at surgery).
    """
    if n_patients < 1:
        raise ValueError("n_patients must be >= 1")
    if not horizon_days > 0:
        raise ValueError("horizon_days must be > 0")
    par, dips = reference_parameters(patient, mechanism, horizon_days)
    times = np.empty(n_patients)
    codes = np.zeros((n_patients, 7), dtype=np.int64)
    jobs = _chunk_streams(seed, n_patients, CHUNK_SIZE)

    def run(job: tuple[np.random.Generator, int, int]) -> None:
        rng, lo, hi = job
        _patients_chunk(rng, par, dips, hi - lo, max_tries, times[lo:hi], codes[lo:hi])

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, jobs))
    else:
        for job in jobs:
            run(job)
    if (codes[:, 6] < 0).any():
        raise RuntimeError(
            f"more than {max_tries} draws in a row had a clone visible at surgery: "
            "the M0 condition is too unlikely for these parameters"
        )
    return pd.DataFrame(
        {
            "time_days": times,
            "event": np.asarray(EVENTS, dtype=object)[codes[:, 0]],
            "origin": np.asarray(ORIGINS, dtype=object)[codes[:, 1]],
            "escaped_low_immunity": codes[:, 2].astype(bool),
            "immune_phase": np.asarray(PHASES, dtype=object)[codes[:, 3]],
            "clones_alive": codes[:, 4],
            "dormant_alive": codes[:, 5],
            "rejected": codes[:, 6],
        }
    )


def seed_history(
    patient: Patient,
    mechanism: Mechanism,
    n_patients: int,
    *,
    seed: int | np.random.SeedSequence,
) -> pd.DataFrame:
    """Unconditioned pre-surgery seeding histories, simulated event by event.

    Parameters
    ----------
    patient, mechanism
        As in :func:`simulate_reference`.
    n_patients : int
        Number of histories (no M0 rejection).
    seed : int or numpy.random.SeedSequence
        Seed.

    Returns
    -------
    pandas.DataFrame
        ``lodged`` (seeds lodged over the primary's history), ``asleep`` (asleep at surgery),
        ``woken`` (woke before surgery), ``died`` (died asleep before surgery), ``visible``
        (woken clones visible at surgery) and ``clones`` (woken clones alive and invisible at
        surgery). Keep ``visible_cells_at_surgery`` small (about 1e4 cells): visible clones
        are grown event by event up to twice that size.
    """
    par, _ = reference_parameters(patient, mechanism, 1.0)
    out = np.zeros((n_patients, 6), dtype=np.int64)
    for rng, lo, hi in _chunk_streams(seed, n_patients, CHUNK_SIZE):
        _history_chunk(rng, par, hi - lo, out[lo:hi])
    return pd.DataFrame(
        {
            "lodged": out[:, 0],
            "asleep": out[:, 1],
            "woken": out[:, 2],
            "died": out[:, 3],
            "visible": out[:, 4],
            "clones": out[:, 5],
        }
    )


def immune_schedule(
    mechanism: Mechanism, immunity: float, horizon_days: float, rng_or_seed: object
) -> pd.DataFrame:
    """One draw of the immune trajectory after surgery (docs/model.md 1.4).

    Parameters
    ----------
    mechanism : Mechanism
        Dip and lapse parameters.
    immunity : float
        Baseline immunity ``I0``.
    horizon_days : float
        End of the trajectory (days).
    rng_or_seed
        Generator or seed for ``numpy.random.default_rng``.

    Returns
    -------
    pandas.DataFrame
        One row per phase of constant immunity: ``start``, ``end`` (days), ``immunity``
        (``I0 m(t)``), ``phase`` ('dip', 'lapse' or 'baseline') and ``burst`` (the surgery
        waking multiplier in force).
    """
    rng = np.random.default_rng(rng_or_seed)  # type: ignore[arg-type]
    dips = [dip_multiplier(mechanism, j) for j in range(mechanism.dip_steps)]
    lapse_rate = mechanism.lapse_rate_per_year / DAYS_PER_YEAR
    rows = []
    t = 0.0
    dip_idx = 0
    lapse_on = False
    next_lapse = rng.exponential(1.0 / lapse_rate) if lapse_rate > 0 else math.inf
    while t < horizon_days:
        dip_end = (dip_idx + 1) * mechanism.dip_step_days if dip_idx < len(dips) else math.inf
        t1 = min(horizon_days, dip_end, next_lapse)
        if t < mechanism.surgery_wake_days:
            t1 = min(t1, mechanism.surgery_wake_days)
        m = dips[dip_idx] if dip_idx < len(dips) else 1.0
        phase = "dip" if dip_idx < len(dips) else "baseline"
        if lapse_on:
            m *= 1.0 - mechanism.lapse_depth
            phase = "lapse"
        burst = mechanism.surgery_wake_multiplier if t < mechanism.surgery_wake_days else 1.0
        rows.append((t, t1, immunity * m, phase, burst))
        t = t1
        if t >= dip_end:
            dip_idx += 1
        if t >= next_lapse:
            if lapse_on:
                lapse_on = False
                next_lapse = t + rng.exponential(1.0 / lapse_rate)
            else:
                lapse_on = True
                next_lapse = t + mechanism.lapse_days
    return pd.DataFrame(rows, columns=["start", "end", "immunity", "phase", "burst"])
