"""Streaming summary of a simulated cohort: updated chunk by chunk, never holding all rows.

Cumulative recurrence at a horizon is the fraction of patients whose first event is a
recurrence (of that site) by then; death from other causes competes, and with complete
follow-up of virtual patients this crude fraction is the Aalen-Johansen cumulative incidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from remnant.model.outcomes import EVENTS, ORIGINS, PHASES
from remnant.model.units import DAYS_PER_YEAR

SUMMARY_YEARS = (1.0, 3.0, 5.0, 10.0)
_SITES = ("local", "distant")


@dataclass
class Summary:
    """Counts accumulated over chunks; :meth:`recurrence_table` and :meth:`shares` report."""

    horizon_years: float
    years: tuple[float, ...] = SUMMARY_YEARS
    n: int = 0
    by_site: dict[str, np.ndarray] = field(default_factory=dict)
    origin: dict[str, int] = field(default_factory=dict)
    phase: dict[str, int] = field(default_factory=dict)
    escaped: int = 0
    deaths: int = 0

    def __post_init__(self) -> None:
        self.years = tuple(y for y in self.years if y <= self.horizon_years + 1e-9)
        self.by_site = {s: np.zeros(len(self.years), dtype=np.int64) for s in _SITES}
        self.origin = {o: 0 for o in ORIGINS[1:]}
        self.phase = {p: 0 for p in PHASES[1:]}

    def update(self, batch: pa.RecordBatch) -> None:
        time = batch.column("time_days").to_numpy()
        event = batch.column("event").indices.to_numpy()
        origin = batch.column("origin").indices.to_numpy()
        phase = batch.column("immune_phase").indices.to_numpy()
        escaped = batch.column("escaped_low_immunity").to_numpy(zero_copy_only=False)
        self.n += len(time)
        limits = np.asarray(self.years) * DAYS_PER_YEAR
        for code, site in ((EVENTS.index("local"), "local"), (EVENTS.index("distant"), "distant")):
            t = np.sort(time[event == code])
            self.by_site[site] += np.searchsorted(t, limits, side="right")
        rec = (event == EVENTS.index("local")) | (event == EVENTS.index("distant"))
        for i, name in enumerate(ORIGINS[1:], start=1):
            self.origin[name] += int(np.count_nonzero(origin[rec] == i))
        for i, name in enumerate(PHASES[1:], start=1):
            self.phase[name] += int(np.count_nonzero(phase[rec] == i))
        self.escaped += int(np.count_nonzero(escaped[rec]))
        self.deaths += int(np.count_nonzero(event == EVENTS.index("death")))

    @property
    def recurrences(self) -> int:
        return sum(self.origin.values())

    def recurrence_table(self) -> pd.DataFrame:
        """Cumulative recurrence (fraction) by site at each summary year; index = years."""
        n = max(self.n, 1)
        local = self.by_site["local"] / n
        distant = self.by_site["distant"] / n
        table = pd.DataFrame(
            {"local": local, "distant": distant, "any": local + distant},
            index=pd.Index(self.years, name="years"),
        )
        table["se_any"] = np.sqrt(table["any"] * (1 - table["any"]) / n)
        return table

    def shares(self) -> dict[str, dict[str, float]]:
        """Shares of recurrences by origin and by immune phase at establishment."""
        r = max(self.recurrences, 1)
        return {
            "origin": {k: v / r for k, v in self.origin.items()},
            "immune_phase": {k: v / r for k, v in self.phase.items()},
            "escaped_low_immunity": {"yes": self.escaped / r, "no": 1 - self.escaped / r},
        }

    def to_dict(self) -> dict[str, object]:
        table = self.recurrence_table()
        return {
            "n_patients": self.n,
            "recurrences": self.recurrences,
            "deaths_other_cause": self.deaths,
            "cumulative_recurrence": {
                f"{y:g}": {c: float(table.loc[y, c]) for c in ("local", "distant", "any")}
                for y in self.years
            },
            "shares": self.shares(),
        }
