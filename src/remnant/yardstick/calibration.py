"""Calibration of predicted risks at a horizon, for censored data.

Definitions (time in days, risk = 1 - S(h), h = the calibration horizon):

``groups``
    Subjects split into equal-size groups by predicted risk (deciles, or quintiles below 200
    subjects); per group the mean predicted risk and the Kaplan-Meier observed risk at h
    (lifelines ``KaplanMeierFitter``) with its 95% interval.
``slope``
    Coefficient of a Cox model fitted on the test set with the predicted log cumulative
    hazard at h, log(-log S(h | x)), as its only covariate (lifelines ``CoxPHFitter``).
    1 is ideal; below 1 the predictions are too extreme, above 1 too modest.
``intercept``
    Calibration-in-the-large by Poisson recalibration (Crowson, Atkinson & Therneau 2016,
    Stat Methods Med Res 25:1692): events up to h regressed on an intercept with offset
    log E_i, where E_i = -log S(min(t_i, h) | x_i) is the expected number of events over the
    subject's follow-up up to h. With the intercept alone the estimate is log(O / E), so 0 is
    ideal and a positive value means the model under-predicts.
``oe_ratio``
    Observed / expected at h: Kaplan-Meier risk at h over the mean predicted risk at h
    (McLernon et al. 2023, Ann Intern Med 176:105).
``ici``, ``e50``, ``e90``
    Integrated calibration index (Austin, Harrell & van Klaveren 2020, Stat Med 39:2714):
    the smoothed observed risk at h is obtained from a Cox model fitted on the test set with a
    restricted cubic spline (3 knots at the 10th, 50th, 90th percentiles; Harrell 2015,
    Regression Modeling Strategies, sec. 2.4.5) of log(-log S(h | x)) as covariate; ICI is the
    mean, E50 the median and E90 the 90th percentile of |predicted - smoothed observed|.

Constant predictions (Kaplan-Meier model) make the slope undefined (NaN); their smoothed
observed risk is the overall Kaplan-Meier risk at h.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter

_T = "__time__"
_E = "__event__"
_EPS = 1e-10
_KNOT_QUANTILES = (0.10, 0.50, 0.90)


def log_cumulative_hazard(surv_at_h: np.ndarray) -> np.ndarray:
    """log(-log S), with S clipped away from 0 and 1 so the result is finite."""
    s = np.clip(np.asarray(surv_at_h, dtype=float), _EPS, 1.0 - _EPS)
    return np.log(-np.log(s))


def _is_constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) < 1e-9 * max(1.0, float(np.abs(x).max())))


def _cox(time: np.ndarray, event: np.ndarray, covariates: pd.DataFrame) -> CoxPHFitter | None:
    """A Cox fit for calibration, or None if lifelines cannot fit it."""
    df = covariates.reset_index(drop=True).copy()
    df[_T] = time
    df[_E] = event
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CoxPHFitter().fit(df, duration_col=_T, event_col=_E)
    except Exception:  # noqa: BLE001 - lifelines raises several types for singular fits
        return None


def km_risk(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float, float]:
    """Kaplan-Meier risk 1 - S(horizon) with its 95% interval (lifelines, log-log CI)."""
    km = KaplanMeierFitter().fit(time, event)
    s = float(km.survival_function_at_times(horizon).iloc[0])
    ci = km.confidence_interval_survival_function_
    # The interval holds at the last time at or before the horizon.
    row = ci.loc[ci.index <= horizon]
    lo_s, hi_s = (row.iloc[-1, 0], row.iloc[-1, 1]) if len(row) else (1.0, 1.0)
    return 1.0 - s, 1.0 - float(hi_s), 1.0 - float(lo_s)


def calibration_groups(
    time: np.ndarray,
    event: np.ndarray,
    predicted_risk: np.ndarray,
    horizon: float,
    n_groups: int | None = None,
) -> pd.DataFrame:
    """Predicted vs Kaplan-Meier observed risk at ``horizon`` (days) by risk group.

    Parameters
    ----------
    time, event
        Test outcome (days, 0/1).
    predicted_risk
        1 - S(horizon | x) per subject.
    horizon
        Days.
    n_groups
        Number of equal-size groups; default 10, or 5 below 200 subjects.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group`` (1 = lowest risk), ``n``, ``events``,
        ``mean_predicted``, ``observed``, ``observed_lower``, ``observed_upper``.
    """
    risk = np.asarray(predicted_risk, dtype=float)
    if n_groups is None:
        n_groups = 10 if len(risk) >= 200 else 5
    n_groups = max(1, min(n_groups, len(risk)))
    # Ranks (ties broken by order) give equal-size groups even when many risks are tied.
    ranks = pd.Series(risk).rank(method="first").to_numpy()
    group = np.ceil(ranks * n_groups / len(risk)).astype(int)
    rows = []
    for g in range(1, n_groups + 1):
        m = group == g
        observed, lower, upper = km_risk(time[m], event[m], horizon)
        rows.append(
            {
                "group": g,
                "n": int(m.sum()),
                "events": int(event[m].sum()),
                "mean_predicted": float(risk[m].mean()),
                "observed": observed,
                "observed_lower": lower,
                "observed_upper": upper,
            }
        )
    return pd.DataFrame(rows)


def calibration_slope(time: np.ndarray, event: np.ndarray, surv_at_h: np.ndarray) -> float:
    """Cox coefficient of log(-log S(h | x)) fitted on the test outcome (1 = ideal)."""
    lch = log_cumulative_hazard(surv_at_h)
    if _is_constant(lch):
        return float("nan")
    fit = _cox(time, event, pd.DataFrame({"lch": lch}))
    return float("nan") if fit is None else float(fit.params_["lch"])


def calibration_intercept(
    time: np.ndarray, event: np.ndarray, surv_at_own_time: np.ndarray, horizon: float
) -> float:
    """log(O / E) up to the horizon (Poisson recalibration intercept, Crowson et al. 2016).

    Parameters
    ----------
    time, event
        Test outcome (days, 0/1).
    surv_at_own_time
        S(min(t_i, horizon) | x_i): each subject's predicted survival at the end of their
        follow-up, truncated at the horizon.
    horizon
        Days.
    """
    observed = float(np.sum((event == 1) & (time <= horizon)))
    expected = float(np.sum(-np.log(np.clip(surv_at_own_time, _EPS, 1.0))))
    if observed == 0 or expected <= 0:
        return float("nan")
    return float(np.log(observed / expected))


def observed_expected_ratio(
    time: np.ndarray, event: np.ndarray, predicted_risk: np.ndarray, horizon: float
) -> float:
    """Kaplan-Meier risk at the horizon divided by the mean predicted risk (1 = ideal)."""
    observed, _, _ = km_risk(time, event, horizon)
    expected = float(np.mean(predicted_risk))
    return observed / expected if expected > 0 else float("nan")


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted cubic spline basis (linear beyond the outer knots), Harrell's form.

    Returns an (n, k - 1) array: x itself, then k - 2 non-linear terms scaled by
    (t_k - t_1)^2 so they are on the scale of x.
    """
    t = np.asarray(knots, dtype=float)
    k = len(t)
    norm = (t[-1] - t[0]) ** 2
    cols = [x]
    for j in range(k - 2):
        term = (
            np.maximum(x - t[j], 0) ** 3
            - np.maximum(x - t[-2], 0) ** 3 * (t[-1] - t[j]) / (t[-1] - t[-2])
            + np.maximum(x - t[-1], 0) ** 3 * (t[-2] - t[j]) / (t[-1] - t[-2])
        )
        cols.append(term / norm)
    return np.column_stack(cols)


