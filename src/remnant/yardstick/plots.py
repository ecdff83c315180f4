"""Figures of an evaluation: calibration at the horizon and Kaplan-Meier curves by predicted
risk group. Drawn with matplotlib's Agg canvas (no display, no global backend change)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lifelines import KaplanMeierFitter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from remnant.data.preparation import DAYS_PER_YEAR
from remnant.files import make_dir, write_atomic
from remnant.yardstick.calibration import smoothed_observed_risk
from remnant.yardstick.evaluation import Evaluation


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    return write_atomic(path, lambda p: fig.savefig(p, dpi=120, format="png"), suffix=".png")


def _subtitle(summary: dict) -> str:
    if summary.get("scheme") == "cross-validation":
        name = summary["data"]["cohort"]["name"]
        return f"{name}, {summary['cv_folds']}-fold CV (pooled out-of-fold predictions)"
    return f"train {summary['data']['train']['name']} -> test {summary['data']['test']['name']}"


def calibration_figure(evaluation: Evaluation) -> Figure:
    """Predicted vs observed risk at the calibration horizon: risk groups (Kaplan-Meier, 95%
    interval), the smoothed curve of Austin et al. 2020 and the diagonal."""
    s = evaluation.summary
    preds = evaluation.predictions
    h_days = float(s["calibration_horizon_days"])
    groups = evaluation.calibration
    fig = Figure(figsize=(5.5, 5.0))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="ideal")
    err = np.vstack(
        [
            groups["observed"] - groups["observed_lower"],
            groups["observed_upper"] - groups["observed"],
        ]
    ).clip(min=0)
    ax.errorbar(
        groups["mean_predicted"],
        groups["observed"],
        yerr=err,
        fmt="o",
        color="C0",
        label="risk groups (Kaplan-Meier)",
    )
    risk = preds["risk_at_calibration"].to_numpy()
    smooth = smoothed_observed_risk(
        preds["time_days"].to_numpy(), preds["event"].to_numpy(), 1.0 - risk, h_days
    )
    order = np.argsort(risk)
    ax.plot(risk[order], smooth[order], color="C1", label="smoothed (Cox, spline)")
    top = float(max(risk.max(), groups["observed_upper"].max(), 0.05)) * 1.05
    ax.set_xlim(0, min(1.0, top))
    ax.set_ylim(0, min(1.0, top))
    ax.set_xlabel(f"predicted risk at {h_days / DAYS_PER_YEAR:g} years")
    ax.set_ylabel(f"observed risk at {h_days / DAYS_PER_YEAR:g} years")
    slope = s.get("calibration_slope")
    ici = s.get("ici")
    stats = []
    if slope is not None and np.isfinite(slope):
        stats.append(f"slope {slope:.2f}")
    if ici is not None and np.isfinite(ici):
        stats.append(f"ICI {ici:.3f}")
    ax.set_title(f"{s['model']}: calibration" + (f" ({', '.join(stats)})" if stats else ""))
    fig.suptitle(_subtitle(s), fontsize=8, y=0.99)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def km_by_risk_figure(evaluation: Evaluation, n_groups: int = 3) -> Figure:
    """Kaplan-Meier curves of the test subjects split into equal groups by predicted risk at
    the calibration horizon (comparable across folds, unlike raw risk scores)."""
    s = evaluation.summary
    preds = evaluation.predictions
    risk = preds["risk_at_calibration"]
    ranks = risk.rank(method="first").to_numpy()
    group = np.ceil(ranks * n_groups / len(risk)).astype(int)
    labels = {1: "low", n_groups: "high"} if n_groups > 1 else {1: "all"}
    if n_groups == 3:
        labels[2] = "intermediate"
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    for g in range(1, n_groups + 1):
        m = group == g
        label = f"{labels.get(g, f'group {g}')} risk (n={int(m.sum())})"
        km = KaplanMeierFitter().fit(preds["time_days"][m] / DAYS_PER_YEAR, preds["event"][m])
        sf = km.survival_function_
        ax.step(sf.index, sf.iloc[:, 0], where="post", label=label, color=f"C{g - 1}")
    ax.set_xlabel("years since surgery")
    ax.set_ylabel("event-free probability")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{s['model']}: Kaplan-Meier by predicted risk group")
    fig.suptitle(_subtitle(s), fontsize=8, y=0.99)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_paths(directory: str | Path, model: str) -> list[Path]:
    """The files :func:`write_plots` writes for ``model``: calibration, then KM by risk."""
    out = Path(directory)
    return [out / f"calibration_{model}.png", out / f"km_by_risk_{model}.png"]


def write_plots(evaluation: Evaluation, directory: str | Path) -> list[Path]:
    """Write ``calibration_<model>.png`` and ``km_by_risk_<model>.png`` into ``directory``
    (created if needed); returns the paths."""
    make_dir(directory)
    calibration, km = plot_paths(directory, evaluation.summary["model"])
    return [
        _save(calibration_figure(evaluation), calibration),
        _save(km_by_risk_figure(evaluation), km),
    ]
