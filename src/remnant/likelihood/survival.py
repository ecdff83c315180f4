"""Population survival ``S(t | x)`` without simulating patients (docs/likelihood.md).

Given the immune trajectory, clones are independent and their numbers Poisson, so the number
of distant clones detected by ``t`` is Poisson with mean ``Lambda(t) = mu_D K_D(t) + mu_W
K_W(t)`` and the margin clone is detected by ``t`` with probability ``P_L(t)``; the
recurrence-free probability is ``S_rec(t) = E_I[exp(-Lambda(t)) (1 - P_L(t))]``, the mean
over lapse schedules drawn once from common random numbers (:mod:`.schedules`).

Public functions:

* :func:`population_survival` -- one patient profile: recurrence-free (net) survival, the
  cumulative incidences of local and distant recurrence with other-cause death competing, the
  cause-specific cumulative hazards and the overall event-free probability on a time grid;
* :func:`survival_matrix` -- ``S_rec`` for many patients sharing a mechanism on one grid;
* :func:`individual_terms` and :func:`log_likelihood` -- survival and densities at each
  patient's own time, and the right-censored log-likelihood.

Units: days for times, per-day densities and hazards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from numpy.typing import ArrayLike

from remnant.errors import RemnantInputError
from remnant.likelihood import kernels as kn
from remnant.likelihood.cohort import FIELDS, PatientArrays, as_patient_arrays, seeds_dormant
from remnant.likelihood.mortality import death_hazard, death_survival
from remnant.likelihood.schedules import (
    Schedules,
    lapse_schedules,
    lapse_uniforms,
)
from remnant.model.mechanisms import derive, dip_multiplier, wake_rate
from remnant.model.parameters import Mechanism, Patient

DEFAULT_DRAWS = 256  # lapse schedules (randomised QMC), population_survival
FIT_DRAWS = 128  # survival_matrix, individual_terms, log_likelihood
GL_ORDER = 5  # Gauss-Legendre nodes per panel
PANEL_DZ = 2.0  # panel width in units of R (log mean clone size)
GRID_DRHO = 0.25  # default likelihood grid: at most this much growth of R per step
CHEB_MIN = 24  # above this many distinct mu_D per group, interpolate in log mu_D
COLUMNS = (
    "recurrence_free",
    "cif_local",
    "cif_distant",
    "cif_recurrence",
    "cif_death",
    "overall_event_free",
    "cumhaz_local",
    "cumhaz_distant",
    "recurrence_free_mc_se",
)


# ----------------------------------------------------------------------------------------
# one dynamics class on one time grid
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSetup:
    """Rates shared by a dynamics class (cancer, grade, baseline immunity).

    Attributes
    ----------
    vec : ndarray
        Class vector for the kernels (``remnant.likelihood.kernels.C_*``).
    ratio_woken : float
        ``mu_W / mu_D = eps / (gamma r_p)``.
    age_rate, eps_pre : float
        ``gamma r_p`` and the waking rate before surgery (per day).
    r_max : float
        Fastest net growth rate over the dip and lapses (per day).
    """

    vec: np.ndarray
    ratio_woken: float
    age_rate: float
    eps_pre: float
    r_max: float


def class_setup(
    mech: Mechanism, cancer: str, grade: int, immunity: float, dz: float = PANEL_DZ
) -> ClassSetup:
    """The class vector, from :func:`remnant.model.mechanisms.derive` on a representative."""
    rep = Patient(cancer=cancer, grade=int(grade), immunity=float(immunity))
    der = derive(rep, mech)
    eps_pre = wake_rate(mech, cancer, float(immunity), 1.0)
    vec = np.zeros(kn.N_CLASS)
    vec[kn.C_I0] = immunity
    vec[kn.C_B] = der.birth
    vec[kn.C_D0] = der.death0
    vec[kn.C_K] = der.kill
    vec[kn.C_EPS0] = mech.wake_rate[cancer]
    vec[kn.C_KAPPA] = mech.wake_immune_exponent
    vec[kn.C_DELTA] = mech.dormant_death_rate
    vec[kn.C_BURST] = mech.surgery_wake_multiplier
    vec[kn.C_M] = mech.detection_cells_distant
    vec[kn.C_V] = mech.visible_cells_at_surgery
    vec[kn.C_G] = der.seeds.age_rate
    vec[kn.C_DZ] = dz
    m_min = min([1.0] + [dip_multiplier(mech, j) for j in range(mech.dip_steps)])
    m_min *= 1.0 - mech.lapse_depth if mech.lapse_rate_per_year > 0 else 1.0
    r_max = der.birth - der.death0 - der.kill * immunity * m_min
    return ClassSetup(vec, eps_pre / der.seeds.age_rate, der.seeds.age_rate, eps_pre, r_max)


def _sched_vector(mech: Mechanism) -> tuple[np.ndarray, np.ndarray]:
    vec = np.zeros(kn.N_SCHED)
    vec[kn.S_DIP_DAYS] = mech.dip_step_days
    vec[kn.S_BURST_DAYS] = mech.surgery_wake_days
    vec[kn.S_LAPSE_DAYS] = mech.lapse_days
    vec[kn.S_LAPSE_MULT] = 1.0 - mech.lapse_depth
    dips = np.array([dip_multiplier(mech, j) for j in range(mech.dip_steps)], dtype=np.float64)
    return vec, dips


def _flatten(schedules: Schedules) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(schedules.starts) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(s) for s in schedules.starts])
    flat = np.concatenate(schedules.starts) if off[-1] > 0 else np.zeros(0)
    return flat.astype(np.float64), off


def _first_lapse_index(times: np.ndarray, schedules: Schedules) -> np.ndarray:
    # index of the first time >= the schedule's first lapse (0 for the lapse-free schedule 0)
    return np.array(
        [np.searchsorted(times, st[0], side="left") if len(st) else 0 for st in schedules.starts],
        dtype=np.int64,
    )


@njit(cache=True, nogil=True)
def _run_schedules(
    times: np.ndarray,
    starts_flat: np.ndarray,
    starts_off: np.ndarray,
    dips: np.ndarray,
    sched: np.ndarray,
    cls: np.ndarray,
    gl_x: np.ndarray,
    gl_w: np.ndarray,
    out: np.ndarray,
    mono: np.ndarray,
    first: np.ndarray,
) -> None:
    # Schedule 0 has no lapse. Schedule s coincides with it before its first lapse, and
    # detection by t depends on the trajectory up to t only (up to exp(-R) ~ 1e-7 in the
    # large-size representation), so its values before the first lapse are copied.
    t_end = times[-1]
    for s in range(starts_off.shape[0] - 1):
        st = starts_flat[starts_off[s] : starts_off[s + 1]]
        k1 = first[s]
        bounds, mult, burst = kn.build_phases(t_end, dips, sched, st)
        mono[s] = kn.schedule_kernels(
            times[k1:], bounds, mult, burst, cls, gl_x, gl_w, out[s, :, k1:]
        )
        for j in range(out.shape[1]):
            for k in range(k1):
                out[s, j, k] = out[0, j, k]


@dataclass(frozen=True)
class ClassKernels:
    """Per-schedule kernels of one dynamics class on a sorted time grid.

    Arrays are ``(n_schedules, n_times)``; ``kc = K_D + (mu_W / mu_D) K_W`` so that the
    expected number of detected distant clones is ``mu_D * kc``; ``q0`` is the survival
    probability of a cell present at surgery (to the end of the grid, or to the peak of ``R``
    on ``[0, t]`` when ``R`` is not monotone).
    """

    times: np.ndarray
    weights: np.ndarray
    rho: np.ndarray
    drho: np.ndarray
    kc: np.ndarray
    kc_t: np.ndarray
    kc_rho: np.ndarray
    q0: np.ndarray
    monotone: bool
    setup: ClassSetup
    starts_flat: np.ndarray
    starts_off: np.ndarray
    first: np.ndarray


def class_kernels(
    mech: Mechanism,
    cancer: str,
    grade: int,
    immunity: float,
    times: np.ndarray,
    schedules: Schedules,
    *,
    dz: float = PANEL_DZ,
    gl_order: int = GL_ORDER,
) -> ClassKernels:
    """Kernels of one class under every schedule, at ``times`` (sorted, >= 0)."""
    setup = class_setup(mech, cancer, grade, immunity, dz)
    sched, dips = _sched_vector(mech)
    flat, off = _flatten(schedules)
    gl_x, gl_w = np.polynomial.legendre.leggauss(gl_order)
    n_s = len(schedules.starts)
    out = np.zeros((n_s, 9, times.shape[0]))
    mono = np.zeros(n_s, dtype=np.bool_)
    first = _first_lapse_index(times, schedules)
    _run_schedules(times, flat, off, dips, sched, setup.vec, gl_x, gl_w, out, mono, first)
    rw = setup.ratio_woken
    return ClassKernels(
        times=times,
        weights=schedules.weights,
        rho=out[:, 0],
        drho=out[:, 1],
        kc=out[:, 2] + rw * out[:, 5],
        kc_t=out[:, 3] + rw * out[:, 6],
        kc_rho=out[:, 4] + rw * out[:, 7],
        q0=out[:, 8],
        monotone=bool(mono.all()),
        setup=setup,
        starts_flat=flat,
        starts_off=off,
        first=first,
    )


@njit(cache=True)
def _local_table(
    res: float,
    m_loc: float,
    q0: np.ndarray,
    rho: np.ndarray,
    first: np.ndarray,
    p: np.ndarray,
    prho: np.ndarray,
) -> None:
    for s in range(rho.shape[0]):
        for k in range(rho.shape[1]):
            if k < first[s]:
                p[s, k] = p[0, k]
                prho[s, k] = prho[0, k]
                continue
            q = q0[s, k]
            p[s, k], prho[s, k] = kn.local_detection(res * q, m_loc * q * math.exp(-rho[s, k]))


def local_table(ck: ClassKernels, residual: float, m_local: float) -> tuple[np.ndarray, np.ndarray]:
    """``P_L`` (margin clone detected by t) and ``dP_L/drho`` per schedule and time."""
    p = np.zeros_like(ck.rho)
    prho = np.zeros_like(ck.rho)
    _local_table(float(residual), float(m_local), ck.q0, ck.rho, ck.first, p, prho)
    return p, prho


@njit(cache=True)
def _mixture(
    scales: np.ndarray,
    kc: np.ndarray,
    pl: np.ndarray,
    w: np.ndarray,
    first: np.ndarray,
    out: np.ndarray,
) -> None:
    # out[a, k] = sum_s w_s exp(-scales[a] kc[s, k]) (1 - pl[s, k]); before its first lapse
    # (k < first[s]) schedule s equals schedule 0, whose weight absorbs it
    n_s, n_t = kc.shape
    w0 = np.zeros(n_t)
    for s in range(n_s):
        for k in range(first[s] if s > 0 else n_t):
            w0[k] += w[s]
    for a in range(scales.shape[0]):
        sc = scales[a]
        for k in range(n_t):
            out[a, k] = w0[k] * math.exp(-sc * kc[0, k]) * (1.0 - pl[0, k])
        for s in range(1, n_s):
            ws = w[s]
            for k in range(first[s], n_t):
                out[a, k] += ws * math.exp(-sc * kc[s, k]) * (1.0 - pl[s, k])


def _grid(times_days: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times_days, dtype=np.float64).ravel()
    if t.size == 0 or not np.isfinite(t).all() or (t < 0).any():
        raise RemnantInputError("times_days", "finite times >= 0 (days)", times_days)
    grid, inverse = np.unique(t, return_inverse=True)
    return grid, inverse


def _with_end(grid: np.ndarray) -> np.ndarray:
    # the kernels need at least one phase; a grid ending at 0 gets a 1-day tail
    if grid[-1] > 0.0:
        return grid
    return np.append(grid, 1.0)


# ----------------------------------------------------------------------------------------
# one patient profile
# ----------------------------------------------------------------------------------------


def _check_without_spread(mech: Mechanism | None) -> None:
    """The direct likelihood takes every patient at its recorded immunity: a mechanism with a
    spread or a scale of immunity (a calibrated model) is integrated by ``remnant.inference``'s
    kernel table instead."""
    if mech is not None and (mech.immune_spread > 0.0 or mech.immune_scale != 1.0):
        raise RemnantInputError(
            "mechanism",
            "immune_spread 0 and immune_scale 1 here; a calibrated model's spread of immunity "
            "is integrated by the fit's kernel table (RemnantFit.curves)",
            f"immune_spread {mech.immune_spread:g}, immune_scale {mech.immune_scale:g}",
        )


def population_survival(
    patient: Patient,
    mechanism: Mechanism | None = None,
    times_days: ArrayLike | None = None,
    *,
    n_lapse_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    resolution_days: float = 1.0,
) -> pd.DataFrame:
    """Survival and cumulative incidences of one patient profile, without simulation.

    Parameters
    ----------
    patient : Patient
        The patient profile.
    mechanism : Mechanism, optional
        Shared parameters (default ``Mechanism()``).
    times_days : array_like, optional
        Times since surgery (days, >= 0); default every 0.5 year to 10 years, and 0.
    n_lapse_draws : int
        Lapse schedules averaged over (scrambled Sobol points; ignored when lapses are off).
    seed : int
        Seed of the common random numbers.
    resolution_days : float
        Step of the internal grid on which the cumulative incidences are integrated.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``time_days`` (sorted, unique), with columns

        * ``recurrence_free``: ``S_rec(t)``, recurrence-free probability ignoring other-cause
          death (net survival; what Kaplan-Meier estimates when deaths are censored);
        * ``cif_local``, ``cif_distant``: cumulative incidence of a first recurrence that is
          local (margin clone) / distant (seed clone), other-cause death competing;
        * ``cif_recurrence``: their sum, ``Integral S_death dF_rec``;
        * ``cif_death``: cumulative incidence of other-cause death before any recurrence;
        * ``overall_event_free``: ``S_rec(t) S_death(t)``
          (``overall_event_free + cif_recurrence + cif_death = 1``);
        * ``cumhaz_local``, ``cumhaz_distant``: cause-specific cumulative hazards (the same
          with or without competing death, which is independent);
        * ``recurrence_free_mc_se``: Monte Carlo standard error of ``recurrence_free`` over the
          lapse schedules, by the plain Monte Carlo formula (conservative for the QMC points).
    """
    _check_without_spread(mechanism)
    mech = mechanism or Mechanism()
    if times_days is None:
        times_days = np.arange(0.0, 10.0 + 1e-9, 0.5) * 365.25
    user, _ = _grid(times_days)
    if not resolution_days > 0:
        raise RemnantInputError("resolution_days", "a positive number of days", resolution_days)
    t_max = float(user[-1])
    fine = np.unique(np.concatenate([[0.0], user, np.arange(0.0, t_max, resolution_days)]))
    fine = _with_end(fine)
    uniforms = lapse_uniforms(n_lapse_draws, seed)
    sch = lapse_schedules(mech.lapse_rate_per_year, mech.lapse_days, float(fine[-1]), uniforms)
    ck = class_kernels(mech, patient.cancer, patient.grade, patient.immunity, fine, sch)
    pa = PatientArrays.from_patients([patient])
    mu_d = float(
        seeds_dormant(pa, mech, np.array([ck.setup.age_rate]), np.array([ck.setup.eps_pre]))[0]
    )
    pl, _ = local_table(ck, mech.residual_cells[patient.margin], mech.detection_cells_local)
    e = np.exp(-mu_d * ck.kc)  # P(no distant clone detected | schedule)
    s_s = e * (1.0 - pl)
    w = ck.weights[:, None]
    s_rec = (w * s_s).sum(axis=0)
    var = (w * (s_s - s_rec) ** 2).sum(axis=0)
    mc_se = np.sqrt(var / max(uniforms.n_draws, 1)) if len(ck.weights) > 1 else 0 * s_rec
    # increments over grid intervals, split exactly: -dS = -dE (1 - avg P) + dP avg E
    de = np.diff(e, axis=1)
    dp = np.diff(pl, axis=1)
    avg_e = 0.5 * (e[:, 1:] + e[:, :-1])
    avg_p = 0.5 * (pl[:, 1:] + pl[:, :-1])
    f_dist = (w * (-de) * (1.0 - avg_p)).sum(axis=0)
    f_loc = (w * dp * avg_e).sum(axis=0)
    sd = death_survival(fine, patient.age, mech)
    avg_sd = 0.5 * (sd[1:] + sd[:-1])
    avg_s = 0.5 * (s_rec[1:] + s_rec[:-1])

    def cum(x: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(x)])

    cif_local = cum(f_loc * avg_sd)
    cif_distant = cum(f_dist * avg_sd)
    cif_death = cum(-np.diff(sd) * avg_s)
    safe = np.where(avg_s > 0, avg_s, np.inf)
    frame = pd.DataFrame(
        {
            "recurrence_free": s_rec,
            "cif_local": cif_local,
            "cif_distant": cif_distant,
            "cif_recurrence": cif_local + cif_distant,
            "cif_death": cif_death,
            "overall_event_free": s_rec * sd,
            "cumhaz_local": cum(f_loc / safe),
            "cumhaz_distant": cum(f_dist / safe),
            "recurrence_free_mc_se": mc_se,
        },
        index=pd.Index(fine, name="time_days"),
    )
    return frame.loc[user]


# ----------------------------------------------------------------------------------------
# many patients
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientClass:
    cancer: str
    grade: int
    immunity: float
    members: np.ndarray  # patient indices


def patient_classes(pa: PatientArrays) -> list[PatientClass]:
    """Patients grouped by dynamics class (cancer, grade, baseline immunity), sorted."""
    frame = pd.DataFrame({"c": pa.cancer, "g": pa.grade, "i": pa.immunity})
    out = []
    for (c, g, i), idx in frame.groupby(["c", "g", "i"], sort=True).indices.items():
        out.append(PatientClass(str(c), int(g), float(i), np.asarray(idx)))
    return out


def dormant_means(
    pa: PatientArrays, mech: Mechanism, setup: ClassSetup, idx: np.ndarray
) -> np.ndarray:
    """``mu_D`` of the patients ``idx``, all of the class of ``setup``."""
    n = len(idx)
    sub = PatientArrays(**{f: getattr(pa, f)[idx] for f in FIELDS})
    return seeds_dormant(sub, mech, np.full(n, setup.age_rate), np.full(n, setup.eps_pre))


def _cheb_nodes(lo: float, hi: float, n: int) -> np.ndarray:
    j = np.arange(n)
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * j / (n - 1))


@njit(cache=True)
def _cheb_interp(nodes: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    # barycentric interpolation at Chebyshev points of the second kind (rows of ``values``)
    n = nodes.shape[0]
    n_t = values.shape[1]
    wts = np.empty(n)
    for j in range(n):
        wts[j] = 1.0 if j % 2 == 0 else -1.0
    wts[0] *= 0.5
    wts[n - 1] *= 0.5
    out = np.zeros((x.shape[0], n_t))
    c = np.empty(n)
    for i in range(x.shape[0]):
        hit = -1
        tot = 0.0
        for j in range(n):
            dx = x[i] - nodes[j]
            if dx == 0.0:
                hit = j
                break
            c[j] = wts[j] / dx
            tot += c[j]
        if hit >= 0:
            out[i] = values[hit]
            continue
        for j in range(n):
            cj = c[j] / tot
            for k in range(n_t):
                out[i, k] += cj * values[j, k]
    return out


def _mixture_for(mu: np.ndarray, ck: ClassKernels, pl: np.ndarray) -> np.ndarray:
    """``E_s[exp(-mu kc) (1 - pl)]`` for each mu; interpolated in log mu when many.

    The function is analytic in ``log mu``; ``10 + 3 * range`` Chebyshev points (range of
    ``log mu``) interpolate it to about 1e-10 (tests/test_likelihood.py).
    """
    uniq, inv = np.unique(mu, return_inverse=True)
    if uniq.size <= CHEB_MIN:
        out = np.empty((uniq.size, ck.kc.shape[1]))
        _mixture(uniq, ck.kc, pl, ck.weights, ck.first, out)
        return out[inv]
    x = np.log(uniq)
    lo, hi = float(x[0]), float(x[-1])
    n = int(np.clip(np.ceil(10 + 3 * (hi - lo)), 12, 160))
    nodes = _cheb_nodes(lo, hi, n)
    vals = np.empty((n, ck.kc.shape[1]))
    _mixture(np.exp(nodes), ck.kc, pl, ck.weights, ck.first, vals)
    return _cheb_interp(nodes, vals, x)[inv]


def survival_matrix(
    patients: PatientArrays | pd.DataFrame | Sequence[Patient],
    mechanism: Mechanism,
    times_days: ArrayLike,
    *,
    n_lapse_draws: int = FIT_DRAWS,
    seed: int = 0,
) -> np.ndarray:
    """Recurrence-free (net) survival ``S_rec(t | x_i)`` of many patients on one time grid.

    Patients sharing cancer, grade and baseline immunity share the kernels (one computation
    per class and lapse schedule); within a class the patients differ by ``mu_D`` (size,
    nodes) and by margin. When a class and margin hold more than ``CHEB_MIN`` distinct
    ``mu_D``, the average over schedules is interpolated in ``log mu_D`` at Chebyshev points
    (the function is analytic there; error far below the Monte Carlo error).

    Parameters
    ----------
    patients : PatientArrays, DataFrame or sequence of Patient
        The patients (DataFrame columns: ``cancer, size_mm, nodes, grade, margin, immunity,
        age``).
    mechanism : Mechanism
        The shared mechanism.
    times_days : array_like
        Times since surgery (days, >= 0), any order.
    n_lapse_draws, seed : int
        Lapse schedules (common random numbers: the same for every call with the same
        ``seed``, so the result is a continuous function of the mechanism's parameters,
        smooth up to kinks of ~1e-6; docs/likelihood.md, section 7).

    Returns
    -------
    numpy.ndarray, shape (n_patients, n_times)
        ``S_rec`` in the order of ``times_days``.
    """
    _check_without_spread(mechanism)
    pa = as_patient_arrays(patients)
    mech = mechanism
    grid, inverse = _grid(times_days)
    g = _with_end(grid)
    uniforms = lapse_uniforms(n_lapse_draws, seed)
    sch = lapse_schedules(mech.lapse_rate_per_year, mech.lapse_days, float(g[-1]), uniforms)
    out = np.empty((len(pa), g.shape[0]))
    for grp in patient_classes(pa):
        ck = class_kernels(mech, grp.cancer, grp.grade, grp.immunity, g, sch)
        mu = dormant_means(pa, mech, ck.setup, grp.members)
        margins = pa.margin[grp.members]
        for m in np.unique(margins):
            sel = margins == m
            pl, _ = local_table(ck, mech.residual_cells[str(m)], mech.detection_cells_local)
            out[grp.members[sel]] = _mixture_for(mu[sel], ck, pl)
    return out[:, : grid.shape[0]][:, inverse]


# ----------------------------------------------------------------------------------------
# likelihood
# ----------------------------------------------------------------------------------------


@njit(cache=True)
def _patient_terms(
    t_pat: np.ndarray,
    mu_pat: np.ndarray,
    res_pat: np.ndarray,
    grid: np.ndarray,
    ck_rho: np.ndarray,
    ck_kc: np.ndarray,
    ck_kc_t: np.ndarray,
    ck_kc_rho: np.ndarray,
    q0: np.ndarray,
    w: np.ndarray,
    starts_flat: np.ndarray,
    starts_off: np.ndarray,
    dips: np.ndarray,
    sched: np.ndarray,
    cls: np.ndarray,
    m_loc: float,
    on_grid: bool,
    out: np.ndarray,
) -> None:
    # out[:, 0] = S_rec, out[:, 1] = local density, out[:, 2] = distant density (per day)
    n_p = t_pat.shape[0]
    n_t = grid.shape[0]
    t_end = grid[-1]
    b = cls[kn.C_B]
    d0 = cls[kn.C_D0]
    kk = cls[kn.C_K]
    i0 = cls[kn.C_I0]
    for i in range(n_p):
        out[i, 0] = 0.0
        out[i, 1] = 0.0
        out[i, 2] = 0.0
    for s in range(starts_off.shape[0] - 1):
        st = starts_flat[starts_off[s] : starts_off[s + 1]]
        bounds, mult, _ = kn.build_phases(t_end, dips, sched, st)
        n = mult.shape[0]
        r = np.empty(n)
        big_r = np.zeros(n + 1)
        umax = np.zeros(n + 1)
        for p in range(n):
            r[p] = b - d0 - kk * i0 * mult[p]
            big_r[p + 1] = big_r[p] + r[p] * (bounds[p + 1] - bounds[p])
            umax[p + 1] = max(umax[p], big_r[p + 1])
        for i in range(n_p):
            t = t_pat[i]
            # phase of t
            lo = 0
            hi = n - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if bounds[mid] <= t:
                    lo = mid
                else:
                    hi = mid - 1
            p = lo
            rt = big_r[p] + r[p] * (t - bounds[p])
            if rt >= umax[p]:
                rho = rt
                dr = r[p] if r[p] > 0.0 else 0.0
            else:
                rho = umax[p]
                dr = 0.0
            # grid bracket: the last k with grid[k] <= t
            lo = 0
            hi = n_t - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if grid[mid] <= t:
                    lo = mid
                else:
                    hi = mid - 1
            k = lo
            kc_rho = 0.0
            if on_grid or k == n_t - 1 or grid[k] == t:
                kc = ck_kc[s, k]
                kc_t = ck_kc_t[s, k]
            else:
                r0 = ck_rho[s, k]
                r1 = ck_rho[s, k + 1]
                h = r1 - r0
                if h <= 1e-12:
                    kc = ck_kc[s, k]
                    kc_rho = ck_kc_rho[s, k]
                else:
                    x = (rho - r0) / h
                    y0 = ck_kc[s, k]
                    y1 = ck_kc[s, k + 1]
                    m0 = ck_kc_rho[s, k] * h
                    m1 = ck_kc_rho[s, k + 1] * h
                    x2 = x * x
                    x3 = x2 * x
                    kc = (
                        (2 * x3 - 3 * x2 + 1) * y0
                        + (x3 - 2 * x2 + x) * m0
                        + (-2 * x3 + 3 * x2) * y1
                        + (x3 - x2) * m1
                    )
                    kc_rho = (
                        (6 * x2 - 6 * x) * y0
                        + (3 * x2 - 4 * x + 1) * m0
                        + (-6 * x2 + 6 * x) * y1
                        + (3 * x2 - 2 * x) * m1
                    ) / h
                kc_t = kc_rho * dr
            mu = mu_pat[i]
            e = math.exp(-mu * kc)
            qs = q0[s, k]  # constant in k when R is monotone; exact at the nodes otherwise
            pl, pl_rho = kn.local_detection(res_pat[i] * qs, m_loc * qs * math.exp(-rho))
            ws = w[s]
            out[i, 0] += ws * e * (1.0 - pl)
            out[i, 1] += ws * e * pl_rho * dr
            out[i, 2] += ws * e * mu * kc_t * (1.0 - pl)


def individual_terms(
    times_days: ArrayLike,
    patients: PatientArrays | pd.DataFrame | Sequence[Patient],
    mechanism: Mechanism,
    *,
    n_lapse_draws: int = FIT_DRAWS,
    seed: int = 0,
    grid_days: float | None = None,
) -> pd.DataFrame:
    """``S_rec`` and the cause-specific densities of each patient at the patient's own time.

    The kernels are computed on a shared uniform grid (step ``grid_days``; by default the
    largest step on which the log mean clone size grows by at most ``GRID_DRHO``) and
    interpolated in ``rho`` (where they are smooth: cubic Hermite with the exact
    ``rho``-derivatives), with ``rho`` itself evaluated exactly at each time and schedule. The
    margin clone's probability is evaluated exactly. If some phase has negative growth
    (``r < 0``), the kernels are instead evaluated exactly at every distinct patient time.

    Parameters
    ----------
    times_days : array_like
        One time per patient (days since surgery, >= 0).
    patients, mechanism, n_lapse_draws, seed
        As in :func:`survival_matrix`.
    grid_days : float, optional
        Step of the shared grid (days).

    Returns
    -------
    pandas.DataFrame
        Columns ``recurrence_free`` (``S_rec(t_i)``), ``density_local``,
        ``density_distant`` (per day: ``f_j(t) = d/dt P(first recurrence by t is of type
        j)``, without other-cause death), in the patients' order.
    """
    _check_without_spread(mechanism)
    pa = as_patient_arrays(patients)
    mech = mechanism
    t = np.asarray(times_days, dtype=np.float64).ravel()
    if t.shape != (len(pa),) or not np.isfinite(t).all() or (t < 0).any():
        raise RemnantInputError("times_days", "one finite time >= 0 (days) per patient", t.shape)
    t_max = max(float(t.max()), 1.0)
    uniforms = lapse_uniforms(n_lapse_draws, seed)
    sch = lapse_schedules(mech.lapse_rate_per_year, mech.lapse_days, t_max, uniforms)
    sched, dips = _sched_vector(mech)
    out = np.zeros((len(pa), 3))
    for grp in patient_classes(pa):
        setup = class_setup(mech, grp.cancer, grp.grade, grp.immunity)
        step = grid_days
        if step is None:
            step = GRID_DRHO / max(setup.r_max, 1e-3)
        grid = np.unique(np.append(np.arange(0.0, t_max, step), t_max))
        ck = class_kernels(mech, grp.cancer, grp.grade, grp.immunity, grid, sch)
        on_grid = False
        if not ck.monotone:
            grid = np.unique(np.append(t[grp.members], t_max))
            ck = class_kernels(mech, grp.cancer, grp.grade, grp.immunity, grid, sch)
            on_grid = True
        mu = dormant_means(pa, mech, ck.setup, grp.members)
        res = np.array([mech.residual_cells[str(m)] for m in pa.margin[grp.members]])
        sub = np.zeros((len(grp.members), 3))
        _patient_terms(
            t[grp.members],
            mu,
            res,
            ck.times,
            ck.rho,
            ck.kc,
            ck.kc_t,
            ck.kc_rho,
            ck.q0,
            ck.weights,
            ck.starts_flat,
            ck.starts_off,
            dips,
            sched,
            ck.setup.vec,
            float(mech.detection_cells_local),
            on_grid,
            sub,
        )
        out[grp.members] = sub
    return pd.DataFrame(
        {"recurrence_free": out[:, 0], "density_local": out[:, 1], "density_distant": out[:, 2]}
    )


_EVENT_CODES = {
    "local": "local",
    "distant": "distant",
    "recurrence": "any",
    "none": "censored",
    "censored": "censored",
    "death": "death",
}


def _event_kinds(events: Any, n: int) -> np.ndarray:
    ev = np.asarray(events).ravel()
    if ev.shape != (n,):
        raise RemnantInputError("events", f"one event per patient ({n})", ev.shape)
    if ev.dtype.kind in "biuf":
        if not np.isin(ev, [0, 1]).all():
            raise RemnantInputError("events", "0 (censored) or 1 (recurrence)", ev)
        return np.where(ev.astype(bool), "any", "censored")
    kinds = np.array([_EVENT_CODES.get(str(e), "") for e in ev])
    if (kinds == "").any():
        raise RemnantInputError("events", "one of " + ", ".join(_EVENT_CODES), ev[kinds == ""][0])
    return kinds


def log_likelihood(
    times_days: ArrayLike,
    events: ArrayLike,
    patients: PatientArrays | pd.DataFrame | Sequence[Patient],
    mechanism: Mechanism,
    *,
    n_lapse_draws: int = FIT_DRAWS,
    seed: int = 0,
    grid_days: float | None = None,
    include_mortality: bool = False,
) -> float:
    """Log-likelihood of right-censored recurrence data under the model.

    For patient ``i`` followed to ``t_i`` (days):

    * a recurrence at ``t_i`` contributes ``log f(t_i)``, with ``f = f_local + f_distant`` the
      density of the first recurrence (events 1 or ``"recurrence"``), or the cause-specific
      ``log f_local(t_i)`` / ``log f_distant(t_i)`` when the site is given (``"local"``,
      ``"distant"``);
    * a censored follow-up (0, ``"none"``, ``"censored"``, or ``"death"`` from another cause)
      contributes ``log S_rec(t_i)``.

    Other-cause death is independent of recurrence, so it is treated as censoring and this is
    the full likelihood of the recurrence mechanism. With ``include_mortality=True`` the
    terms of the death process are added: ``log S_death(t_i)`` for every patient and
    ``log h_death(t_i)`` for deaths (constant in the recurrence parameters).

    ``S_rec`` and the densities come from :func:`individual_terms`: analytic densities,
    with the kernels interpolated in ``rho`` from a grid of step ``grid_days``.

    Returns
    -------
    float
        The log-likelihood (``-inf`` if an observed event has zero density).
    """
    _check_without_spread(mechanism)
    pa = as_patient_arrays(patients)
    kinds = _event_kinds(events, len(pa))
    terms = individual_terms(
        times_days, pa, mechanism, n_lapse_draws=n_lapse_draws, seed=seed, grid_days=grid_days
    )
    s = terms["recurrence_free"].to_numpy()
    fl = terms["density_local"].to_numpy()
    fd = terms["density_distant"].to_numpy()
    value = np.where(
        kinds == "any",
        fl + fd,
        np.where(kinds == "local", fl, np.where(kinds == "distant", fd, s)),
    )
    with np.errstate(divide="ignore"):
        total = float(np.log(value).sum())
    if include_mortality:
        t = np.asarray(times_days, dtype=np.float64).ravel()
        total += float(np.log(death_survival(t, pa.age, mechanism)).sum())
        dead = kinds == "death"
        total += float(np.log(death_hazard(t[dead], pa.age[dead], mechanism)).sum())
    return total


def dormant_seeds(pa: PatientArrays, mech: Mechanism) -> np.ndarray:
    """Mean number of seeds asleep at surgery, ``mu_D``, per patient (docs/model.md, 1.2)."""
    out = np.empty(len(pa))
    for grp in patient_classes(pa):
        setup = class_setup(mech, grp.cancer, grp.grade, grp.immunity)
        out[grp.members] = dormant_means(pa, mech, setup, grp.members)
    return out
