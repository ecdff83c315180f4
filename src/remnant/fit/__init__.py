"""The three-cause model fitted to patients: links, MAP with Laplace intervals (docs/fit.md).

``fit(cohort)`` returns a :class:`RemnantFit`; ``RemnantModel`` is the same model under the
yardstick's estimator contract (``--model remnant``).
"""

from remnant.fit.model import RemnantFit, RemnantModel, default_cancer, fit

__all__ = ["RemnantFit", "RemnantModel", "default_cancer", "fit"]
