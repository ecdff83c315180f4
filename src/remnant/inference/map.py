"""Maximum a posteriori fit with a Laplace approximation (docs/fit.md, section 4).

The negative log posterior is ``-sum_i l_i(theta) + sum_j (theta_j - m_j)^2 / (2 s_j^2)``,
with ``l_i`` the right-censored log-likelihood term of patient ``i`` (``log f(t_i)`` after a
recurrence, ``log S(t_i)`` when censored; other-cause deaths are independent censoring, and
deaths counted by the endpoint have their own hazard, :mod:`remnant.inference.death`). Each
``l_i`` depends on ``theta`` only through the patient's four predictors and the shared spread,
so its gradient is ``sum_k A_k^T dl/d eta_k``, with the per-patient derivatives in closed
form (:mod:`remnant.inference.patient_terms`; at one ``log I0``, central differences in ``log
I0`` and ``log a``), and its Hessian ``sum_i A_i^T H_i A_i`` with each
patient's ``H_i`` the central differences of those derivatives. L-BFGS-B (in whitened
coordinates for mechanism links, :func:`_lbfgs`) finds the mode and
Newton steps polish it; the Hessian there gives the Laplace covariance. The fit fails loudly
(:class:`remnant.errors.ConvergenceError`) when the optimiser stops without converging, the
gradient at the mode is not small, or the Hessian is not positive definite.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from remnant.errors import ConvergenceError
from remnant.inference.clock_spread import clock_nodes, combine_terms
from remnant.inference.links import P_A, P_I0, Design
from remnant.inference.tables import KernelTable

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult

FD_STEP = 1e-4  # per-patient central differences in the predictors
HESS_STEP = 1e-3  # central differences of the gradient: the largest move of any predictor
GRAD_TOL = 1e-6  # L-BFGS-B stopping rule on the mean log posterior (per patient)
NEAR_GRAD_TOL = 3e-3  # near the mode (the evidence's expansion point): 3e-4 per patient
# whitened L-BFGS (mechanism links) stops when the Newton step under the start's metric is
# below this many posterior sds; Newton steps then locate the mode (STEP_TOL)
WHITENED_STEP_SE = 0.05
STEP_TOL = 0.1  # converged: the Newton step is below 0.1 standard error in every parameter
NEWTON_STEPS = 4
BACKTRACKS = 3  # halvings of a Newton step that does not lower the objective
WALL = 200.0  # cubic wall on log I0 outside the kernel table: WALL |over|^3 per patient
LN2 = 0.6931471805599453
MAX_ITER = 500
BOUND = 12.0  # |theta| <= 12 on the log scale (e^12 ~ 1.6e5-fold): beyond is a failed fit


@dataclass(frozen=True)
class Objective:
    """Negative log posterior of one data set under one design and kernel table."""

    design: Design
    table: KernelTable
    time: np.ndarray
    event: np.ndarray
    prior_mean: np.ndarray
    prior_sd: np.ndarray
    growth_spread: float = 0.0  # the disease clock's spread (the mechanism's; fixed)

    def _log_terms(
        self, eta: np.ndarray, sigma: float, with_grad: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        d = self.design
        if self.growth_spread == 0.0:
            return self.table.log_terms(
                self.time,
                self.event,
                eta,
                sigma,
                d.grade_index,
                d.spread_integrated,
                d.active,
                with_grad=with_grad,
                step=FD_STEP,
            )
        # each patient's term is a sum over the knots of its clock's spread in log disease
        # time, each knot a patient at clock 1 (remnant.inference.clock_spread)
        patient, tau, weight, slope = clock_nodes(
            self.time, eta[P_A], self.event, self.growth_spread
        )
        at_one = eta[:, patient]
        at_one[P_A] = 0.0
        terms, grad = self.table.log_terms(
            tau,
            self.event[patient],
            at_one,
            sigma,
            d.grade_index[patient],
            d.spread_integrated,
            d.active,
            with_grad=with_grad,
            step=FD_STEP,
        )
        return combine_terms(self.time.shape[0], patient, weight, slope, terms, grad)

    def terms(self, theta: np.ndarray) -> np.ndarray:
        """Per-patient log-likelihood terms."""
        theta = np.asarray(theta, dtype=float)
        d = self.design
        return self._log_terms(d.predictors(theta), d.spread(theta), False)[0]

    def log_likelihood(self, theta: np.ndarray) -> float:
        return float(self.terms(theta).sum())

    def scaled(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log posterior per patient and its gradient (what the optimiser sees)."""
        v, g = self.value_and_grad(theta)
        n = self.time.shape[0]
        return v / n, g / n

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log posterior and its gradient.

        The latest point is remembered: the optimiser, the Newton steps and the evidence ask
        for the same point more than once (the end of L-BFGS, the start of the Newton steps),
        and each pass over the patients costs about 0.2 s on Rotterdam."""
        theta = np.asarray(theta, dtype=float)
        last = self.__dict__.get("_last")
        if last is not None and np.array_equal(last[0], theta):
            return last[1], last[2].copy()
        value, grad = self._value_and_grad(theta)
        self.__dict__["_last"] = (theta.copy(), value, grad.copy())
        return value, grad

    def _value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = self.design
        total, g = self._patient_terms(d.predictors(theta), d.spread(theta))
        z = (theta - self.prior_mean) / self.prior_sd
        value = -total + 0.5 * float(z @ z)
        grad = -np.einsum("knp,nk->p", d.loadings, g[:, :4]) + z / self.prior_sd
        if d.spread_index is not None:
            grad[d.spread_index] -= float(g[:, 4].sum())
        return value, grad

    def _patient_terms(self, eta: np.ndarray, sigma: float) -> tuple[float, np.ndarray]:
        """The patients' log-likelihood terms, summed, less the range wall; and each
        patient's derivatives of its term in the five predictors (the fifth in ``log sigma``,
        the parameter's own scale), shape (n, 5)."""
        out, g = self._log_terms(eta, sigma, True)
        pen, dpen = self._range_penalty(eta[P_I0])
        g[:, P_I0] -= dpen
        g[:, 4] *= sigma
        return float(out.sum()) - pen, g

    def _range_penalty(self, li: np.ndarray) -> tuple[float, np.ndarray]:
        # Immunity outside the table (below 1/32, or above the level that clears every clone)
        # is outside the model's range: a cubic wall keeps each patient's log I0 inside,
        # instead of the flat extrapolation of the table's edge rows. Cubic, not quadratic, so
        # that the curvature rises from zero and a patient at the edge does not make the
        # finite-difference Hessian depend on which side of the edge a step lands.
        lo = float(self.table.log2_i0[0]) * LN2
        hi = float(self.table.log2_i0[-1]) * LN2
        over = np.clip(li - hi, 0.0, None) - np.clip(lo - li, 0.0, None)
        return WALL * float(np.abs(over) @ (over * over)), 3.0 * WALL * over * np.abs(over)

    def _to_parameters(self, block: np.ndarray) -> np.ndarray:
        """``sum_i A_i^T B_i A_i`` for per-patient 5 x 5 blocks ``B_i`` in the predictors
        (``A_i``: the patient's loadings, with ``log sigma`` a parameter of its own)."""
        d = self.design
        n, p = self.time.shape[0], self.prior_mean.shape[0]
        a = np.zeros((n, 5, p))
        a[:, :4, :] = d.loadings.transpose(1, 0, 2)
        if d.spread_index is not None:
            a[:, 4, d.spread_index] = 1.0
        return np.einsum("nkp,nkl,nlq->pq", a, block, a, optimize=True)

    def outer_product(self, theta: np.ndarray) -> np.ndarray:
        """Outer product of the patients' scores plus the prior's curvature (one gradient
        pass): positive definite, and near the Hessian of the negative log posterior where
        the model describes the data (Berndt, Hall, Hall & Hausman 1974). A metric for the
        optimiser, never the Laplace covariance."""
        theta = np.asarray(theta, dtype=float)
        d = self.design
        g = self._patient_terms(d.predictors(theta), d.spread(theta))[1]
        h = self._to_parameters(g[:, :, None] * g[:, None, :])
        h += np.diag(1.0 / self.prior_sd**2)
        return 0.5 * (h + h.T)

    def hessian(self, theta: np.ndarray, step: float = HESS_STEP) -> np.ndarray:
        """Hessian of the negative log posterior from the patients' 5 x 5 predictor Hessians.

        Each patient's term depends on ``theta`` only through its predictors, which are
        linear in ``theta`` (``eta_i = c_i + A_i theta``, with ``log sigma`` a parameter of
        its own), so ``H = sum_i A_i^T H_i A_i`` plus the prior's curvature, with ``H_i`` the
        central differences (``step``, 0.001 on the log scale) of the patient's five
        derivatives (in closed form): ten evaluations of the per-patient gradients for
        any number of parameters.
        """
        theta = np.asarray(theta, dtype=float)
        d = self.design
        n = self.time.shape[0]
        eta = d.predictors(theta)
        sigma = d.spread(theta)
        h_i = np.zeros((n, 5, 5))
        for k in np.flatnonzero(d.active):
            if k < 4:
                up, down = eta.copy(), eta.copy()
                up[k] += step
                down[k] -= step
                h_i[:, :, k] = (
                    self._patient_terms(up, sigma)[1] - self._patient_terms(down, sigma)[1]
                ) / (2 * step)
            else:
                # the fifth derivative is already sigma dl/dsigma, so its differences in
                # log sigma hold the chain rule's first term
                h_i[:, :, k] = (
                    self._patient_terms(eta, sigma * np.exp(step))[1]
                    - self._patient_terms(eta, sigma * np.exp(-step))[1]
                ) / (2 * step)
        h_i = 0.5 * (h_i + h_i.transpose(0, 2, 1))
        h = -self._to_parameters(h_i)
        h += np.diag(1.0 / self.prior_sd**2)
        return 0.5 * (h + h.T)


