"""Errors of the API named in the command line's words: ``--patients``, not ``n_patients``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from remnant.errors import RemnantInputError


@contextmanager
def named_as_flags(flags: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a :class:`RemnantInputError` about a Python argument in ``flags`` as one about
    the flag that set it (``{"n_patients": "--patients"}``); other errors pass unchanged."""
    try:
        yield
    except RemnantInputError as exc:
        if exc.field in flags:
            raise exc.with_field(flags[exc.field]) from None
        raise
