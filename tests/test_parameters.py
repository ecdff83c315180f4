"""Parameter objects validate themselves; every field is documented."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remnant import Mechanism, Patient, preset
from remnant.errors import RemnantInputError
from remnant.model.mechanisms import derive, extinction_probability, geometric_parameter, seeding
from remnant.model.units import cells_to_diameter, diameter_to_cells

DOCS = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"


def test_every_parameter_is_documented() -> None:
    text = DOCS.read_text()
    for cls in (Patient, Mechanism):
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in text, f.name


@given(st.floats(allow_nan=True, allow_infinity=True) | st.text() | st.none())
def test_bad_sizes_are_refused_with_the_field_named(value: object) -> None:
    if isinstance(value, float) and math.isfinite(value) and 0.5 <= value <= 300:
        return
    with pytest.raises(RemnantInputError, match="size_mm"):
        Patient(size_mm=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"margin": "R9"}, "margin"),
        ({"grade": 4}, "grade"),
        ({"nodes": -1}, "nodes"),
        ({"nodes": 2.5}, "nodes"),
        ({"cancer": "lung"}, "cancer"),
        ({"immunity": 0.0}, "immunity"),
        ({"age": 150}, "age"),
    ],
)
def test_patient_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(RemnantInputError, match=field):
        Patient(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kill_rate": -1.0}, "kill_rate"),
        ({"birth_rate": 0.01}, "birth_rate"),
        ({"dip_depth": 1.5}, "dip_depth"),
        ({"switch_cells": 1.0}, "switch_cells"),
        ({"residual_cells": {"R0": 1.0}}, "residual_cells"),
    ],
)
def test_mechanism_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(RemnantInputError, match=field):
        Mechanism(**kwargs)  # type: ignore[arg-type]


def test_presets_and_objects_are_immutable() -> None:
    p = preset("colon-stage2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.profiles[0].size_mm = 3.0  # type: ignore[misc]
    with pytest.raises(RemnantInputError, match="--preset"):
        preset("colon-stage4")


def test_units_round_trip() -> None:
    assert diameter_to_cells(10.0) == pytest.approx(math.pi / 6 * 1e9)
    assert cells_to_diameter(diameter_to_cells(23.0)) == pytest.approx(23.0)


@given(b=st.floats(0.01, 1.0), d=st.floats(0.0, 1.0), tau=st.floats(1e-3, 500.0))
def test_transition_probabilities_are_probabilities(b: float, d: float, tau: float) -> None:
    p0 = extinction_probability(b, d, tau)
    beta = geometric_parameter(b, d, tau)
    assert 0.0 <= p0 <= 1.0 and 0.0 <= beta <= 1.0
    if (b - d) * tau < 30:  # the engine's leaps stay below e**20 growth
        assert beta < 1.0
    # E[N(tau)] from one cell = (1 - p0) / (1 - beta) = exp((b - d) tau)
    if beta < 1 - 1e-9 and (b - d) * tau < 50:
        assert (1 - p0) / (1 - beta) == pytest.approx(math.exp((b - d) * tau), rel=1e-6)


def test_seeding_means_add_up() -> None:
    s = seeding(nu=1e-9, n_surgery=1e10, gamma=2 / 3, r_primary=0.005, wake=1e-3, death=2e-3)
    g = 2 / 3 * 0.005
    assert s.total == pytest.approx(1e-9 * 1e10 ** (2 / 3) / g)
    # asleep + woke + died asleep = all lodged
    died = s.total * 2e-3 / (g + 3e-3)
    assert s.dormant + s.woken + died == pytest.approx(s.total)


def test_derive_matches_typical_growth() -> None:
    p, m = Patient(), Mechanism()
    d = derive(p, m)
    # at I = 1 the net growth rate is ln 2 / Td
    assert d.birth - (d.death0 + d.kill) == pytest.approx(math.log(2) / d.clone_doubling_days)