@dataclass(frozen=True)
class MapResult:
    """The mode, its Laplace covariance and the optimiser's record."""

    names: tuple[str, ...]
    theta: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    log_posterior: float
    iterations: int
    evaluations: int
    grad_max: float
    seconds: float

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))


def _polish(
    objective: Objective, theta: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]:
    """Newton steps from ``theta`` with the patient-block Hessian: the likelihood is piecewise
    smooth (interpolated kernels), so L-BFGS may stop a little short; the mode counts as found
    when the Newton step is below STEP_TOL standard errors in every parameter. Returns theta,
    the objective's value, gradient and Hessian there, and the last Newton step in se."""
    value, grad = objective.value_and_grad(theta)
    hess = objective.hessian(theta)
    newton = np.full(theta.shape, np.inf)
    for _ in range(NEWTON_STEPS + 1):
        try:
            step = np.linalg.solve(hess, grad)
            se = np.sqrt(np.clip(np.diag(np.linalg.inv(hess)), 1e-300, None))
        except np.linalg.LinAlgError:
            break
        newton = np.abs(step) / se
        if newton.max() < STEP_TOL:
            # located: the last (small) step is taken too when it lowers the objective, so
            # the mode is found to a fraction of STEP_TOL; the Hessian stays the one where
            # the step was computed (under a tenth of a standard error away)
            trial = np.clip(theta - step, -BOUND, BOUND)
            v_new, g_new = objective.value_and_grad(trial)
            if v_new < value:
                theta, value, grad = trial, v_new, g_new
            break
        # a step that does not lower the objective (a curved ridge of a weakly identified
        # pair of parameters is far from quadratic over it) is halved
        for _ in range(BACKTRACKS + 1):
            trial = np.clip(theta - step, -BOUND, BOUND)
            v_new, g_new = objective.value_and_grad(trial)
            if v_new < value:
                break
            step = 0.5 * step
        if not v_new < value:
            break
        theta, value, grad = trial, v_new, g_new
        hess = objective.hessian(theta)
    return theta, value, grad, hess, newton


