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
* :func:`dormant_seeds` -- the mean number of seeds asleep at surgery per patient.

The kernels of one class: :mod:`.classes`; survival and densities at each patient's own time
and the right-censored log-likelihood: :mod:`.terms`.

Units: days for times, per-day densities and hazards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit
from numpy.typing import ArrayLike

from remnant.errors import RemnantInputError
from remnant.likelihood.classes import (
    ClassKernels,
    ClassSetup,
    _grid,
    _mixture,
    _with_end,
    class_kernels,
    class_setup,
    local_table,
)
from remnant.likelihood.cohort import FIELDS, PatientArrays, as_patient_arrays, seeds_dormant
from remnant.likelihood.mortality import death_survival
from remnant.likelihood.schedules import (
    lapse_schedules,
    lapse_uniforms,
)
from remnant.model.parameters import Mechanism, Patient
from remnant.model.units import DAYS_PER_YEAR

DEFAULT_DRAWS = 256  # lapse schedules (randomised QMC), population_survival
LIKELIHOOD_DRAWS = 128  # survival_matrix, individual_terms, log_likelihood
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


def _check_without_spread(mech: Mechanism | None) -> None:
    """The direct likelihood takes every patient at its recorded immunity: a mechanism with a
    spread or a scale of immunity (a calibrated model) is integrated by ``remnant.inference``'s
    kernel table instead."""
    if mech is not None and (
        mech.immune_spread > 0.0 or mech.immune_scale != 1.0 or mech.growth_spread > 0.0
    ):
        raise RemnantInputError(
            "mechanism",
            "immune_spread 0, immune_scale 1 and growth_spread 0 here; a calibrated model's "
            "spreads are integrated by the fit's kernel table (RemnantFit.curves)",
            f"immune_spread {mech.immune_spread:g}, immune_scale {mech.immune_scale:g}, "
            f"growth_spread {mech.growth_spread:g}",
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
        times_days = np.arange(0.0, 10.0 + 1e-9, 0.5) * DAYS_PER_YEAR
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


@dataclass(frozen=True)
class PatientClass:
    cancer: str
    grade: int
    immunity: float
    members: np.ndarray  # patient indices


def patient_classes(pa: PatientArrays) -> list[PatientClass]:
    """Patients grouped by dynamics class (cancer, grade, baseline immunity), sorted by
    class; each class's members in their order."""
    n = len(pa)
    if n == 0:
        return []
    names, cancer = np.unique(np.asarray(pa.cancer).astype(str), return_inverse=True)
    grade = np.asarray(pa.grade).astype(np.int64)
    immunity = np.asarray(pa.immunity, dtype=np.float64)
    order = np.lexsort((immunity, grade, cancer))  # stable: members stay in their order
    c, g, i = cancer[order], grade[order], immunity[order]
    first = np.ones(n, dtype=bool)
    first[1:] = (c[1:] != c[:-1]) | (g[1:] != g[:-1]) | (i[1:] != i[:-1])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], n)
    return [
        PatientClass(str(names[c[a]]), int(g[a]), float(i[a]), order[a:b])
        for a, b in zip(starts, ends, strict=True)
    ]


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
    n_lapse_draws: int = LIKELIHOOD_DRAWS,
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


def dormant_seeds(pa: PatientArrays, mech: Mechanism) -> np.ndarray:
    """Mean number of seeds asleep at surgery, ``mu_D``, per patient (docs/model.md, 1.2)."""
    out = np.empty(len(pa))
    for grp in patient_classes(pa):
        setup = class_setup(mech, grp.cancer, grp.grade, grp.immunity)
        out[grp.members] = dormant_means(pa, mech, setup, grp.members)
    return out
