"""Linear birth-death process with piecewise-constant rates: the law of one clone, in closed form.

A clone started from one cell with birth ``b`` and death ``d`` constant over a phase of ``tau``
days has the linear-fractional probability generating function (Kendall 1948)

    f(s) = (p0 + (1 - p0 - beta) s) / (1 - beta s),

with ``p0``, ``beta`` from :func:`remnant.model.mechanisms.extinction_probability` and
:func:`remnant.model.mechanisms.geometric_parameter`. Linear-fractional maps compose as 2 x 2
matrices, so over any sequence of phases the size is zero-modified geometric:
``P(N = 0) = P0`` and ``P(N = n | N > 0) = (1 - xi) xi**(n - 1)``.

Two equivalent ways of computing ``(P0, xi)`` are given: the matrix product
(:func:`compose_phases`) and Kendall's integral form (:func:`kendall_phases`),

    1 - P0 = 1 / X,   1 - xi = exp(-R) / X,   X = 1 + Integral_0^t d(u) exp(-R(u)) du,

with ``R(t) = Integral_0^t (b - d)``. The second one is a sum of positive terms (no cancellation
when ``xi`` is within 1e-9 of 1) and is the one the survival kernels use. Derivations in
docs/likelihood.md, section 2.

Units: days and per-day rates; sizes in cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from remnant.model.mechanisms import extinction_probability, geometric_parameter


def lf_matrix(b: float, d: float, tau: float) -> np.ndarray:
    """The 2 x 2 matrix of the one-phase pgf ``f(s) = (A s + B) / (C s + D)``.

    Parameters
    ----------
    b, d : float
        Birth and death rates (per day), constant over the phase.
    tau : float
        Phase length (days).

    Returns
    -------
    numpy.ndarray
        ``[[A, B], [C, D]] = [[1 - p0 - beta, p0], [-beta, 1]]``.
    """
    p0 = extinction_probability(b, d, tau)
    beta = geometric_parameter(b, d, tau)
    return np.array([[1.0 - p0 - beta, p0], [-beta, 1.0]])


def compose_phases(b: float, deaths: Sequence[float], taus: Sequence[float]) -> tuple[float, float]:
    """``(P0, xi)`` of a one-cell clone after consecutive phases, by matrix products.

    The pgf after phases 1..n is ``f_1(f_2(...f_n(s)))`` (branching property: the earliest
    phase is outermost), i.e. the matrix product ``M_1 M_2 ... M_n``; then
    ``P0 = B / D`` and ``xi = -C / D``.

    Parameters
    ----------
    b : float
        Birth rate (per day), the same in every phase (as in the model).
    deaths, taus : sequence of float
        Death rate (per day) and length (days) of each phase, in time order.
    """
    m = np.eye(2)
    for d, tau in zip(deaths, taus, strict=True):
        m = m @ lf_matrix(b, float(d), float(tau))
        m /= m[1, 1]  # keep the entries O(1); the map is unchanged by scaling
    return float(m[0, 1] / m[1, 1]), float(-m[1, 0] / m[1, 1])


def _h(r: float, tau: float) -> float:
    # Integral_0^tau exp(-r u) du, exact as r -> 0.
    if abs(r) * tau < 1e-12:
        return tau
    return -math.expm1(-r * tau) / r


def kendall_phases(
    b: float, deaths: Sequence[float], taus: Sequence[float]
) -> tuple[float, float, float, float]:
    """Kendall's form of the same law: ``(R, X)`` and ``(P0, xi)``.

    Returns
    -------
    R : float
        ``Integral (b - d)``, the log of the mean size.
    X : float
        ``1 + Integral d(u) exp(-R(u)) du``; ``1 - P0 = 1 / X`` and ``1 - xi = exp(-R) / X``.
    P0, xi : float
    """
    r_cum = 0.0
    x = 1.0
    for d, tau in zip(deaths, taus, strict=True):
        r = b - float(d)
        x += math.exp(-r_cum) * float(d) * _h(r, float(tau))
        r_cum += r * float(tau)
    return r_cum, x, 1.0 - 1.0 / x, 1.0 - math.exp(-r_cum) / x


def log_tail_probability(p0: float, xi: float, cells: float) -> float:
    """``log P(N >= M)`` for the zero-modified geometric law: ``log(1 - P0) + (M - 1) log xi``.

    Computed in logs (``M`` is of order 1e9). When ``xi`` is within ~1e-9 of 1, pass Kendall's
    form instead (:func:`log_tail_kendall`), which keeps ``1 - xi`` to full precision. Returns
    ``-inf`` when the probability is zero.
    """
    if p0 >= 1.0:
        return -math.inf
    if xi <= 0.0:
        return math.log1p(-p0) if cells <= 1.0 else -math.inf
    return math.log1p(-p0) + (cells - 1.0) * math.log(xi)


def log_tail_kendall(r_cum: float, x: float, cells: float) -> float:
    """``log P(N >= M)`` from Kendall's ``(R, X)``: ``-log X + (M - 1) log1p(-exp(-R) / X)``."""
    return -math.log(x) + (cells - 1.0) * math.log1p(-math.exp(-r_cum) / x)
