"""How wide the priors of the link coefficients are, chosen by the data (docs/fit.md, 3.3).

The coefficients' priors are ``N(0, (lambda s_j)^2)`` with ``s_j`` the default sd of
:mod:`remnant.fit.links` and one scale ``lambda`` for every coefficient (intercepts, the clock
and the spread keep theirs). ``lambda`` maximises the Laplace approximation of the marginal
likelihood of the training data (the evidence; MacKay 1992, Neural Comput 4:415; Bishop 2006,
Pattern Recognition and Machine Learning, sec. 3.5 and 4.4):

    log p(y | lambda) ~ l(theta_l) + log N(theta_l | m, S_l) + p/2 log(2 pi) - 1/2 log|H_l|

where ``theta_l`` is the posterior mode under ``lambda``, ``S_l`` the prior covariance and
``H_l = H_lik + S_l^-1`` the Hessian of the negative log posterior there. From one fit at
``lambda_0`` the log-likelihood is taken as quadratic around its mode (its gradient there is
the prior's, its Hessian ``H_lik = H_0 - S_0^-1``), so each ``lambda`` costs a linear solve:
``theta_l = theta_0 - H_l^-1 (S_l^-1 - S_0^-1)(theta_0 - m)``. The fit is then repeated at the
best ``lambda`` from ``theta_l``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

LOG_SCALE_BOUNDS = (math.log(0.05), math.log(4.0))  # lambda from 1/20 to 4 times the default


@dataclass(frozen=True)
class ModeAtPrior:
    """A posterior mode under one prior: what the evidence of other prior widths is computed
    from.

    Attributes
    ----------
    theta, covariance : ndarray
        Mode and Laplace covariance of the fit.
    log_likelihood : float
        Log-likelihood at the mode.
    prior_mean, prior_sd : ndarray
        The prior of that fit.
    scaled : ndarray of bool
        Which parameters' sds a scale multiplies.
    """

    theta: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    prior_mean: np.ndarray
    prior_sd: np.ndarray
    scaled: np.ndarray

    @functools.cached_property
    def likelihood_hessian(self) -> np.ndarray:
        """``H_lik``: the Hessian of the negative log posterior less the prior's curvature."""
        return np.linalg.inv(self.covariance) - np.diag(1.0 / self.prior_sd**2)

    def log_evidence(self, scale: float) -> tuple[float, np.ndarray]:
        """Laplace log evidence with the scaled sds multiplied by ``scale`` (positive), and
        the mode it predicts."""
        p0 = 1.0 / self.prior_sd**2
        h_lik = self.likelihood_hessian
        sd = np.where(self.scaled, self.prior_sd * scale, self.prior_sd)
        p1 = 1.0 / sd**2
        h = h_lik + np.diag(p1)
        dev = self.theta - self.prior_mean
        step = -np.linalg.solve(h, (p1 - p0) * dev)
        # log-likelihood quadratic around theta: its gradient there is p0 * dev (the mode)
        ll = self.log_likelihood + float((p0 * dev) @ step) - 0.5 * float(step @ h_lik @ step)
        z = (dev + step) / sd
        # the prior's (2 pi)^(-p/2) cancels the Laplace integral's (2 pi)^(p/2)
        log_prior = -0.5 * float(z @ z) - float(np.log(sd).sum())
        sign, logdet = np.linalg.slogdet(h)
        if sign <= 0:
            return -math.inf, self.theta + step
        return ll + log_prior - 0.5 * logdet, self.theta + step

    def best_scale(self) -> tuple[float, np.ndarray]:
        """The scale of highest Laplace evidence (bounded: :data:`LOG_SCALE_BOUNDS`) and the
        mode it predicts."""
        res = optimize.minimize_scalar(
            lambda log_scale: -self.log_evidence(math.exp(log_scale))[0],
            bounds=LOG_SCALE_BOUNDS,
            method="bounded",
        )
        scale = math.exp(float(res.x))
        return scale, self.log_evidence(scale)[1]


__all__ = ["LOG_SCALE_BOUNDS", "ModeAtPrior"]
