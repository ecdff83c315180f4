"""Errors of the API named in the command line's words: ``--patients``, not ``n_patients``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def read_from(flag: str, path: Path | None) -> Iterator[None]:
    """Errors met while reading the file given by ``flag`` name the flag: ``--scenario`` for
    the file itself, ``--scenario: weights`` for a field inside it."""
    try:
        yield
    except RemnantInputError as exc:
        if exc.field.startswith("--"):
            raise
        whole = path is not None and exc.field in (str(path), "path", "file", "scenario")
        raise exc.with_field(flag if whole else f"{flag}: {exc.field}") from None
