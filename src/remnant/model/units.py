"""Unit conversions shared by every part of the model (days, cells, millimetres).

One cubic centimetre of tumour holds about 1e9 cells, so a sphere of diameter ``D`` mm holds
``(pi / 6) * D**3 * 1e6`` cells (model.md, "Time and units").
"""

from __future__ import annotations

import math

CELLS_PER_MM3 = 1.0e6
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0


def diameter_to_cells(diameter_mm: float) -> float:
    """Cells in a spherical tumour of the given diameter (mm)."""
    return math.pi / 6.0 * diameter_mm**3 * CELLS_PER_MM3


def cells_to_diameter(cells: float) -> float:
    """Diameter (mm) of a spherical tumour holding ``cells`` cells."""
    return (6.0 * cells / (math.pi * CELLS_PER_MM3)) ** (1.0 / 3.0)
