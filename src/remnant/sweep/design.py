"""The rows of a sweep's design: parameter values, a pure function of the sweep file.

- ``grid``: every combination of each parameter's values (``levels`` values from ``low`` to
  ``high``, evenly spaced in the value or, with ``scale = "log"``, in its logarithm; or the
  listed ``values``), the first parameter varying slowest.
- ``lhs``: a Latin hypercube of ``points`` rows (``scipy.stats.qmc.LatinHypercube``).
- ``sobol``: the first ``points`` rows of a scrambled Sobol' sequence
  (``scipy.stats.qmc.Sobol``).
- ``saltelli``: Saltelli's scheme for Sobol' indices, ``points * (D + 2)`` rows for ``D``
  parameters (``SALib.sample.sobol.sample`` without second-order terms); the rows are in
  the order ``SALib.analyze.sobol.analyze`` expects.

The sampled designs draw in the unit cube and map each coordinate ``u`` to
``low + u (high - low)`` (linear) or ``exp(log low + u (log high - log low))`` (log), so a
log-scaled parameter is log-uniform over its range. ``design_seed`` fixes the scrambling.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from remnant.sweep.spec import DEFAULT_LEVELS, Parameter, SweepSpec


def design(spec: SweepSpec) -> list[dict[str, Any]]:
    """The design's rows, each a mapping ``parameter name -> value``, in design order."""
    names = [p.name for p in spec.parameters]
    if spec.design == "grid":
        axes = [grid_values(p) for p in spec.parameters]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    unit = unit_sample(spec)
    values = np.column_stack([from_unit(p, unit[:, j]) for j, p in enumerate(spec.parameters)])
    return [dict(zip(names, map(float, row), strict=True)) for row in values]


def grid_values(p: Parameter) -> list[Any]:
    """A grid parameter's values: the listed ones, or ``levels`` from ``low`` to ``high``."""
    if p.values is not None:
        return list(p.values)
    assert p.low is not None and p.high is not None
    levels = p.levels or DEFAULT_LEVELS
    if p.scale == "log":
        return [float(x) for x in np.geomspace(p.low, p.high, levels)]
    return [float(x) for x in np.linspace(p.low, p.high, levels)]


def from_unit(p: Parameter, u: np.ndarray) -> np.ndarray:
    """Map unit-cube coordinates ``u`` (in [0, 1]) to the parameter's range."""
    assert p.low is not None and p.high is not None
    if p.scale == "log":
        lo, hi = np.log(p.low), np.log(p.high)
        return np.asarray(np.exp(lo + u * (hi - lo)))
    return p.low + u * (p.high - p.low)


def unit_sample(spec: SweepSpec) -> np.ndarray:
    """The sampled design in the unit cube, shape (rows, parameters)."""
    from scipy.stats import qmc

    d = len(spec.parameters)
    assert spec.points is not None
    if spec.design == "lhs":
        return np.asarray(qmc.LatinHypercube(d=d, seed=spec.design_seed).random(spec.points))
    if spec.design == "sobol":
        return np.asarray(qmc.Sobol(d=d, scramble=True, seed=spec.design_seed).random(spec.points))
    from SALib.sample import sobol as saltelli

    problem = salib_problem(spec.parameters, unit=True)
    return np.asarray(
        saltelli.sample(problem, spec.points, calc_second_order=False, seed=spec.design_seed)
    )


def salib_problem(parameters: tuple[Parameter, ...], *, unit: bool = False) -> dict[str, Any]:
    """SALib's problem: names and bounds (the unit interval for each when ``unit``)."""
    bounds = [[0.0, 1.0] if unit else [p.low, p.high] for p in parameters]
    return {"num_vars": len(parameters), "names": [p.name for p in parameters], "bounds": bounds}