def fit_map(
    objective: Objective,
    theta0: np.ndarray | None = None,
    *,
    callback: Callable[[int, float], None] | None = None,
    newton_start: bool = False,
    whiten: bool = False,
) -> MapResult:
    """Find the posterior mode and the Laplace covariance.

    Parameters
    ----------
    objective : Objective
    theta0 : ndarray, optional
        Starting point (default: the prior mean).
    callback : callable, optional
        ``callback(iteration, value)`` after each L-BFGS iteration.
    newton_start : bool
        ``theta0`` is close to the mode (e.g. predicted from a fit of the same data under
        another prior): try Newton steps from it first, and run L-BFGS only if they do not
        locate the mode.
    whiten : bool
        L-BFGS in whitened coordinates (:func:`_lbfgs`; mechanism links).

    Raises
    ------
    ConvergenceError
        The optimiser did not converge, a parameter ran to its bound, the gradient at the mode
        is above ``GRAD_TOL``, or the Hessian is not positive definite.
    """
    start = _time.perf_counter()
    x0 = objective.prior_mean.copy() if theta0 is None else np.asarray(theta0, dtype=float)
    names = objective.design.names
    polished = _polish(objective, x0) if newton_start else None
    if polished is not None and polished[4].max() < STEP_TOL:
        theta, value, grad, hess, newton = polished
        nit, nfev, message = 0, 0, "Newton steps from the start"
    else:
        tol = WHITENED_STEP_SE if whiten else GRAD_TOL
        res = _lbfgs(objective, x0, tol, callback, whiten=whiten)
        theta, value, grad, hess, newton = _polish(objective, np.asarray(res.x, dtype=float))
        nit, nfev, message = int(res.nit), int(res.nfev), str(res.message)
    problems = []
    gmax = float(np.abs(grad).max()) / objective.time.shape[0]
    at_bound = [n for n, v in zip(names, theta, strict=False) if abs(v) >= BOUND - 1e-6]
    if at_bound:
        problems.append(f"parameters at the bound |theta| = {BOUND}: {at_bound}")
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        eig = np.linalg.eigvalsh(hess)
        problems.append(f"Hessian not positive definite (smallest eigenvalue {eig[0]:.3g})")
        chol = None
    if chol is not None and newton.max() >= STEP_TOL:
        worst = names[int(newton.argmax())]
        problems.append(
            f"the mode is not located: Newton step {newton.max():.2f} standard errors "
            f"(>= {STEP_TOL}) in {worst}; optimiser: {message}"
        )
    if problems:
        raise ConvergenceError("MAP fit did not converge: " + "; ".join(problems))
    assert chol is not None
    inv_chol = np.linalg.inv(chol)
    cov = inv_chol.T @ inv_chol
    loglik = objective.log_likelihood(theta)
    return MapResult(
        names=names,
        theta=theta,
        covariance=cov,
        log_likelihood=loglik,
        log_posterior=-value,
        iterations=nit,
        evaluations=nfev,
        grad_max=gmax,
        seconds=_time.perf_counter() - start,
    )


