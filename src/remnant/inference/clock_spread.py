"""The spread of the disease's clock between patients, integrated over a grid in log time.

With ``growth_spread`` ``s > 0`` a patient's disease runs on its own clock after surgery,
``A = a e^{s Z}``, ``Z`` standard normal within ``+-GROWTH_Z_MAX`` (docs/model.md 1.10), so
its curves are those of the clock ``a`` averaged over that spread:

    S(t) = E[S_1(A t)],        t f(t) = E[(A t) f_1(A t)],

``S_1`` and ``f_1`` the curves at clock 1 (the densities in disease time). In log disease
time ``ell = ln(A t) = ln(a t) + s Z`` is a truncated normal, so each expectation is the
immune spread's hat-weight formula (:func:`remnant.inference.immune_spread.hat_weights`) on a
uniform grid of ``ell`` with step :data:`CLOCK_STEP`: exact for ``S_1`` and ``tau f_1(tau)``
linear in ``ell`` between knots. Curves at many times share one grid
(:func:`mix_curves`); a patient's log-likelihood term is the same sum over the knots around
its own time (:func:`clock_nodes`, :func:`combine_terms`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import stats

from remnant.inference.immune_spread import hat_weights
from remnant.model.parameters import GROWTH_Z_MAX

# The knots' step in log time: between knots S_1 is taken linear in ln t. A margin clone of
# many cells reaches detection within a few weeks of disease time, a step of S_1 about 0.03
# wide in ln t, which the knots must resolve: at this step the spread curves of the
# calibrated patients (R2 included) lie within 6e-4 of knots 8 times finer, against 9e-3 at
# twice the step (docs/model.md 1.10)
CLOCK_STEP = 0.05


def half_width(spread: float, step: float = CLOCK_STEP) -> int:
    """Knots on either side of a patient's own position that the clock's band can weigh."""
    return int(math.ceil(GROWTH_Z_MAX * spread / step)) + 1


def mean_clock(spread: float) -> float:
    """``E[e^{s Z}]`` for ``Z`` standard normal within ``+-GROWTH_Z_MAX``."""
    z = GROWTH_Z_MAX
    mass = stats.norm.cdf(z) - stats.norm.cdf(-z)
    within = stats.norm.cdf(z - spread) - stats.norm.cdf(-z - spread)
    return float(math.exp(0.5 * spread * spread) * within / mass)


def grid(ln_at: np.ndarray, spread: float, step: float = CLOCK_STEP) -> tuple[int, np.ndarray]:
    """The knots covering disease times ``exp(ln_at)`` and the clock's band around them.

    Returns the index ``j0`` of the first knot (knot ``j`` at ``ln tau = j step``) and
    the knots' disease times (days)."""
    w = half_width(spread, step)
    j0 = int(math.floor(float(ln_at.min()) / step)) - w
    j1 = int(math.ceil(float(ln_at.max()) / step)) + w + 1
    return j0, np.exp(np.arange(j0, j1 + 1) * step)


@njit(cache=True)
def _mix(
    ln_t: np.ndarray,
    ln_a: np.ndarray,
    spread: float,
    j0: int,
    w: int,
    step: float,
    base: np.ndarray,
    out: np.ndarray,
) -> None:
    # out[i, q] = the clock-spread curves of patient i at time exp(ln_t[q]) from its curves at
    # clock 1 on the knots (base[i, j] at disease time exp((j0 + j) step)), w knots of half_width.
    # The weights are placed on the knots as clock_nodes places them (from the patient's own
    # position, whatever the grid's first knot): a patient's curve at a time is the same
    # whichever other times are asked with it, and its log-likelihood term weighs the same
    n_k = 2 * w + 2
    wts = np.empty(n_k)
    sd = spread / step
    for i in range(base.shape[0]):
        for q in range(ln_t.shape[0]):
            m = (ln_t[q] + ln_a[i]) / step
            lo = int(math.floor(m)) - w
            hat_weights(m - lo, sd, step, -GROWTH_Z_MAX, GROWTH_Z_MAX, wts, wts, wts, False)
            s = 0.0
            f1 = 0.0
            f2 = 0.0
            for r in range(n_k):
                c = wts[r]
                if c == 0.0:
                    continue
                j = lo - j0 + r
                s += c * base[i, j, 0]
                # t f(t) = E[tau f_1(tau)]: the density's knots weigh tau / t
                tau_t = c * math.exp((j0 + j) * step - ln_t[q])
                f1 += tau_t * base[i, j, 1]
                f2 += tau_t * base[i, j, 2]
            out[i, q, 0] = s
            out[i, q, 1] = f1
            out[i, q, 2] = f2


