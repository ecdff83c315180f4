"""Performance of survival predictions on a test set, computed with scikit-survival and
lifelines (nothing re-implemented).

Discrimination
    Harrell's C (``sksurv.metrics.concordance_index_censored``); Uno's C
    (``concordance_index_ipcw``) truncated at tau = the largest horizon inside the test
    follow-up; cumulative/dynamic AUC at each horizon (``cumulative_dynamic_auc``), using
    the predicted risk 1 - S(h | x) at that horizon.
Overall accuracy
    Brier score at each horizon (``brier_score``) and the integrated Brier score
    (``integrated_brier_score``) on 100 points from the first horizon to the last one,
    clipped to the test follow-up.
Calibration
    See :mod:`remnant.yardstick.calibration`.

Scores follow the package convention: higher risk score = earlier event.

The inverse probability of censoring weights (IPCW) of Uno's C, AUC and Brier need a
Kaplan-Meier estimate of the censoring distribution. By default (``ipcw="test"``) it is
estimated on the test set itself: the weights correct for the censoring of the data being
scored, which for an external cohort is not the development cohort's censoring. With
``ipcw="train"`` it is estimated on the training set (scikit-survival's documented usage);
this needs the training follow-up to outlast the test follow-up, and gives lower Brier
scores when the training cohort is followed longer (Rotterdam 19 years vs GBSG 7 years).

Horizons at or beyond the last test follow-up time cannot be scored (scikit-survival's
rule) and are reported as NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sksurv.metrics import (
    brier_score,
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.util import Surv

from remnant.data.cohort import Cohort
from remnant.yardstick import calibration
from remnant.yardstick.base import SurvivalModel, Times

IBS_GRID_POINTS = 100


def harrell_c(time: np.ndarray, event: np.ndarray, risk_score: np.ndarray) -> float:
    """Harrell's concordance index (ties in risk count one half).

    Parameters
    ----------
    time, event
        Outcome (days, 0/1).
    risk_score
        Higher = earlier event.
    """
    return float(
        concordance_index_censored(np.asarray(event, bool), np.asarray(time, float), risk_score)[0]
    )


def scorable(horizons_days: Times, time: np.ndarray) -> np.ndarray:
    """Which horizons lie inside the follow-up (min time <= h < max time)."""
    h = np.asarray(horizons_days, dtype=float)
    return (h >= np.min(time)) & (h < np.max(time))


def _outcome(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    return Surv.from_arrays(np.asarray(event, bool), np.asarray(time, float))


def uno_c(
    time: np.ndarray,
    event: np.ndarray,
    risk_score: np.ndarray,
    tau: float,
    censoring: np.ndarray | None = None,
) -> float:
    """Uno's IPCW concordance truncated at ``tau`` days.

    ``censoring`` is the scikit-survival outcome array the censoring distribution is
    estimated on; default: the test outcome itself.
    """
    y = _outcome(time, event)
    return float(concordance_index_ipcw(_or(censoring, y), y, risk_score, tau=tau)[0])


def dynamic_auc(
    time: np.ndarray,
    event: np.ndarray,
    risk_at: np.ndarray,
    horizons_days: np.ndarray,
    censoring: np.ndarray | None = None,
) -> np.ndarray:
    """Cumulative/dynamic AUC at each horizon; ``risk_at`` is (n_subjects, n_horizons)."""
    y = _outcome(time, event)
    auc, _ = cumulative_dynamic_auc(_or(censoring, y), y, risk_at, horizons_days)
    return np.asarray(auc, dtype=float)


def brier(
    time: np.ndarray,
    event: np.ndarray,
    surv_at: np.ndarray,
    horizons_days: np.ndarray,
    censoring: np.ndarray | None = None,
) -> np.ndarray:
    """IPCW Brier score at each horizon; ``surv_at`` is S(h | x), (n_subjects, n_horizons)."""
    y = _outcome(time, event)
    _, scores = brier_score(_or(censoring, y), y, surv_at, horizons_days)
    return np.asarray(scores, dtype=float)


def _or(censoring: np.ndarray | None, y: np.ndarray) -> np.ndarray:
    return y if censoring is None else censoring


def ibs_grid(horizons_days: Times, time: np.ndarray) -> np.ndarray:
    """Grid (days) for the integrated Brier score: first to last horizon, inside follow-up."""
    h = np.asarray(horizons_days, dtype=float)
    lo = max(float(h.min()), float(np.min(time)))
    hi = min(float(h.max()), float(np.max(time)))
    if hi <= lo:
        return np.empty(0)
    grid = np.linspace(lo, hi, IBS_GRID_POINTS)
    return grid[grid < np.max(time)]


def integrated_brier(
    time: np.ndarray,
    event: np.ndarray,
    surv_on_grid: np.ndarray,
    grid: np.ndarray,
    censoring: np.ndarray | None = None,
) -> float:
    """Integrated Brier score over ``grid`` (days), divided by the grid's length."""
    if len(grid) < 2:
        return float("nan")
    y = _outcome(time, event)
    return float(integrated_brier_score(_or(censoring, y), y, surv_on_grid, grid))


