"""remnant: simulate, fit, predict and explain cancer recurrence after surgical resection.

One entry point per job::

    import remnant
    result = remnant.simulate("colon-stage3", 100_000, seed=1)   # virtual patients
    result.summary.recurrence_table()
    cohort = remnant.data.load_cohort("colon")
    fitted = remnant.fit(cohort)                                   # a RemnantFit
    fitted.predict_risk(cohort.X, 5 * 365.25)                      # 5-year risk per patient
    e = remnant.explain(remnant.Patient.from_stage("colon", "III"))  # an Explanation

The rooms they live in are named for what they hold: :mod:`remnant.engine` (the simulator),
:mod:`remnant.inference` (the fit: links, MAP, Laplace, kernel tables),
:mod:`remnant.explanation` (one patient's risk, shares and what-ifs), :mod:`remnant.model`
(the parameters and the calibrated model), :mod:`remnant.likelihood` (the model's likelihood
face), :mod:`remnant.yardstick` (cohorts' baselines and metrics).

The names below are imported when first used, so that ``import remnant.errors`` (and the
command line's ``--help``) does not pay for the compiled engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remnant.lazy import attach

# Public name -> the module that defines it.
_LAZY = {
    "simulate": "remnant.engine.simulate",
    "SimulationResult": "remnant.engine.simulate",
    "PRESETS": "remnant.model.presets",
    "preset": "remnant.model.presets",
    "Mechanism": "remnant.model.parameters",
    "Patient": "remnant.model.parameters",
    "Scenario": "remnant.model.scenario",
    "fit": "remnant.inference.model",
    "RemnantFit": "remnant.inference.model",
    "explain": "remnant.explanation.explain",
    "Explanation": "remnant.explanation.explain",
}

if TYPE_CHECKING:
    from remnant.engine.simulate import SimulationResult, simulate
    from remnant.explanation.explain import Explanation, explain
    from remnant.inference.model import RemnantFit, fit
    from remnant.model.parameters import Mechanism, Patient
    from remnant.model.presets import PRESETS, preset
    from remnant.model.scenario import Scenario


_getattr, __dir__ = attach(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata costs tens of ms: read when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("remnant")
        except PackageNotFoundError:  # running from a source tree without installation
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    return _getattr(name)


__all__ = [
    "PRESETS",
    "Explanation",
    "Mechanism",
    "Patient",
    "RemnantFit",
    "Scenario",
    "SimulationResult",
    "__version__",
    "explain",
    "fit",
    "preset",
    "simulate",
]
