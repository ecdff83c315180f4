"""Death without recurrence: the Gompertz hazard fitted beside the mechanism, the cohort
column that says which events were such deaths, and the fitted model's endpoint survival."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from remnant.data import load_cohort
from remnant.data.cohort import DEATH_FIRST_COL, Cohort, Provenance
from remnant.data.preparation import assemble_cohort
from remnant.errors import RemnantInputError
from remnant.inference.death import (
    AGE_CENTRE,
    DECADE,
    _negative_log_posterior,
    fit_death,
)
from remnant.inference.model import RemnantFit, fit
from remnant.model.units import DAYS_PER_YEAR

TRUTH = (-4.2, 0.6)  # log hazard per year at 60, log HR per decade: away from the prior's centre


def gompertz_years(rng: np.random.Generator, age: np.ndarray, r: float, s: float) -> np.ndarray:
    """Years to death by inverting H(y) = exp(r + s x)(10/s)(exp(s y/10) - 1) = Exp(1)."""
    level = np.exp(r + s * (age - AGE_CENTRE) / DECADE)
    e = rng.exponential(1.0, age.shape[0])
    return DECADE / s * np.log1p(e * s / (DECADE * level))


def competing_cohort(n: int, seed: int) -> Cohort:
    """Recurrences (exponential, rate rising with ``stage``) and Gompertz deaths by age;
    the first of the two, censored uniformly over 1-15 years."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(35.0, 85.0, n)
    stage = rng.normal(0.0, 1.0, n)
    rec = rng.exponential(DAYS_PER_YEAR / (0.08 * np.exp(0.8 * stage)))
    death = gompertz_years(rng, age, *TRUTH) * DAYS_PER_YEAR
    censor = rng.uniform(1.0, 15.0, n) * DAYS_PER_YEAR
    time = np.minimum.reduce([rec, death, censor])
    event = (time < censor).astype(int)
    first = ((death < rec) & (death < censor)).astype(int)
    return assemble_cohort(
        "competing",
        pd.DataFrame({"stage": stage, "age": age}),
        time_days=time,
        event=event,
        groups={"stage": ("stage",), "other": ("age",)},
        endpoint="recurrence or death",
        provenance=Provenance("simulated"),
        death_first=first,
    )


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return competing_cohort(700, seed=3)


@pytest.fixture(scope="module")
def fitted(cohort: Cohort) -> RemnantFit:
    return fit(cohort, cancer="colon", seed=0)


def test_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    years = rng.uniform(0.1, 15.0, 300)
    death = (rng.uniform(size=300) < 0.2).astype(float)
    x = rng.uniform(-2.0, 2.0, 300)
    for p in (np.array([-5.0, 1.0]), np.array([-3.0, 0.2]), np.array([-4.0, 1e-10])):
        analytic = _negative_log_posterior(p, years, death, x)[1]
        numeric = approx_fprime(p, lambda q: _negative_log_posterior(q, years, death, x)[0], 1e-6)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)


def test_fit_recovers_the_gompertz_hazard_within_three_standard_errors() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    age = rng.uniform(35.0, 85.0, n)
    death_years = gompertz_years(rng, age, *TRUTH)
    censor = rng.uniform(0.5, 15.0, n)
    time = np.minimum(death_years, censor) * DAYS_PER_YEAR
    d = fit_death(time, (death_years < censor).astype(int), age)
    se = np.sqrt(np.diag(d.covariance))
    assert np.all(np.abs(d.theta - np.array(TRUTH)) < 3 * se), (d.theta, se)
    assert d.deaths == int((death_years < censor).sum())


def test_death_survival_is_the_closed_form() -> None:
    rng = np.random.default_rng(2)
    age = rng.uniform(40.0, 80.0, 50)
    d = fit_death(rng.uniform(100.0, 5000.0, 50), (rng.uniform(size=50) < 0.3).astype(int), age)
    t = np.array([0.0, 365.25, 1826.25, 3652.5])
    y = t / DAYS_PER_YEAR
    level = np.exp(d.log_rate + d.age_slope * (age[:, None] - AGE_CENTRE) / DECADE)
    expected = np.exp(-level * DECADE / d.age_slope * np.expm1(d.age_slope * y[None, :] / DECADE))
    np.testing.assert_allclose(d.survival(t, age), expected, rtol=1e-10)
    assert np.all(np.diff(d.survival(t, age), axis=1) < 0)


def test_rotterdam_says_which_events_were_deaths() -> None:
    c = load_cohort("rotterdam")
    first = c.death_first
    assert first is not None
    assert int(first.sum()) == 195  # deaths without a recorded recurrence (survival::rotterdam)
    assert np.all(first <= c.event)
    assert c.subset([0, 5, 9]).death_first is not None
    assert c.restrict(["age", "meno"]).death_first is not None
    assert load_cohort("gbsg").death_first is None


def test_cohort_rejects_a_death_that_is_not_an_event() -> None:
    c = load_cohort("rotterdam")
    frame = c.frame.copy()
    censored = int(np.flatnonzero(c.event == 0)[0])
    frame.loc[censored, DEATH_FIRST_COL] = 1
    with pytest.raises(ValueError, match=DEATH_FIRST_COL):
        Cohort(name="bad", frame=frame, other_cols=c.other_cols, stage_cols=c.stage_cols)


def test_fit_models_deaths_apart_from_recurrences(fitted: RemnantFit, cohort: Cohort) -> None:
    assert fitted.death is not None
    assert fitted.data["events"] == int(cohort.event.sum() - cohort.death_first.sum())
    se = np.sqrt(np.diag(fitted.death.covariance))
    assert np.all(np.abs(fitted.death.theta - np.array(TRUTH)) < 3 * se)
    par = fitted.parameters()
    assert {"death_log_rate", "death_age_slope"} <= set(par.index)


def test_endpoint_survival_is_recurrence_times_death(fitted: RemnantFit) -> None:
    X = pd.DataFrame({"stage": [-1.0, 0.0, 1.5], "age": [45.0, 65.0, 80.0]})
    t = np.array([0.0, 365.25, 1826.25, 3652.5])
    s = fitted.predict_survival(X, t).to_numpy().T
    s_rec = fitted.curves(X, t)[:, :, 0]
    np.testing.assert_allclose(s, s_rec * fitted.death.survival(t, X["age"].to_numpy()))
    assert np.all(s[:, 1:] < s_rec[:, 1:])
    with pytest.raises(RemnantInputError, match="age"):
        fitted.predict_survival(X[["stage"]], t)


def test_death_hazard_survives_save_and_load(fitted: RemnantFit, tmp_path: Path) -> None:
    back = RemnantFit.load(fitted.save(tmp_path / "m.json"))
    assert back.death is not None
    np.testing.assert_allclose(back.death.theta, fitted.death.theta)
    np.testing.assert_allclose(back.death.covariance, fitted.death.covariance)
    X = pd.DataFrame({"stage": [0.5], "age": [70.0]})
    pd.testing.assert_frame_equal(
        back.predict_survival(X, [730.5]), fitted.predict_survival(X, [730.5])
    )
    pd.testing.assert_frame_equal(back.parameters(), fitted.parameters())


def test_without_the_death_hazard_deaths_are_recurrences(cohort: Cohort) -> None:
    f = fit(cohort.restrict(["stage", "age"]), cancer="colon", death_hazard=False)
    assert f.death is None
    assert f.data["events"] == int(cohort.event.sum())
