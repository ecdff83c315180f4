"""What a fit says about the causes: effect sizes with intervals, as a table and a plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from remnant.inference.model import RemnantFit


def effects(fit: RemnantFit, level: float = 0.95) -> pd.DataFrame:
    """One row per covariate effect: cause group, column, the parameter it moves, and the
    multiplier of that parameter per standard deviation of the column with its interval.

    Removal columns move the residual cells; other columns move seeds and residual cells
    together (their ``mu`` row) and immunity (their ``@immunity`` row); with a clock per
    patient, stage columns also move the clock (their ``@clock`` row).
    """
    par = fit.parameters(level)
    rows = []
    for name, r in par.iterrows():
        name = str(name)
        if ":" not in name:
            continue
        cause, rest = name.split(":", 1)
        column, _, suffix = rest.partition("@")
        if suffix == "clock":
            target = "clock speed (a)"
        elif suffix:
            target = "baseline immunity (I0)"
        elif cause == "removal":
            target = "residual cells (res)"
        elif cause == "immune":
            target = "baseline immunity (I0)"
        elif cause == "other":
            target = "seeds and residual cells"
        else:
            target = "seeds shed (mu)"
        rows.append(
            {
                "cause": cause,
                "column": column,
                "moves": target,
                "log_effect_per_sd": r["estimate"],
                "se": r["se"],
                "multiplier": float(np.exp(r["estimate"])),
                "lower": float(np.exp(r["lower"])),
                "upper": float(np.exp(r["upper"])),
                "scale_sd": _scale(fit, column),
            }
        )
    return pd.DataFrame(rows)


def _scale(fit: RemnantFit, column: str) -> float:
    scales = getattr(fit.links, "scales", {})
    return float(scales.get(column, float("nan")))


def plot_effects(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Forest plot of the multipliers (log axis) with their intervals, one row per effect."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from remnant.report.plots import save_figure

    n = len(table)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * n + 1.4))
    y = np.arange(n)[::-1]
    colours = {"stage": "#1f77b4", "removal": "#d62728", "immune": "#2ca02c", "other": "#7f7f7f"}
    for yi, (_, r) in zip(y, table.iterrows(), strict=False):
        c = colours.get(str(r["cause"]), "k")
        ax.plot([r["lower"], r["upper"]], [yi, yi], color=c, lw=2)
        ax.plot([r["multiplier"]], [yi], "o", color=c)
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(
        [f"{r['cause']}: {r['column']} -> {r['moves']}" for _, r in table.iterrows()], fontsize=8
    )
    ax.set_xlabel("multiplier per SD of the column (95% Laplace interval)")
    ax.set_title(title or "What the fit says about the causes")
    fig.tight_layout()
    out = save_figure(fig, Path(path))
    plt.close(fig)
    return out