def smoothed_observed_risk(
    time: np.ndarray, event: np.ndarray, surv_at_h: np.ndarray, horizon: float
) -> np.ndarray:
    """Observed risk at the horizon as a smooth function of the prediction (Austin 2020).

    A Cox model on the test outcome with a 3-knot restricted cubic spline of
    log(-log S(h | x)); returns 1 - S_cal(h | x) per subject. Falls back to a linear term
    when the knots coincide, and to the overall Kaplan-Meier risk for constant predictions.
    """
    lch = log_cumulative_hazard(surv_at_h)
    n = len(lch)
    if _is_constant(lch):
        return np.full(n, km_risk(time, event, horizon)[0])
    knots = np.quantile(lch, _KNOT_QUANTILES)
    if np.unique(np.round(knots, 12)).size == len(knots):
        basis = rcs_basis(lch, knots)
    else:
        basis = lch[:, None]
    names = [f"s{j}" for j in range(basis.shape[1])]
    covariates = pd.DataFrame(basis, columns=names)
    fit = _cox(time, event, covariates)
    if fit is None and basis.shape[1] > 1:
        covariates = covariates[["s0"]]
        fit = _cox(time, event, covariates)
    if fit is None:
        return np.full(n, km_risk(time, event, horizon)[0])
    surv = fit.predict_survival_function(covariates, times=[horizon]).to_numpy()[0]
    return 1.0 - surv


def integrated_calibration_index(
    time: np.ndarray, event: np.ndarray, surv_at_h: np.ndarray, horizon: float
) -> dict[str, float]:
    """ICI, E50 and E90 at the horizon (Austin, Harrell & van Klaveren 2020)."""
    predicted = 1.0 - np.asarray(surv_at_h, dtype=float)
    gap = np.abs(predicted - smoothed_observed_risk(time, event, surv_at_h, horizon))
    return {
        "ici": float(np.mean(gap)),
        "e50": float(np.median(gap)),
        "e90": float(np.quantile(gap, 0.9)),
    }
