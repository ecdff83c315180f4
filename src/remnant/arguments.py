"""Small validators that raise :class:`remnant.errors.RemnantInputError` naming the field.

Each takes the field's name (the argument, as the caller spells it) and the value received,
and returns the value in its canonical type (``float``, ``int``, ``bool``, ``Path``...).
Booleans are never numbers here: ``True`` is refused where a number is expected. Numpy's
scalar numbers are numbers; numpy's booleans are booleans.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from remnant.errors import RemnantInputError

_NUMBER = (int, float, np.integer, np.floating)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool | np.bool_) and isinstance(value, _NUMBER)


def finite_number(field: str, value: Any) -> float:
    """A finite real number (``int``, ``float`` or a numpy number; not a bool) as a float."""
    if not _is_number(value):
        raise RemnantInputError(field, "a number", value)
    try:
        v = float(value)
    except OverflowError:  # an int too large for a float
        raise RemnantInputError(field, "a finite number", value) from None
    if not math.isfinite(v):
        raise RemnantInputError(field, "a finite number", value)
    return v


def positive(field: str, value: Any) -> float:
    """A finite number > 0."""
    v = finite_number(field, value)
    if v <= 0:
        raise RemnantInputError(field, "a number > 0", value)
    return v


def non_negative(field: str, value: Any) -> float:
    """A finite number >= 0."""
    v = finite_number(field, value)
    if v < 0:
        raise RemnantInputError(field, "a number >= 0", value)
    return v


def in_range(field: str, value: Any, lo: float, hi: float) -> float:
    """A finite number in ``[lo, hi]``."""
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


def _whole(value: Any) -> int | None:
    """``value`` as an int if it is a whole number (an integral float counts), else None."""
    if not _is_number(value):
        return None
    if isinstance(value, float | np.floating):
        if not math.isfinite(value) or value != int(value):
            return None
    return int(value)


def non_negative_int(field: str, value: Any) -> int:
    """A whole number >= 0 (an integral float such as ``3.0`` counts)."""
    n = _whole(value)
    if n is None or n < 0:
        raise RemnantInputError(field, "a whole number >= 0", value)
    return n


def whole_number(field: str, value: Any, lo: int, hi: int | None = None) -> int:
    """A whole number in ``[lo, hi]`` (``hi`` None: no upper bound).

    Parameters
    ----------
    field : str
        The argument's name, for the message.
    value : Any
        The value received; an integral float such as ``3.0`` counts as a whole number.
    lo, hi : int
        Bounds, both included.

    Returns
    -------
    int
    """
    allowed = f"a whole number in [{lo}, {hi}]" if hi is not None else f"a whole number >= {lo}"
    n = _whole(value)
    if n is None or n < lo or (hi is not None and n > hi):
        raise RemnantInputError(field, allowed, value)
    return n


def choice(field: str, value: Any, allowed: Iterable[str]) -> str:
    """One of the strings ``allowed``."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise RemnantInputError(field, "one of " + ", ".join(allowed), value)
    return value


def flag(field: str, value: Any, *, allow_none: bool = True) -> bool | None:
    """A True/False switch, or None (when ``allow_none``: "not set, use the default").

    Parameters
    ----------
    field : str
        The argument's name, for the message.
    value : Any
        ``True``, ``False`` (a numpy bool counts) or, when ``allow_none``, ``None``. Anything
        else (``1``, ``"yes"``, ``[True]``...) is refused: a truthy value is not a switch.
    allow_none : bool
        Whether ``None`` is accepted.

    Returns
    -------
    bool or None

    Raises
    ------
    RemnantInputError
        Naming ``field``, with "True, False or None" (or "True or False") as what is allowed.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise RemnantInputError(field, "True, False or None" if allow_none else "True or False", value)


def optional_callable(field: str, value: Any) -> Callable[..., Any] | None:
    """A callable, or None."""
    if value is not None and not callable(value):
        raise RemnantInputError(field, "a callable or None", type(value).__name__)
    return value


def path(field: str, value: Any) -> Path:
    """A file-system path given as ``str`` or ``os.PathLike`` (not bytes, not empty)."""
    if not isinstance(value, str | os.PathLike):
        raise RemnantInputError(field, "a path (str or os.PathLike)", type(value).__name__)
    try:
        p = Path(value)
    except TypeError:  # a PathLike whose __fspath__ gives bytes or garbage
        raise RemnantInputError(field, "a path (str or os.PathLike)", repr(value)) from None
    if (isinstance(value, str) and not value) or "\0" in str(p):
        raise RemnantInputError(field, "a non-empty path without NUL characters", str(value))
    return p
