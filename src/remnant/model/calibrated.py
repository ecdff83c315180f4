"""The calibrated model: one parameter set per cancer behind both faces of remnant.

``remnant predict`` explains a patient with the model fitted to the bundled cohorts
(``calibrated.json``, written by ``python -m remnant.explanation.default_model``; its fits,
data provenance and recalibration are recorded there, docs/explain.md). The fit estimates
four numbers on top of :class:`Mechanism`'s defaults: log multipliers of the seeding
coefficient (``burden``), of the residual cells at every margin (``residual``) and of every
patient's baseline immunity (``immunity``), and the log standard deviation of baseline
immunity between patients (``immune_spread``). :func:`fold` writes them into a
:class:`Mechanism`, so that the simulator runs the very model ``predict`` explains:

* ``seeding_coefficient[cancer] * e^burden``, ``residual_cells[m] * e^residual``;
* ``immune_scale * e^immunity`` and ``immune_spread = e^immune_spread``.

:func:`mechanism` is that mechanism at the fit's mode; :func:`patient` a patient of it, whose
immune category is its band of the spread (Immunoscore; ``IMMUNOSCORE_BANDS``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from remnant.errors import RemnantInputError
from remnant.model.parameters import CANCERS, UNKNOWN_IMMUNE, Mechanism, Patient

FILE = "calibrated.json"
# The fitted parameters a mechanism-link fit adds to the mechanism (their order in theta).
FOLDED = ("burden", "residual", "immunity", "immune_spread")


def fold(mechanism: Mechanism, cancer: str, estimates: Mapping[str, float]) -> Mechanism:
    """``mechanism`` with a mechanism-link fit's log multipliers written into it.

    Parameters
    ----------
    mechanism : Mechanism
        The mechanism the fit rescaled (its prior centre).
    cancer : str
        The fitted cancer (its seeding coefficient is rescaled).
    estimates : mapping
        ``burden``, ``residual``, ``immunity`` and optionally ``immune_spread`` (the log of
        the standard deviation of ``log I0``), on their log scales.
    """
    missing = [k for k in FOLDED[:3] if k not in estimates]
    if missing:
        raise RemnantInputError("estimates", "burden, residual and immunity", missing[0])
    coef = dict(mechanism.seeding_coefficient)
    coef[cancer] = coef[cancer] * math.exp(estimates["burden"])
    residual = {m: r * math.exp(estimates["residual"]) for m, r in mechanism.residual_cells.items()}
    changes: dict[str, Any] = {
        "seeding_coefficient": coef,
        "residual_cells": residual,
        "immune_scale": mechanism.immune_scale * math.exp(estimates["immunity"]),
    }
    if "immune_spread" in estimates:
        changes["immune_spread"] = math.exp(estimates["immune_spread"])
    return mechanism.replace(**changes)


@lru_cache(maxsize=1)
def _models() -> dict[str, Any]:
    text = resources.files("remnant.model").joinpath(FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def stored_fit(cancer: str) -> dict[str, Any]:
    """The stored fit of ``cancer`` (the mapping :meth:`remnant.inference.RemnantFit.from_dict`
    reads)."""
    models = _models()["models"]
    if cancer not in models:
        raise RemnantInputError("cancer", "one of " + ", ".join(models), cancer)
    stored: dict[str, Any] = models[cancer]
    return stored


def provenance() -> dict[str, Any]:
    """Package version and environment of the calibration run."""
    out: dict[str, Any] = _models()["provenance"]
    return out


def mechanism(cancer: str) -> Mechanism:
    """The calibrated mechanism of ``cancer`` (colon or breast): the mode of its fit."""
    if cancer not in CANCERS:
        raise RemnantInputError("cancer", "one of " + ", ".join(CANCERS), cancer)
    stored = stored_fit(cancer)
    base = Mechanism(**stored["mechanism"])
    names = [n for n in stored["parameters"] if n in FOLDED]
    estimates = dict(zip(names, map(float, stored["theta"]), strict=False))
    return fold(base, cancer, estimates)


def patient(cancer: str = "colon", stage: str = "II", **fields: Any) -> Patient:
    """A patient of the calibrated model: :meth:`Patient.from_stage` with the immune input
    read as an Immunoscore category (a band of the spread; default: unknown, the whole
    population)."""
    immune = fields.pop("immune", None)
    immune = UNKNOWN_IMMUNE if immune is None else immune
    return Patient.from_stage(cancer, stage, immune=immune, spread=True, **fields)
