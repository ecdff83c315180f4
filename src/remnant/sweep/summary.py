"""One sweep point's summary row: 5-year recurrence, shares and median time, with MC errors.

Virtual patients are followed completely (to the horizon or to their first event), so the
Kaplan-Meier / Aalen-Johansen cumulative incidence of recurrence at 5 years, with death from
other causes competing, is the plain fraction ``k / n`` of patients whose first event is a
recurrence by then; its Monte Carlo standard error is the binomial one,
``sqrt(p (1 - p) / n)``, which is what Greenwood's formula reduces to without censoring.

Shares are over the recurrences by the horizon, ``r`` of them: share ``s`` of a kind has the
binomial error ``sqrt(s (1 - s) / r)``. The median time to recurrence is over the same
``r`` recurrences; its error is the half-width of the distribution-free 95% interval between
order statistics, divided by 1.96. A statistic of no recurrence is NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from remnant.model.outcomes import ORIGINS, PHASES
from remnant.model.units import DAYS_PER_YEAR

RECURRENCE_YEARS = 5.0
SITES = ("local", "distant")
Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile

# The statistics of a row, in column order; each but the counts has a column NAME_se.
COUNTS = ("n_patients", "recurrences")
ESTIMATES = (
    "recurrence_5y",
    "local_5y",
    "distant_5y",
    *(f"share_{o}" for o in ORIGINS[1:]),
    *(f"share_{p.replace('-', '_')}" for p in PHASES[1:]),
    "median_years_to_recurrence",
)
STAT_COLUMNS = COUNTS + tuple(c for e in ESTIMATES for c in (e, f"{e}_se"))


def binomial_se(p: float, n: int) -> float:
    """Standard error of a proportion ``p`` of ``n`` (NaN when ``n`` is 0)."""
    return math.sqrt(p * (1.0 - p) / n) if n > 0 else math.nan


def median_with_se(times: np.ndarray) -> tuple[float, float]:
    """Median of ``times`` and its standard error from order statistics.

    The distribution-free 95% interval of the median of ``r`` values runs from the ``j``-th
    to the ``k``-th smallest, ``j, k = r/2 -+ 1.96 sqrt(r)/2`` (rounded outwards, clipped);
    the error is its half-width over 1.96. NaN for no values; NaN error for one value.
    """
    r = len(times)
    if r == 0:
        return math.nan, math.nan
    t = np.sort(times)
    median = float(np.median(t))
    if r == 1:
        return median, math.nan
    half = Z_95 * math.sqrt(r) / 2.0
    j = max(0, math.floor(r / 2.0 - half))
    k = min(r - 1, math.ceil(r / 2.0 + half) - 1)
    return median, float(t[k] - t[j]) / (2.0 * Z_95)


def point_summary(table: pd.DataFrame) -> dict[str, Any]:
    """The summary row of one simulated cohort (``remnant.simulate(...).table``).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per patient: ``time_days`` (days after surgery), ``event``, ``origin``,
        ``immune_phase`` (the engine's categories).

    Returns
    -------
    dict
        :data:`STAT_COLUMNS`: counts, fractions (0-1) and years, each estimate with ``_se``.
    """
    n = len(table)
    event = table["event"].astype(str).to_numpy()
    time = table["time_days"].to_numpy(dtype=float)
    recurred = np.isin(event, SITES)
    by_5y = time <= RECURRENCE_YEARS * DAYS_PER_YEAR
    row: dict[str, Any] = {"n_patients": n, "recurrences": int(recurred.sum())}
    estimates: dict[str, tuple[float, float]] = {}
    p = float(np.count_nonzero(recurred & by_5y)) / n
    estimates["recurrence_5y"] = (p, binomial_se(p, n))
    for site in SITES:
        ps = float(np.count_nonzero((event == site) & by_5y)) / n
        estimates[f"{site}_5y"] = (ps, binomial_se(ps, n))
    r = row["recurrences"]
    for column, values in (("origin", ORIGINS[1:]), ("immune_phase", PHASES[1:])):
        kind = table[column].astype(str).to_numpy()[recurred]
        for value in values:
            share = float(np.count_nonzero(kind == value)) / r if r else math.nan
            key = f"share_{value.replace('-', '_')}"
            estimates[key] = (share, binomial_se(share, r) if r else math.nan)
    median_days, median_se_days = median_with_se(time[recurred])
    estimates["median_years_to_recurrence"] = (
        median_days / DAYS_PER_YEAR,
        median_se_days / DAYS_PER_YEAR,
    )
    for name in ESTIMATES:
        row[name], row[f"{name}_se"] = estimates[name]
    return row
