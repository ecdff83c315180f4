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

The table's axes and the packed vectors' positions: :mod:`remnant.inference.table_layout`;
reading it at one time and immunity: :mod:`remnant.inference.table_lookup`; the spread of
immunity: :mod:`remnant.inference.immune_spread`; one patient's terms:
:mod:`remnant.inference.patient_terms`; tables kept on disk: :mod:`remnant.inference.table_store`.

Units: days, cells.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from remnant.errors import RemnantInputError
from remnant.inference import table_store
from remnant.inference.immune_spread import whole_bands
from remnant.inference.patient_terms import _curves, _log_terms
from remnant.inference.table_layout import (
    FIT_DRAWS,
    LOG2_I0_MAX,
    LOG2_I0_MIN,
    LOG2_I0_STEP,
    LOG_A_MAX,
    N_TAB,
    SMOOTH_DAYS,
    SPREAD_SUB_ROWS,
    T_DRHO,
    T_KC,
    T_KCT,
    T_Q0,
    T_RHO,
    TABLE_STEP_DAYS,
    TABLE_YEARS,
)
from remnant.likelihood.classes import class_kernels
from remnant.likelihood.schedules import lapse_schedules, lapse_uniforms
from remnant.machine import available_cores
from remnant.model.parameters import Mechanism
from remnant.model.units import DAYS_PER_YEAR


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
    grade_rows : tuple of int
        Rows of each grade's own (its last is the first whose clones never reach detection);
        a grade with fewer rows than ``values`` holds repeats its last row above them.
        Empty: every grade fills every row.
    """

    cancer: str
    grades: tuple[int, ...]
    log2_i0: np.ndarray
    dt: float
    weights: np.ndarray
    values: np.ndarray
    m_local: float
    sub_rows: int = SPREAD_SUB_ROWS
    grade_rows: tuple[int, ...] = ()

    def rows_of(self, grade: int) -> int:
        """The number of rows of ``grade``'s own."""
        i = self.grades.index(grade)
        return self.grade_rows[i] if self.grade_rows else int(self.values.shape[1])

    def one_grade(self, grade: int) -> KernelTable:
        """The table of ``grade`` alone, on its own rows (a view: nothing is copied)."""
        i = self.grades.index(grade)
        n = self.rows_of(grade)
        return dataclasses.replace(
            self,
            grades=(int(grade),),
            log2_i0=self.log2_i0[:n],
            values=self.values[i : i + 1, :n],
            grade_rows=(n,),
        )

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
        sigma: float | np.ndarray,
        grade_index: np.ndarray,
        spread: bool,
        band_z: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(S_rec, f_local, f_distant)`` per patient and time, shape (n, n_times, 3).

        ``eta`` holds the predictors ``log mu, log res, log I0, log a`` (shape (4, n));
        ``sigma`` the spread (one for all, or one per patient). With ``spread``, ``log I0``
        is ``log I0 + sigma Z`` between patients, ``Z`` standard
        normal within each patient's band (``band_z``, shape (2, n): the band's bounds as
        normal quantiles; default the whole line), integrated over the table rows; without,
        each patient sits at its own ``log I0``.
        """
        t = np.asarray(times, dtype=np.float64)
        n = eta.shape[1]
        if band_z is None:
            band_z = whole_bands(n)
        sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n,))
        # patients that differ only in their immunity side by side, in the order of their
        # bands' lower ends in log I0: neighbours whose bands overlap share the rows' sums
        # (_spread_curves); each patient's curves are its own, whatever the order
        with np.errstate(invalid="ignore"):  # sigma 0 with an open band
            lower = eta[2] + sig * band_z[0]
        order = np.lexsort((band_z[1], lower, eta[1], eta[0], eta[3], grade_index))
        eta_o = np.ascontiguousarray(eta[:, order], dtype=np.float64)
        sig_o = np.ascontiguousarray(sig[order])
        band_o = np.ascontiguousarray(band_z[:, order], dtype=np.float64)
        g_o = np.ascontiguousarray(np.asarray(grade_index)[order])
        out_o = np.zeros((n, t.shape[0], 3))
        tabt = self.by_time if spread else self.values
        geom = self.geometry

        def run(lo: int, hi: int) -> None:
            _curves(
                t,
                eta_o[:, lo:hi],
                sig_o[lo:hi],
                band_o[:, lo:hi],
                g_o[lo:hi],
                spread,
                self.values,
                tabt,
                self.weights,
                geom,
                out_o[lo:hi],
            )

        # a cohort's patients in blocks on threads (an explanation's few patients in one)
        _in_blocks(run, n, max(1, min(available_cores(), (n * t.shape[0]) // MIN_CURVE_BLOCK)))
        out = np.empty_like(out_o)
        out[order] = out_o
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
        the second, shape (n, 5), its derivatives in ``log mu, log res, log I0, log a,
        sigma``, computed where ``active`` is true (0 elsewhere): in closed form with a
        spread, by central differences (``step``) at one ``log I0``.
        """
        n = time.shape[0]
        # patients in the order of their grade and clock-scaled time, so that neighbours
        # read the same columns of the table (from cache); each patient's terms are its own,
        # whatever the order or the number of threads
        clock = np.exp(np.clip(eta[3], -LOG_A_MAX, LOG_A_MAX))
        order = np.lexsort((time * clock, grade_index))
        t_o = np.ascontiguousarray(time[order])
        e_o = np.ascontiguousarray(event[order])
        eta_o = np.ascontiguousarray(eta[:, order])
        g_o = np.ascontiguousarray(grade_index[order])
        out_o = np.zeros(n)
        grad_o = np.zeros((n, 5))
        tabt = self.by_time if spread else self.values
        geom = self.geometry

        def run(lo: int, hi: int) -> None:
            _log_terms(
                t_o[lo:hi],
                e_o[lo:hi],
                eta_o[:, lo:hi],
                sigma,
                g_o[lo:hi],
                spread,
                self.values,
                tabt,
                self.weights,
                geom,
                step,
                active,
                with_grad,
                out_o[lo:hi],
                grad_o[lo:hi],
            )

        # patients are independent: contiguous blocks on threads (the compiled loop releases
        # the GIL), several per thread so that a thread whose patients cost less takes the
        # next; the same numbers whatever the number of threads or blocks
        threads = _threads(n)
        _in_blocks(run, n, threads * BLOCKS_PER_THREAD if threads > 1 else 1)
        out = np.empty(n)
        grad = np.empty((n, 5))
        out[order] = out_o
        grad[order] = grad_o
        return out, grad


