"""How wide the priors of the link coefficients are, chosen by the data (docs/fit.md, 3.3).

The coefficients' priors are ``N(0, (lambda s_j)^2)`` with ``s_j`` the default sd of
:mod:`remnant.inference.links` and one scale ``lambda`` for every coefficient (intercepts, the clock
and the spread keep theirs). ``lambda`` maximises the Laplace approximation of the marginal
likelihood of the training data (the evidence; MacKay 1992, Neural Comput 4:415; Bishop 2006,
Pattern Recognition and Machine Learning, sec. 3.5 and 4.4):

    log p(y | lambda) ~ l(theta_l) + log N(theta_l | m, S_l) + p/2 log(2 pi) - 1/2 log|H_l|

where ``theta_l`` is the posterior mode under ``lambda``, ``S_l`` the prior covariance and
``H_l = H + S_l^-1`` the Hessian of the negative log posterior there (``H``: of the negative
log-likelihood). The log-likelihood is taken as quadratic around one point ``theta_0`` near
the mode under the default prior (its gradient ``g`` and Hessian ``H`` there), so every
``lambda`` costs one linear solve:

    (H + S_l^-1) d = g - S_l^-1 (theta_0 - m),   theta_l = theta_0 + d,
    l(theta_l) ~ l(theta_0) + g.d - 1/2 d^T H d.

For a linear-Gaussian model this is exact from any point (tests/test_fit_evidence.py). The
fit is then repeated at the best ``lambda`` by Newton steps from ``theta_l``. The same
evidence, at each one's best ``lambda``, chooses between a clock per cohort and a clock per
patient (:func:`remnant.inference.model.fit`); each is located by its own fit, because the
quadratic does not carry the likelihood from one to the other (their modes lie several
standard errors apart).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG_SCALE_BOUNDS = (math.log(0.05), math.log(4.0))  # lambda from 1/20 to 4 times the default


@dataclass(frozen=True)
class Expansion:
    """The log-likelihood as a quadratic around one point, under one prior.

    Attributes
    ----------
    theta : ndarray
        The point (any; a posterior mode for :meth:`at_mode`).
    log_likelihood : float
        Log-likelihood there.
    gradient : ndarray
        Gradient of the log-likelihood there.
    hessian : ndarray
        Hessian of the negative log-likelihood there (``H_lik``).
    prior_mean, prior_sd : ndarray
        The prior the scales multiply.
    scaled : ndarray of bool
        Which parameters' sds a scale multiplies.
    """

    theta: np.ndarray
    log_likelihood: float
    gradient: np.ndarray
    hessian: np.ndarray
    prior_mean: np.ndarray
    prior_sd: np.ndarray
    scaled: np.ndarray

    @classmethod
    def at_mode(
        cls,
        theta: np.ndarray,
        covariance: np.ndarray,
        log_likelihood: float,
        prior_mean: np.ndarray,
        prior_sd: np.ndarray,
        scaled: np.ndarray,
    ) -> Expansion:
        """Around a posterior mode: the log-likelihood's gradient there is the prior's,
        ``S^-1 (theta - m)``, and its Hessian the posterior's less the prior's curvature."""
        precision = 1.0 / prior_sd**2
        return cls(
            theta,
            log_likelihood,
            precision * (theta - prior_mean),
            np.linalg.inv(covariance) - np.diag(precision),
            prior_mean,
            prior_sd,
            scaled,
        )

    def log_evidence(self, scale: float) -> tuple[float, np.ndarray]:
        """Laplace log evidence with the scaled sds multiplied by ``scale`` (positive), and
        the mode it predicts."""
        sd = np.where(self.scaled, self.prior_sd * scale, self.prior_sd)
        p = 1.0 / sd**2
        h_post = self.hessian + np.diag(p)
        d = np.linalg.solve(h_post, self.gradient - p * (self.theta - self.prior_mean))
        ll = self.log_likelihood + float(self.gradient @ d) - 0.5 * float(d @ self.hessian @ d)
        mode = self.theta + d
        z = (mode - self.prior_mean) / sd
        # the prior's (2 pi)^(-p/2) cancels the Laplace integral's (2 pi)^(p/2)
        log_prior = -0.5 * float(z @ z) - float(np.log(sd).sum())
        sign, logdet = np.linalg.slogdet(h_post)
        if sign <= 0:
            return -math.inf, mode
        return ll + log_prior - 0.5 * logdet, mode

    def best_scale(self) -> tuple[float, float, np.ndarray]:
        """The scale of highest Laplace evidence (bounded: :data:`LOG_SCALE_BOUNDS`), its log
        evidence and the mode it predicts."""
        from scipy import optimize  # imported when a fit compares scales

        res = optimize.minimize_scalar(
            lambda log_scale: -self.log_evidence(math.exp(log_scale))[0],
            bounds=LOG_SCALE_BOUNDS,
            method="bounded",
        )
        scale = math.exp(float(res.x))
        return (scale, *self.log_evidence(scale))


__all__ = ["LOG_SCALE_BOUNDS", "Expansion"]