def calibration_horizon(horizons_days: Sequence[float], preferred_days: float) -> float:
    """The preferred horizon if it is among the horizons, else the last one (days)."""
    h = [float(x) for x in horizons_days]
    return preferred_days if any(np.isclose(h, preferred_days)) else max(h)


def score_model(
    model: SurvivalModel,
    test: Cohort,
    horizons_days: Sequence[float],
    calibration_at_days: float,
    censoring: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """All metrics of a fitted model on a test cohort.

    Parameters
    ----------
    model
        A fitted model.
    test
        Test cohort (its covariates must include the model's).
    horizons_days
        Horizons for AUC and Brier, days; the IBS runs from the first to the last.
    calibration_at_days
        Horizon for calibration slope, intercept, O/E and ICI, days.
    censoring
        Outcome array (scikit-survival) for the IPCW censoring distribution; default: the
        test outcome (see the module docstring).

    Returns
    -------
    (metrics, predictions)
        ``metrics``: ``harrell_c``, ``uno_c``, ``uno_tau_days``, ``auc`` and ``brier`` (lists
        aligned with the horizons, NaN outside follow-up), ``integrated_brier``,
        ``ibs_range_days``, ``calibration_slope``, ``calibration_intercept``, ``oe_ratio``,
        ``ici``, ``e50``, ``e90``, ``calibration_horizon_days``, ``n``, ``n_events``.
        ``predictions``: per subject ``risk_score``, ``risk_at_horizons``
        (n, n_horizons), ``surv_at_calibration``.
    """
    time, event = test.time, test.event
    horizons = np.asarray(horizons_days, dtype=float)
    ok = scorable(horizons, time)
    score = model.risk_score(test)
    surv_h = model.predict_survival(test, horizons).to_numpy(dtype=float).T  # (n, n_horizons)

    out: dict[str, Any] = {"n": test.n, "n_events": test.n_events}
    out["harrell_c"] = harrell_c(time, event, score)
    tau = float(horizons[ok].max()) if ok.any() else float("nan")
    out["uno_tau_days"] = tau
    out["uno_c"] = uno_c(time, event, score, tau, censoring) if ok.any() else float("nan")

    auc = np.full(len(horizons), np.nan)
    brier_h = np.full(len(horizons), np.nan)
    if ok.any():
        auc[ok] = dynamic_auc(time, event, 1.0 - surv_h[:, ok], horizons[ok], censoring)
        brier_h[ok] = brier(time, event, surv_h[:, ok], horizons[ok], censoring)
    out["auc"] = auc.tolist()
    out["brier"] = brier_h.tolist()

    grid = ibs_grid(horizons, time)
    if len(grid) >= 2:
        surv_grid = model.predict_survival(test, grid).to_numpy(dtype=float).T
        out["integrated_brier"] = integrated_brier(time, event, surv_grid, grid, censoring)
        out["ibs_range_days"] = [float(grid[0]), float(grid[-1])]
    else:
        out["integrated_brier"] = float("nan")
        out["ibs_range_days"] = None

    h_cal = float(calibration_at_days)
    out["calibration_horizon_days"] = h_cal
    surv_cal = model.predict_survival(test, [h_cal]).to_numpy(dtype=float)[0]
    if scorable([h_cal], time)[0]:
        out["calibration_slope"] = calibration.calibration_slope(time, event, surv_cal)
        own = np.minimum(time, h_cal)
        out["calibration_intercept"] = calibration.calibration_intercept(
            time, event, _survival_at_own_times(model, test, own), h_cal
        )
        out["oe_ratio"] = calibration.observed_expected_ratio(time, event, 1.0 - surv_cal, h_cal)
        out.update(calibration.integrated_calibration_index(time, event, surv_cal, h_cal))
    else:
        for key in ("calibration_slope", "calibration_intercept", "oe_ratio", "ici", "e50", "e90"):
            out[key] = float("nan")

    predictions = {
        "risk_score": np.asarray(score, dtype=float),
        "risk_at_horizons": 1.0 - surv_h,
        "surv_at_calibration": surv_cal,
    }
    return out, predictions


def _survival_at_own_times(model: SurvivalModel, test: Cohort, times: np.ndarray) -> np.ndarray:
    """S(t_i | x_i) for each subject's own time t_i (one prediction call on the unique times)."""
    unique, position = np.unique(times, return_inverse=True)
    surv = model.predict_survival(test, unique).to_numpy(dtype=float)  # (n_unique, n)
    return surv[position, np.arange(len(times))]
