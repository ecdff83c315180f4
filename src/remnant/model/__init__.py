"""The model: parameters, presets, scenarios and the mechanism's formulas (no engine here)."""

from remnant.model.parameters import IMMUNE_LEVELS, Mechanism, Patient, immune_level
from remnant.model.presets import PRESETS, preset
from remnant.model.scenario import Scenario

__all__ = ["IMMUNE_LEVELS", "PRESETS", "Mechanism", "Patient", "Scenario", "immune_level", "preset"]
