"""A sweep file (TOML), read and validated: every field checked before any patient is simulated.

Format (docs/sweeps.md)::

    name = "immunity"            # run id (default: the file's stem)
    design = "lhs"               # grid | lhs | sobol | saltelli
    points = 64                  # lhs / sobol: design rows; saltelli: base samples N
    seeds = [1, 2]               # every design row is simulated once per seed
    patients = 100000            # virtual patients per point
    horizon_years = 15.0         # follow-up (>= 5 years: the summary is at 5 years)
    design_seed = 0              # scrambling of lhs / sobol / saltelli

    [base]
    preset = "colon-stage2"      # or scenario = "file.toml" (relative to the sweep file)
    [base.mechanism]             # optional overrides of the base's mechanism
    lapse_rate_per_year = 0.3

    [[parameters]]
    name = "kill_rate"           # a mechanism field, FIELD.KEY of a table, or patient.FIELD
    low = 0.004
    high = 0.04
    scale = "log"                # linear (default) | log
    levels = 3                   # grid only: values from low to high (default 3)

    [[parameters]]
    name = "patient.margin"
    values = ["R0", "R1"]        # grid only: the values themselves

Names are read from the model at run time (:func:`remnant.model.parameters.mechanism_fields`,
the fields of :class:`~remnant.model.parameters.Patient`), so new model fields can be swept
without a change here. A mechanism field given per cancer or per margin (``residual_cells``)
names the keys the base's patients use (``R0`` for an R0 preset); ``residual_cells.R1`` names
one key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remnant.errors import RemnantInputError
from remnant.files import read_toml
from remnant.model.parameters import Patient, mechanism_fields
from remnant.model.presets import PRESETS, preset
from remnant.model.scenario import Scenario, mechanism_from_overrides

DESIGNS = ("grid", "lhs", "sobol", "saltelli")
SAMPLED = ("lhs", "sobol", "saltelli")  # designs that draw values between low and high
POWER_OF_TWO = ("sobol", "saltelli")  # Sobol' sequences are balanced at powers of 2 only
SCALES = ("linear", "log")
PATIENT_PREFIX = "patient."
DEFAULT_LEVELS = 3
MAX_LEVELS = 1000
DEFAULT_HORIZON_YEARS = 15.0
MIN_HORIZON_YEARS = 5.0  # the summary row is read at 5 years
MAX_HORIZON_YEARS = 100.0
MAX_POINTS = 1_000_000  # design rows times seeds
MAX_PATIENTS = 10**9  # per point
MAX_SEED = 2**63 - 1
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

TOP_KEYS = (
    "name",
    "design",
    "points",
    "seeds",
    "patients",
    "horizon_years",
    "design_seed",
    "base",
    "parameters",
)
BASE_KEYS = ("preset", "scenario", "mechanism")
PARAMETER_KEYS = ("name", "low", "high", "scale", "levels", "values")


@dataclass(frozen=True)
class Parameter:
    """One swept parameter.

    Attributes
    ----------
    name : str
        ``FIELD`` (mechanism), ``FIELD.KEY`` (one key of a mechanism table) or
        ``patient.FIELD`` (every profile of the base).
    low, high : float or None
        Range of a numeric parameter (in the parameter's own units).
    scale : {"linear", "log"}
        Values spread evenly in the value (linear) or in its logarithm (log).
    levels : int or None
        Grid only: number of values from ``low`` to ``high``.
    values : tuple or None
        Grid only: the values themselves (numbers or, for a patient's margin, names).
    """

    name: str
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    levels: int | None = None
    values: tuple[Any, ...] | None = None

    @property
    def column(self) -> str:
        """Column name in the stored rows: the name with ``.`` as ``_`` (``patient_immunity``)."""
        return self.name.replace(".", "_")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the base scenario, the parameters, the design and the seeds."""

    name: str
    base: Scenario
    parameters: tuple[Parameter, ...]
    design: str
    points: int | None
    seeds: tuple[int, ...]
    patients: int
    horizon_years: float
    design_seed: int

    def to_dict(self) -> dict[str, Any]:
        """Everything the results depend on, as JSON-ready values (recorded in the manifest)."""
        return {
            "name": self.name,
            "base": self.base.to_dict(),
            "parameters": [dataclasses.asdict(p) for p in self.parameters],
            "design": self.design,
            "points": self.points,
            "seeds": list(self.seeds),
            "patients": self.patients,
            "horizon_years": self.horizon_years,
            "design_seed": self.design_seed,
        }

    def sha256(self) -> str:
        """sha256 (hex) of :meth:`to_dict`'s canonical JSON, less the name (a label)."""
        data = {k: v for k, v in self.to_dict().items() if k != "name"}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- reading


def read_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file.

    Raises
    ------
    RemnantInputError
        A missing or malformed file, or a bad field (named: ``parameters[kill_rate].low``).
    """
    p = Path(path)
    data = read_toml(p, "sweep file")
    return spec_from_dict(data, default_name=p.stem, directory=p.parent)


def spec_from_dict(
    data: Mapping[str, Any], *, default_name: str = "sweep", directory: Path | None = None
) -> SweepSpec:
    """Build a :class:`SweepSpec` from a mapping shaped like the TOML file."""
    _known_keys("sweep", data, TOP_KEYS)
    name = data.get("name", default_name)
    if not isinstance(name, str) or not RUN_ID.match(name):
        raise RemnantInputError(
            "name", "a run id of letters, digits, '.', '_' or '-' (at most 100)", name
        )
    design = data.get("design", "grid")
    if design not in DESIGNS:
        raise RemnantInputError("design", "one of " + ", ".join(DESIGNS), design)
    base = _base(data.get("base"), directory or Path("."))
    parameters = _parameters(data.get("parameters", []), design, base)
    points = _points(data.get("points"), design, len(parameters))
    seeds = _seeds(data.get("seeds", [1]))
    patients = _whole("patients", data.get("patients"), 1, MAX_PATIENTS)
    horizon = data.get("horizon_years", DEFAULT_HORIZON_YEARS)
    if (
        isinstance(horizon, bool)
        or not isinstance(horizon, int | float)
        or not MIN_HORIZON_YEARS <= horizon <= MAX_HORIZON_YEARS
    ):
        raise RemnantInputError(
            "horizon_years",
            f"a number of years in [{MIN_HORIZON_YEARS:g}, {MAX_HORIZON_YEARS:g}]",
            horizon,
        )
    design_seed = _whole("design_seed", data.get("design_seed", 0), 0, 2**32 - 1)
    spec = SweepSpec(
        name=name,
        base=base,
        parameters=parameters,
        design=design,
        points=points,
        seeds=seeds,
        patients=patients,
        horizon_years=float(horizon),
        design_seed=design_seed,
    )
    total = design_rows(spec) * len(seeds)
    if total > MAX_POINTS:
        raise RemnantInputError(
            "points", f"at most {MAX_POINTS:,} points (design rows times seeds)", total
        )
    return spec


def design_rows(spec: SweepSpec) -> int:
    """Rows of the design (before seeds): grid product, points, or Saltelli's N (D + 2)."""
    if spec.design == "grid":
        return math.prod(_grid_size(p) for p in spec.parameters)
    assert spec.points is not None
    if spec.design == "saltelli":
        return spec.points * (len(spec.parameters) + 2)
    return spec.points


def _grid_size(p: Parameter) -> int:
    return len(p.values) if p.values is not None else int(p.levels or DEFAULT_LEVELS)


def _known_keys(where: str, table: Any, allowed: Sequence[str]) -> None:
    if not isinstance(table, Mapping):
        raise RemnantInputError(where, "a table", type(table).__name__)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise RemnantInputError(where, "keys " + ", ".join(allowed), unknown[0])


def _whole(field: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RemnantInputError(field, f"a whole number in [{lo:,}, {hi:,}]", value)
    return value


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RemnantInputError(field, "a finite number", value)
    return float(value)


def _base(table: Any, directory: Path) -> Scenario:
    if table is None:
        raise RemnantInputError("base", 'a [base] table with preset = "NAME" or scenario = "FILE"')
    _known_keys("base", table, BASE_KEYS)
    if ("preset" in table) == ("scenario" in table):
        raise RemnantInputError("base", "exactly one of base.preset or base.scenario")
    if "preset" in table:
        if table["preset"] not in PRESETS:
            raise RemnantInputError("base.preset", "one of " + ", ".join(PRESETS), table["preset"])
        scenario = preset(table["preset"])
    else:
        file = table["scenario"]
        if not isinstance(file, str):
            raise RemnantInputError("base.scenario", "a path to a TOML scenario file", file)
        try:
            scenario = Scenario.from_file(directory / file)
        except RemnantInputError as exc:
            raise exc.with_field(f"base.scenario: {exc.field}") from None
    overrides = table.get("mechanism", {})
    if not isinstance(overrides, Mapping):
        raise RemnantInputError("base.mechanism", "a table of mechanism parameters", overrides)
    try:
        mechanism = mechanism_from_overrides(overrides, scenario.mechanism)
    except RemnantInputError as exc:
        raise exc.with_field(f"base.mechanism: {exc.field}") from None
    return dataclasses.replace(scenario, mechanism=mechanism)


def _parameters(tables: Any, design: str, base: Scenario) -> tuple[Parameter, ...]:
    if not isinstance(tables, list):
        raise RemnantInputError("parameters", "[[parameters]] tables", type(tables).__name__)
    if not tables and design != "grid":
        raise RemnantInputError("parameters", f"at least one [[parameters]] table for {design}")
    parameters: list[Parameter] = []
    seen: set[str] = set()
    for i, table in enumerate(tables, start=1):
        where = f"parameters[{i}]"
        _known_keys(where, table, PARAMETER_KEYS)
        name = table.get("name")
        if not isinstance(name, str):
            raise RemnantInputError(f"{where}.name", "a parameter name", name)
        where = f"parameters[{name}]"
        kind = target_kind(name, base, where)
        parameter = _parameter(where, table, name, design, kind)
        if parameter.column in seen:
            raise RemnantInputError(f"{where}.name", "each parameter once", name)
        seen.add(parameter.column)
        parameters.append(parameter)
    return tuple(parameters)


def _parameter(
    where: str, table: Mapping[str, Any], name: str, design: str, kind: type
) -> Parameter:
    scale = table.get("scale", "linear")
    if scale not in SCALES:
        raise RemnantInputError(f"{where}.scale", "one of " + ", ".join(SCALES), scale)
    if "values" in table:
        if design != "grid":
            raise RemnantInputError(f"{where}.values", f"low and high, not values, for {design}")
        for key in ("low", "high", "levels"):
            if key in table:
                raise RemnantInputError(f"{where}.{key}", "values or low/high, not both", key)
        values = table["values"]
        if not isinstance(values, list) or not values:
            raise RemnantInputError(f"{where}.values", "a non-empty list", values)
        if len(set(map(repr, values))) != len(values):
            raise RemnantInputError(f"{where}.values", "distinct values", values)
        for value in values:
            if kind is str and not isinstance(value, str):
                raise RemnantInputError(f"{where}.values", "names (strings)", value)
            if kind is not str:
                _number(f"{where}.values", value)
        return Parameter(name, scale=scale, values=tuple(values))
    if kind is str:
        raise RemnantInputError(f"{where}.values", "a list of values for a named field", None)
    for key in ("low", "high"):
        if key not in table:
            raise RemnantInputError(f"{where}.{key}", "a number", None)
    low = _number(f"{where}.low", table["low"])
    high = _number(f"{where}.high", table["high"])
    if not low < high:
        raise RemnantInputError(f"{where}.high", f"a number > low ({low:g})", high)
    if scale == "log" and low <= 0:
        raise RemnantInputError(f"{where}.low", "a number > 0 with scale = log", low)
    levels = None
    if "levels" in table:
        if design != "grid":
            raise RemnantInputError(f"{where}.levels", f"no levels for {design} (grid only)")
        levels = _whole(f"{where}.levels", table["levels"], 2, MAX_LEVELS)
    elif design == "grid":
        levels = DEFAULT_LEVELS
    return Parameter(name, low=low, high=high, scale=scale, levels=levels)


def _points(value: Any, design: str, dims: int) -> int | None:
    if design == "grid":
        if value is not None:
            raise RemnantInputError("points", "no points for a grid (its size is the product)")
        return None
    points = _whole("points", value, 2 if design != "saltelli" else 1, MAX_POINTS)
    if design in POWER_OF_TWO and points & (points - 1):
        raise RemnantInputError("points", f"a power of 2 for {design} (64, 128, ...)", points)
    return points


def _seeds(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise RemnantInputError("seeds", "a non-empty list of whole numbers >= 0", value)
    seeds = tuple(_whole("seeds", s, 0, MAX_SEED) for s in value)
    if len(set(seeds)) != len(seeds):
        raise RemnantInputError("seeds", "distinct seeds", value)
    return seeds


# ---------------------------------------------------------------------- targets


def target_kind(name: str, base: Scenario, where: str = "parameters") -> type:
    """The type of value parameter ``name`` takes in ``base``: ``float``, ``int`` or ``str``.

    Raises
    ------
    RemnantInputError
        ``name`` is neither a mechanism field, ``FIELD.KEY`` of a mechanism table, nor
        ``patient.FIELD`` of a numeric or named patient field.
    """
    if name.startswith(PATIENT_PREFIX):
        field = name[len(PATIENT_PREFIX) :]
        fields = [f.name for f in dataclasses.fields(Patient)]
        if field not in fields:
            raise RemnantInputError(
                f"{where}.name", "patient. and one of " + ", ".join(fields), name
            )
        current = getattr(base.profiles[0], field)
        if isinstance(current, bool) or not isinstance(current, int | float | str):
            raise RemnantInputError(f"{where}.name", "a numeric or named patient field", name)
        return type(current)
    field, _, key = name.partition(".")
    allowed = mechanism_fields()
    if field not in allowed:
        raise RemnantInputError(
            f"{where}.name",
            "a mechanism field (" + ", ".join(allowed) + ") or patient.FIELD",
            name,
        )
    current = getattr(base.mechanism, field)
    if isinstance(current, Mapping):
        if key and key not in current:
            raise RemnantInputError(
                f"{where}.name", f"{field}." + f" or {field}.".join(current), name
            )
        return float
    if key:
        raise RemnantInputError(f"{where}.name", f"{field} (it has no keys)", name)
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise RemnantInputError(f"{where}.name", "a numeric mechanism field", name)
    return type(current)


def scenario_at(base: Scenario, values: Mapping[str, Any]) -> Scenario:
    """``base`` with each parameter ``name -> value`` of ``values`` set (validated again).

    A bare table field (``residual_cells``) sets the keys the base's profiles use: those of
    the table's keys that are a value of some profile field (the margin, the cancer).
    """
    mechanism = base.mechanism
    changes: dict[str, Any] = {}
    patient_changes: dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith(PATIENT_PREFIX):
            field = name[len(PATIENT_PREFIX) :]
            kind = type(getattr(base.profiles[0], field))
            patient_changes[field] = int(round(value)) if kind is int else value
            continue
        field, _, key = name.partition(".")
        current = getattr(mechanism, field)
        if isinstance(current, Mapping):
            table = dict(changes.get(field, current))
            for k in [key] if key else used_keys(base, current):
                table[k] = float(value)
            changes[field] = table
        else:
            changes[field] = int(round(value)) if type(current) is int else float(value)
    scenario = (
        dataclasses.replace(base, mechanism=mechanism.replace(**changes)) if changes else base
    )
    return scenario.with_patients(**patient_changes) if patient_changes else scenario


def used_keys(base: Scenario, table: Mapping[str, Any]) -> list[str]:
    """The keys of a mechanism table (per cancer, per margin) that ``base``'s profiles use."""
    used = {getattr(p, f.name) for p in base.profiles for f in dataclasses.fields(p)} & set(table)
    return sorted(str(k) for k in used)
