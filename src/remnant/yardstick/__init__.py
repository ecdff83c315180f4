"""The yardstick: standard survival models, metrics and validation schemes that any model
of the package (including a mechanistic one) is measured against.

Convention: time in days; ``risk_score`` higher = earlier event; ``predict_risk(X, h)`` is
``1 - S(h | x)``. See :mod:`remnant.yardstick.base`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from remnant.lazy import attach

# Public name -> defining module; imported on first use (the registry stays cheap).
_LAZY = {
    "SurvivalModel": "remnant.yardstick.base",
    "CoxModel": "remnant.yardstick.baselines",
    "ForestModel": "remnant.yardstick.baselines",
    "KaplanMeierModel": "remnant.yardstick.baselines",
    "WeibullModel": "remnant.yardstick.baselines",
    "Evaluation": "remnant.yardstick.evaluation",
    "evaluate": "remnant.yardstick.evaluation",
    "MODELS": "remnant.yardstick.registry",
    "ModelFactory": "remnant.yardstick.registry",
    "make_model": "remnant.yardstick.registry",
    "register_model": "remnant.yardstick.registry",
}

if TYPE_CHECKING:
    from remnant.yardstick.base import SurvivalModel
    from remnant.yardstick.baselines import CoxModel, ForestModel, KaplanMeierModel, WeibullModel
    from remnant.yardstick.evaluation import Evaluation, evaluate
    from remnant.yardstick.registry import MODELS, ModelFactory, make_model, register_model


__getattr__, __dir__ = attach(__name__, _LAZY)

__all__ = [
    "MODELS",
    "CoxModel",
    "Evaluation",
    "ForestModel",
    "KaplanMeierModel",
    "ModelFactory",
    "SurvivalModel",
    "WeibullModel",
    "evaluate",
    "make_model",
    "register_model",
]
