"""Named scenarios: one patient profile per cancer and stage, at the default mechanism.

The colon presets are calibrated so that 5-year cumulative recurrence lands near the
published figures for stage I / II / III, 3.8% / 12% / 28% (Gately et al. 2021, PubMed
34184594, n = 4257); see docs/parameters.md for the measured values.
"""

from __future__ import annotations

from remnant.errors import RemnantInputError
from remnant.model.parameters import Mechanism, Patient
from remnant.model.scenario import Scenario

PRESETS = (
    "colon-stage1",
    "colon-stage2",
    "colon-stage3",
    "breast-stage1",
    "breast-stage2",
    "breast-stage3",
)
_STAGE = {"1": "I", "2": "II", "3": "III"}


def preset(name: str, *, mechanism: Mechanism | None = None) -> Scenario:
    """The named preset scenario (one of :data:`PRESETS`)."""
    if name not in PRESETS:
        raise RemnantInputError("--preset", "one of " + ", ".join(PRESETS), name)
    cancer, stage = name.split("-stage")
    patient = Patient.from_stage(cancer, _STAGE[stage])
    return Scenario.single(patient, mechanism or Mechanism(), name=name)
