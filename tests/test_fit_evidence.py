"""`remnant.inference.evidence`: the Laplace evidence of a prior scale and of a nested model,
against a model where it is exact (a linear-Gaussian regression), and the fit that chooses
both by it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from remnant.errors import RemnantInputError
from remnant.inference.evidence import LOG_SCALE_BOUNDS, Expansion
from remnant.inference.model import RemnantFit, fit
from remnant.inference.report import effects

SIGMA = 1.5  # noise sd of the regression


@pytest.fixture(scope="module")
def regression() -> dict[str, np.ndarray]:
    # y = X beta + noise, beta = (intercept, 4 coefficients); priors N(0, s_j^2)
    rng = np.random.default_rng(3)
    n = 60
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 4))])
    beta = np.array([1.0, 0.8, -0.3, 0.0, 0.2])
    y = X @ beta + rng.normal(0.0, SIGMA, n)
    return {
        "X": X,
        "y": y,
        "mean": np.zeros(5),
        "sd": np.array([10.0, 1.0, 1.0, 1.0, 1.0]),
        "scaled": np.array([False, True, True, True, True]),
    }


def _posterior(r: dict[str, np.ndarray], sd: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    # exact mode, covariance and log-likelihood (normal likelihood, normal prior)
    X, y = r["X"], r["y"]
    h = X.T @ X / SIGMA**2 + np.diag(1.0 / sd**2)
    cov = np.linalg.inv(h)
    mode = cov @ (X.T @ y / SIGMA**2 + r["mean"] / sd**2)
    ll = float(stats.norm.logpdf(y, X @ mode, SIGMA).sum())
    return mode, cov, ll


def _exact(r: dict[str, np.ndarray], scale: float) -> float:
    # log p(y | scale): y ~ N(X m, SIGMA^2 I + X S X^T)
    X = r["X"]
    sd = np.where(r["scaled"], r["sd"] * scale, r["sd"])
    cov = SIGMA**2 * np.eye(len(r["y"])) + X @ np.diag(sd**2) @ X.T
    return float(stats.multivariate_normal(X @ r["mean"], cov).logpdf(r["y"]))


def _at_mode(r: dict[str, np.ndarray]) -> Expansion:
    return Expansion.at_mode(*_posterior(r, r["sd"]), r["mean"], r["sd"], r["scaled"])


def test_laplace_evidence_is_exact_for_a_linear_gaussian_model(regression):
    r = regression
    at = _at_mode(r)
    for scale in (0.1, 0.3, 1.0, 2.5):
        ev, predicted = at.log_evidence(scale)
        assert ev == pytest.approx(_exact(r, scale), abs=1e-8)
        sd = np.where(r["scaled"], r["sd"] * scale, r["sd"])
        np.testing.assert_allclose(predicted, _posterior(r, sd)[0], atol=1e-10)


def test_best_scale_is_the_exact_maximum(regression):
    r = regression
    at = _at_mode(r)
    scale, evidence, _ = at.best_scale()
    assert evidence == pytest.approx(_exact(r, scale), abs=1e-8)
    ref = optimize.minimize_scalar(
        lambda ls: -_exact(r, math.exp(ls)),
        bounds=LOG_SCALE_BOUNDS,
        method="bounded",
    )
    assert scale == pytest.approx(math.exp(ref.x), rel=1e-3)
    lo, hi = (math.exp(b) for b in LOG_SCALE_BOUNDS)
    assert 1.01 * lo < scale < hi / 1.01  # an interior maximum, not a bound


def test_fit_chooses_the_scale_and_keeps_it(tmp_path):
    rng = np.random.default_rng(8)
    n = 400
    X = pd.DataFrame({"stage": rng.normal(size=n), "noise": rng.normal(size=n)})
    event_time = rng.exponential(1500.0 * np.exp(-0.6 * X["stage"].to_numpy()))
    censor = rng.uniform(365.0, 3650.0, n)
    time, event = np.minimum(event_time, censor), (event_time <= censor).astype(int)
    groups = {"stage": ["stage"], "other": ["noise"]}
    chosen = fit(X, time, event, groups=groups, seed=0, clock_links=False)
    assert list(chosen.data["evidence"]) == ["clock per cohort"]
    scale = chosen.links.prior_scale
    assert scale != 1.0 and 0.05 <= scale <= 4.0
    # the chosen scale's fit is the fit at that scale from the prior mean: each mode is
    # located to 0.1 se (fit/map.py), so they agree to 0.2 se
    fixed = fit(X, time, event, groups=groups, seed=0, clock_links=False, prior_scale=scale)
    gap = np.abs(chosen.result.theta - fixed.result.theta) / fixed.result.se
    assert gap.max() < 0.2, gap
    loaded = RemnantFit.load(chosen.save(tmp_path / "m.json"))
    assert loaded.links.prior_scale == scale
    coef = loaded.links.coefficients()
    np.testing.assert_array_equal(loaded.links.priors()[1], chosen.links.priors()[1])
    default_sd = fit(
        X, time, event, groups=groups, seed=0, clock_links=False, prior_scale=1.0
    ).links.priors()[1]
    np.testing.assert_allclose(chosen.links.priors()[1][coef], scale * default_sd[coef])
    np.testing.assert_array_equal(chosen.links.priors()[1][~coef], default_sd[~coef])


def test_evidence_is_exact_from_a_point_that_is_not_the_mode(regression):
    # the fit expands the log-likelihood near its mode, not at it (fit/map.py near_mode):
    # with the point's own gradient and Hessian, a quadratic log-likelihood gives the closed
    # form and the exact modes from anywhere
    r = regression
    X, y = r["X"], r["y"]
    away = _posterior(r, r["sd"])[0] + np.array([0.3, -0.2, 0.5, 0.1, -0.4])
    at = Expansion(
        away,
        float(stats.norm.logpdf(y, X @ away, SIGMA).sum()),
        X.T @ (y - X @ away) / SIGMA**2,
        X.T @ X / SIGMA**2,
        r["mean"],
        r["sd"],
        r["scaled"],
    )
    for scale in (0.2, 1.0, 3.0):
        ev, predicted = at.log_evidence(scale)
        assert ev == pytest.approx(_exact(r, scale), abs=1e-8)
        sd = np.where(r["scaled"], r["sd"] * scale, r["sd"])
        np.testing.assert_allclose(predicted, _posterior(r, sd)[0], atol=1e-10)


def _clock_data(n: int, seed: int, clock: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    # Weibull times (shape 2) whose time scale moves with "stage" by exp(-clock) per sd: an
    # accelerated clock, not a proportional hazard
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"stage": rng.normal(size=n), "noise": rng.normal(size=n)})
    scale = 1200.0 * np.exp(-clock * X["stage"].to_numpy())
    event_time = scale * rng.weibull(2.0, n)
    censor = rng.uniform(365.0, 3650.0, n)
    return X, np.minimum(event_time, censor), (event_time <= censor).astype(int)


# the case without a clock per patient runs in make verify (each fit takes ~11 s)
@pytest.mark.parametrize(
    "clock, per_patient", [(0.8, True), pytest.param(0.0, False, marks=pytest.mark.slow)]
)
def test_fit_chooses_the_clock_links_of_higher_evidence(clock, per_patient):
    X, time, event = _clock_data(500, 4, clock)
    groups = {"stage": ["stage"], "other": ["noise"]}
    chosen = fit(X, time, event, groups=groups, seed=0)
    record = chosen.data["evidence"]
    assert set(record) == {"clock per patient", "clock per cohort"}
    best = max(record, key=lambda k: record[k]["log_evidence"])
    assert chosen.links.clock_links == (best == "clock per patient") == per_patient, record
    assert chosen.links.prior_scale == record[best]["prior_scale"]
    assert ("stage:stage@clock" in chosen.result.names) == per_patient
    moved = set(effects(chosen).query("column == 'stage'")["moves"])
    assert ("clock speed (a)" in moved) == per_patient, moved
    # the chosen fit is the fit of that structure at that width from the prior mean (each
    # located to 0.1 se)
    fixed = fit(
        X,
        time,
        event,
        groups=groups,
        seed=0,
        clock_links=per_patient,
        prior_scale=chosen.links.prior_scale,
    )
    assert fixed.result.names == chosen.result.names
    gap = np.abs(chosen.result.theta - fixed.result.theta) / fixed.result.se
    assert gap.max() < 0.2, gap


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "x", True])
def test_bad_prior_scale_is_refused(bad):
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    with pytest.raises(RemnantInputError, match="prior_scale"):
        fit(X, [100.0, 200.0, 300.0], [1, 0, 1], prior_scale=bad)


@pytest.mark.parametrize("bad", ["yes", 1, 0.0, [True]])
def test_bad_clock_links_is_refused(bad):
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    with pytest.raises(RemnantInputError, match="clock_links"):
        fit(X, [100.0, 200.0, 300.0], [1, 0, 1], groups={"stage": ["a"]}, clock_links=bad)


def test_without_stage_columns_there_is_one_clock_per_cohort():
    # nothing can move a patient's clock: the fit neither offers nor records a clock per
    # patient
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"noise": rng.normal(size=200)})
    time = rng.exponential(1500.0, 200)
    fitted = fit(X, np.minimum(time, 3000.0), (time < 3000.0).astype(int), seed=0)
    assert not fitted.links.clock_links
    assert list(fitted.data["evidence"]) == ["clock per cohort"]
