"""Model registry: a name on the command line -> a factory building a fresh model.

Other modules add their own models with :func:`register_model`, e.g. a mechanistic model
registers ``"remnant"`` and is then evaluated exactly like the baselines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from remnant.errors import RemnantInputError

if TYPE_CHECKING:
    from remnant.yardstick.base import SurvivalModel

# The factories import their models when called: the registry itself is cheap to import
# (the command line reads its names for --help).

ModelFactory = Callable[..., "SurvivalModel"]
"""Called as ``factory(seed=seed, **options)``; returns an unfitted model."""


def _cox(seed: int = 0, **options: Any) -> SurvivalModel:
    from remnant.yardstick.baselines import CoxModel

    return CoxModel(**options)


def _weibull(seed: int = 0, **options: Any) -> SurvivalModel:
    from remnant.yardstick.baselines import WeibullModel

    return WeibullModel(**options)


def _rsf(seed: int = 0, **options: Any) -> SurvivalModel:
    from remnant.yardstick.baselines import ForestModel

    return ForestModel(random_state=seed, **options)


def _km(seed: int = 0, **options: Any) -> SurvivalModel:
    from remnant.yardstick.baselines import KaplanMeierModel

    return KaplanMeierModel(**options)


def _remnant(seed: int = 0, **options: Any) -> SurvivalModel:
    from remnant.yardstick.remnant_model import RemnantModel

    return RemnantModel(seed=seed, **options)


MODELS: dict[str, ModelFactory] = {
    "cox": _cox,
    "weibull": _weibull,
    "rsf": _rsf,
    "km": _km,
    "remnant": _remnant,
}


def register_model(name: str, factory: ModelFactory, *, replace: bool = False) -> None:
    """Make ``factory`` available as ``name`` (``--model name`` on the command line).

    Raises ``ValueError`` if the name is taken, unless ``replace`` is true.
    """
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"model names are letters, digits, '-' and '_', got {name!r}")
    if name in MODELS and not replace:
        raise ValueError(f"model {name!r} is already registered")
    MODELS[name] = factory


def make_model(name: str, seed: int = 0, **options: Any) -> SurvivalModel:
    """A fresh, unfitted model from the registry.

    Raises
    ------
    RemnantInputError
        Unknown model name (the message lists the registered ones).
    """
    if name not in MODELS:
        raise RemnantInputError("model", "one of " + ", ".join(sorted(MODELS)), name)
    return MODELS[name](seed=seed, **options)
