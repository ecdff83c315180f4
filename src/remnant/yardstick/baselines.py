"""Standard survival models behind the :class:`~remnant.yardstick.base.SurvivalModel` contract.

* :class:`CoxModel` - lifelines ``CoxPHFitter`` (Breslow baseline hazard).
* :class:`WeibullModel` - lifelines ``WeibullAFTFitter`` on standardised covariates.
* :class:`ForestModel` - scikit-survival ``RandomSurvivalForest``.
* :class:`KaplanMeierModel` - lifelines ``KaplanMeierFitter``, no covariates.

All times are days. Risk scores: higher = earlier event.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter, WeibullAFTFitter
from lifelines.exceptions import ConvergenceError as LifelinesConvergenceError
from sksurv.ensemble import RandomSurvivalForest
from sksurv.util import Surv

from remnant.data.cohort import Cohort
from remnant.data.preparation import DAYS_PER_YEAR
from remnant.yardstick.base import SurvivalModel, Times, as_covariates, times_array

_T = "__time__"
_E = "__event__"
# Parametric fits need positive times; a same-day event is placed half a day after surgery.
_MIN_TIME_DAYS = 0.5
# Ridge penalty used only when the unpenalised fit fails (separation, collinearity, few
# events per covariate); the fall-back is reported as a warning.
FALLBACK_PENALIZER = 0.1


def _drop_constant(X: pd.DataFrame, what: str) -> list[str]:
    """Columns of ``X`` that vary; a constant one (e.g. in a small fold) carries no information
    and breaks lifelines' internal standardisation, so it is left out with a warning."""
    varying = [str(c) for c in X.columns if X[c].nunique(dropna=False) > 1]
    constant = [str(c) for c in X.columns if str(c) not in varying]
    if constant:
        warnings.warn(
            f"{what}: constant covariates left out: {', '.join(constant)}",
            RuntimeWarning,
            stacklevel=3,
        )
    return varying


def _fit_lifelines(
    build: Callable[[float], Any], df: pd.DataFrame, penalizer: float, what: str
) -> tuple[Any, float]:
    """Fit ``build(penalizer)`` on ``df``; on a convergence failure refit with a ridge penalty.

    Returns the fitted lifelines object and the penalizer actually used.
    """
    try:
        return build(penalizer).fit(df, duration_col=_T, event_col=_E), penalizer
    except LifelinesConvergenceError as exc:
        if penalizer >= FALLBACK_PENALIZER:
            raise
        first = str(exc).splitlines()[0] if str(exc) else "no convergence"
        warnings.warn(
            f"{what} did not converge ({first[:80]}); refitted with ridge penalizer "
            f"{FALLBACK_PENALIZER}",
            RuntimeWarning,
            stacklevel=3,
        )
        fitted = build(FALLBACK_PENALIZER).fit(df, duration_col=_T, event_col=_E)
        return fitted, FALLBACK_PENALIZER