def mix_curves(
    times: np.ndarray,
    ln_a: np.ndarray,
    spread: float,
    curves_at: object,
    step: float = CLOCK_STEP,
) -> np.ndarray:
    """``(S_rec, f_local, f_distant)`` with the clock spread, shape (n, n_times, 3).

    ``ln_a`` is each patient's own log clock (shape (n,)); ``curves_at(tau)`` returns the
    patients' curves at clock 1 at disease times ``tau`` (days), shape (n, n_tau, 3).
    """
    t = np.asarray(times, dtype=np.float64)
    n = ln_a.shape[0]
    out = np.empty((n, t.shape[0], 3))
    pos = t > 0.0
    if pos.any():
        ln_t = np.log(t[pos])
        j0, tau = grid(np.concatenate([ln_t.min() + ln_a, ln_t.max() + ln_a]), spread, step)
        base = np.ascontiguousarray(curves_at(tau))  # type: ignore[operator]
        inner = np.empty((n, ln_t.shape[0], 3))
        ln_a = np.ascontiguousarray(ln_a, dtype=np.float64)
        _mix(ln_t, ln_a, spread, j0, half_width(spread, step), step, base, inner)
        out[:, pos] = inner
    if not pos.all():
        # at surgery S = 1 at every clock, and the density is A f_1(0)
        at0 = curves_at(np.zeros(1))[:, 0]  # type: ignore[operator]
        at0[:, 1:] *= (np.exp(ln_a) * mean_clock(spread))[:, None]
        out[:, ~pos] = at0[:, None, :]
    return out


def clock_nodes(
    time: np.ndarray,
    ln_a: np.ndarray,
    event: np.ndarray,
    spread: float,
    step: float = CLOCK_STEP,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each patient's knots of the clock's spread at its own time.

    Returns ``patient`` (the patient of each node), ``tau`` (the node's disease time, days),
    ``weight`` (the hat weight, times ``tau / t`` for an event: ``t f(t) = E[tau f_1(tau)]``)
    and ``slope`` (its derivative in ``ln a``), one entry per node, ``n (2 w + 2)`` in all.
    """
    t = np.asarray(time, dtype=np.float64)
    n = t.shape[0]
    w = half_width(spread, step)
    n_k = 2 * w + 2
    patient = np.repeat(np.arange(n), n_k)
    tau = np.empty(n * n_k)
    weight = np.empty(n * n_k)
    slope = np.empty(n * n_k)
    _nodes(
        np.log(np.maximum(t, 1e-300)),
        np.asarray(ln_a, dtype=np.float64),
        spread,
        w,
        step,
        tau,
        weight,
        slope,
    )
    ev = np.repeat(np.asarray(event) == 1, n_k)
    ratio = np.where(ev, tau / np.repeat(t, n_k), 1.0)
    return patient, tau, weight * ratio, slope * ratio


@njit(cache=True)
def _nodes(
    ln_t: np.ndarray,
    ln_a: np.ndarray,
    spread: float,
    w: int,
    step: float,
    tau: np.ndarray,
    weight: np.ndarray,
    slope: np.ndarray,
) -> None:
    n_k = 2 * w + 2
    wts = np.empty(n_k)
    d_m = np.empty(n_k)
    d_sd = np.empty(n_k)
    sd = spread / step
    for i in range(ln_t.shape[0]):
        m = (ln_t[i] + ln_a[i]) / step
        lo = int(math.floor(m)) - w
        hat_weights(m - lo, sd, step, -GROWTH_Z_MAX, GROWTH_Z_MAX, wts, d_m, d_sd, True)
        for r in range(n_k):
            k = i * n_k + r
            tau[k] = math.exp((lo + r) * step)
            weight[k] = wts[r]
            slope[k] = d_m[r]


def combine_terms(
    n: int,
    patient: np.ndarray,
    weight: np.ndarray,
    slope: np.ndarray,
    node_terms: np.ndarray,
    node_grad: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Patients' log terms ``log sum_k weight_k e^{l_k}`` from their nodes' terms ``l_k``,
    and their derivatives: in each predictor the nodes' derivatives weighed by their share
    of the sum, in ``log a`` (column 3) the weights' slopes instead."""
    top = np.full(n, -np.inf)
    np.maximum.at(top, patient, np.where(weight > 0.0, node_terms, -np.inf))
    e = np.where(weight > 0.0, np.exp(node_terms - top[patient]), 0.0)
    total = np.bincount(patient, weights=weight * e, minlength=n)
    share = weight * e / total[patient]
    grad = np.empty((n, node_grad.shape[1]))
    for c in range(node_grad.shape[1]):
        grad[:, c] = np.bincount(patient, weights=share * node_grad[:, c], minlength=n)
    grad[:, 3] = np.bincount(patient, weights=slope * e, minlength=n) / total
    return top + np.log(total), grad
