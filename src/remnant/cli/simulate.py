"""``remnant simulate``: a virtual cohort to a Parquet file, with a printed summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from remnant.model.scenario import Scenario

from remnant.cli.flags import named_as_flags, read_from
from remnant.errors import RemnantInputError
from remnant.files import check_output_file

SIMULATE_FLAGS = {
    "n_patients": "--patients",
    "seed": "--seed",
    "horizon_years": "--horizon-years",
    "workers": "--workers",
    "out": "--out",
}


def resolve_scenario(
    preset_name: str | None, scenario_file: Path | None, margin: str | None, immune: str | None
) -> Scenario:
    """The scenario named by the command-line flags, with margin / immunity overrides."""
    from remnant.model.parameters import IMMUNE_LEVELS, MARGINS
    from remnant.model.presets import preset
    from remnant.model.scenario import Scenario

    if (preset_name is None) == (scenario_file is None):
        raise RemnantInputError(
            "--preset/--scenario", "exactly one of --preset NAME or --scenario FILE"
        )
    scenario = preset(preset_name) if preset_name is not None else Scenario.from_file(scenario_file)  # type: ignore[arg-type]
    if margin is not None:
        if margin not in MARGINS:
            raise RemnantInputError("--margin", "one of " + ", ".join(MARGINS), margin)
        scenario = scenario.with_patients(margin=margin)
    if immune is not None:
        if immune not in IMMUNE_LEVELS:
            raise RemnantInputError("--immune", "one of " + ", ".join(IMMUNE_LEVELS), immune)
        scenario = scenario.with_patients(immune=immune)
    return scenario


def simulate_command(
    preset_name: str | None = typer.Option(None, "--preset", help="Preset scenario name."),
    scenario_file: Path | None = typer.Option(None, "--scenario", help="TOML scenario file."),
    margin: str | None = typer.Option(None, "--margin", help="Override margin: R0, R1, R2."),
    immune: str | None = typer.Option(
        None, "--immune", help="Override immunity: low, intermediate, high."
    ),
    patients: int = typer.Option(..., "--patients", help="Number of virtual patients."),
    seed: int | None = typer.Option(
        None, "--seed", help="Random seed (drawn and printed if omitted)."
    ),
    horizon_years: float = typer.Option(
        15.0, "--horizon-years", help="Follow-up after surgery (years)."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Threads (default: all cores)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
    out: Path = typer.Option(..., "--out", help="Output Parquet file."),
) -> None:
    """Simulate a virtual cohort after surgery; write one row per patient to a Parquet file."""
    from rich.console import Console

    from remnant.engine.simulate import draw_seed, simulate
    from remnant.report.tables import print_summary

    if patients < 1:
        raise RemnantInputError("--patients", "a whole number >= 1", patients)
    check_output_file("--out", out, suffix=".parquet", inputs=[("--scenario", scenario_file)])
    with read_from("--scenario", scenario_file):
        scenario = resolve_scenario(preset_name, scenario_file, margin, immune)
    if seed is None:
        seed = draw_seed()
        Console(stderr=True).print(f"seed: {seed} (drawn; pass --seed {seed} to repeat)")
    with named_as_flags(SIMULATE_FLAGS):
        result = simulate(
            scenario,
            patients,
            seed=seed,
            horizon_years=horizon_years,
            workers=workers,
            out=out,
            progress=not no_progress,
        )
    print_summary(result.summary, title=f"{scenario.name}: {patients:,} patients, seed {seed}")
    Console().print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the application."""
    app.command("simulate")(simulate_command)
