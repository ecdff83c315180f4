"""Named scenarios: the patients of one cancer and stage under its calibrated mechanism.

A preset is a cohort of the calibrated model (``remnant.model.calibrated``), the model
``remnant predict`` explains: the stage's patient of :meth:`Patient.from_stage` with its
immunity unknown, i.e. drawn from the whole spread of baseline immunity between patients.
The colon model's seeding is recalibrated to the published 5-year recurrence of stage I / II
/ III, 3.8% / 12% / 28% (Gately et al. 2021, PubMed 34184594, n = 4257); docs/parameters.md
gives the measured values.
"""

from __future__ import annotations

from remnant.errors import RemnantInputError
from remnant.model import calibrated
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
    """The named preset scenario (one of :data:`PRESETS`).

    ``mechanism`` replaces the calibrated one (for a mechanism without a spread of immunity,
    the patient is at the typical immunity 1).
    """
    if name not in PRESETS:
        raise RemnantInputError("--preset", "one of " + ", ".join(PRESETS), name)
    cancer, stage = name.split("-stage")
    mech = calibrated.mechanism(cancer) if mechanism is None else mechanism
    patient = Patient.from_stage(cancer, _STAGE[stage], immune=1.0)
    return Scenario.single(patient, mech, name=name)
