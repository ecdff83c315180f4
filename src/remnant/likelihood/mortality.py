"""Other-cause death in closed form (docs/model.md, 1.8).

Gompertz-Makeham hazard ``h(x) = A + B exp(C x)`` per year at age ``x``, from the age at
surgery ``x0``. With ``y`` the years since surgery,

    S_death(y) = exp(-A y - (B / C) exp(C x0) (exp(C y) - 1)),

the law of ``min(T_A, T_G)`` the engine draws.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from remnant.model.parameters import Mechanism
from remnant.model.units import DAYS_PER_YEAR


def death_survival(times_days: ArrayLike, age: ArrayLike, mech: Mechanism) -> np.ndarray:
    """Probability of being alive (other causes only) ``t`` days after surgery.

    Parameters
    ----------
    times_days : array_like
        Days since surgery (>= 0).
    age : array_like
        Age at surgery (years); broadcast against ``times_days``.
    mech : Mechanism
        Supplies ``mortality_a`` (per year), ``mortality_b`` (per year), ``mortality_c``
        (per year of age).

    Returns
    -------
    numpy.ndarray
        ``S_death`` with the broadcast shape.
    """
    y = np.asarray(times_days, dtype=np.float64) / DAYS_PER_YEAR
    x0 = np.asarray(age, dtype=np.float64)
    a, b, c = mech.mortality_a, mech.mortality_b, mech.mortality_c
    cum = a * y + (b / c) * np.exp(c * x0) * np.expm1(c * y)
    return np.asarray(np.exp(-cum))


def death_hazard(times_days: ArrayLike, age: ArrayLike, mech: Mechanism) -> np.ndarray:
    """Other-cause hazard (per day) ``t`` days after surgery for age at surgery ``age``."""
    y = np.asarray(times_days, dtype=np.float64) / DAYS_PER_YEAR
    x0 = np.asarray(age, dtype=np.float64)
    h = mech.mortality_a + mech.mortality_b * np.exp(mech.mortality_c * (x0 + y))
    return np.asarray(h / DAYS_PER_YEAR)
