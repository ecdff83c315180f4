"""Survival and densities at each patient's own time, and the right-censored log-likelihood.

``individual_terms(patients, mechanism, times_days)`` gives ``S_rec(t_i)``, ``f_local(t_i)``
and ``f_distant(t_i)``; ``log_likelihood(patients, mechanism, times_days, events)`` sums
``log f`` over events and ``log S`` over censored patients (docs/likelihood.md, section 10).
Units: days, per-day densities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from numpy.typing import ArrayLike

from remnant.errors import RemnantInputError
from remnant.likelihood import kernels as kn
from remnant.likelihood.classes import (
    _sched_vector,
    class_kernels,
    class_setup,
)
from remnant.likelihood.cohort import PatientArrays, as_patient_arrays
from remnant.likelihood.mortality import death_hazard, death_survival
from remnant.likelihood.schedules import (
    lapse_schedules,
    lapse_uniforms,
)
from remnant.likelihood.survival import (
    LIKELIHOOD_DRAWS,
    _check_without_spread,
    dormant_means,
    patient_classes,
)
from remnant.model.parameters import Mechanism, Patient

GRID_DRHO = 0.25  # default likelihood grid: at most this much growth of R per step


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
    patients: PatientArrays | pd.DataFrame | Sequence[Patient],
    mechanism: Mechanism,
    times_days: ArrayLike,
    *,
    n_lapse_draws: int = LIKELIHOOD_DRAWS,
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
    patients, mechanism
        As in :func:`remnant.likelihood.survival_matrix` (the same order of arguments).
    times_days : array_like
        One time per patient (days since surgery, >= 0).
    n_lapse_draws, seed
        As in :func:`remnant.likelihood.survival_matrix`.
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
    patients: PatientArrays | pd.DataFrame | Sequence[Patient],
    mechanism: Mechanism,
    times_days: ArrayLike,
    events: ArrayLike,
    *,
    n_lapse_draws: int = LIKELIHOOD_DRAWS,
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
        pa, mechanism, times_days, n_lapse_draws=n_lapse_draws, seed=seed, grid_days=grid_days
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