def _frame_for_lifelines(X: pd.DataFrame, time: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    df = X.reset_index(drop=True).copy()
    df[_T] = time
    df[_E] = event
    return df


def _columns_like(X: pd.DataFrame | Cohort) -> pd.Index:
    return as_covariates(X).index


class CoxModel(SurvivalModel):
    """Cox proportional hazards (lifelines ``CoxPHFitter``).

    Parameters
    ----------
    penalizer
        Ridge penalty passed to lifelines (0 = plain partial likelihood). If the fit does not
        converge it is repeated once with :data:`FALLBACK_PENALIZER`, with a warning.
    """

    name = "cox"

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer
        self.penalizer_used_ = penalizer

    def _fit(
        self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray, cohort: Cohort | None
    ) -> None:
        self._used = _drop_constant(X, "Cox model")
        self._cph, self.penalizer_used_ = _fit_lifelines(
            lambda p: CoxPHFitter(penalizer=p),
            _frame_for_lifelines(X[self._used], time, event),
            self.penalizer,
            "Cox model",
        )

    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        t = times_array(times)
        design = self._design(X)[self._used]
        surv = self._cph.predict_survival_function(design, times=t)
        return pd.DataFrame(
            surv.to_numpy(), index=pd.Index(t, name="time_days"), columns=design.index
        )

    def risk_score(self, X: pd.DataFrame | Cohort) -> np.ndarray:
        """Linear predictor x'beta (log partial hazard)."""
        design = self._design(X)[self._used]
        return np.asarray(self._cph.predict_log_partial_hazard(design), dtype=float)

    @property
    def coefficients(self) -> pd.Series:
        """Log hazard ratios per covariate unit."""
        return self._cph.params_

    def get_params(self) -> dict[str, Any]:
        return {"penalizer": self.penalizer, "penalizer_used": self.penalizer_used_}


class WeibullModel(SurvivalModel):
    """Weibull accelerated failure time model (lifelines ``WeibullAFTFitter``).

    Covariates are standardised with the training mean and standard deviation and time is
    fitted in years, both only to help the optimiser; predictions are in days.

    Parameters
    ----------
    penalizer
        Ridge penalty passed to lifelines; as for :class:`CoxModel`, a failed fit is repeated
        once with :data:`FALLBACK_PENALIZER`, with a warning.
    """

    name = "weibull"

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer
        self.penalizer_used_ = penalizer

    def _standardise(self, X: pd.DataFrame) -> pd.DataFrame:
        return (X[self._used] - self._mean) / self._scale

    def _fit(
        self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray, cohort: Cohort | None
    ) -> None:
        self._used = _drop_constant(X, "Weibull model")
        self._mean = X[self._used].mean()
        scale = X[self._used].std(ddof=0)
        self._scale = scale.where(scale > 0, 1.0)
        years = np.maximum(time, _MIN_TIME_DAYS) / DAYS_PER_YEAR
        self._aft, self.penalizer_used_ = _fit_lifelines(
            lambda p: WeibullAFTFitter(penalizer=p),
            _frame_for_lifelines(self._standardise(X), years, event),
            self.penalizer,
            "Weibull model",
        )

    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        t = times_array(times)
        design = self._standardise(self._design(X))
        surv = self._aft.predict_survival_function(design, times=t / DAYS_PER_YEAR)
        return pd.DataFrame(
            surv.to_numpy(), index=pd.Index(t, name="time_days"), columns=design.index
        )

    def risk_score(self, X: pd.DataFrame | Cohort) -> np.ndarray:
        """Minus the log of the predicted median time (shorter median = higher risk)."""
        median = self._aft.predict_median(self._standardise(self._design(X)))
        return -np.log(np.asarray(median, dtype=float))

    def get_params(self) -> dict[str, Any]:
        return {"penalizer": self.penalizer, "penalizer_used": self.penalizer_used_}


class ForestModel(SurvivalModel):
    """Random survival forest (scikit-survival ``RandomSurvivalForest``).

    Parameters
    ----------
    n_estimators, min_samples_leaf, max_features, n_jobs
        Passed to scikit-survival; the defaults keep a 3000-patient fit to a few seconds.
    random_state
        Seed for the bootstrap and the feature draws.
    """

    name = "rsf"

    def __init__(
        self,
        n_estimators: int = 200,
        min_samples_leaf: int = 15,
        max_features: str | float = "sqrt",
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit(
        self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray, cohort: Cohort | None
    ) -> None:
        self._forest = RandomSurvivalForest(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )
        self._forest.fit(X.to_numpy(dtype=float), Surv.from_arrays(event.astype(bool), time))
        self._cache_key: tuple[Any, ...] | None = None
        self._cache_values = np.empty((0, 0))

    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        t = times_array(times)
        design = self._design(X)
        grid = self._forest.unique_times_
        values = self._survival_on_grid(design.to_numpy(dtype=float))
        # Step function: the value at the last grid time <= t, and 1 before the first.
        idx = np.searchsorted(grid, t, side="right") - 1
        surv = np.where(idx[None, :] < 0, 1.0, values[:, np.clip(idx, 0, None)])
        return pd.DataFrame(surv.T, index=pd.Index(t, name="time_days"), columns=design.index)

    def _survival_on_grid(self, x: np.ndarray) -> np.ndarray:
        # Scoring asks for several time grids on the same subjects; the forest pass is the
        # slow part, so the last one is kept.
        key = (x.shape, hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest())
        if getattr(self, "_cache_key", None) != key:
            self._cache_values = self._forest.predict_survival_function(x, return_array=True)
            self._cache_key = key
        return self._cache_values

    def risk_score(self, X: pd.DataFrame | Cohort) -> np.ndarray:
        """Ensemble cumulative hazard summed over the training event times."""
        return np.asarray(self._forest.predict(self._design(X).to_numpy(dtype=float)), dtype=float)

    def get_params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "min_samples_leaf": self.min_samples_leaf,
            "max_features": self.max_features,
            "random_state": self.random_state,
        }


class KaplanMeierModel(SurvivalModel):
    """Kaplan-Meier: every subject gets the training KM curve; the risk score is constant."""

    name = "km"
    needs_covariates = False

    def _fit(
        self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray, cohort: Cohort | None
    ) -> None:
        self._km = KaplanMeierFitter().fit(time, event)

    def _design(self, X: pd.DataFrame | Cohort) -> pd.DataFrame:
        # Covariates are ignored; only the number of subjects matters.
        return as_covariates(X)

    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        t = times_array(times)
        index = _columns_like(X)
        curve = np.asarray(self._km.survival_function_at_times(t), dtype=float)
        surv = np.repeat(curve[:, None], len(index), axis=1)
        return pd.DataFrame(surv, index=pd.Index(t, name="time_days"), columns=index)

    def risk_score(self, X: pd.DataFrame | Cohort) -> np.ndarray:
        return np.zeros(len(_columns_like(X)))
