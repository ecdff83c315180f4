"""The band by the posterior's axes (remnant.explanation.band) against its definition and against
Monte Carlo draws of the same Laplace posterior."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.stats import binom, norm

import remnant.model.calibrated as calibrated
from remnant.explanation.band import BAND_Z, posterior_band
from remnant.explanation.default_model import load_default
from remnant.explanation.explain import HORIZONS_YEARS, _frame, explain
from remnant.model.units import DAYS_PER_YEAR

DRAWS = 2000
# the stated accuracy of the axes band against the posterior's percentiles (docs/explain.md)
WIDTH_SHARE = 0.10


def _band(f, mode, cov, draws=None, seed=0, chunks=2):
    def evaluate(points):
        return [(f(th), f(th)[:1]) for th in points]

    with ThreadPoolExecutor(2) as pool:
        return posterior_band(mode, cov, evaluate, draws, seed, pool, chunks=chunks)


def _random_problem(seed, n_out, p):
    """A random linear map (n_out x p), a covariance of p parameters and a mode."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n_out, p))
    return a, np.cov(rng.normal(size=(p, 10 * p + 10))), rng.normal(size=p)


def test_the_band_does_not_depend_on_how_its_points_are_split():
    a, cov, mode = _random_problem(7, 5, 3)

    def f(th):
        return a @ np.tanh(th)

    for draws in (None, 30):
        ends = [_band(f, mode, cov, draws, seed=3, chunks=c) for c in (1, 2, 5, 100)]
        first = np.stack([np.concatenate(e) for e in ends[0].evaluations])
        for other in ends[1:]:
            assert other.method == ends[0].method
            again = np.stack([np.concatenate(e) for e in other.evaluations])
            assert again.tobytes() == first.tobytes()


def test_one_monotone_parameter_gives_the_exact_percentiles():
    # S = exp(-t e^theta), theta ~ N(0.3, 0.4^2): the percentiles of the risk are the risk at
    # theta's percentiles, and so are the band's ends
    times = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    mode, sd = np.array([0.3]), 0.4

    def risk(th):
        return 1.0 - np.exp(-times * np.exp(th[0]))

    band = _band(risk, mode, np.array([[sd**2]]))
    lo, hi = band.curve(risk(mode), times, times)
    exact_lo = 1.0 - np.exp(-times * np.exp(mode[0] + norm.ppf(0.025) * sd))
    exact_hi = 1.0 - np.exp(-times * np.exp(mode[0] + norm.ppf(0.975) * sd))
    assert lo == pytest.approx(exact_lo, abs=1e-12)
    assert hi == pytest.approx(exact_hi, abs=1e-12)
    assert lo[0] == hi[0] == 0.0  # no band around a risk of 0


def test_a_linear_function_gives_the_delta_methods_interval():
    a, cov, mode = _random_problem(4, 3, 4)

    def f(th):
        return a @ th

    band = _band(f, mode, cov)
    lo, hi = band.shares(lambda v: v, f(mode)[:1])  # the shares path: the natural scale
    sd = np.sqrt(a[0] @ cov @ a[0])
    assert lo[0] == pytest.approx(f(mode)[0] - BAND_Z * sd, abs=1e-12)
    assert hi[0] == pytest.approx(f(mode)[0] + BAND_Z * sd, abs=1e-12)


def _quantile_interval(values, p):
    """Distribution-free 99.7% interval of the p-quantile from the order statistics."""
    x = np.sort(values)
    n = x.shape[0]
    k_lo = int(binom.ppf(0.0015, n, p))
    k_hi = int(binom.ppf(0.9985, n, p))
    return x[max(k_lo - 1, 0)], x[min(k_hi, n - 1)]


@pytest.mark.parametrize(
    ("cancer", "stage", "margin", "immune"),
    [
        ("colon", "II", "R1", "high"),  # the largest departure found over 48 patients
        ("colon", "III", "R0", "low"),
        ("colon", "I", "R0", "intermediate"),
        ("breast", "I", "R1", "low"),  # the widest band (the residual burden is uncertain)
        ("breast", "II", "R0", "intermediate"),
    ],
)
def test_the_band_matches_posterior_draws(cancer, stage, margin, immune):
    fit = load_default(cancer)
    patient = calibrated.patient(cancer, stage=stage, margin=margin, immune=immune)
    e = explain(patient, fit)
    design = fit.links.design(_frame([patient]))
    times = np.array([h * DAYS_PER_YEAR for h in HORIZONS_YEARS])
    thetas = np.random.default_rng(11).multivariate_normal(
        fit.result.theta, fit.result.covariance, size=DRAWS
    )
    risks = 1.0 - fit.posterior_curves(design, times, thetas)[:, 0, :, 0]
    for j, h in enumerate(HORIZONS_YEARS):
        lo, hi = e.risk_lower[str(h)], e.risk_upper[str(h)]
        slack = WIDTH_SHARE * (hi - lo)
        for bound, p in ((lo, 0.025), (hi, 0.975)):
            q_lo, q_hi = _quantile_interval(risks[:, j], p)
            assert q_lo - slack - 1e-9 <= bound <= q_hi + slack + 1e-9, (h, p, bound, q_lo, q_hi)
