"""The kernels of one dynamics class (cancer, grade, baseline immunity) on one time grid.

A class's patients share the clone's birth-death law and the immune trajectory, so their
kernels (the detection kernels of dormant and woken seeds, the margin clone's extinction and
growth) are computed once per class and lapse schedule (:func:`class_kernels`), then mixed
over the schedules (docs/likelihood.md, sections 2-6). Units: days, cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from remnant.errors import RemnantInputError
from remnant.likelihood import kernels as kn
from remnant.likelihood.schedules import (
    Schedules,
)
from remnant.model.mechanisms import derive, dip_multiplier, wake_rate
from remnant.model.parameters import Mechanism, Patient

GL_ORDER = 5  # Gauss-Legendre nodes per panel
PANEL_DZ = 2.0  # panel width in units of R (log mean clone size)


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
