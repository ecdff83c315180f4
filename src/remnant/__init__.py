"""remnant: simulate, fit, predict and explain cancer recurrence after surgical resection.

The entry point of the simulator is :func:`remnant.simulate`::

    import remnant
    result = remnant.simulate("colon-stage3", 100_000, seed=1)
    result.summary.recurrence_table()

The names below are imported when first used, so that ``import remnant.errors`` (and the
command line's ``--help``) does not pay for the compiled engine.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from remnant.lazy import attach

try:
    __version__ = version("remnant")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

# Public name -> the module that defines it.
_LAZY = {
    "simulate": "remnant.engine.simulate",
    "SimulationResult": "remnant.engine.simulate",
    "PRESETS": "remnant.model.presets",
    "preset": "remnant.model.presets",
    "Mechanism": "remnant.model.parameters",
    "Patient": "remnant.model.parameters",
    "Scenario": "remnant.model.scenario",
}

if TYPE_CHECKING:
    from remnant.engine.simulate import SimulationResult, simulate
    from remnant.model.parameters import Mechanism, Patient
    from remnant.model.presets import PRESETS, preset
    from remnant.model.scenario import Scenario


__getattr__, __dir__ = attach(__name__, _LAZY)

__all__ = [
    "PRESETS",
    "Mechanism",
    "Patient",
    "Scenario",
    "SimulationResult",
    "__version__",
    "preset",
    "simulate",
]
