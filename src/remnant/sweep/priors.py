"""Prior ranges of the mechanism's parameters for global sensitivity (docs/sensitivity.md).

Every numeric mechanism field (read from the model, :func:`mechanism_fields`) gets a range
unless it is listed in :data:`EXCLUDED`: by default a log-uniform range one order of
magnitude wide, centred on the base scenario's value (``value / sqrt 10`` to
``value * sqrt 10``); :data:`RANGES` replaces that for the fields whose range is bounded
(fractions) or tied to another field's (the birth rate must cover the fastest growth plus
the kill). A field given per cancer or per margin is varied at the base's key (``colon``,
``R0``). Each field belongs to a cause (:data:`CAUSES`; a new field to ``other``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

from remnant.model.parameters import mechanism_fields
from remnant.model.scenario import Scenario
from remnant.sweep.spec import Parameter, used_keys

DECADE_HALF_WIDTH = math.sqrt(10.0)  # default range: value / sqrt(10) .. value * sqrt(10)
OTHER = "other"

CAUSES: Mapping[str, str] = {
    "kill_rate": "immunity",
    "dip_depth": "immunity",
    "dip_recovery_days": "immunity",
    "lapse_rate_per_year": "immunity",
    "lapse_depth": "immunity",
    "lapse_days": "immunity",
    "wake_immune_exponent": "immunity",
    "immune_scale": "immunity",
    "immune_spread": "immunity",
    "residual_cells": "removal",
    "seeding_coefficient": "seeding and dormancy",
    "nodes_effect": "seeding and dormancy",
    "primary_doubling_days": "seeding and dormancy",
    "wake_rate": "seeding and dormancy",
    "dormant_death_rate": "seeding and dormancy",
    "surgery_wake_multiplier": "seeding and dormancy",
    "surgery_wake_days": "seeding and dormancy",
    "clone_doubling_days": "growth",
    "birth_rate": "growth",
    "growth_spread": "growth",
    "detection_cells_local": "detection",
    "detection_cells_distant": "detection",
}


@dataclass(frozen=True)
class Range:
    """A prior range and why."""

    low: float
    high: float
    scale: str
    reason: str
    relative: bool = False  # low and high are factors of the base value


RANGES: Mapping[str, Range] = {
    "dip_depth": Range(
        0.5,
        0.95,
        "linear",
        "a fraction; Angka 2018's NK IFN-gamma fell 83% on day 1, and a dip of half of "
        "that to near-total suppression spans the reported patients",
    ),
    "lapse_depth": Range(
        0.2, 0.9, "linear", "a fraction: a mild to a near-total lapse of immunity"
    ),
    "immune_scale": Range(
        0.5,
        2.0,
        "log",
        "every patient's immunity scaled by a factor 2 either way of the base's scale: the "
        "ratio of the high and of the low Immunoscore level to the typical one (2 and 0.5, "
        "IMMUNE_LEVELS; Pages 2018)",
        relative=True,
    ),
    "immune_spread": Range(
        0.5,
        1.5,
        "linear",
        "half to 1.5 times the base's spread of log I0 between patients (the model allows at "
        "most 3); not varied when the base has no spread",
        relative=True,
    ),
    "growth_spread": Range(
        0.5,
        1.5,
        "linear",
        "half to 1.5 times the base's spread of log doubling time between patients (Zhang "
        "2017's doubling times give 0.49; the model allows at most 1); not varied when the "
        "base has no spread",
        relative=True,
    ),
    "clone_doubling_days": Range(
        1.0 / math.sqrt(2.0),
        math.sqrt(2.0),
        "log",
        "a factor 2 around the base value (colon 17.7-35.4 days): a shorter doubling time would "
        "need a birth rate above the range below (d0 >= 0); micrometastases double in "
        "~10-70 days (Iwata 2000)",
        relative=True,
    ),
    "birth_rate": Range(
        0.1,
        0.2,
        "log",
        "from about the least that covers the fastest net growth plus the highest kill rate "
        "of these ranges (ln 2 / (17.7 d x 0.7) + 0.038 = 0.094 per day) to twice that",
    ),
}

EXCLUDED: Mapping[str, str] = {
    "seeding_exponent": "an exponent of the primary's ~1e10 cells: its scale is carried by "
    "seeding_coefficient (0.1 on the exponent is a factor 10 on the rate)",
    "dip_step_days": "numerical: the dip's piecewise-constant steps",
    "dip_steps": "numerical: the dip's piecewise-constant steps",
    "switch_cells": "numerical: the stochastic-to-deterministic switch",
    "visible_cells_at_surgery": "the M0 condition, not a cause",
    "mortality_a": "other-cause death: life tables, not a cause of recurrence",
    "mortality_b": "other-cause death: life tables, not a cause of recurrence",
    "mortality_c": "other-cause death: life tables, not a cause of recurrence",
}


@dataclass(frozen=True)
class Prior:
    """One parameter's prior: its range, its value in the base, its cause and the reason."""

    parameter: Parameter
    default: float
    cause: str
    reason: str


def priors(base: Scenario) -> tuple[Prior, ...]:
    """The priors of every varied mechanism field of ``base``, in the model's field order."""
    mechanism = base.mechanism
    out = []
    for name in mechanism_fields():
        if name in EXCLUDED:
            continue
        value = getattr(mechanism, name)
        if isinstance(value, Mapping):
            keys = used_keys(base, value)
            if not keys:
                continue
            value = value[keys[0]]
        if isinstance(value, bool) or not isinstance(value, float):
            continue  # whole numbers and switches are not varied continuously
        given = RANGES.get(name)
        if given is None and not value > 0:
            continue  # a zero default has no scale to vary around
        if given is None:
            given = Range(
                1.0 / DECADE_HALF_WIDTH,
                DECADE_HALF_WIDTH,
                "log",
                "one order of magnitude around the base value (log-uniform)",
                relative=True,
            )
        if given.relative:
            given = dataclasses.replace(
                given, low=given.low * value, high=given.high * value, relative=False
            )
        if not given.low < given.high:
            continue  # a relative range around zero
        parameter = Parameter(name, low=given.low, high=given.high, scale=given.scale)
        out.append(Prior(parameter, float(value), CAUSES.get(name, OTHER), given.reason))
    return tuple(out)
