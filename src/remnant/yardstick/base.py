"""The estimator contract every survival model in the yardstick follows.

Conventions (stated once, used everywhere):

* Time is in **days** since surgery (or randomisation), as in :class:`remnant.data.Cohort`.
* ``predict_survival(X, times)`` returns a DataFrame shaped like lifelines' output: the index
  is the time in days, one column per subject (labelled by ``X``'s index), values S(t | x).
* ``predict_risk(X, horizon_days)`` is the probability of the event by the horizon,
  ``1 - S(horizon | x)``.
* ``risk_score(X)``: **higher score = earlier event**. Any monotone transform is allowed
  (linear predictor, cumulative hazard, minus the median time); only the order is used by
  concordance indices. Scikit-survival's metrics share this convention; lifelines'
  ``concordance_index`` expects the opposite and is not used here.

A model is fitted on a :class:`~remnant.data.Cohort` (so it can see the cause groups), or on
a covariate DataFrame plus a scikit-survival outcome array.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

import numpy as np
import pandas as pd

from remnant.data.cohort import Cohort, Times, as_covariates, times_array


def split_outcome(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(time in days, event as 0/1 int) from a scikit-survival structured array."""
    names = y.dtype.names
    if names is None or len(names) != 2:
        raise TypeError("y must be a structured array with an event and a time field")
    event_field, time_field = names
    return np.asarray(y[time_field], dtype=float), np.asarray(y[event_field], dtype=int)


class SurvivalModel(ABC):
    """Base class: subclasses implement :meth:`_fit`, :meth:`predict_survival` and
    :meth:`risk_score`; :meth:`fit` and :meth:`predict_risk` come for free.

    Attributes
    ----------
    name
        Registry name (``"cox"``, ``"rsf"``...).
    needs_covariates
        False for models that ignore covariates (Kaplan-Meier).
    covariates_
        Covariate names seen at fit time; prediction uses these columns in this order.
    """

    name: str = "model"
    needs_covariates: bool = True
    covariates_: list[str]

    def fit(self, data: pd.DataFrame | Cohort, y: np.ndarray | None = None) -> Self:
        """Fit on a cohort, or on covariates ``data`` and outcome ``y``.

        Parameters
        ----------
        data
            A :class:`Cohort`, or a covariate DataFrame (one row per subject).
        y
            Scikit-survival structured array (event, time in days); required with a
            DataFrame, ignored with a cohort.
        """
        cohort = data if isinstance(data, Cohort) else None
        if cohort is not None:
            X = cohort.X
            time, event = cohort.time, cohort.event
        else:
            if y is None:
                raise TypeError("y is required when fitting on a DataFrame")
            X = as_covariates(data)
            time, event = split_outcome(y)
        if len(X) != len(time):
            raise ValueError(f"{len(X)} covariate rows but {len(time)} outcomes")
        self.covariates_ = [str(c) for c in X.columns]
        self._fit(X, time, event, cohort)
        return self

    @abstractmethod
    def _fit(
        self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray, cohort: Cohort | None
    ) -> None:
        """Fit on covariates ``X``, times (days) and 0/1 events; ``cohort`` if one was given."""

    @abstractmethod
    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        """S(t | x): index = ``times`` (days), one column per row of ``X``."""

    @abstractmethod
    def risk_score(self, X: pd.DataFrame | Cohort) -> np.ndarray:
        """One score per subject; higher = earlier event."""

    def predict_risk(self, X: pd.DataFrame | Cohort, horizon_days: float) -> np.ndarray:
        """Probability of the event by ``horizon_days``: ``1 - S(horizon_days | x)``."""
        surv = self.predict_survival(X, [float(horizon_days)])
        return 1.0 - surv.to_numpy(dtype=float)[0]

    def _design(self, X: pd.DataFrame | Cohort) -> pd.DataFrame:
        """Covariates in the fitted column order; a missing column is an error naming it."""
        frame = as_covariates(X)
        absent = [c for c in self.covariates_ if c not in frame.columns]
        if absent:
            raise KeyError(f"covariates missing for prediction: {absent}")
        return frame.loc[:, self.covariates_]

    def get_params(self) -> dict[str, Any]:
        """Constructor settings, for reports."""
        return {}


__all__ = ["SurvivalModel", "Times", "as_covariates", "split_outcome", "times_array"]
