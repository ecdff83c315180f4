"""Scenarios: who is simulated (one or more patient profiles with weights) under which mechanism.

A scenario file is TOML: a ``[patient]`` table (or several ``[[profiles]]`` tables, each with
a ``weight``) and an optional ``[mechanism]`` table of overrides::

    name = "colon stage III, mixed margins"
    [[profiles]]
    weight = 0.9
    cancer = "colon"
    stage = "III"
    margin = "R0"
    [[profiles]]
    weight = 0.1
    cancer = "colon"
    stage = "III"
    margin = "R1"
    [mechanism]
    lapse_rate_per_year = 0.5

Patient keys: ``cancer``, ``stage`` (sets size and nodes), ``size_mm``, ``nodes``, ``grade``,
``margin``, ``immune`` (a level name or a number), ``age``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remnant import arguments as v
from remnant.errors import RemnantInputError
from remnant.model.parameters import Mechanism, Patient, mechanism_fields

PATIENT_KEYS = ("cancer", "stage", "size_mm", "nodes", "grade", "margin", "immune", "age")


@dataclass(frozen=True)
class Scenario:
    """Patient profiles with mixing weights, and the mechanism they share.

    Parameters
    ----------
    profiles : tuple of Patient
        One or more patient profiles.
    weights : tuple of float
        Mixing weights (normalised to sum to 1); each simulated patient draws its profile.
    mechanism : Mechanism
        Shared mechanism parameters.
    name : str
        A label recorded in the output's metadata.
    """

    profiles: tuple[Patient, ...]
    weights: tuple[float, ...] = ()
    mechanism: Mechanism = field(default_factory=Mechanism)
    name: str = "custom"

    def __post_init__(self) -> None:
        if not _is_collection(self.profiles):
            raise RemnantInputError("profiles", "one or more Patient objects", self.profiles)
        profiles = tuple(self.profiles)
        if not profiles or not all(isinstance(p, Patient) for p in profiles):
            raise RemnantInputError("profiles", "one or more Patient objects", self.profiles)
        if self.weights is None:
            given: tuple[Any, ...] = ()
        elif _is_collection(self.weights):
            given = tuple(self.weights)
        else:
            raise RemnantInputError("weights", "a sequence of numbers >= 0", self.weights)
        weights = given if given else (1.0,) * len(profiles)
        if len(weights) != len(profiles):
            raise RemnantInputError(
                "weights", f"{len(profiles)} weights, one per profile", len(weights)
            )
        for w in weights:
            v.non_negative("weights", w)
        try:
            total = float(sum(weights))
        except OverflowError:  # whole numbers beyond any float
            total = math.inf
        if not 0 < total < math.inf:
            raise RemnantInputError("weights", "at least one weight > 0, with a finite sum", total)
        if not isinstance(self.mechanism, Mechanism):
            raise RemnantInputError("mechanism", "a Mechanism", type(self.mechanism).__name__)
        if not isinstance(self.name, str):
            raise RemnantInputError("name", "a string", self.name)
        object.__setattr__(self, "profiles", profiles)
        object.__setattr__(self, "weights", tuple(float(w) / total for w in weights))

    @classmethod
    def single(
        cls, patient: Patient, mechanism: Mechanism | None = None, name: str = "custom"
    ) -> Scenario:
        """A scenario of one patient profile."""
        if not isinstance(patient, Patient):
            raise RemnantInputError("patient", "a Patient", type(patient).__name__)
        return cls((patient,), (1.0,), Mechanism() if mechanism is None else mechanism, name)

    def with_patients(self, **changes: Any) -> Scenario:
        """The same scenario with some patient fields changed in every profile."""
        if "immune" in changes:
            from remnant.model.parameters import immune_input

            spread = self.mechanism.immune_spread > 0.0
            immunity, band = immune_input(changes.pop("immune"), spread=spread)
            changes["immunity"] = immunity
            changes["immune_band"] = band
        return dataclasses.replace(
            self, profiles=tuple(p.replace(**changes) for p in self.profiles)
        )

    def to_dict(self) -> dict[str, Any]:
        """Every parameter, for provenance."""
        return {
            "name": self.name,
            "profiles": [dataclasses.asdict(p) for p in self.profiles],
            "weights": list(self.weights),
            "mechanism": dataclasses.asdict(self.mechanism),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
        """Build a scenario from a mapping shaped like the TOML file."""
        if not isinstance(data, Mapping):
            raise RemnantInputError(source, "a table", type(data).__name__)
        has_patient = "patient" in data
        has_profiles = "profiles" in data
        if has_patient == has_profiles:
            raise RemnantInputError(
                source, "exactly one of a [patient] table or [[profiles]] tables"
            )
        if has_patient:
            tables: Sequence[Any] = [data["patient"]]
            weights: list[float] = [1.0]
        else:
            tables = data["profiles"]
            if not isinstance(tables, list) or not tables:
                raise RemnantInputError("profiles", "one or more [[profiles]] tables")
            weights = []
            for t in tables:
                if not isinstance(t, Mapping) or "weight" not in t:
                    raise RemnantInputError(
                        "profiles.weight", "a weight in every [[profiles]] table"
                    )
                weights.append(t["weight"])
        patients = tuple(_patient_from_table(t) for t in tables)
        mech_table = data.get("mechanism", {})
        if not isinstance(mech_table, Mapping):
            raise RemnantInputError("mechanism", "a table of parameter overrides")
        mechanism = mechanism_from_overrides(mech_table)
        unknown = set(data) - {"name", "patient", "profiles", "mechanism"}
        if unknown:
            raise RemnantInputError(
                source, "keys name, patient, profiles, mechanism", sorted(unknown)[0]
            )
        name = data.get("name", "custom")
        if not isinstance(name, str):
            raise RemnantInputError("name", "a string", name)
        return cls(patients, tuple(weights), mechanism, name)

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        """Read a TOML scenario file (format in the module docstring)."""
        from remnant.files import read_toml

        return cls.from_dict(read_toml(path, "--scenario"), source=str(path))


def _is_collection(value: Any) -> bool:
    """An iterable of items: a tuple, list, array... (not a string, a mapping or a Patient)."""
    return isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping)


def _patient_from_table(table: Any) -> Patient:
    if not isinstance(table, Mapping):
        raise RemnantInputError("patient", "a table of patient fields")
    keys = dict(table)
    keys.pop("weight", None)
    unknown = set(keys) - set(PATIENT_KEYS)
    if unknown:
        raise RemnantInputError("patient", "keys " + ", ".join(PATIENT_KEYS), sorted(unknown)[0])
    cancer = keys.pop("cancer", "colon")
    stage = keys.pop("stage", "II")
    return Patient.from_stage(cancer, stage, **keys)


def mechanism_from_overrides(
    overrides: Mapping[str, Any], base: Mechanism | None = None
) -> Mechanism:
    """A mechanism with some parameters overridden (names checked)."""
    allowed = mechanism_fields()
    for key in overrides:
        if key not in allowed:
            raise RemnantInputError("mechanism", "known parameters: " + ", ".join(allowed), key)
    base = base or Mechanism()
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        current = getattr(base, key)
        if isinstance(current, dict):
            if not isinstance(value, Mapping):
                raise RemnantInputError(
                    f"mechanism.{key}", "a table keyed by " + ", ".join(current)
                )
            merged = dict(current)
            merged.update(value)
            changes[key] = merged
        else:
            changes[key] = value
    return base.replace(**changes)
