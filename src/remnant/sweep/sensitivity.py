"""Global sensitivity: Sobol' indices of recurrence to the mechanism's parameters.

A sensitivity run is a sweep of design ``saltelli`` over the priors of
:mod:`remnant.sweep.priors` (``N (D + 2)`` points for ``N`` base samples and ``D``
parameters, one seed for all: common random numbers), analysed with
``SALib.analyze.sobol.analyze`` for two outputs: 5-year recurrence and the median time to
recurrence among those who recur. First-order (S1) and total (ST) indices come with
bootstrap 95% intervals. The Monte Carlo noise of each point's estimate adds variance that
no parameter explains; its share of the output's variance is reported (``noise_share``).

A point with no recurrence has no median; its median is set to the horizon (reported as
``imputed``), the latest it could be.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from remnant.files import write_atomic, write_text_atomic
from remnant.model.presets import preset
from remnant.sweep.design import salib_problem
from remnant.sweep.priors import priors
from remnant.sweep.run import run_sweep
from remnant.sweep.spec import SweepSpec, spec_from_dict

OUTPUTS = {
    "recurrence_5y": "5-year recurrence",
    "median_years_to_recurrence": "median years to recurrence",
}
NUM_RESAMPLES = 200  # bootstrap resamples of SALib's confidence intervals
CONF_LEVEL = 0.95
KIND = "sensitivity"
JSON_FILE = "sensitivity.json"
CSV_FILE = "sensitivity.csv"
PLOT_FILE = "sensitivity.png"


@dataclass
class SensitivityResult:
    """Sobol' indices of each output (``indices``: one row per output and parameter)."""

    path: Path
    indices: pd.DataFrame
    outputs: dict[str, dict[str, Any]]
    spec: SweepSpec


def sensitivity_spec(preset_name: str, base_samples: int, patients: int, seed: int) -> SweepSpec:
    """The Saltelli sweep of ``preset_name``'s mechanism over its priors (validated as a
    sweep file would be: ``base_samples`` a power of 2, ``patients`` >= 1, ``seed`` >= 0)."""
    base = preset(preset_name)
    parameters = [dataclasses.asdict(p.parameter) for p in priors(base)]
    for table in parameters:  # the keys a [[parameters]] table of a sampled design has
        del table["levels"], table["values"]
    spec = spec_from_dict(
        {
            "name": f"sensitivity-{preset_name}",
            "design": "saltelli",
            "points": base_samples,
            "seeds": [seed],
            "patients": patients,
            "design_seed": seed,
            "base": {"preset": preset_name},
            "parameters": parameters,
        }
    )
    return spec


def analyze(
    spec: SweepSpec, points: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Sobol' indices of each output of a finished Saltelli sweep's points.

    Returns
    -------
    indices : pandas.DataFrame
        Columns output, parameter, cause, S1, S1_conf, ST, ST_conf (the conf columns are
        the half-widths of the 95% bootstrap intervals).
    outputs : dict
        Per output: mean, variance, noise_share (mean squared MC error over the variance),
        imputed (points without a value), and per cause the sums of S1 and ST.
    """
    from SALib.analyze import sobol

    causes = {p.parameter.name: p.cause for p in priors(spec.base)}
    problem = salib_problem(spec.parameters)
    ordered = points.sort_values("point")
    rows, outputs = [], {}
    for output in OUTPUTS:
        y = ordered[output].to_numpy(dtype=float)
        se = ordered[f"{output}_se"].to_numpy(dtype=float)
        missing = ~np.isfinite(y)
        y = np.where(missing, spec.horizon_years, y)
        result = sobol.analyze(
            problem,
            y,
            calc_second_order=False,
            num_resamples=NUM_RESAMPLES,
            conf_level=CONF_LEVEL,
            seed=seed,
        )
        frame = pd.DataFrame(
            {
                "output": output,
                "parameter": problem["names"],
                "cause": [causes.get(n, "other") for n in problem["names"]],
                "S1": result["S1"],
                "S1_conf": result["S1_conf"],
                "ST": result["ST"],
                "ST_conf": result["ST_conf"],
            }
        )
        rows.append(frame)
        variance = float(np.var(y))
        noise = float(np.nanmean(se**2)) / variance if variance > 0 else math.nan
        by_cause = frame.groupby("cause")[["S1", "ST"]].sum()
        outputs[output] = {
            "label": OUTPUTS[output],
            "mean": float(np.mean(y)),
            "variance": variance,
            "noise_share": noise,
            "imputed": int(missing.sum()),
            "by_cause": {c: {"S1": float(r.S1), "ST": float(r.ST)} for c, r in by_cause.iterrows()},
        }
    return pd.concat(rows, ignore_index=True), outputs


def run_sensitivity(
    preset_name: str,
    base_samples: int,
    patients: int,
    seed: int,
    out: str | Path,
    *,
    backend: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    command: str | None = None,
) -> SensitivityResult:
    """Run the Saltelli sweep into ``out`` (a run directory), then write
    ``sensitivity.json``, ``sensitivity.csv`` and ``sensitivity.png`` beside it."""
    spec = sensitivity_spec(preset_name, base_samples, patients, seed)
    swept = run_sweep(
        spec,
        out,
        backend=backend,
        scheduler=scheduler,
        workers=workers,
        resume=resume,
        progress=progress,
        kind=KIND,
    )
    indices, outputs = analyze(spec, swept.points, seed)
    path = Path(out)
    report = {
        "preset": preset_name,
        "base_samples": base_samples,
        "patients": patients,
        "seed": seed,
        "points": len(swept.points),
        "command": command,
        "priors": [
            {
                **dataclasses.asdict(p.parameter),
                "default": p.default,
                "cause": p.cause,
                "reason": p.reason,
            }
            for p in priors(spec.base)
        ],
        "outputs": outputs,
        "indices": indices.to_dict(orient="records"),
    }
    text = json.dumps(report, indent=1, allow_nan=False, default=_finite) + "\n"
    write_text_atomic(path / JSON_FILE, text)
    write_atomic(path / CSV_FILE, lambda p: indices.to_csv(p, index=False, float_format="%.6g"))
    plot_indices(
        indices,
        path / PLOT_FILE,
        title=f"{preset_name}: Sobol' indices, {len(swept.points):,} points of {patients:,} "
        "patients",
    )
    return SensitivityResult(path, indices, outputs, spec)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else str(value)


def plot_indices(indices: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Bar chart of S1 and ST with their 95% intervals, one panel per output (PNG)."""
    from remnant.report.plots import plt, save_figure

    outputs = list(dict.fromkeys(indices["output"]))
    fig, axes = plt.subplots(1, len(outputs), figsize=(6.5 * len(outputs), 5.5), squeeze=False)
    for ax, output in zip(axes[0], outputs, strict=True):
        part = indices[indices["output"] == output]
        x = np.arange(len(part))
        width = 0.4
        ax.bar(
            x - width / 2,
            part["S1"],
            width,
            yerr=part["S1_conf"],
            capsize=2,
            label="S1 (first order)",
        )
        ax.bar(
            x + width / 2, part["ST"], width, yerr=part["ST_conf"], capsize=2, label="ST (total)"
        )
        ax.set_xticks(x, part["parameter"], rotation=70, ha="right", fontsize=8)
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.set_ylabel("Sobol' index (95% interval)")
        ax.set_title(OUTPUTS.get(output, output))
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
