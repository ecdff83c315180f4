"""What a simulated patient's record says: first event, its origin, the immune phase.

The engine (:mod:`remnant.engine.kernel`) and the event-by-event reference
(:mod:`remnant.checks.reference`) both write these codes; the labels are the categories of the
output table (``EVENTS[code]``).
"""

from __future__ import annotations

EVENTS = ("none", "local", "distant", "death")
ORIGINS = ("none", "margin", "seed")
PHASES = ("none", "pre-surgery", "dip", "lapse", "baseline")

NONE = 0
LOCAL, DISTANT, DEATH = 1, 2, 3  # EVENTS
MARGIN, SEED = 1, 2  # ORIGINS
PRE, DIP, LAPSE, BASE = 1, 2, 3, 4  # PHASES