MIN_BLOCK = 256  # patients per thread below which threads cost more than they save
# patient-times of a curves call below which it runs on one thread (the calls of an
# explanation's point curves and band have at most 650; each costs about 40 microseconds)
MIN_CURVE_BLOCK = 4096
BLOCKS_PER_THREAD = 4  # patients' terms cost unequally: the threads share them in this many
# tables kept by build_table, the latest used last: a table of several grades and each of its
# grades (views of it, no copies) are entries of their own. About 50 MB per grade (59 rows x
# 17 schedules x 5 x 1306 weeks), twice that once the time-major copy is taken: eight hold a
# fit of three grades and its folds' fit, or the two shipped models' five grades of a server
MAX_CACHED_TABLES = 8
_TABLES: collections.OrderedDict[tuple[object, ...], KernelTable] = collections.OrderedDict()
_TABLES_LOCK = threading.Lock()
_BUILDING: dict[tuple[object, ...], tuple[threading.Lock, int]] = {}


def _threads(n: int) -> int:
    return max(1, min(available_cores(), n // MIN_BLOCK))


def _in_blocks(run: Callable[[int, int], None], n: int, blocks: int) -> None:
    """``run(lo, hi)`` on ``blocks`` contiguous blocks of ``0 .. n`` (on the threads when
    there are several); each patient's numbers are its own, whatever the blocks."""
    if blocks <= 1:
        run(0, n)
        return
    bounds = np.linspace(0, n, blocks + 1).astype(int)
    list(_pool().map(run, bounds[:-1], bounds[1:]))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=available_cores())


# a forked child has none of the parent's threads: it starts a pool of its own
os.register_at_fork(after_in_child=_pool.cache_clear)


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

    A grade's rows depend only on the arguments and that grade, so each grade is kept on its
    own: the process keeps the latest :data:`MAX_CACHED_TABLES` tables (read-only) and
    returns the same object when asked again (the folds of a cross-validation, and the fits
    of one cohort, tabulate once), and each grade is stored on disk for later processes
    (:mod:`remnant.inference.table_store`). A table of several grades holds each grade's
    rows, the shorter ones padded with their last row; the grades not kept are tabulated
    together.

    The ``I0`` grid runs upwards from ``2**LOG2_I0_MIN`` and stops at the first node whose
    clones never reach detection within the table (immunity clears them); above it the last
    node is used. ``sub_rows`` (1 or 2): points per row step for the spread integral.
    """
    if sub_rows not in (1, 2):
        raise RemnantInputError("sub_rows", "1 or 2", sub_rows)
    grades = tuple(int(g) for g in grades)
    args = _TableArgs(mech, cancer, int(n_draws), int(seed), float(dt), float(years), int(sub_rows))
    key = args.key

    table = _kept(key(grades))
    if table is not None:
        return table
    # one build per table at a time: a second caller (the calculator's first two patients
    # of a grade) waits for the first's table instead of tabulating it again beside it
    with _building(key(grades)):
        table = _kept(key(grades))
        if table is None:
            table = _build(args, grades)
    return table


@dataclass(frozen=True)
class _TableArgs:
    """What a table is of, besides its grades (the arguments of :func:`build_table`)."""

    mech: Mechanism
    cancer: str
    n_draws: int
    seed: int
    dt: float
    years: float
    sub_rows: int

    @functools.cached_property
    def _mech_key(self) -> str:
        fields = dataclasses.asdict(self.mech)
        # the clock's spread is integrated outside the table (remnant.inference.clock_spread)
        del fields["growth_spread"]
        return json.dumps(fields, sort_keys=True, default=repr)

    def key(self, grades: tuple[int, ...]) -> tuple[object, ...]:
        """The table's name in memory and on disk (:mod:`remnant.inference.table_store`)."""
        return (
            self._mech_key,
            self.cancer,
            grades,
            self.n_draws,
            self.seed,
            self.dt,
            self.years,
            self.sub_rows,
        )


def _build(args: _TableArgs, grades: tuple[int, ...]) -> KernelTable:
    """The work of :func:`build_table`: each grade kept or stored, or tabulated with the
    other missing ones; the table of ``grades`` and its grades kept."""
    key = args.key
    pieces: dict[int, KernelTable] = {}
    for g in dict.fromkeys(grades):
        piece = _kept(key((g,))) or table_store.load(key((g,)))
        if piece is not None:
            pieces[g] = piece
    missing = tuple(g for g in dict.fromkeys(grades) if g not in pieces)
    fresh = None
    if missing:
        # one process at a time tabulates a model's grades; the others wait, then read them
        with table_store.building(key(())):
            for g in missing:
                piece = table_store.load(key((g,)))
                if piece is not None:
                    pieces[g] = piece
            missing = tuple(g for g in missing if g not in pieces)
            if missing:
                fresh = _tabulate(args, missing)
                for g in missing:
                    pieces[g] = fresh.one_grade(g)
                    table_store.save(key((g,)), pieces[g])
    if fresh is not None and fresh.grades == grades:
        table = fresh
    elif len(grades) == 1:
        table = pieces[grades[0]]
    else:
        table = _stacked([pieces[g] for g in grades])
    _freeze(table)
    _keep(key(grades), table)
    for g in dict.fromkeys(grades):  # each grade a view of the table: no second copy
        _keep(key((g,)), table.one_grade(g) if len(grades) > 1 else table)
    return table


@contextlib.contextmanager
def _building(key: tuple[object, ...]) -> Iterator[None]:
    # the lock of the table of key while it is built (dropped after its last user)
    with _TABLES_LOCK:
        lock, users = _BUILDING.get(key, (threading.Lock(), 0))
        _BUILDING[key] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _TABLES_LOCK:
            lock, users = _BUILDING[key]
            if users == 1:
                del _BUILDING[key]
            else:
                _BUILDING[key] = (lock, users - 1)


def _kept(key: tuple[object, ...]) -> KernelTable | None:
    with _TABLES_LOCK:
        table = _TABLES.get(key)
        if table is not None:
            _TABLES.move_to_end(key)
        return table


def _keep(key: tuple[object, ...], table: KernelTable) -> None:
    with _TABLES_LOCK:
        _TABLES[key] = table
        _TABLES.move_to_end(key)
        while len(_TABLES) > MAX_CACHED_TABLES:
            _TABLES.popitem(last=False)


def _freeze(table: KernelTable) -> None:
    # read-only: one table serves every fit in the process that asks for the same kernels
    table.values.flags.writeable = False
    table.weights.flags.writeable = False


def clear_tables() -> None:
    """Forget the tables :func:`build_table` keeps (the next call tabulates afresh)."""
    with _TABLES_LOCK:
        _TABLES.clear()


def _stacked(pieces: list[KernelTable]) -> KernelTable:
    """One table of the grades of ``pieces`` (one-grade tables of the same arguments)."""
    first = pieces[0]
    per_grade = [list(p.values[0]) for p in pieces]  # each row a view
    return _table_of(
        first.cancer,
        tuple(p.grades[0] for p in pieces),
        per_grade,
        first.dt,
        first.weights,
        first.m_local,
        first.sub_rows,
    )


def _table_of(
    cancer: str,
    grades: tuple[int, ...],
    per_grade: Sequence[Sequence[np.ndarray]],
    dt: float,
    weights: np.ndarray,
    m_local: float,
    sub_rows: int,
) -> KernelTable:
    """A table of each grade's rows (``per_grade[g][j]``, shape (n_schedules, N_TAB,
    n_times)), the grades with fewer rows than the most padded with their last."""
    rows = tuple(len(r) for r in per_grade)
    n_i0 = max(rows)
    first = per_grade[0][0]
    values = np.empty((len(grades), n_i0, *first.shape))
    for g, grade_rows in enumerate(per_grade):
        for j in range(n_i0):
            values[g, j] = grade_rows[min(j, rows[g] - 1)]
    return KernelTable(
        cancer=cancer,
        grades=grades,
        log2_i0=LOG2_I0_MIN + LOG2_I0_STEP * np.arange(n_i0),
        dt=float(dt),
        weights=np.asarray(weights, dtype=np.float64),
        values=values,
        m_local=float(m_local),
        sub_rows=int(sub_rows),
        grade_rows=rows,
    )


def _tabulate(args: _TableArgs, grades: tuple[int, ...]) -> KernelTable:
    """Every row of every grade of ``grades``, from the lapse schedules."""
    mech, cancer, dt, sub_rows = args.mech, args.cancer, args.dt, args.sub_rows
    n_draws, seed, years = args.n_draws, args.seed, args.years
    times = np.arange(0.0, years * DAYS_PER_YEAR + dt, dt)
    sch = lapse_schedules(
        mech.lapse_rate_per_year, mech.lapse_days, float(times[-1]), lapse_uniforms(n_draws, seed)
    )
    n_s = len(sch.weights)

    def row(grade: int, x: float) -> tuple[np.ndarray, bool]:
        # one row of the table, and whether it is the last (its clones never reach detection)
        ck = class_kernels(mech, cancer, grade, 2.0**x, times, sch)
        arr = np.empty((n_s, N_TAB, times.shape[0]))
        arr[:, T_KC] = ck.kc
        arr[:, T_KCT] = ck.kc_t
        arr[:, T_RHO] = ck.rho
        arr[:, T_DRHO] = ck.drho
        arr[:, T_Q0] = ck.q0
        _smooth(arr, dt)
        return arr, bool(ck.kc[:, -1].max() <= 0.0 and not ck.monotone)

    per_grade = _rows_until_last(row, grades)
    return _table_of(
        cancer, grades, per_grade, dt, sch.weights, mech.detection_cells_local, sub_rows
    )


def _rows_until_last(
    row: Callable[[int, float], tuple[np.ndarray, bool]], grades: tuple[int, ...]
) -> list[list[np.ndarray]]:
    """Each grade's rows from ``LOG2_I0_MIN`` upwards in steps of ``LOG2_I0_STEP``, to the
    first that ``row`` calls the last (or ``LOG2_I0_MAX``).

    Rows are independent (the compiled schedules release the GIL). With at least as many
    grades as cores, each grade runs on a thread of its own, row after row (measured faster
    than sharing the rows out); with fewer, every core takes the next row of the least
    advanced unfinished grade as soon as it is free, and rows taken past a grade's last are
    dropped. The rows are the same whatever the number of cores."""
    n_max = int(round((LOG2_I0_MAX - LOG2_I0_MIN) / LOG2_I0_STEP)) + 1
    if len(grades) >= available_cores():

        def in_turn(g: int) -> list[np.ndarray]:
            rows = []
            for j in range(n_max):
                arr, is_last = row(g, LOG2_I0_MIN + LOG2_I0_STEP * j)
                rows.append(arr)
                if is_last:
                    break
            return rows

        return list(_pool().map(in_turn, grades))
    lock = threading.Lock()
    taken = dict.fromkeys(grades, 0)  # rows handed out per grade
    last = dict.fromkeys(grades, n_max - 1)  # the last row, once a row says so
    done: dict[tuple[int, int], np.ndarray] = {}

    def work(_: int) -> None:
        while True:
            with lock:
                open_grades = [g for g in grades if taken[g] <= last[g]]
                if not open_grades:
                    return
                g = min(open_grades, key=lambda h: taken[h])
                j = taken[g]
                taken[g] += 1
            arr, is_last = row(g, LOG2_I0_MIN + LOG2_I0_STEP * j)
            with lock:
                done[(g, j)] = arr
                if is_last:
                    last[g] = min(last[g], j)

    list(_pool().map(work, range(min(available_cores(), n_max * len(grades)))))
    return [[done[(g, j)] for j in range(last[g] + 1)] for g in grades]


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


__all__ = [
    "FIT_DRAWS",
    "TABLE_STEP_DAYS",
    "TABLE_YEARS",
    "KernelTable",
    "build_table",
    "clear_tables",
    "whole_bands",
]
