"""``remnant sensitivity``: Sobol' indices of recurrence to the mechanism's parameters over
their prior ranges, for a preset (docs/sensitivity.md)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from remnant.cli.flags import named_as_flags
from remnant.cli.runs import print_frame
from remnant.cli.sweep import (
    BACKEND_OPTION,
    NO_PROGRESS_OPTION,
    RESUME_OPTION,
    SCHEDULER_OPTION,
    SWEEP_FLAGS,
    WORKERS_OPTION,
    check_backend,
    points_progress,
)
from remnant.errors import RemnantInputError
from remnant.files import check_output_dir

SENSITIVITY_FLAGS = {
    **SWEEP_FLAGS,
    "run": "--out",
    "points": "--base-samples",
    "patients": "--patients",
    "seeds": "--seed",
    "design_seed": "--seed",
    "base.preset": "--preset",
}


def sensitivity_command(
    preset_name: str = typer.Option(..., "--preset", help="Preset scenario name."),
    base_samples: int = typer.Option(
        64, "--base-samples", help="Saltelli base samples N (a power of 2): N (D + 2) points."
    ),
    patients: int = typer.Option(5000, "--patients", help="Virtual patients per point."),
    seed: int = typer.Option(1, "--seed", help="Seed of the design and of every point."),
    out: Path = typer.Option(
        ..., "--out", help="Run directory: the sweep, sensitivity.json/.csv and the plot."
    ),
    backend: str = BACKEND_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    workers: int | None = WORKERS_OPTION,
    resume: bool = RESUME_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
) -> None:
    """Sobol' indices (S1, ST with 95% intervals) of 5-year recurrence and of the median time
    to recurrence to the mechanism's parameters; a table, JSON, CSV and a PNG bar chart."""
    check_backend(backend, scheduler, workers)
    check_output_dir("--out", out)
    from remnant.model.presets import PRESETS

    if preset_name not in PRESETS:
        raise RemnantInputError("--preset", "one of " + ", ".join(PRESETS), preset_name)
    from rich.console import Console

    from remnant.sweep.sensitivity import CSV_FILE, JSON_FILE, PLOT_FILE, run_sensitivity

    command = "remnant " + shlex.join(sys.argv[1:]) if sys.argv[1:] else None
    with (
        named_as_flags(SENSITIVITY_FLAGS),
        points_progress(f"sensitivity {preset_name}", not no_progress) as tick,
    ):
        result = run_sensitivity(
            preset_name,
            base_samples,
            patients,
            seed,
            out,
            backend=backend,
            scheduler=scheduler,
            workers=workers,
            resume=resume,
            progress=tick,
            command=command,
        )
    console = Console()
    for output, info in result.outputs.items():
        part = result.indices[result.indices["output"] == output]
        part = part.sort_values("ST", ascending=False).drop(columns=["output"])
        print_frame(
            part, title=f"{preset_name}: {info['label']} (noise share {info['noise_share']:.3g})"
        )
        causes = ", ".join(
            f"{c} S1 {v['S1']:.2f} ST {v['ST']:.2f}" for c, v in info["by_cause"].items()
        )
        console.print(f"by cause: {causes}")
    console.print(f"wrote {out / JSON_FILE}, {out / CSV_FILE}, {out / PLOT_FILE}")


def register(app: typer.Typer) -> None:
    """Add ``sensitivity`` to the application."""
    app.command("sensitivity")(sensitivity_command)
