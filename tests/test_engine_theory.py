"""The engine's clone sampler (``advance_clone``) against theory and the reference.

Below the switch size ``advance_clone`` is exact, so its sizes must follow the birth-death
law: P(extinct at tau) = p0^n0, E[N(tau)] = n0 e^{r tau}, and the same distribution as the
event-by-event reference. Above the switch size it is deterministic, which must leave the
time to the detection size indistinguishable from the reference's at these sample sizes.
Every test is a hypothesis test at level ``ALPHA`` with a fixed seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from remnant.checks.reference import gillespie_clone
from remnant.checks.verification import (
    ALPHA,
    CLONE_CONFIGS,
    HITTING_CONFIGS,
    bd_mean,
    bd_pmf_one_cell,
    bd_variance,
    binomial,
    chi2_binned,
    chi2_goodness,
    engine_clone_replicates,
    z_mean,
)
from remnant.engine.kernel import advance_clone
from remnant.model.mechanisms import extinction_probability, geometric_parameter

REPS = 20_000


def stream(test: int, n0: int, b: float, d: float, tau: float) -> np.random.SeedSequence:
    # one independent stream per test and configuration
    key = [test, n0, round(b * 1e4), round(d * 1e4), round(tau)]
    return np.random.SeedSequence(key)


def engine_sizes(n0: int, b: float, d: float, tau: float, test: int) -> np.ndarray:
    rng = np.random.default_rng(stream(test, n0, b, d, tau))
    sizes, _ = engine_clone_replicates(float(n0), b, d, tau, math.inf, math.inf, REPS, rng)
    return sizes


def reference_sizes(n0: int, b: float, d: float, tau: float, test: int) -> np.ndarray:
    sizes, _ = gillespie_clone(n0, b, d, tau, stream(test, n0, b, d, tau), replicates=REPS)
    return np.asarray(sizes, dtype=float)


IDS = ["n0={}-b={}-d={}-tau={:g}".format(*cfg) for cfg in CLONE_CONFIGS]


@pytest.mark.parametrize(("n0", "b", "d", "tau"), CLONE_CONFIGS, ids=IDS)
def test_engine_extinction_is_p0_to_the_n0(n0: int, b: float, d: float, tau: float) -> None:
    sizes = engine_sizes(n0, b, d, tau, 101)
    _, p = binomial(int(np.sum(sizes == 0)), REPS, extinction_probability(b, d, tau) ** n0)
    assert p > ALPHA


@pytest.mark.parametrize(("n0", "b", "d", "tau"), CLONE_CONFIGS, ids=IDS)
def test_engine_mean_size(n0: int, b: float, d: float, tau: float) -> None:
    sizes = engine_sizes(n0, b, d, tau, 102)
    _, p = z_mean(sizes, bd_mean(n0, b, d, tau), bd_variance(n0, b, d, tau))
    assert p > ALPHA


@pytest.mark.parametrize(("n0", "b", "d", "tau"), CLONE_CONFIGS, ids=IDS)
def test_engine_size_law_matches_reference(n0: int, b: float, d: float, tau: float) -> None:
    _, p = chi2_binned(engine_sizes(n0, b, d, tau, 103), reference_sizes(n0, b, d, tau, 104))
    assert p > ALPHA


@pytest.mark.parametrize(
    ("b", "d", "tau"),
    [(0.12, 0.0969, 60.0), (0.12, 0.12, 40.0), (0.12, 0.14, 40.0), (0.12, 0.0769, 200.0)],
)
def test_engine_one_cell_law_is_kendall(b: float, d: float, tau: float) -> None:
    # includes r tau > 20, where the engine cuts the interval into pieces
    sizes = engine_sizes(1, b, d, tau, 105)
    _, p = chi2_goodness(sizes.astype(np.int64), bd_pmf_one_cell(b, d, tau))
    assert p > ALPHA


@pytest.mark.parametrize(
    ("b", "d", "tau"), [(0.12, 0.0969, 60.0), (0.12, 0.12, 40.0), (0.12, 0.14, 40.0)]
)
@pytest.mark.parametrize("n0", [1, 5])
def test_closed_forms_match_reference(n0: int, b: float, d: float, tau: float) -> None:
    # remnant.model.mechanisms' p0 and beta, checked against event-by-event clones
    sizes = reference_sizes(n0, b, d, tau, 106)
    _, p = binomial(int(np.sum(sizes == 0)), REPS, extinction_probability(b, d, tau) ** n0)
    assert p > ALPHA
    if n0 == 1:
        beta = geometric_parameter(b, d, tau)
        alive = sizes[sizes > 0].astype(np.int64) - 1  # geometric on {0, 1, ...}
        _, p = chi2_goodness(alive, lambda k: (1.0 - beta) * beta**k)
        assert p > ALPHA


@pytest.mark.parametrize(
    ("n0", "d", "switch", "detect", "phase"),
    HITTING_CONFIGS,
    ids=["n0=1-one-phase", "n0=5-phases-30d", "n0=1-switch-100-phases-14d"],
)
def test_time_to_detection_matches_reference(
    n0: int, d: float, switch: float, detect: float, phase: float
) -> None:
    b, tau, reps = 0.12, 3000.0, 5000
    _, th_e = engine_clone_replicates(
        float(n0), b, d, tau, switch, detect, reps, np.random.default_rng(107), phase
    )
    _, th_r = gillespie_clone(n0, b, d, tau, 108, target=detect, replicates=reps)
    th_r = np.asarray(th_r)
    he, hr = th_e[th_e >= 0], th_r[th_r >= 0]
    _, p = binomial(he.size, reps, 1.0 - (d / b) ** n0)
    assert p > ALPHA
    assert stats.ks_2samp(he, hr).pvalue > ALPHA


def test_advance_clone_edges() -> None:
    rng = np.random.default_rng(1)
    assert advance_clone(7.0, 0.12, 0.1, 0.0, 1e3, 1e4, rng) == (7.0, -1.0)
    assert advance_clone(0.0, 0.12, 0.1, 10.0, 1e3, 1e4, rng)[0] == 0.0
    # above the switch size growth is deterministic and the hit time is solved exactly
    n, th = advance_clone(2e3, 0.12, 0.1, 10.0, 1e3, 1e4, rng)
    assert n == pytest.approx(2e3 * math.exp(0.2)) and th == -1.0
    n, th = advance_clone(2e3, 0.12, 0.1, 500.0, 1e3, 1e4, rng)
    assert n == 1e4 and th == pytest.approx(math.log(5.0) / 0.02)
    # a declining clone goes back to exact sampling below the switch size, whole cells
    n, th = advance_clone(2e3, 0.1, 0.2, 100.0, 1e3, 1e4, rng)
    assert th == -1.0 and n == math.floor(n) and n < 1e3
