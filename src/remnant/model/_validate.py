"""Small validators that raise :class:`remnant.errors.RemnantInputError` naming the field."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from remnant.errors import RemnantInputError


def finite_number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RemnantInputError(field, "a number", value)
    v = float(value)
    if not math.isfinite(v):
        raise RemnantInputError(field, "a finite number", value)
    return v


def positive(field: str, value: Any) -> float:
    v = finite_number(field, value)
    if v <= 0:
        raise RemnantInputError(field, "a number > 0", value)
    return v


def non_negative(field: str, value: Any) -> float:
    v = finite_number(field, value)
    if v < 0:
        raise RemnantInputError(field, "a number >= 0", value)
    return v


def in_range(field: str, value: Any, lo: float, hi: float) -> float:
    v = finite_number(field, value)
    if not lo <= v <= hi:
        raise RemnantInputError(field, f"a number in [{lo:g}, {hi:g}]", value)
    return v


def seed(field: str, value: Any) -> int:
    """A random seed: a whole number in [0, 2**32 - 1] (what every generator accepts)."""
    s = non_negative_int(field, value)
    if s > 2**32 - 1:
        raise RemnantInputError(field, "a whole number in [0, 2**32 - 1]", value)
    return s


def non_negative_int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RemnantInputError(field, "a whole number >= 0", value)
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise RemnantInputError(field, "a whole number >= 0", value)
    if value < 0:
        raise RemnantInputError(field, "a whole number >= 0", value)
    return int(value)


def choice(field: str, value: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise RemnantInputError(field, "one of " + ", ".join(allowed), value)
    return value