def _lbfgs(
    objective: Objective,
    x0: np.ndarray,
    tol: float,
    callback: Callable[[int, float], None] | None = None,
    *,
    whiten: bool = False,
) -> OptimizeResult:
    """L-BFGS-B on the per-patient objective; ``callback(iteration, value)`` after each
    iteration; ``.x`` of the result within ``|theta| <= BOUND``.

    On the parameters themselves (``whiten`` false) it stops when the gradient is below
    ``tol / 10`` in every parameter (``tol``: :data:`GRAD_TOL` or :data:`NEAR_GRAD_TOL`).
    With ``whiten``, it runs in coordinates whitened by a metric taken at ``x0``
    (:meth:`Objective.outer_product`, one gradient pass), where the gradient is the Newton
    step under that metric, and stops when that is below ``tol`` posterior standard
    deviations in every whitened direction (``tol``: :data:`WHITENED_STEP_SE`): a few
    iterations where the parameters' scales differ by orders of magnitude. Used for
    mechanism links; on column links it can reach another of the posterior's modes (on
    Rotterdam with a clock per patient, one 1.4 higher in the negative log posterior than
    the one L-BFGS-B reaches on the parameters), so they keep the plain path.
    """
    from scipy import linalg, optimize  # imported when fitting (0.6 s of imports)

    n = objective.time.shape[0]
    if whiten:
        chol = np.linalg.cholesky(objective.outer_product(x0) / n)  # per patient: L L^T

        def to_theta(z: np.ndarray) -> np.ndarray:
            # theta = x0 + L^-T z
            moved = linalg.solve_triangular(chol, z, lower=True, trans="T")
            return np.asarray(np.clip(x0 + moved, -BOUND, BOUND))

        def gradient_of(grad: np.ndarray) -> np.ndarray:
            return np.asarray(linalg.solve_triangular(chol, grad, lower=True))

        z0 = np.zeros_like(x0)
        bounds = None
        # per patient, a whitened unit is sqrt(n) posterior standard deviations
        gtol = tol / math.sqrt(n)
    else:

        def to_theta(z: np.ndarray) -> np.ndarray:
            return z

        def gradient_of(grad: np.ndarray) -> np.ndarray:
            return grad

        z0 = x0
        bounds = [(-BOUND, BOUND)] * len(x0)
        gtol = tol / 10

    it = [0]
    last: list[tuple[np.ndarray, float]] = []  # the latest point evaluated and its value

    def _scaled(z: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective.scaled(to_theta(z))
        last[:] = [(z.copy(), value)]
        return value, gradient_of(grad)

    def _cb(xk: np.ndarray) -> None:
        it[0] += 1
        assert callback is not None
        # L-BFGS-B has just evaluated the objective at xk: report that value instead of
        # paying for another pass over the patients
        if last and np.array_equal(last[0][0], xk):
            callback(it[0], last[0][1])
        else:
            callback(it[0], objective.scaled(to_theta(xk))[0])

    res = optimize.minimize(
        _scaled,
        z0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        callback=None if callback is None else _cb,
        options={"maxiter": MAX_ITER, "maxcor": 20, "ftol": 1e-14, "gtol": gtol},
    )
    res.x = to_theta(np.asarray(res.x, dtype=float))
    return res


@dataclass(frozen=True)
class NearMode:
    """A point near the posterior mode and the log-likelihood's derivatives there."""

    theta: np.ndarray
    log_likelihood: float
    gradient: np.ndarray  # of the log-likelihood
    hessian: np.ndarray  # of the negative log-likelihood
    iterations: int
    evaluations: int
    seconds: float


def near_mode(
    objective: Objective,
    theta0: np.ndarray | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> NearMode:
    """L-BFGS to a loose tolerance (:data:`NEAR_GRAD_TOL`: within a tenth of a standard
    error of the mode on the bundled cohorts), then the exact gradient and Hessian there:
    what the evidence of other priors is expanded from (:mod:`remnant.inference.evidence`). When
    the posterior's Hessian there is not positive definite, the mode itself is found
    (:func:`fit_map`) and used instead.
    """
    start = _time.perf_counter()
    x0 = objective.prior_mean.copy() if theta0 is None else np.asarray(theta0, dtype=float)
    res = _lbfgs(objective, x0, NEAR_GRAD_TOL, callback)
    theta = np.asarray(res.x, dtype=float)
    nit, nfev = int(res.nit), int(res.nfev)
    hess = objective.hessian(theta)
    try:
        np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        found = fit_map(objective, theta, callback=callback)
        theta, hess = found.theta, np.linalg.inv(found.covariance)
        nit, nfev = nit + found.iterations, nfev + found.evaluations
    value, grad = objective.value_and_grad(theta)
    precision = 1.0 / objective.prior_sd**2
    dev = theta - objective.prior_mean
    return NearMode(
        theta=theta,
        # the objective less the prior: the log-likelihood (with the range wall) and its
        # derivatives
        log_likelihood=-value + 0.5 * float(dev @ (precision * dev)),
        gradient=precision * dev - grad,
        hessian=hess - np.diag(precision),
        iterations=nit,
        evaluations=nfev,
        seconds=_time.perf_counter() - start,
    )


def interval(theta: float, se: float, level: float = 0.95) -> tuple[float, float]:
    """Normal (Laplace) interval on the log scale."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    return theta - z * se, theta + z * se


__all__ = ["MapResult", "NearMode", "Objective", "fit_map", "interval", "near_mode"]
