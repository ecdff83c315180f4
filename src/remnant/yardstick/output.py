"""Moved to :mod:`remnant.files`."""

from remnant.files import write_atomic, write_text_atomic

__all__ = ["write_atomic", "write_text_atomic"]
