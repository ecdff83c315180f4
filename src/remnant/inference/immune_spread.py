"""The spread of baseline immunity between patients, integrated over the kernel table's rows.

``log I0 = li + sigma Z`` with ``Z`` standard normal within the patient's immune band
``(z_lo, z_hi)`` (an Immunoscore category; the whole line when unknown). Each table row gets
the expectation of its hat function under that truncated normal (:func:`_row_weights`), so
the integral is exact for an integrand linear in ``log2 I0`` between rows, and the weights are
smooth in ``li`` and ``sigma``; :func:`_mix` sums rows by them (``_one`` and ``_log_terms``
of :mod:`remnant.inference.patient_terms`, over the rows the band weighs; docs/model.md 1.9,
docs/fit.md section 2).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from remnant.inference.table_layout import G_STEP, G_SUB, G_X0


@njit(cache=True, inline="always")
def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) * 0.3989422804014327


@njit(cache=True, inline="always")
def _cdf(z: float) -> float:
    return 0.5 * math.erfc(-z * 0.7071067811865476)


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
    _row_weight_slopes(li, sigma, z_lo, z_hi, geom, out, out, out, False)


@njit(cache=True)
def _row_weight_slopes(
    li: float,
    sigma: float,
    z_lo: float,
    z_hi: float,
    geom: np.ndarray,
    out: np.ndarray,
    d_li: np.ndarray,
    d_sigma: np.ndarray,
    slopes: bool = True,
) -> None:
    # _row_weights in out, and with slopes their derivatives in li and sigma (in the
    # table's rows: spacing log2 I0 per row or half row, _gather)
    spacing = geom[G_STEP] / geom[G_SUB]
    m = (li / math.log(2.0) - geom[G_X0]) / spacing
    sd_raw = sigma / math.log(2.0) / spacing
    hat_weights(m, sd_raw, math.log(2.0) * spacing, z_lo, z_hi, out, d_li, d_sigma, slopes)


@njit(cache=True)
def hat_weights(
    m: float,
    sd_raw: float,
    unit: float,
    z_lo: float,
    z_hi: float,
    out: np.ndarray,
    d_m: np.ndarray,
    d_sd: np.ndarray,
    slopes: bool,
) -> None:
    """The expectation of each knot's hat function of a uniform grid under a truncated normal.

    ``X = m + sd Z`` in knots (knot ``r`` at ``X = r``), ``Z`` standard normal within
    ``(z_lo, z_hi)``: ``out[r] = E[hat_r(X)]``, the mass beyond the grid's ends on its end
    knots. With ``slopes``, their derivatives in the location and the scale of ``X``
    measured in units of ``unit`` knots' worth (``d_m``: per unit of ``m unit``). One formula
    for both spreads of the model: immunity over the kernel table's rows
    (:func:`_row_weight_slopes`) and the disease's clock over log time
    (:mod:`remnant.inference.clock_spread`).
    """
    # With X the position in knots, d/dm E[g(X)] = E[g'(X)] and d/dsd E[g(X)] = E[g'(X) Z]
    # (the band is fixed in Z), and a knot's hat has slope +1 on the segment below it and -1
    # on the one above (the end knots hold beyond the grid: slope 0 there), so each
    # derivative is a difference of the neighbouring segments' masses, or of their
    # E[Z; segment] = phi(z_a) - phi(z_b)
    top = out.shape[0] - 1
    sd = max(sd_raw, 1e-9)
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
    if not slopes:
        return
    dm = 1.0 / (unit * mass)  # d m / d li = d sd / d sigma, per mass
    ds = dm if sd_raw > 1e-9 else 0.0
    for r in range(top + 1):
        below = cdf[r] - cdf[r - 1] if r > 0 else 0.0
        above = cdf[r + 1] - cdf[r] if r < top else 0.0
        z_below = pdf[r - 1] - pdf[r] if r > 0 else 0.0
        z_above = pdf[r] - pdf[r + 1] if r < top else 0.0
        d_m[r] = dm * (below - above)
        d_sd[r] = ds * (z_below - z_above)


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


def whole_bands(n: int) -> np.ndarray:
    """Immune bands covering the whole population for ``n`` patients, shape (2, n)."""
    return np.vstack([np.full(n, -np.inf), np.full(n, np.inf)])
