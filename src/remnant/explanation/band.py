"""The 95% band of a patient's curve, and intervals of the shares, from the fit's posterior.

The fit's posterior is the Laplace approximation ``theta ~ N(mode, Sigma)`` (docs/fit.md).
A curve ``S(t; theta)`` is pushed through it in one of two ways (docs/explain.md, "The band"):

* **by axes** (the default): with ``Sigma = L L^T`` (Cholesky) and ``z = 1.96``, the curve is
  evaluated at ``mode +- z L e_j`` for each parameter ``j``, the two ends of the 95% range
  along each whitened axis. On the scale ``g = log H`` (``H = -log S``, the cumulative
  hazard) each axis moves the curve down by ``d_j = max(0, g0 - min(g(+j), g(-j)))`` and up
  by ``u_j`` likewise, and the band is ``g0 - sqrt(sum d_j^2)`` to ``g0 + sqrt(sum u_j^2)``,
  mapped back to a risk (so it stays inside [0, 1]). It is exact when one parameter moves the
  curve monotonically, and for a curve linear in ``theta`` it is the delta method's band;
  unlike the delta method it keeps each axis's skew. 2 p evaluations (p = 4 parameters: 8)
  instead of hundreds of draws. The shares' intervals are the same construction on the shares.
* **draws**: ``theta`` drawn ``draws`` times, the band the 2.5 and 97.5 percentiles at each
  time (the Monte Carlo check of the default; tests/test_explain.py compares them).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

BAND_LEVEL = 0.95
BAND_Z = NormalDist().inv_cdf(0.5 + BAND_LEVEL / 2)  # 1.95996...
PERCENTILES = (50.0 * (1.0 - BAND_LEVEL), 50.0 * (1.0 + BAND_LEVEL))
# Cumulative hazards outside [H_MIN, H_MAX] have no usable log: a risk of 0 (at time 0, or a
# patient immunity clears) or 1 (S below the smallest double) has no band around it.
H_MIN = 1e-12
H_MAX = 700.0

Evaluation = tuple[np.ndarray, np.ndarray]  # (the risk curve, the mixed patients' 5-year risks)


def _hazard(risk: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # a risk of 1: an infinite hazard, clipped after
        return -np.log1p(-np.clip(risk, 0.0, 1.0))


def _log_hazard(risk: np.ndarray) -> np.ndarray:
    return np.log(np.clip(_hazard(risk), H_MIN, H_MAX))


def _risk(log_h: np.ndarray) -> np.ndarray:
    return -np.expm1(-np.exp(log_h))


def _root(covariance: np.ndarray) -> np.ndarray:
    """A square root ``L`` with ``L L^T = covariance`` (Cholesky; eigenvalues clipped at 0 when
    the matrix is only positive semi-definite)."""
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(covariance)
        return vecs * np.sqrt(np.clip(vals, 0.0, None))


@dataclass(frozen=True)
class PosteriorBand:
    """Evaluations of the curve and the 5-year risks at posterior points, and how to read them.

    ``method`` is ``"axes"`` (``evaluations`` at ``mode + z L e_1, mode - z L e_1, ...``) or
    ``"draws"`` (at posterior draws).
    """

    method: str
    evaluations: list[Evaluation]

    def curve(
        self, point: np.ndarray, times: np.ndarray, band_times: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the risk curve whose value at the mode is ``point`` at
        ``times``; the evaluations are at ``band_times`` (a subset of ``times``), and the
        band's width (by axes: its two half-widths in ``log H``; draws: the percentiles) is
        interpolated linearly in time between them."""
        curves = np.stack([e[0] for e in self.evaluations])
        if self.method == "draws":
            lo, hi = np.percentile(curves, PERCENTILES, axis=0)
            return np.interp(times, band_times, lo), np.interp(times, band_times, hi)
        g0 = _log_hazard(point)
        at_band = np.searchsorted(times, band_times)
        down, up = _half_widths(_log_hazard(curves), g0[at_band])
        lo = _risk(g0 - np.interp(times, band_times, down))
        hi = _risk(g0 + np.interp(times, band_times, up))
        h = _hazard(point)
        flat = (h <= H_MIN) | (h >= H_MAX)  # no band around a risk of 0 or 1
        return np.where(flat, point, lo), np.where(flat, point, hi)

    def shares(
        self, share: Callable[[np.ndarray], np.ndarray], mixed_5y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of ``share(r5)`` (one value per cause), ``mixed_5y`` the
        mixed patients' 5-year risks at the mode."""
        values = np.stack([share(e[1]) for e in self.evaluations])
        if self.method == "draws":
            lo, hi = np.percentile(values, PERCENTILES, axis=0)
            return lo, hi
        s0 = share(mixed_5y)
        down, up = _half_widths(values, s0)
        return s0 - down, s0 + up


def _half_widths(values: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far below and above ``centre`` the band reaches: the root sum of squares over the
    axes of each axis's move (``values``: rows ``+axis 1, -axis 1, +axis 2, ...``)."""
    plus, minus = values[0::2], values[1::2]
    down = np.maximum(centre - np.minimum(plus, minus), 0.0)
    up = np.maximum(np.maximum(plus, minus) - centre, 0.0)
    return np.sqrt(np.sum(down**2, axis=0)), np.sqrt(np.sum(up**2, axis=0))


def posterior_band(
    mode: np.ndarray,
    covariance: np.ndarray,
    evaluate: Callable[[np.ndarray], list[Evaluation]],
    draws: int | None,
    seed: int,
    pool: Executor,
    chunks: int = 1,
) -> PosteriorBand:
    """Evaluate at the axes' ends (``draws`` None) or at ``draws`` posterior draws (seeded by
    ``seed``): ``evaluate`` takes points as rows (shape (m, p)) and returns one evaluation
    per point; the points are split into ``chunks`` consecutive parts on ``pool``'s threads,
    and the evaluations kept in the points' order (the same whatever the chunks)."""
    if draws is None:
        method = "axes"
        root = BAND_Z * _root(np.asarray(covariance, dtype=float))
        points = np.array(
            [mode + sign * root[:, j] for j in range(root.shape[1]) for sign in (1.0, -1.0)]
        )
    else:
        method = "draws"
        rng = np.random.default_rng(seed)
        points = rng.multivariate_normal(mode, covariance, size=draws)
    parts = np.array_split(points, max(1, min(int(chunks), points.shape[0])))
    return PosteriorBand(method, [e for part in pool.map(evaluate, parts) for e in part])
