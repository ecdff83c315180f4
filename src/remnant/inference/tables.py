"""Kernel tables: the likelihood face tabulated once per fit, evaluated per patient.

A fit moves each patient's four *predictors* (docs/fit.md):

* ``log mu``: log of the mean number of seeds asleep at surgery (the distant burden);
* ``log res``: log of the margin's residual cells (the local burden);
* ``log I0``: log of the baseline immunity (the class's kill and waking rates);
* ``log a``: log of the clock speed of the patient's disease after surgery (``a = 2`` runs the
  kernels twice as fast: ``Lambda(t) = mu K(a t)``);

and one shared spread ``sigma`` of ``log I0`` around the patient's value. The kernels of
:mod:`remnant.likelihood` depend on ``I0`` and ``t`` only, so they are computed once for a grid
of ``log2 I0`` (step ``1/8``) and ``t`` (step ``dt`` days), linear in time; ``mu`` and ``res``
enter in closed form. A patient at one ``log I0`` is interpolated in ``log2 I0`` by a limited
cubic; with a spread, the integrand on the table's rows (or, with ``sub_rows = 2``, also on
the limited cubic's midpoints) is weighted by the Gaussian expectation of each row's hat
function (exact for an integrand linear between them).

For patient ``i``, lapse schedule ``s`` (weight ``w_s``) and table row ``r`` (weight
``W_r(log I0_i, sigma)``, or the point interpolation without a spread):
``S_i(t) = sum_r W_r sum_s w_s exp(-mu_i kc_rs(a_i t)) (1 - P_L,rs(a_i t))`` and the densities
of local and distant recurrence follow by differentiating in ``t`` (docs/fit.md, section 2).

Units: days, cells.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

from remnant.errors import RemnantInputError
from remnant.inference import table_store
from remnant.likelihood import kernels as kn
from remnant.likelihood.cohort import PatientArrays
from remnant.likelihood.schedules import lapse_schedules, lapse_uniforms
from remnant.likelihood.survival import (
    class_kernels,
    class_setup,
    dormant_means,
    patient_classes,
)
from remnant.machine import available_cores
from remnant.model.parameters import IMMUNITY_FLOOR, Mechanism

LOG2_I0_MIN = math.log2(IMMUNITY_FLOOR)  # I0 = 1/32: the model's weakest baseline immunity
# 1/8: midway between rows the limited cubic departs from the likelihood by at most 0.005
# (0.037 with a step of 1/4, where immunity clears every clone; docs/fit.md, section 2)
LOG2_I0_STEP = 0.125
SPREAD_SUB_ROWS = 1  # the spread path integrates over the rows (2: also the cubic's midpoints)
# Positions in a patient's vector of the compiled loops: the predictors, the spread and the
# immune band's bounds (standard normal quantiles).
X_MU, X_RES, X_I0, X_A, X_SIGMA, X_ZLO, X_ZHI = range(7)
LOG2_I0_MAX = 4.0  # never reached: the table stops above the immunity that clears every clone
TABLE_YEARS = 80.0  # kernels beyond (a t > 80 years) are held at their last value
TABLE_STEP_DAYS = 7.0
FIT_DRAWS = 16  # lapse schedules (randomised QMC) while fitting
# Immune changes (dip steps, lapse onsets) switch growth rates instantly, so each schedule's
# detection rate jumps; a finite set of schedules then makes the likelihood step-wise in the
# clock speed. The tabulated rates are smoothed with a Gaussian of this sd (days), i.e. every
# immune change takes about a month, and the cumulative kernels re-integrated from them.
SMOOTH_DAYS = 14.0
LOG_A_MAX = 6.0  # the clock speed is clamped to e^+-6: beyond, nothing moves with log a
N_TAB = 5  # tabulated quantities: kc, d kc/dt, rho, d rho/dt, q0
T_KC, T_KCT, T_RHO, T_DRHO, T_Q0 = range(N_TAB)


@dataclass(frozen=True)
class KernelTable:
    """Kernels of one cancer on a grid of grade x log2 I0 x schedule x time.

    Attributes
    ----------
    cancer : str
    grades : tuple of int
        Grades tabulated (index ``g`` of ``values``).
    log2_i0 : ndarray
        Grid of ``log2 I0`` (uniform, step ``LOG2_I0_STEP``).
    dt : float
        Time step (days); the time grid is ``0, dt, 2 dt, ...``.
    weights : ndarray
        Schedule weights (sum 1).
    values : ndarray, shape (n_grades, n_i0, n_schedules, N_TAB, n_times)
    m_local : float
        Detection size of the margin clone (cells).
    sub_rows : int
        Points per row step on which the spread path integrates: 1 (the rows) or 2 (the rows
        and the limited cubic's midpoints).
    """

    cancer: str
    grades: tuple[int, ...]
    log2_i0: np.ndarray
    dt: float
    weights: np.ndarray
    values: np.ndarray
    m_local: float
    sub_rows: int = SPREAD_SUB_ROWS

    @property
    def by_time(self) -> np.ndarray:
        """``values`` with time second, shape (n_grades, n_times, n_i0, n_schedules, N_TAB):
        one time's rows and schedules are contiguous (the spread path reads them at once)."""
        cached = self.__dict__.get("_by_time")
        if cached is None:
            cached = np.ascontiguousarray(np.moveaxis(self.values, 4, 1))
            self.__dict__["_by_time"] = cached
        return cached

    @property
    def geometry(self) -> np.ndarray:
        """``(log2 I0 of row 0, its step, dt, M_L, sub_rows)`` for the compiled loops."""
        step = float(self.log2_i0[1] - self.log2_i0[0])
        return np.array([float(self.log2_i0[0]), step, self.dt, self.m_local, self.sub_rows])

    def curves(
        self,
        times: np.ndarray,
        eta: np.ndarray,
        sigma: float,
        grade_index: np.ndarray,
        spread: bool,
        band_z: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(S_rec, f_local, f_distant)`` per patient and time, shape (n, n_times, 3).

        ``eta`` holds the predictors ``log mu, log res, log I0, log a`` (shape (4, n));
        with ``spread``, ``log I0`` is ``log I0 + sigma Z`` between patients, ``Z`` standard
        normal within each patient's band (``band_z``, shape (2, n): the band's bounds as
        normal quantiles; default the whole line), integrated over the table rows; without,
        each patient sits at its own ``log I0``.
        """
        t = np.asarray(times, dtype=np.float64)
        out = np.zeros((eta.shape[1], t.shape[0], 3))
        if band_z is None:
            band_z = whole_bands(eta.shape[1])
        _curves(
            t,
            eta,
            sigma,
            np.ascontiguousarray(band_z, dtype=np.float64),
            grade_index,
            spread,
            self.values,
            self.by_time if spread else self.values,
            self.weights,
            self.geometry,
            out,
        )
        return out

    def log_terms(
        self,
        time: np.ndarray,
        event: np.ndarray,
        eta: np.ndarray,
        sigma: float,
        grade_index: np.ndarray,
        spread: bool,
        active: np.ndarray,
        *,
        with_grad: bool,
        step: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-patient log-likelihood terms and their derivatives in the five predictors.

        The first array is ``log f(t_i)`` for an event (``event = 1``) or ``log S(t_i)``;
        the second, shape (n, 5), its central differences (``step``) in ``log mu, log res,
        log I0, log a, sigma``, computed where ``active`` is true (0 elsewhere).
        """
        n = time.shape[0]
        out = np.zeros(n)
        grad = np.zeros((n, 5))
        tabt = self.by_time if spread else self.values
        geom = self.geometry

        def run(lo: int, hi: int) -> None:
            _log_terms(
                time[lo:hi],
                event[lo:hi],
                eta[:, lo:hi],
                sigma,
                grade_index[lo:hi],
                spread,
                self.values,
                tabt,
                self.weights,
                geom,
                step,
                active,
                with_grad,
                out[lo:hi],
                grad[lo:hi],
            )

        # patients are independent: contiguous blocks on threads (the compiled loop releases
        # the GIL), the same numbers whatever the number of threads
        bounds = np.linspace(0, n, _threads(n) + 1).astype(int)
        if len(bounds) == 2:
            run(0, n)
        else:
            list(_pool().map(run, bounds[:-1], bounds[1:]))
        return out, grad


MIN_BLOCK = 256  # patients per thread below which threads cost more than they save
# tables kept by build_table: about 160 MB per grade (51-56 rows x 17 schedules x 5 x 4176
# times), twice that once the time-major copy is taken; two cover a fit and its folds
MAX_CACHED_TABLES = 2
_TABLES: collections.OrderedDict[tuple[object, ...], KernelTable] = collections.OrderedDict()
_TABLES_LOCK = threading.Lock()


def _threads(n: int) -> int:
    return max(1, min(available_cores(), n // MIN_BLOCK))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=available_cores())


def build_table(
    mech: Mechanism,
    cancer: str,
    grades: tuple[int, ...] = (2,),
    *,
    n_draws: int = FIT_DRAWS,
    seed: int = 0,
    dt: float = TABLE_STEP_DAYS,
    years: float = TABLE_YEARS,
    sub_rows: int = SPREAD_SUB_ROWS,
) -> KernelTable:
    """Tabulate the kernels of ``cancer`` under ``mech`` (about 0.05 s per grid node).

    A table depends only on its arguments, so the process keeps the latest
    :data:`MAX_CACHED_TABLES` (read-only) and returns the same object when asked again:
    the folds of a cross-validation, and the fits of one cohort, tabulate once; and it is
    stored on disk for later processes (:mod:`remnant.inference.table_store`).

    The ``I0`` grid runs upwards from ``2**LOG2_I0_MIN`` and stops at the first node whose
    clones never reach detection within the table (immunity clears them); above it the last
    node is used. ``sub_rows`` (1 or 2): points per row step for the spread integral.
    """
    if sub_rows not in (1, 2):
        raise RemnantInputError("sub_rows", "1 or 2", sub_rows)
    key = (
        json.dumps(dataclasses.asdict(mech), sort_keys=True, default=repr),
        cancer,
        tuple(int(g) for g in grades),
        int(n_draws),
        int(seed),
        float(dt),
        float(years),
        int(sub_rows),
    )
    with _TABLES_LOCK:
        table = _TABLES.get(key)
        if table is not None:
            _TABLES.move_to_end(key)
            return table
    table = table_store.load(key)
    if table is None:
        table = _tabulate(mech, cancer, grades, n_draws, seed, dt, years, sub_rows)
        table_store.save(key, table)
    # read-only: one table serves every fit in the process that asks for the same kernels
    table.values.flags.writeable = False
    table.weights.flags.writeable = False
    with _TABLES_LOCK:
        _TABLES[key] = table
        while len(_TABLES) > MAX_CACHED_TABLES:
            _TABLES.popitem(last=False)
    return table


def clear_tables() -> None:
    """Forget the tables :func:`build_table` keeps (the next call tabulates afresh)."""
    with _TABLES_LOCK:
        _TABLES.clear()


def _tabulate(
    mech: Mechanism,
    cancer: str,
    grades: tuple[int, ...],
    n_draws: int,
    seed: int,
    dt: float,
    years: float,
    sub_rows: int,
) -> KernelTable:
    """The work of :func:`build_table`: every row of every grade, from the schedules."""
    times = np.arange(0.0, years * 365.25 + dt, dt)
    sch = lapse_schedules(
        mech.lapse_rate_per_year, mech.lapse_days, float(times[-1]), lapse_uniforms(n_draws, seed)
    )
    n_s = len(sch.weights)

    def grade_rows(grade: int) -> list[np.ndarray]:
        rows = []
        x = LOG2_I0_MIN
        while x <= LOG2_I0_MAX + 1e-9:
            ck = class_kernels(mech, cancer, grade, 2.0**x, times, sch)
            arr = np.empty((n_s, N_TAB, times.shape[0]))
            arr[:, T_KC] = ck.kc
            arr[:, T_KCT] = ck.kc_t
            arr[:, T_RHO] = ck.rho
            arr[:, T_DRHO] = ck.drho
            arr[:, T_Q0] = ck.q0
            _smooth(arr, dt)
            rows.append(arr)
            if ck.kc[:, -1].max() <= 0.0 and not ck.monotone:
                break
            x += LOG2_I0_STEP
        return rows

    # grades are independent (the compiled schedules release the GIL): one thread each
    per_grade = list(_pool().map(grade_rows, grades))
    n_i0 = max(len(rows) for rows in per_grade)
    values = np.empty((len(grades), n_i0, n_s, N_TAB, times.shape[0]))
    for g, rows in enumerate(per_grade):
        for j in range(n_i0):
            values[g, j] = rows[min(j, len(rows) - 1)]
    log2_i0 = LOG2_I0_MIN + LOG2_I0_STEP * np.arange(n_i0)
    return KernelTable(
        cancer=cancer,
        grades=tuple(int(g) for g in grades),
        log2_i0=log2_i0,
        dt=float(dt),
        weights=np.asarray(sch.weights, dtype=np.float64),
        values=values,
        m_local=float(mech.detection_cells_local),
        sub_rows=int(sub_rows),
    )


def _smooth(arr: np.ndarray, dt: float) -> None:
    # rates smoothed in time, cumulative kernels re-integrated (trapezoid) so kc' = kc_t
    from scipy.integrate import cumulative_trapezoid
    from scipy.ndimage import gaussian_filter1d

    if SMOOTH_DAYS <= 0:
        return
    for rate, cum in ((T_KCT, T_KC), (T_DRHO, T_RHO)):
        sm = gaussian_filter1d(arr[:, rate], SMOOTH_DAYS / dt, axis=-1, mode="nearest")
        arr[:, rate] = sm
        arr[:, cum] = arr[:, cum, :1] + cumulative_trapezoid(sm, dx=dt, axis=-1, initial=0.0)


def whole_bands(n: int) -> np.ndarray:
    """Immune bands covering the whole population for ``n`` patients, shape (2, n)."""
    return np.vstack([np.full(n, -np.inf), np.full(n, np.inf)])


def dormant_seeds(pa: PatientArrays, mech: Mechanism) -> np.ndarray:
    """Mean number of seeds asleep at surgery, ``mu_D``, per patient (docs/model.md, 1.2)."""
    out = np.empty(len(pa))
    for grp in patient_classes(pa):
        setup = class_setup(mech, grp.cancer, grp.grade, grp.immunity)
        out[grp.members] = dormant_means(pa, mech, setup, grp.members)
    return out


@njit(cache=True, inline="always")
def _limited_slope(left: float, right: float) -> float:
    if left * right <= 0.0:
        return 0.0
    m = 0.5 * (left + right)
    cap = 3.0 * min(abs(left), abs(right))
    return min(m, cap) if m > 0.0 else max(m, -cap)


@njit(cache=True, inline="always")
def _interp(
    tab: np.ndarray, g: int, rows: np.ndarray, wr: np.ndarray, s: int, v: int, k: int, fu: float
) -> float:
    # Cubic Hermite in log2 I0 with Catmull-Rom slopes (central differences) limited as in
    # Fritsch & Carlson 1980 (SIAM J Numer Anal 17:238): zero at a local extremum, at most
    # three times the smaller neighbouring difference. Where the data are smooth this is
    # Catmull-Rom; where a kernel falls to zero at the clearing level it cannot overshoot
    # below zero, so no clamp bends the likelihood (a kink there breaks the Hessian of
    # patients with high immunity). Cubic in time (_time_weights).
    c0, c1, c2, c3, w0, w1, w2, w3 = _time_weights(k, fu, tab.shape[4])
    q = tab[g, rows[0], s, v]
    p0 = w0 * q[c0] + w1 * q[c1] + w2 * q[c2] + w3 * q[c3]
    q = tab[g, rows[1], s, v]
    p1 = w0 * q[c0] + w1 * q[c1] + w2 * q[c2] + w3 * q[c3]
    q = tab[g, rows[2], s, v]
    p2 = w0 * q[c0] + w1 * q[c1] + w2 * q[c2] + w3 * q[c3]
    q = tab[g, rows[3], s, v]
    p3 = w0 * q[c0] + w1 * q[c1] + w2 * q[c2] + w3 * q[c3]
    d0 = p1 - p0
    d1 = p2 - p1
    d2 = p3 - p2
    m1 = _limited_slope(d0, d1)
    m2 = _limited_slope(d1, d2)
    return wr[0] * p1 + wr[1] * m1 + wr[2] * p2 + wr[3] * m2


@njit(cache=True, inline="always")
def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) * 0.3989422804014327


@njit(cache=True, inline="always")
def _cdf(z: float) -> float:
    return 0.5 * math.erfc(-z * 0.7071067811865476)


@njit(cache=True, inline="always")
def _n_points(n_i0: int, geom: np.ndarray) -> int:
    # points of the spread integral: the rows, and with sub_rows = 2 the midpoints between
    return int(geom[4]) * (n_i0 - 1) + 1


@njit(cache=True)
def _gather(
    tabt: np.ndarray,
    g: int,
    k: int,
    fu: float,
    buf: np.ndarray,
    slope: float = 0.0,
    dbuf: np.ndarray | None = None,
) -> None:
    # the tabulated quantities at one time (cubic in time: _time_weights), once per patient,
    # from the time-major table, on the rows (buf has one entry per row) or on half rows
    # (even entries the rows, odd ones the midpoints of the limited cubic of _interp). The
    # spread path then takes the value and the predictors' central differences from buf.
    # With dbuf, also the rows' derivatives in log a: slope = d u / d log a = a t / dt (0
    # beyond the table, where the kernels are held), times the weights' derivatives in u.
    c0, c1, c2, c3, w0, w1, w2, w3 = _time_weights(k, fu, tabt.shape[1])
    t0 = tabt[g, c0]
    t1 = tabt[g, c1]
    t2 = tabt[g, c2]
    t3 = tabt[g, c3]
    top = t1.shape[0] - 1
    sub = (buf.shape[0] - 1) // top if top > 0 else 1
    for r in range(top + 1):
        for s in range(t1.shape[1]):
            for v in range(t1.shape[2]):
                buf[sub * r, s, v] = (
                    w0 * t0[r, s, v] + w1 * t1[r, s, v] + w2 * t2[r, s, v] + w3 * t3[r, s, v]
                )
    if dbuf is not None:
        d0, d1, d2, d3 = _time_weight_slopes(fu)
        d0, d1, d2, d3 = slope * d0, slope * d1, slope * d2, slope * d3
        for r in range(top + 1):
            for s in range(t1.shape[1]):
                for v in range(t1.shape[2]):
                    dbuf[sub * r, s, v] = (
                        d0 * t0[r, s, v] + d1 * t1[r, s, v] + d2 * t2[r, s, v] + d3 * t3[r, s, v]
                    )
    _midpoints(buf, top, sub)


@njit(cache=True)
def _midpoints(buf: np.ndarray, top: int, sub: int) -> None:
    # with half rows (sub = 2): the limited cubic's midpoints from the rows around them
    if sub == 1:
        return
    for r in range(top):
        for s in range(buf.shape[1]):
            for v in range(buf.shape[2]):
                p0 = buf[2 * max(r - 1, 0), s, v]
                p1 = buf[2 * r, s, v]
                p2 = buf[2 * r + 2, s, v]
                p3 = buf[2 * min(r + 2, top), s, v]
                m1 = _limited_slope(p1 - p0, p2 - p1)
                m2 = _limited_slope(p2 - p1, p3 - p2)
                buf[2 * r + 1, s, v] = 0.5 * (p1 + p2) + 0.125 * (m1 - m2)


@njit(cache=True)
def _shifted(buf: np.ndarray, dbuf: np.ndarray, step: float, sub: int, out: np.ndarray) -> None:
    # the rows at log a + step to first order (buf + step dbuf), then their midpoints: the
    # central difference over +-step is the derivative in log a up to O(step^2)
    top = (buf.shape[0] - 1) // sub
    for r in range(top + 1):
        for s in range(buf.shape[1]):
            for v in range(buf.shape[2]):
                out[sub * r, s, v] = buf[sub * r, s, v] + step * dbuf[sub * r, s, v]
    _midpoints(out, top, sub)


@njit(cache=True)
def _row_sums(
    lm: float,
    lr: float,
    a: float,
    buf: np.ndarray,
    w: np.ndarray,
    m_loc: float,
    out: np.ndarray,
    dout: np.ndarray,
    dbuf: np.ndarray,
    res_slope: bool,
    clock_slope: bool,
    a_moves: bool,
) -> None:
    # per (half) row: (S_rec, local density, distant density) summed over the schedules, for
    # seeds e^lm and residual cells e^lr, in out; their derivatives in closed form in dout
    # (n, 9): columns 0-2 in lm (mu enters through exp(-mu kc) and the distant density's
    # factor mu), with res_slope 3-5 in lr (the margin clone's detection in its mean number
    # of lineages, kn.local_detection_terms), with clock_slope 6-8 in log a (the rows move
    # along the column's derivative dbuf, and with a_moves the densities' factor a). buf
    # holds the rows' quantities at the patient's time.
    capped = lm > 30.0
    mu = math.exp(min(lm, 30.0))
    res = math.exp(min(lr, 12.0))
    res_moves = res_slope and lr < 12.0
    da = 1.0 if a_moves else 0.0
    for r in range(buf.shape[0]):
        s_tot = 0.0
        f_loc = 0.0
        f_dis = 0.0
        ds = 0.0
        dl = 0.0
        dd = 0.0
        rs = 0.0
        rl = 0.0
        rd = 0.0
        cs = 0.0
        cl = 0.0
        cd = 0.0
        for s in range(buf.shape[1]):
            kc = buf[r, s, T_KC]
            mk = mu * max(kc, 0.0)
            e = w[s] * math.exp(-mk)
            kct = mu * max(buf[r, s, T_KCT], 0.0) * a
            de = 0.0
            dkct = 0.0
            if clock_slope:
                de = -mu * e * dbuf[r, s, T_KC] if kc > 0.0 else 0.0
                dkct = kct * da
                if buf[r, s, T_KCT] > 0.0:
                    dkct += mu * dbuf[r, s, T_KCT] * a
            dpl_a = 0.0
            if res > 0.0:
                q0 = buf[r, s, T_Q0]
                q0c = min(max(q0, 0.0), 1.0)
                m = res * q0c
                erho = m_loc * math.exp(-buf[r, s, T_RHO])
                lam = erho * q0c
                pl, dens, at_k, below = kn.local_detection_terms(m, lam)
                plr = lam * dens
                drho = max(buf[r, s, T_DRHO], 0.0) * a
                fl = e * plr * drho
                f_loc += fl
                dl -= mk * fl
                if res_moves:
                    # d/dlr = m d/dm
                    rs -= e * m * at_k
                    rl += e * m * lam * (at_k - dens) * drho
                    rd -= e * kct * m * at_k
                if clock_slope:
                    dq = dbuf[r, s, T_Q0] if 0.0 < q0 < 1.0 else 0.0
                    dm = res * dq
                    dlam = erho * (dq - q0c * dbuf[r, s, T_RHO])
                    dpl_a = at_k * dm - dens * dlam
                    dplr_a = lam * (at_k - dens) * dm + (dens + lam * (below - dens)) * dlam
                    ddrho = drho * da
                    if buf[r, s, T_DRHO] > 0.0:
                        ddrho += dbuf[r, s, T_DRHO] * a
                    cl += de * plr * drho + e * dplr_a * drho + e * plr * ddrho
            else:
                pl = 0.0
            sv = e * (1.0 - pl)
            fd = e * kct * (1.0 - pl)
            s_tot += sv
            f_dis += fd
            ds -= mk * sv
            dd += (1.0 - mk) * fd
            if clock_slope:
                cs += de * (1.0 - pl) - e * dpl_a
                cd += (de * kct + e * dkct) * (1.0 - pl) - e * kct * dpl_a
        out[r, 0] = s_tot
        out[r, 1] = f_loc
        out[r, 2] = f_dis
        # beyond the cap on seeds (e^30) nothing moves
        dout[r, 0] = 0.0 if capped else ds
        dout[r, 1] = 0.0 if capped else dl
        dout[r, 2] = 0.0 if capped else dd
        dout[r, 3] = rs
        dout[r, 4] = rl
        dout[r, 5] = rd
        dout[r, 6] = cs
        dout[r, 7] = cl
        dout[r, 8] = cd


@njit(cache=True)
def _row_weights(
    li: float, sigma: float, z_lo: float, z_hi: float, geom: np.ndarray, out: np.ndarray
) -> None:
    # log I0 = li + sigma Z between patients, Z standard normal within (z_lo, z_hi) (an immune
    # band; -inf, inf: the whole population): the weight of each table row is the expectation
    # of its hat function, so the spread is integrated exactly for an integrand linear in
    # log2 I0 between rows (row values exact, no interpolation in I0), and the weights are
    # smooth in li and sigma. Each knot's standardised position is clipped to the band, so
    # the segments outside it carry no mass; the mass beyond the table's edges goes to the
    # edge rows, whose values hold there; the total is the band's mass.
    top = out.shape[0] - 1
    spacing = geom[1] / geom[4]  # out holds rows or half rows (_gather)
    m = (li / math.log(2.0) - geom[0]) / spacing
    sd = max(sigma / math.log(2.0) / spacing, 1e-9)
    cdf = np.empty(top + 1)
    pdf = np.empty(top + 1)
    for j in range(top + 1):
        z = min(max((j - m) / sd, z_lo), z_hi)
        cdf[j] = _cdf(z)
        pdf[j] = _phi(z)
    c_lo = _cdf(z_lo)
    mass = _cdf(z_hi) - c_lo
    for r in range(top + 1):
        wgt = (
            cdf[0] - c_lo
            if r == 0
            else (m - r + 1.0) * (cdf[r] - cdf[r - 1]) + sd * (pdf[r - 1] - pdf[r])
        )
        if r < top:
            up = (m - r) * (cdf[r + 1] - cdf[r]) + sd * (pdf[r] - pdf[r + 1])
            wgt += (cdf[r + 1] - cdf[r]) - up
        else:
            wgt += c_lo + mass - cdf[top]
        out[r] = max(wgt, 0.0) / mass


@njit(cache=True, inline="always")
def _mix(rows: np.ndarray, wts: np.ndarray) -> tuple[float, float, float]:
    s_tot = 0.0
    f_loc = 0.0
    f_dis = 0.0
    for r in range(rows.shape[0]):
        s_tot += wts[r] * rows[r, 0]
        f_loc += wts[r] * rows[r, 1]
        f_dis += wts[r] * rows[r, 2]
    return s_tot, f_loc, f_dis


@njit(cache=True)
def _one_spread(
    lm: float,
    lr: float,
    li: float,
    sigma: float,
    z_lo: float,
    z_hi: float,
    a: float,
    buf: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
) -> tuple[float, float, float]:
    # as _one, with log I0 = li + sigma Z between patients, Z within (z_lo, z_hi)
    # (_row_weights); only the rows the band gives weight are summed (a zero weight adds an
    # exact zero, so skipping those rows changes nothing)
    wts = np.empty(buf.shape[0])
    _row_weights(li, sigma, z_lo, z_hi, geom, wts)
    lo = 0
    while lo < wts.shape[0] - 1 and wts[lo] == 0.0:
        lo += 1
    hi = wts.shape[0]
    while hi > lo + 1 and wts[hi - 1] == 0.0:
        hi -= 1
    rows = np.empty((hi - lo, 3))
    drows = np.empty((hi - lo, 9))
    part = buf[lo:hi]
    _row_sums(lm, lr, a, part, w, geom[3], rows, drows, part, False, False, False)
    return _mix(rows, wts[lo:hi])


@njit(cache=True, inline="always")
def _time_weights(
    k: int, fu: float, n_t: int
) -> tuple[int, int, int, int, float, float, float, float]:
    # Catmull-Rom in time on columns k - 1 .. k + 2 (clamped at the table's ends): the
    # kernels are C1 in the clock-scaled time, so each patient's log-likelihood has a
    # continuous derivative in log a. Linear interpolation put a kink at every grid time,
    # and the finite-difference Hessian of a patient whose a t sat next to one spiked; a
    # clock moved by columns (one per patient) then gave indefinite Hessians.
    u2 = fu * fu
    u3 = u2 * fu
    w0 = 0.5 * (-u3 + 2.0 * u2 - fu)
    w1 = 0.5 * (3.0 * u3 - 5.0 * u2 + 2.0)
    w2 = 0.5 * (-3.0 * u3 + 4.0 * u2 + fu)
    w3 = 0.5 * (u3 - u2)
    return max(k - 1, 0), k, k + 1, min(k + 2, n_t - 1), w0, w1, w2, w3


@njit(cache=True, inline="always")
def _time_weight_slopes(fu: float) -> tuple[float, float, float, float]:
    # derivatives in u of the weights of _time_weights
    u2 = fu * fu
    return (
        0.5 * (-3.0 * u2 + 4.0 * fu - 1.0),
        0.5 * (9.0 * u2 - 10.0 * fu),
        0.5 * (-9.0 * u2 + 8.0 * fu + 1.0),
        0.5 * (3.0 * u2 - 2.0 * fu),
    )


@njit(cache=True, inline="always")
def _time_cell(t: float, la: float, dt: float, n_t: int) -> tuple[int, float, float]:
    # table column k and fraction fu of the clock-scaled time, and the clock speed a
    a = math.exp(min(max(la, -LOG_A_MAX), LOG_A_MAX))
    u = t * a / dt
    k = int(math.floor(u))
    if k >= n_t - 1:
        return n_t - 2, 1.0, a
    return k, u - k, a


@njit(cache=True)
def _one(
    t: float,
    x: np.ndarray,
    g: int,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
) -> tuple[float, float, float]:
    # (S_rec, local density, distant density) at t for one patient whose predictors are
    # x = (log mu, log res, log I0, log a, sigma, z_lo, z_hi): the predictors and the immune
    # band's bounds as normal quantiles (X_*); geom = (log2 I0 at row 0, its step, dt, M_L)
    lm, lr, li, la, sigma = x[X_MU], x[X_RES], x[X_I0], x[X_A], x[X_SIGMA]
    x0, dx, dt, m_loc = geom[0], geom[1], geom[2], geom[3]
    n_i0 = tab.shape[1]
    n_s = tab.shape[2]
    n_t = tab.shape[4]
    # clamp the predictors to where the model is meaningful (and the margin-clone sum stays
    # short): clock speed within e^+-6, residual cells <= e^12, seeds <= e^30
    lr = min(lr, 12.0)
    lm = min(lm, 30.0)
    k, fu, a = _time_cell(t, la, dt, n_t)
    mu = math.exp(lm)
    res = math.exp(lr)
    s_tot = 0.0
    f_loc = 0.0
    f_dis = 0.0
    if spread:
        buf = np.empty((_n_points(n_i0, geom), n_s, N_TAB))
        _gather(tabt, g, k, fu, buf)
        return _one_spread(lm, lr, li, sigma, x[X_ZLO], x[X_ZHI], a, buf, w, geom)
    # each patient at its own log I0: cubic in log2 I0 (_interp)
    rows = np.empty(4, dtype=np.int64)
    wr = np.empty(4)
    for _ in range(1):
        y = (li / math.log(2.0) - x0) / dx
        y = min(max(y, 0.0), n_i0 - 1.0)
        j = min(int(math.floor(y)), n_i0 - 2)
        fy = y - j
        for r in range(4):
            rows[r] = min(max(j - 1 + r, 0), n_i0 - 1)
        f2 = fy * fy
        f3 = f2 * fy
        # cubic Hermite basis on the cell (values at rows j, j + 1; slopes there)
        wr[0] = 2.0 * f3 - 3.0 * f2 + 1.0
        wr[1] = f3 - 2.0 * f2 + fy
        wr[2] = -2.0 * f3 + 3.0 * f2
        wr[3] = f3 - f2
        for s in range(n_s):
            kc = max(_interp(tab, g, rows, wr, s, T_KC, k, fu), 0.0)
            kct = max(_interp(tab, g, rows, wr, s, T_KCT, k, fu), 0.0)
            rho = _interp(tab, g, rows, wr, s, T_RHO, k, fu)
            drho = max(_interp(tab, g, rows, wr, s, T_DRHO, k, fu), 0.0)
            q0 = min(max(_interp(tab, g, rows, wr, s, T_Q0, k, fu), 0.0), 1.0)
            e = math.exp(-mu * kc)
            if res > 0.0:
                pl, plr = kn.local_detection(res * q0, m_loc * q0 * math.exp(-rho))
            else:
                pl = 0.0
                plr = 0.0
            ww = w[s]
            s_tot += ww * e * (1.0 - pl)
            f_dis += ww * e * mu * kct * a * (1.0 - pl)
            f_loc += ww * e * plr * drho * a
    return s_tot, f_loc, f_dis


@njit(cache=True)
def _log_term(
    t: float,
    ev: int,
    x: np.ndarray,
    g: int,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
) -> float:
    return _log_of(ev, _one(t, x, g, spread, tab, tabt, w, geom))


@njit(cache=True, inline="always")
def _value_of(ev: int, sff: tuple[float, float, float]) -> float:
    # the likelihood of one patient: the recurrence density (ev = 1) or the survival
    return sff[1] + sff[2] if ev == 1 else sff[0]


@njit(cache=True, inline="always")
def _log_of(ev: int, sff: tuple[float, float, float]) -> float:
    v = _value_of(ev, sff)
    return math.log(v) if v > 1e-300 else -690.8  # log(1e-300): an impossible event, finite


@njit(cache=True)
def _slope_column(
    tabt: np.ndarray,
    g: int,
    k: int,
    fu: float,
    slope: float,
    buf: np.ndarray,
    dbuf: np.ndarray,
    up: np.ndarray,
    down: np.ndarray,
) -> None:
    # the column (buf) and its derivative in log a (dbuf) on the rows; on half rows the
    # midpoints' derivative by central differences of the limited cubic (_shifted; up and
    # down are scratch of buf's shape)
    _gather(tabt, g, k, fu, buf, slope, dbuf)
    top = tabt.shape[2] - 1
    if top == 0 or buf.shape[0] - 1 == top:
        return
    sub = (buf.shape[0] - 1) // top
    h = 1e-4
    _shifted(buf, dbuf, h, sub, up)
    _shifted(buf, dbuf, -h, sub, down)
    for r in range(top):
        for s in range(buf.shape[1]):
            for v in range(buf.shape[2]):
                dbuf[2 * r + 1, s, v] = (up[2 * r + 1, s, v] - down[2 * r + 1, s, v]) / (2.0 * h)


@njit(cache=True, nogil=True)
def _log_terms(
    t: np.ndarray,
    ev: np.ndarray,
    eta: np.ndarray,
    sigma: float,
    gi: np.ndarray,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
    h: float,
    active: np.ndarray,
    with_grad: bool,
    out: np.ndarray,
    grad: np.ndarray,
) -> None:
    # spread of log I0: gather each patient's table column once and take the value and its
    # central differences from it (a moved clock from the column's derivative in log a)
    n_pts = _n_points(tab.shape[1], geom)
    buf = np.empty((n_pts, tab.shape[2], tab.shape[3]))
    dbuf = np.zeros((n_pts, tab.shape[2], tab.shape[3]))
    up = np.empty_like(buf)
    down = np.empty_like(buf)
    rows0 = np.empty((n_pts, 3))
    drows = np.empty((n_pts, 9))  # the rows' derivatives in log mu, log res and log a
    wts0 = np.empty(n_pts)
    wts1 = np.empty(n_pts)
    for i in range(t.shape[0]):
        x = np.array([eta[0, i], eta[1, i], eta[2, i], eta[3, i], sigma, -np.inf, np.inf])
        if spread:
            k, fu, a = _time_cell(t[i], x[X_A], geom[2], tab.shape[4])
            clock = with_grad and active[3]
            if clock:
                # held beyond the table and outside the clamp on log a: no slope there
                held = fu >= 1.0 or abs(x[X_A]) > LOG_A_MAX
                slope = 0.0 if held else t[i] * a / geom[2]
                _slope_column(tabt, gi[i], k, fu, slope, buf, dbuf, up, down)
            else:
                _gather(tabt, gi[i], k, fu, buf)
            # rows depend on (log mu, log res, log a), in closed form (log a through the
            # column's derivative); weights on (log I0, sigma), by central differences
            _row_sums(
                x[X_MU],
                x[X_RES],
                a,
                buf,
                w,
                geom[3],
                rows0,
                drows,
                dbuf,
                with_grad and active[1],
                clock,
                abs(x[X_A]) <= LOG_A_MAX,
            )
            _row_weights(x[X_I0], x[X_SIGMA], x[X_ZLO], x[X_ZHI], geom, wts0)
            sff = _mix(rows0, wts0)
            out[i] = _log_of(ev[i], sff)
            if not with_grad:
                continue
            for p in range(5):
                grad[i, p] = 0.0
            v = _value_of(ev[i], sff)
            if v > 1e-300:
                for p, col in ((0, 0), (1, 3), (3, 6)):
                    if active[p]:
                        grad[i, p] = _value_of(ev[i], _mix(drows[:, col : col + 3], wts0)) / v
            for p in (2, 4):
                if not active[p]:
                    continue
                for sgn in (1.0, -1.0):
                    liv = x[X_I0] + sgn * h if p == 2 else x[X_I0]
                    sgv = x[X_SIGMA] + sgn * h if p == 4 else x[X_SIGMA]
                    _row_weights(liv, sgv, x[X_ZLO], x[X_ZHI], geom, wts1)
                    grad[i, p] += sgn * _log_of(ev[i], _mix(rows0, wts1)) / (2.0 * h)
            continue
        out[i] = _log_term(t[i], ev[i], x, gi[i], spread, tab, tabt, w, geom)
        if not with_grad:
            continue
        for p in range(5):
            if not active[p]:
                grad[i, p] = 0.0
                continue
            xp = x.copy()
            xm = x.copy()
            xp[p] += h
            xm[p] -= h
            lp = _log_term(t[i], ev[i], xp, gi[i], spread, tab, tabt, w, geom)
            lq = _log_term(t[i], ev[i], xm, gi[i], spread, tab, tabt, w, geom)
            grad[i, p] = (lp - lq) / (2.0 * h)


@njit(cache=True, nogil=True)
def _curves(
    times: np.ndarray,
    eta: np.ndarray,
    sigma: float,
    band_z: np.ndarray,
    gi: np.ndarray,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(eta.shape[1]):
        x = np.array(
            [eta[0, i], eta[1, i], eta[2, i], eta[3, i], sigma, band_z[0, i], band_z[1, i]]
        )
        for k in range(times.shape[0]):
            s, fl, fd = _one(times[k], x, gi[i], spread, tab, tabt, w, geom)
            out[i, k, 0] = s
            out[i, k, 1] = fl
            out[i, k, 2] = fd
