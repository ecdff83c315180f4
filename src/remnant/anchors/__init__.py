"""The anchor table: the model at its defaults against the published figures of anchors.md.

``run_anchors(n_patients, seed)`` simulates each setting a source measured (cancer, stage mix,
margin, immune category, horizon) once, measures every anchor on those cohorts with a Monte
Carlo interval, and says pass or miss against the published interval (or, without one, within
3 percentage points or 20% relative, whichever is wider). The engine and the mechanism are
used as they are: the table measures the model, it tunes nothing.

Modules: :mod:`~remnant.anchors.definitions` (the anchors and their settings),
:mod:`~remnant.anchors.cohorts` (settings, stage mixes and their sources, simulation),
:mod:`~remnant.anchors.stats` (estimates and intervals), :mod:`~remnant.anchors.run`
(the table), :mod:`~remnant.anchors.page` (docs/anchors.md and its figures).
"""

from __future__ import annotations

from remnant.anchors.definitions import ANCHORS, NOT_EXPRESSIBLE, Anchor, NotExpressible
from remnant.anchors.run import COLUMNS, Result, measure_anchors, results_table, run_anchors

__all__ = [
    "ANCHORS",
    "COLUMNS",
    "NOT_EXPRESSIBLE",
    "Anchor",
    "NotExpressible",
    "Result",
    "measure_anchors",
    "results_table",
    "run_anchors",
]
