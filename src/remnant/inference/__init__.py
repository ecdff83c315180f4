"""The three-cause model fitted to patients: links, MAP with Laplace intervals (docs/fit.md).

``remnant.fit(cohort)`` (:func:`remnant.inference.model.fit`) returns a
:class:`RemnantFit`; :class:`remnant.yardstick.remnant_model.RemnantModel` is the same model
under the yardstick's estimator contract (``--model remnant``).
"""

from remnant.inference.model import RemnantFit, default_cancer, fit

__all__ = ["RemnantFit", "default_cancer", "fit"]
