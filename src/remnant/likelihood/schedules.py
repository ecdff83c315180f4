"""Lapse schedules from common random numbers: the Monte Carlo part of ``E_I[exp(-Lambda)]``.

Lapses form an alternating renewal process started at surgery (docs/model.md, 1.4): wait
``W_1 ~ Exp(rate)``, lapse for ``L`` days, wait ``W_2``, and so on. A schedule is a function
of uniforms ``U_1, U_2, ...`` through ``W_k = -log(1 - U_k) / rate``. The uniforms are drawn
once per ``(n_draws, seed)`` (a scrambled Sobol sequence, so the average over schedules is a
randomised quasi-Monte Carlo estimate) and reused for every parameter value: the estimate is
then a smooth function of the mechanism parameters, lapse rate and duration included.

Schedules without any lapse before the end of the grid are identical; they are merged into one
with their total weight.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from remnant.model.units import DAYS_PER_YEAR

SOBOL_DIMS = 64  # lapses per schedule taken from the Sobol sequence; more from a plain stream
_BLOCK = 64


@dataclass
class LapseUniforms:
    """The common random numbers: one row of uniforms per schedule.

    Parameters
    ----------
    n_draws : int
        Number of schedules (a power of two keeps the Sobol points balanced).
    seed : int
        Seed of the scrambling and of the extra columns.
    """

    n_draws: int
    seed: int = 0
    _u: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_draws < 1:
            raise ValueError("n_draws must be >= 1")
        from scipy.stats import qmc  # 0.7 s of imports, needed only to tabulate

        sob = qmc.Sobol(d=SOBOL_DIMS, scramble=True, seed=np.random.default_rng(self.seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warning when n_draws is not 2**m
            self._u = sob.random(self.n_draws)

    def columns(self, n: int) -> np.ndarray:
        """The first ``n`` columns (plain pseudo-random blocks beyond the Sobol ones)."""
        while self._u.shape[1] < n:
            block = (self._u.shape[1] - SOBOL_DIMS) // _BLOCK
            rng = np.random.default_rng([self.seed, 1 + block])
            self._u = np.hstack([self._u, rng.random((self.n_draws, _BLOCK))])
        return self._u[:, :n]


@lru_cache(maxsize=16)
def lapse_uniforms(n_draws: int, seed: int = 0) -> LapseUniforms:
    """The common random numbers for ``(n_draws, seed)``, built once per process."""
    return LapseUniforms(int(n_draws), int(seed))


@dataclass(frozen=True)
class Schedules:
    """Lapse start times per schedule, with weights summing to 1.

    Attributes
    ----------
    starts : list of ndarray
        Lapse start times (days) before ``t_end``, per schedule; the first schedule has no
        lapse (its weight may be 0).
    weights : ndarray
        Weight of each schedule.
    """

    starts: list[np.ndarray]
    weights: np.ndarray


def lapse_schedules(
    rate_per_year: float, lapse_days: float, t_end: float, uniforms: LapseUniforms
) -> Schedules:
    """Schedules of lapses on ``[0, t_end]`` from the common uniforms (see module docstring)."""
    n = uniforms.n_draws
    rate = rate_per_year / DAYS_PER_YEAR
    if not rate > 0.0:
        return Schedules([np.empty(0)], np.ones(1))
    ncol = SOBOL_DIMS
    while True:
        u = uniforms.columns(ncol)
        waits = -np.log1p(-u) / rate
        # start of lapse k = sum_{j <= k} W_j + (k - 1) L
        starts = np.cumsum(waits, axis=1) + lapse_days * np.arange(ncol)
        if (starts[:, -1] >= t_end).all():
            break
        ncol += _BLOCK
    no_lapse = starts[:, 0] >= t_end
    # the schedule without lapses comes first, even with weight 0: every other schedule
    # coincides with it before its first lapse, which the kernels exploit
    out: list[np.ndarray] = [np.empty(0)]
    weights: list[float] = [float(no_lapse.sum())]
    for i in np.flatnonzero(~no_lapse):
        row = starts[i]
        out.append(row[row < t_end].copy())
        weights.append(1.0)
    w = np.asarray(weights) / n
    return Schedules(out, w)
