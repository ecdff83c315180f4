"""Moved to :mod:`remnant.files`."""

from remnant.files import ordinary_permissions

__all__ = ["ordinary_permissions"]
