"""remnant: simulate, fit, predict and explain cancer recurrence after surgical resection.

The entry point of the simulator is :func:`remnant.simulate`::

    import remnant
    result = remnant.simulate("colon-stage3", 100_000, seed=1)
    result.summary.recurrence_table()
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("remnant")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from remnant.engine import SimulationResult, simulate  # noqa: E402
from remnant.model import PRESETS, Mechanism, Patient, Scenario, preset  # noqa: E402

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
