"""Provenance recorded with every output: package and library versions."""

from __future__ import annotations

import platform
from typing import Any


def provenance() -> dict[str, Any]:
    """Versions of remnant and of the libraries that shape its numbers."""
    import numba
    import numpy

    from remnant import __version__

    return {
        "remnant_version": __version__,
        "numpy_version": numpy.__version__,
        "numba_version": numba.__version__,
        "python_version": platform.python_version(),
    }
