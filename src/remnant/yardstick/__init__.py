"""The yardstick: standard survival models, metrics and validation schemes that any model
of the package (including a mechanistic one) is measured against.

Convention: time in days; ``risk_score`` higher = earlier event; ``predict_risk(X, h)`` is
``1 - S(h | x)``. See :mod:`remnant.yardstick.base`.
"""

from __future__ import annotations

from remnant.yardstick.base import SurvivalModel
from remnant.yardstick.baselines import CoxModel, ForestModel, KaplanMeierModel, WeibullModel
from remnant.yardstick.evaluate import Evaluation, evaluate
from remnant.yardstick.registry import MODELS, ModelFactory, make_model, register_model

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
