"""``remnant demo``: the main job on the bundled default, a cohort per colon stage I/II/III."""

from __future__ import annotations

from pathlib import Path

import typer

from remnant.cli.flags import named_as_flags
from remnant.cli.simulate import SIMULATE_FLAGS
from remnant.errors import RemnantInputError
from remnant.files import check_output_dir, check_planned_files, make_dir

# Published 5-year recurrence after resection of colon cancer, stage I / II / III
# (Gately et al. 2021, PubMed 34184594, n = 4257).
PUBLISHED_5Y = {"colon-stage1": 0.038, "colon-stage2": 0.12, "colon-stage3": 0.28}


def demo_command(
    out_dir_text: str = typer.Option("demo-output", "--out-dir", help="Where to write the plot."),
    patients: int = typer.Option(100_000, "--patients", help="Patients per stage."),
    seed: int = typer.Option(2026, "--seed", help="Random seed."),
) -> None:
    """Simulate colon cancer stage I, II and III after resection; print and plot recurrence."""
    if patients < 1:
        raise RemnantInputError("--patients", "a whole number >= 1", patients)
    check_output_dir("--out-dir", out_dir_text)
    out_dir = Path(out_dir_text)
    png_path = out_dir / "colon-recurrence.png"
    check_planned_files("--out-dir", [png_path])
    from rich.console import Console

    from remnant.engine.simulate import simulate
    from remnant.report.plots import plot_cumulative_recurrence
    from remnant.report.tables import print_summary

    console = Console()
    cohorts = {}
    for name, published in PUBLISHED_5Y.items():
        with named_as_flags(SIMULATE_FLAGS):
            result = simulate(name, patients, seed=seed, horizon_years=10.0)
        print_summary(
            result.summary, title=f"{name}: {patients:,} patients, seed {seed}", console=console
        )
        five = result.summary.recurrence_table().loc[5.0, "any"]
        console.print(f"5-year recurrence {100 * five:.1f}% (published {100 * published:.1f}%)\n")
        assert result.table is not None
        cohorts[name] = result.table
    make_dir(out_dir)
    png = plot_cumulative_recurrence(cohorts, png_path, anchors=PUBLISHED_5Y)
    console.print(f"wrote {png}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the application."""
    app.command("demo")(demo_command)
