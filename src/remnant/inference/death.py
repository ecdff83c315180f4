"""Death without recurrence: a Gompertz hazard in attained age, fitted beside the mechanism.

When a cohort's endpoint is recurrence-free survival (recurrence or death) and the data say
which events were deaths with no recurrence before them, the likelihood factorises into the
recurrence mechanism (those deaths censor it) and a cause-specific hazard of death
(recurrences censor it), with no shared parameter (docs/fit.md, section 1). The death hazard
is the engine's other-cause mortality without its Makeham term, per year at attained age
``x = age + y`` (``y`` years since surgery):

    h(y) = exp(r + s (x - 60) / 10),
    H(y) = exp(r + s (age - 60) / 10) (10 / s) (exp(s y / 10) - 1),

``r`` the log hazard per year at 60 and ``s`` the log hazard ratio per decade of age.
Fitted by maximum a posteriori (analytic gradient) with weakly informative priors from the
engine's defaults; Laplace covariance from central differences of the gradient.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from remnant.errors import ConvergenceError
from remnant.likelihood.mortality import death_survival
from remnant.model.parameters import Mechanism
from remnant.model.units import DAYS_PER_YEAR

AGE_CENTRE = 60.0  # years: r is the log hazard at this age
DECADE = 10.0
NAMES = ("death_log_rate", "death_age_slope")


def _prior() -> tuple[np.ndarray, np.ndarray]:
    # Centred on the engine's other-cause mortality (Gompertz-Makeham, docs/parameters.md):
    # its hazard at 60 and its Gompertz slope per decade; a cohort of operated cancer
    # patients may die of other causes several-fold faster or slower (sd 1.5 on the log
    # rate), and adult mortality doubles every 6-10 years (slope 0.7-1.2 per decade, sd 0.5).
    m = Mechanism()
    at_60 = m.mortality_a + m.mortality_b * math.exp(m.mortality_c * AGE_CENTRE)
    return np.array([math.log(at_60), m.mortality_c * DECADE]), np.array([1.5, 0.5])


def _growth(s: float, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``g(s) = (10 / s)(exp(s y / 10) - 1)`` (years) and ``dg/ds``, stable near ``s = 0``."""
    u = s * y / DECADE
    if abs(s) < 1e-8:
        return y.copy(), y * y / (2 * DECADE)
    e = np.expm1(u)
    g = DECADE * e / s
    dg = (y * (e + 1.0) - g) / s
    return g, dg


def _negative_log_posterior(
    p: np.ndarray, years: np.ndarray, death: np.ndarray, x: np.ndarray
) -> tuple[float, np.ndarray]:
    r, s = float(p[0]), float(p[1])
    g, dg = _growth(s, years)
    level = np.exp(r + s * x)
    cum = level * g
    loglik = float(death @ (r + s * (x + years / DECADE)) - cum.sum())
    d_r = float(death.sum() - cum.sum())
    d_s = float(death @ (x + years / DECADE) - (cum * x + level * dg).sum())
    mean, sd = _prior()
    z = (p - mean) / sd
    return -loglik + 0.5 * float(z @ z), -np.array([d_r, d_s]) + z / sd


@dataclass(frozen=True)
class OtherCauseDeath:
    """Fitted hazard of death without recurrence.

    Attributes
    ----------
    log_rate : float
        Log hazard per year at age 60.
    age_slope : float
        Log hazard ratio per decade of attained age.
    covariance : ndarray, shape (2, 2)
        Laplace covariance of ``(log_rate, age_slope)``.
    deaths : int
        Deaths without recurrence in the fitting data.
    """

    log_rate: float
    age_slope: float
    covariance: np.ndarray
    deaths: int

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.log_rate, self.age_slope])

    def mechanism(self, base: Mechanism | None = None) -> Mechanism:
        """The engine's other-cause mortality set to this hazard (no Makeham term)."""
        c = self.age_slope / DECADE
        b = math.exp(self.log_rate - c * AGE_CENTRE)
        return dataclasses.replace(
            base or Mechanism(), mortality_a=0.0, mortality_b=b, mortality_c=c
        )

    def survival(self, times_days: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Probability of no death without recurrence, shape (n patients, n times).

        Parameters
        ----------
        times_days : ndarray
            Days since surgery.
        age : ndarray
            Age at surgery per patient (years).
        """
        t = np.asarray(times_days, dtype=float)[None, :]
        a = np.asarray(age, dtype=float)[:, None]
        return death_survival(t, a, self.mechanism())

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_rate": self.log_rate,
            "age_slope": self.age_slope,
            "covariance": [[float(v) for v in row] for row in self.covariance],
            "deaths": self.deaths,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OtherCauseDeath:
        return cls(
            float(data["log_rate"]),
            float(data["age_slope"]),
            np.asarray(data["covariance"], dtype=float).reshape(2, 2),
            int(data["deaths"]),
        )


def fit_death(time_days: np.ndarray, death: np.ndarray, age: np.ndarray) -> OtherCauseDeath:
    """MAP fit of the Gompertz hazard of death without recurrence.

    Parameters
    ----------
    time_days : ndarray
        Follow-up (days): to the first event or censoring.
    death : ndarray of 0/1
        1 where the first event was a death without recurrence (recurrences and censoring: 0).
    age : ndarray
        Age at surgery (years).

    Raises
    ------
    ConvergenceError
        The optimiser did not converge or the Hessian is not positive definite.
    """
    years = np.asarray(time_days, dtype=float) / DAYS_PER_YEAR
    d = np.asarray(death, dtype=float)
    x = (np.asarray(age, dtype=float) - AGE_CENTRE) / DECADE
    args = (years, d, x)
    start, _ = _prior()
    from scipy import optimize  # imported when a hazard is fitted (0.6 s of imports)

    res = optimize.minimize(
        _negative_log_posterior, start, args=args, jac=True, method="BFGS", tol=1e-10
    )
    grad = _negative_log_posterior(res.x, *args)[1]
    if not np.isfinite(res.fun) or np.abs(grad).max() > 1e-3:
        raise ConvergenceError(f"death-without-recurrence hazard: {res.message}")
    step = 1e-5
    hess = np.empty((2, 2))
    for k in range(2):
        e = np.zeros(2)
        e[k] = step
        up = _negative_log_posterior(res.x + e, *args)[1]
        down = _negative_log_posterior(res.x - e, *args)[1]
        hess[:, k] = (up - down) / (2 * step)
    hess = 0.5 * (hess + hess.T)
    if np.linalg.eigvalsh(hess).min() <= 0:
        raise ConvergenceError("death-without-recurrence hazard: Hessian not positive definite")
    return OtherCauseDeath(float(res.x[0]), float(res.x[1]), np.linalg.inv(hess), int(d.sum()))
