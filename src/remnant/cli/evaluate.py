"""Placeholder for the `remnant evaluate` command (filled in by its own module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's command to the application."""
