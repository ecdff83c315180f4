"""Static plots (matplotlib, Agg backend) of simulated cohorts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from remnant.files import write_atomic  # noqa: E402
from remnant.model.units import DAYS_PER_YEAR  # noqa: E402


def cumulative_recurrence(table: pd.DataFrame, years: np.ndarray) -> np.ndarray:
    """Fraction of patients with a recurrence (local or distant) by each time (years)."""
    rec = table["event"].isin(["local", "distant"]).to_numpy()
    t = np.sort(table["time_days"].to_numpy()[rec])
    return np.searchsorted(t, years * DAYS_PER_YEAR, side="right") / len(table)


def plot_cumulative_recurrence(
    cohorts: Mapping[str, pd.DataFrame],
    path: str | Path,
    horizon_years: float = 10.0,
    anchors: Mapping[str, float] | None = None,
) -> Path:
    """Cumulative recurrence curves, one per cohort, written atomically to a PNG."""
    years = np.linspace(0.0, horizon_years, 241)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, table in cohorts.items():
        (line,) = ax.plot(years, 100 * cumulative_recurrence(table, years), label=label)
        if anchors and label in anchors:
            ax.plot([5.0], [100 * anchors[label]], "o", color=line.get_color(), mfc="none")
    ax.set_xlabel("years after surgery")
    ax.set_ylabel("cumulative recurrence (%)")
    ax.set_xlim(0, horizon_years)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    title = "Simulated recurrence after resection"
    if anchors:
        title += " (circles: published 5-year figures)"
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Save a figure to PNG atomically (never half-written) and close it."""
    try:
        return write_atomic(path, lambda p: fig.savefig(p, dpi=120, format="png"), suffix=".png")
    finally:
        plt.close(fig)
