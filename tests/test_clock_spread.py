"""The disease clock's spread between patients, integrated over log time (docs/model.md 1.10).

The hat-weight sum over the knots is checked against numerical quadrature of the truncated
lognormal clock for a curve with a sharp bend (a Weibull of shape 12 in disease time; the
model's sharpest curves, an R2 margin clone's, are held to the engine in
tests/test_calibrated.py), the densities against differences of the survival, and a
fit's gradient and Hessian with the spread against differences of its objective.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from remnant.inference.clock_spread import CLOCK_STEP, clock_nodes, combine_terms, mix_curves
from remnant.model.parameters import GROWTH_Z_MAX, PUBLISHED_GROWTH_SPREAD

SCALE = 600.0  # days
SHAPE = 12.0


def weibull_curves(tau: np.ndarray) -> np.ndarray:
    """(S, f, 0) of a Weibull in disease time, one patient."""
    x = (tau / SCALE) ** SHAPE
    s = np.exp(-x)
    f = np.where(tau > 0, SHAPE / SCALE * (tau / SCALE) ** (SHAPE - 1) * s, 0.0)
    return np.stack([s, f, np.zeros_like(s)], axis=-1)[None]


def by_quadrature(t: float, ln_a: float, spread: float) -> float:
    mass = stats.norm.cdf(GROWTH_Z_MAX) - stats.norm.cdf(-GROWTH_Z_MAX)

    def integrand(z: float) -> float:
        return float(weibull_curves(np.array([t * np.exp(ln_a + spread * z)]))[0, 0, 0])

    pieces = np.linspace(-GROWTH_Z_MAX, GROWTH_Z_MAX, 61)
    total = sum(
        integrate.quad(lambda z: integrand(z) * stats.norm.pdf(z), lo, hi)[0]
        for lo, hi in zip(pieces[:-1], pieces[1:], strict=True)
    )
    return total / mass


@pytest.mark.parametrize("ln_a", [0.0, -0.4])
def test_mixed_survival_matches_quadrature(ln_a: float) -> None:
    spread = PUBLISHED_GROWTH_SPREAD
    times = np.array([0.0, 50.0, 200.0, 400.0, 600.0, 800.0, 1200.0, 2500.0])
    mixed = mix_curves(times, np.array([ln_a]), spread, weibull_curves)[0]
    want = np.array([by_quadrature(t, ln_a, spread) if t > 0 else 1.0 for t in times])
    # linear in log time between knots: the error is about CLOCK_STEP^2 / 12 times the
    # curvature of the mixed curve in ln t (below 4 here)
    assert np.abs(mixed[:, 0] - want).max() < CLOCK_STEP**2 / 12 * 4
    # the spread matters: the mixed curve is not the clock-1 curve
    plain = weibull_curves(times * np.exp(ln_a))[0, :, 0]
    assert np.abs(mixed[:, 0] - plain).max() > 0.1


def test_mixed_density_is_the_slope_of_the_mixed_survival() -> None:
    spread = PUBLISHED_GROWTH_SPREAD
    t = np.linspace(100.0, 2000.0, 40)
    h = 0.5
    s = mix_curves(np.concatenate([t - h, t + h]), np.zeros(1), spread, weibull_curves)[0, :, 0]
    slope = (s[:40] - s[40:]) / (2 * h)
    f = mix_curves(t, np.zeros(1), spread, weibull_curves)[0, :, 1]
    assert np.abs(f - slope).max() < 0.01 * f.max()


def test_knots_of_a_patient_sum_to_its_mixed_terms() -> None:
    spread = 0.6
    time = np.array([300.0, 700.0, 1500.0])
    event = np.array([0, 1, 1])
    ln_a = np.array([0.0, 0.3, -0.2])
    terms, grad = combine_terms(3, *_nodes_terms(time, ln_a, event, spread))
    one = [mix_curves(time[i : i + 1], ln_a[i : i + 1], spread, weibull_curves) for i in range(3)]
    mixed = np.stack([m[0, 0] for m in one])
    want = np.log(np.where(event == 1, mixed[:, 1], mixed[:, 0]))
    assert terms == pytest.approx(want, abs=1e-9)
    # the derivative in log a against differences of the terms
    h = 1e-5
    up = combine_terms(3, *_nodes_terms(time, ln_a + h, event, spread))[0]
    down = combine_terms(3, *_nodes_terms(time, ln_a - h, event, spread))[0]
    assert grad[:, 3] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-7)


def _nodes_terms(
    time: np.ndarray, ln_a: np.ndarray, event: np.ndarray, spread: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    patient, tau, weight, slope = clock_nodes(time, ln_a, event, spread)
    base = weibull_curves(tau)[0]
    ev = event[patient] == 1
    node_terms = np.log(np.maximum(np.where(ev, base[:, 1], base[:, 0]), 1e-300))
    return patient, weight, slope, node_terms, np.zeros((tau.size, 5))


def test_a_time_weighs_the_same_knots_whatever_else_is_asked() -> None:
    # a patient's curve at 5 years is the same asked alone, with a whole curve, or as the
    # likelihood term of a patient censored then (the explanation reads the mixed patient
    # with every cause off the patient's own curve)
    spread = PUBLISHED_GROWTH_SPREAD
    ln_a = np.array([-0.3])
    five = 1826.25
    alone = mix_curves(np.array([five]), ln_a, spread, weibull_curves)[0, 0]
    times = np.concatenate([np.arange(0.0, 3653.0, 30.4375), [five]])
    along = mix_curves(times, ln_a, spread, weibull_curves)[0, -1]
    assert alone.tobytes() == along.tobytes()
    patient, tau, weight, slope = clock_nodes(np.array([five]), ln_a, np.array([0]), spread)
    base = weibull_curves(tau)[0]
    with np.errstate(divide="ignore"):  # the slowest knots' survival underflows to 0
        log_s = np.log(base[:, 0])
    terms, _ = combine_terms(1, patient, weight, slope, log_s, np.zeros((tau.shape[0], 5)))
    assert np.exp(terms[0]) == pytest.approx(alone[0], rel=1e-13)
