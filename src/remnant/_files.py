"""File helpers shared by every writer: results are written to a temporary file, then renamed."""

from __future__ import annotations

import os


def ordinary_permissions(path: str) -> None:
    """Give a temporary file (owner-only from ``mkstemp``) the permissions of an ordinary file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
