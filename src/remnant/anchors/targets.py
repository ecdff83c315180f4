"""The anchors the calibrated model is fitted to, and the objective that fits it.

The colon model's four numbers (``burden``, ``residual``, ``immunity``, ``immune_spread``;
docs/fit.md 3.2) are chosen by one objective, the negative log posterior

    J(theta) = 1/2 (phi - phi_trial)' S^-1 (phi - phi_trial)          the trial cohort
             + 1/2 (burden / sd_burden)^2                             the burden's prior
             - sum_a n_a [p_a log q_a(theta) + (1 - p_a) log(1 - q_a(theta))]   the anchors

with ``phi = (residual, immunity, immune_spread)``. The trial cohort (survival::colon, Lev+5FU,
1984-87) enters through the Laplace approximation of its posterior (mode ``phi_trial``,
covariance ``S``: the marginal block of the fit's covariance), after profiling out its own
seed burden: the trial's patients carried more seeds than patients resected today (earlier
surgery standards, fuller nodal staging), so its burden is the population's plus an offset
that only the trial informs, and profiling a quadratic over one coordinate leaves the
marginal block. Each anchor is a binomial log-likelihood of its published proportion ``p_a``
with the number of patients behind it ``n_a``; ``q_a`` is the model's value in the anchor's
setting, computed on the fit's face (``RemnantFit.curves``: ``S_rec`` and the recurrence
densities; crude cumulative incidence with other-cause death competing, or Kaplan-Meier-like
``1 - S_rec``, as the anchor table measures it). The posterior covariance is the inverse of
J's Hessian at its minimum (central differences).

The targets (:data:`COLON_TARGETS`) are the anchors whose figure is a proportion with a count
behind it and a setting the model states exactly enough: stage (Gately 2021), the margin
(Colorectal Dis 2015) and the Immunoscore groups (Pages 2018). Their rows in docs/anchors.md
are therefore checks of fit; every other anchor stays a validation. Breast is not fitted to
anchors: its proportions are measured under treatments the model lacks (radiotherapy after
breast-conserving surgery, endocrine therapy; docs/anchors.md), so its model is the cohort fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from remnant.anchors.cohorts import Setting
from remnant.anchors.definitions import COLON, COLON_MIX

# Gately 2021: 4257 patients over stages I-III; the split by stage is not in anchors.md, so
# each stage counts as a third of them (stated approximation).
GATELY_N_PER_STAGE = 4257 / 3
# Colorectal Dis 2015 (1110 resections): 13.3% R1 = 148 patients (82 relapses), 962 R0 (182).
CRD2015_N = {"R0": 962.0, "R1": 148.0}
# Pages 2018 training set (n = 700): about a quarter low, half intermediate, a quarter high
# Immunoscore (the group sizes are not in anchors.md; stated approximation).
PAGES_N = {"low": 175.0, "intermediate": 350.0, "high": 175.0}
# The objective's step for the Hessian (log-scale parameters).
HESSIAN_STEP = 1e-3
# Grid of the crude cumulative incidence's integral (days).
CIF_STEP_DAYS = 7.0


@dataclass(frozen=True)
class Target:
    """One anchor in the calibration objective.

    Attributes
    ----------
    anchor : str
        Its row id in the anchor table (docs/anchors.md).
    setting : Setting
        The patients the source measured (profiles and weights).
    years : float
        Horizon.
    kind : {"crude", "km"}
        Crude cumulative incidence (other-cause death competing) or ``1 - S_rec``.
    value : float
        The published proportion.
    n : float
        Patients behind it (the binomial's size).
    informs : str
        The parameter the figure mainly speaks to (the measured information shares are in the
        calibration record).
    """

    anchor: str
    setting: Setting
    years: float
    kind: str
    value: float
    n: float
    informs: str


COLON_TARGETS: tuple[Target, ...] = (
    *(
        Target(f"gately-colon-{s}-5y", COLON[s], 5.0, "crude", v, GATELY_N_PER_STAGE, "burden")
        for s, v in (("I", 0.038), ("II", 0.12), ("III", 0.28))
    ),
    Target(
        "crd2015-colon-R0-relapse",
        COLON_MIX["R0", "unknown"],
        5.0,
        "crude",
        0.189,
        CRD2015_N["R0"],
        "burden",
    ),
    Target(
        "crd2015-colon-R1-relapse",
        COLON_MIX["R1", "unknown"],
        5.0,
        "crude",
        0.555,
        CRD2015_N["R1"],
        "residual",
    ),
    *(
        Target(
            f"pages2018-colon-immune-{g}-5y",
            COLON_MIX["R0", g],
            5.0,
            "km",
            v,
            PAGES_N[g],
            "immune_spread",
        )
        for g, v in (("high", 0.08), ("intermediate", 0.19), ("low", 0.32))
    ),
)
# Anchors whose figures are functions of the targets' (a ratio of two of them): also checks of
# fit, not validations.
DERIVED_FROM_TARGETS = ("crd2015-colon-R1-vs-R0-OR", "pages2018-colon-HR-high-vs-low")
TARGETS = {"colon": COLON_TARGETS}


def calibration_targets() -> frozenset[str]:
    """Ids of the anchors the calibrated model is fitted to, or derived from them."""
    ids = {t.anchor for group in TARGETS.values() for t in group}
    return frozenset(ids | set(DERIVED_FROM_TARGETS))


def target_values(fit: Any, targets: tuple[Target, ...], theta: np.ndarray) -> np.ndarray:
    """The model's value of each target at ``theta`` (fit's face, no sampling)."""
    import dataclasses

    import pandas as pd

    from remnant.likelihood.mortality import death_survival
    from remnant.model.units import DAYS_PER_YEAR

    out = np.empty(len(targets))
    for i, tg in enumerate(targets):
        sc = tg.setting.scenario()
        X = pd.DataFrame([dataclasses.asdict(p) for p in sc.profiles])
        end = tg.years * DAYS_PER_YEAR
        if tg.kind == "km":
            risk = 1.0 - fit.curves(X, np.array([end]), theta)[:, 0, 0]
        else:
            grid = np.append(np.arange(0.0, end, CIF_STEP_DAYS), end)
            c = fit.curves(X, grid, theta)
            alive = death_survival(grid[None, :], X["age"].to_numpy()[:, None], sc.mechanism)
            dens = (c[:, :, 1] + c[:, :, 2]) * alive
            risk = np.trapezoid(dens, grid, axis=1)
        out[i] = float(np.dot(sc.weights, risk))
    return out


@dataclass(frozen=True)
class Calibration:
    """The calibrated parameters and what each part of the objective contributed."""

    theta: np.ndarray
    covariance: np.ndarray
    objective: float
    record: dict[str, Any]


def calibrate(
    fit: Any,
    targets: tuple[Target, ...],
    *,
    burden_prior_sd: float,
    on_evaluation: Callable[[int], None] | None = None,
) -> Calibration:
    """Fit the four numbers of a mechanism-link fit to its trial cohort and the anchors.

    Parameters
    ----------
    fit : RemnantFit
        The cohort fit (mechanism links with a fitted spread: names ``burden, residual,
        immunity, immune_spread``).
    targets : tuple of Target
    burden_prior_sd : float
        Prior sd of the population's log seeding multiplier (the fit's intercept prior).
    """
    names = list(fit.result.names)
    if names != ["burden", "residual", "immunity", "immune_spread"]:
        raise ValueError(f"a fit with mechanism links and a fitted spread, got {names}")
    mode = np.asarray(fit.result.theta, dtype=float)
    cov = np.asarray(fit.result.covariance, dtype=float)
    phi_mode, phi_prec = mode[1:], np.linalg.inv(cov[1:, 1:])
    p = np.array([t.value for t in targets])
    n = np.array([t.n for t in targets])
    count = [0]

    def parts(theta: np.ndarray) -> tuple[float, float, np.ndarray]:
        d = theta[1:] - phi_mode
        cohort = 0.5 * float(d @ phi_prec @ d)
        prior = 0.5 * float((theta[0] / burden_prior_sd) ** 2)
        q = np.clip(target_values(fit, targets, theta), 1e-12, 1 - 1e-12)
        # binomial deviance / 2 (the constant makes J = 0 at q = p for the anchors)
        anchors = n * (p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))
        return cohort, prior, anchors

    def objective(theta: np.ndarray) -> float:
        count[0] += 1
        if on_evaluation is not None:
            on_evaluation(count[0])
        c, pr, a = parts(theta)
        return c + pr + float(a.sum())

    res = optimize.minimize(
        objective,
        mode,
        method="Nelder-Mead",
        options={"xatol": 1e-5, "fatol": 1e-7, "maxfev": 4000},
    )
    theta = np.asarray(res.x)
    hess = _hessian(objective, theta, HESSIAN_STEP)
    covariance = np.linalg.inv(hess)
    covariance = 0.5 * (covariance + covariance.T)
    q_cohort = target_values(fit, targets, mode)
    q_cal = target_values(fit, targets, theta)
    c, pr, a = parts(theta)
    record = {
        "objective": "trial cohort (Laplace, its own seed burden profiled out) + prior on "
        "burden + binomial log-likelihood of each anchor (remnant.anchors.targets)",
        "converged": bool(res.success),
        "evaluations": int(count[0]),
        "value": float(res.fun),
        "parts": {"cohort": c, "burden_prior": pr, "anchors": float(a.sum())},
        "targets": [
            {
                "anchor": t.anchor,
                "published": t.value,
                "n": t.n,
                "informs": t.informs,
                "cohort_fit": float(qc),
                "calibrated": float(qq),
            }
            for t, qc, qq in zip(targets, q_cohort, q_cal, strict=True)
        ],
        "se_cohort": dict(zip(names, np.sqrt(np.diag(cov)).tolist(), strict=True)),
        "se_calibrated": dict(zip(names, np.sqrt(np.diag(covariance)).tolist(), strict=True)),
        "information_share": information_shares(fit, targets, theta, phi_prec, burden_prior_sd),
    }
    return Calibration(theta, covariance, float(res.fun), record)


def information_shares(
    fit: Any,
    targets: tuple[Target, ...],
    theta: np.ndarray,
    phi_prec: np.ndarray,
    burden_prior_sd: float,
) -> dict[str, dict[str, float]]:
    """Share of each parameter's Fisher information (the diagonal of the objective's
    expected Hessian) from the cohort, the prior and each target group, at ``theta``."""
    names = list(fit.result.names)
    h = HESSIAN_STEP
    q0 = target_values(fit, targets, theta)
    jac = np.empty((len(targets), len(theta)))
    for k in range(len(theta)):
        e = np.zeros(len(theta))
        e[k] = h
        jac[:, k] = (
            target_values(fit, targets, theta + e) - target_values(fit, targets, theta - e)
        ) / (2 * h)
    n = np.array([t.n for t in targets])
    fisher = n / np.clip(q0 * (1 - q0), 1e-12, None)
    parts: dict[str, np.ndarray] = {
        "cohort": np.concatenate([[0.0], np.diag(phi_prec)]),
        "prior": np.array([1.0 / burden_prior_sd**2, 0.0, 0.0, 0.0]),
    }
    for t, row, f in zip(targets, jac, fisher, strict=True):
        group = t.anchor.split("-")[0]
        parts[group] = parts.get(group, np.zeros(len(theta))) + f * row**2
    total = np.sum(list(parts.values()), axis=0)
    return {
        name: {g: float(v[k] / total[k]) for g, v in parts.items()} for k, name in enumerate(names)
    }


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    k = len(x)
    out = np.empty((k, k))
    f0 = f(x)
    for i in range(k):
        for j in range(i, k):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = h
            ej[j] = h
            if i == j:
                out[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h**2
            else:
                out[i, j] = out[j, i] = (
                    f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
                ) / (4 * h * h)
    return out
