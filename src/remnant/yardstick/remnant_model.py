"""The three-cause model under the yardstick's estimator contract (``--model remnant``).

A thin wrapper: :func:`remnant.fit` fits, :class:`~remnant.inference.model.RemnantFit`
predicts; the wrapper keeps the yardstick's constructor options and the fitted column order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from remnant import arguments as validate
from remnant.data.cohort import Cohort, Times
from remnant.errors import RemnantInputError
from remnant.inference.model import (
    RISK_HORIZON_YEARS,
    RemnantFit,
    check_numeric_columns,
    covariate_table,
    fit,
    has_column,
)
from remnant.model.parameters import CANCERS
from remnant.yardstick.base import SurvivalModel


class RemnantModel(SurvivalModel):
    """The three-cause model under the yardstick's contract (``--model remnant``).

    The risk score is ``-log S(h | x)`` at ``h = risk_horizon_years``: the cumulative hazard
    of the endpoint (recurrence, and death without recurrence when the fit models it).
    """

    name = "remnant"

    def __init__(
        self,
        cancer: str | None = None,
        seed: int = 0,
        risk_horizon_years: float = RISK_HORIZON_YEARS,
        fit_spread: bool | None = None,
        death_hazard: bool = True,
        fit_clock: bool | None = None,
        clock_links: bool | None = None,
        prior_scale: float | None = None,
    ) -> None:
        # checked here, so that a bad option fails before any fold is fitted
        if cancer is not None:
            validate.choice("cancer", cancer, CANCERS)
        validate.seed("seed", seed)
        validate.positive("risk_horizon_years", risk_horizon_years)
        if prior_scale is not None:
            validate.positive("prior_scale", prior_scale)
        self.cancer = cancer
        self.seed = seed
        self.risk_horizon_years = risk_horizon_years
        self.fit_spread = validate.flag("fit_spread", fit_spread)
        self.death_hazard = bool(validate.flag("death_hazard", death_hazard, allow_none=False))
        self.fit_clock = validate.flag("fit_clock", fit_clock)
        self.clock_links = validate.flag("clock_links", clock_links)
        self.prior_scale = prior_scale
        self.fit_: RemnantFit | None = None

    def _fit(
        self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray, cohort: Cohort | None
    ) -> None:
        # a cohort carries its cause groups; a bare table is fitted with every column in "other"
        data: Cohort | pd.DataFrame = cohort if cohort is not None else X
        self.fit_ = fit(
            data,
            None if cohort is not None else time,
            None if cohort is not None else event,
            cancer=self.cancer,
            seed=self.seed,
            fit_spread=self.fit_spread,
            death_hazard=self.death_hazard,
            fit_clock=self.fit_clock,
            clock_links=self.clock_links,
            prior_scale=self.prior_scale,
        )

    def _fitted(self) -> RemnantFit:
        if self.fit_ is None:
            raise RuntimeError("the model is not fitted")
        return self.fit_

    def _design(self, X: pd.DataFrame | Cohort) -> pd.DataFrame:
        """The fitted covariates of ``X``, in the fitted order, as floats.

        Raises
        ------
        RemnantInputError
            ``X`` not a DataFrame or Cohort, a fitted covariate missing or not numeric.
        """
        frame = covariate_table("X", X)
        missing = [c for c in self.covariates_ if not has_column(frame, c)]
        if missing:
            raise RemnantInputError(
                "X",
                "the covariates the model was fitted on (" + ", ".join(self.covariates_) + ")",
                ", ".join(missing),
            )
        check_numeric_columns("X", frame, self.covariates_, finite=False)
        return frame.loc[:, self.covariates_].astype(float)

    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        """S(t | x): index = ``times`` (days), one column per row of ``X``.

        Raises
        ------
        RemnantInputError
            ``X`` without the fitted covariates (finite numbers), or ``times`` not finite
            and >= 0.
        """
        return self._fitted().predict_survival(self._design(X), times)

    def risk_score(self, X: pd.DataFrame | Cohort) -> np.ndarray:
        return self._fitted().risk_score(self._design(X), self.risk_horizon_years)

    def get_params(self) -> dict[str, Any]:
        return {
            "cancer": self.cancer,
            "risk_horizon_years": self.risk_horizon_years,
            "death_hazard": self.death_hazard,
            "fit_clock": self.fit_clock,
            "clock_links": self.clock_links,
            "prior_scale": self.prior_scale,
        }
