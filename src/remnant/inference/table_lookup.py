"""Reading a kernel table at one patient's time and immunity (compiled).

In time: a Catmull-Rom cubic on four columns of the clock-scaled time (:func:`_time_weights`,
its derivative :func:`_time_weight_slopes`, the cell :func:`_time_cell`). In ``log2 I0``: a
cubic Hermite with limited slopes (:func:`_interp`, :func:`_limited_slope`) for a patient at
one immunity; for the spread path, one time's rows gathered at once (:func:`_gather`), with the
limited cubic's midpoints between them when ``sub_rows = 2`` (:func:`_midpoints`,
:func:`_shifted`). Units: days.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from remnant.inference.table_layout import G_SUB, LOG_A_MAX


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
def _n_points(n_i0: int, geom: np.ndarray) -> int:
    # points of the spread integral: the rows, and with sub_rows = 2 the midpoints between
    return int(geom[G_SUB]) * (n_i0 - 1) + 1


@njit(cache=True, inline="always")
def _time_columns(
    tabt: np.ndarray, g: int, k: int, fu: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float, float, float]:
    # the four time columns of the time-major table around the patient's time, each as
    # (rows, schedules x quantities): one row's schedules and quantities are contiguous, so
    # the loops over them run flat (vectorised); and the cubic's weights on them
    c0, c1, c2, c3, w0, w1, w2, w3 = _time_weights(k, fu, tabt.shape[1])
    n_r = tabt.shape[2]
    n_c = tabt.shape[3] * tabt.shape[4]
    return (
        tabt[g, c0].reshape((n_r, n_c)),
        tabt[g, c1].reshape((n_r, n_c)),
        tabt[g, c2].reshape((n_r, n_c)),
        tabt[g, c3].reshape((n_r, n_c)),
        w0,
        w1,
        w2,
        w3,
    )


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
    t0, t1, t2, t3, w0, w1, w2, w3 = _time_columns(tabt, g, k, fu)
    n_r, n_c = t0.shape
    top = n_r - 1
    sub = (buf.shape[0] - 1) // top if top > 0 else 1
    b = buf.reshape((buf.shape[0], n_c))
    for r in range(n_r):
        q = sub * r
        for j in range(n_c):
            b[q, j] = w0 * t0[r, j] + w1 * t1[r, j] + w2 * t2[r, j] + w3 * t3[r, j]
    if dbuf is not None:
        d0, d1, d2, d3 = _time_weight_slopes(fu)
        d0, d1, d2, d3 = slope * d0, slope * d1, slope * d2, slope * d3
        db = dbuf.reshape((dbuf.shape[0], n_c))
        for r in range(n_r):
            q = sub * r
            for j in range(n_c):
                db[q, j] = d0 * t0[r, j] + d1 * t1[r, j] + d2 * t2[r, j] + d3 * t3[r, j]
    _midpoints(buf, top, sub)


@njit(cache=True)
def _gather_rows(tabt: np.ndarray, g: int, k: int, fu: float, buf: np.ndarray, first: int) -> None:
    # _gather's values (the same arithmetic) for the rows first .. first + len(buf) - 1 only:
    # the spread path on rows reads no row its band gives no weight
    t0, t1, t2, t3, w0, w1, w2, w3 = _time_columns(tabt, g, k, fu)
    n_c = t0.shape[1]
    b = buf.reshape((buf.shape[0], n_c))
    for r in range(buf.shape[0]):
        q = first + r
        for j in range(n_c):
            b[r, j] = w0 * t0[q, j] + w1 * t1[q, j] + w2 * t2[q, j] + w3 * t3[q, j]


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
