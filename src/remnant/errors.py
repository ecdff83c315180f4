"""Failures a user can meet, each naming what was wrong.

Every bad input raises :class:`RemnantInputError` (a ``ValueError``) whose message names the
field, what is allowed and what was received; the command line prints it as one line and
exits with code 2.
"""

from __future__ import annotations

from typing import Any


class RemnantInputError(ValueError):
    """A bad input value: a parameter, a file, a column or a command-line flag."""

    def __init__(self, field: str, allowed: str, got: Any = None, *, detail: str | None = None):
        self.field = field
        self.allowed = allowed
        self.got = got
        self.detail = detail
        msg = f"{field}: expected {allowed}"
        if got is not None:
            msg += f", got {got!r}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)

    def with_field(self, field: str) -> RemnantInputError:
        """The same error naming ``field`` instead (e.g. the command-line flag)."""
        return RemnantInputError(field, self.allowed, self.got, detail=self.detail)


class ConvergenceError(RuntimeError):
    """An optimiser did not converge; the message says which checks failed."""
