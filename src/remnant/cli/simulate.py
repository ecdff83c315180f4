"""``remnant simulate``: a virtual cohort to a Parquet file, with a printed summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from remnant.model.scenario import Scenario

from remnant.cli.flags import named_as_flags, read_from
from remnant.errors import RemnantInputError
from remnant.files import check_output_dir, check_output_file

BACKENDS = ("threads", "dask")  # remnant.engine.backend.BACKENDS, without importing the engine

SIMULATE_FLAGS = {
    "n_patients": "--patients",
    "seed": "--seed",
    "horizon_years": "--horizon-years",
    "workers": "--workers",
    "out": "--out",
    "backend": "--backend",
    "scheduler": "--scheduler",
    "store": "--store",
    "resume": "--resume",
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
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Threads; with --backend dask, the local cluster's worker processes (default: "
        "all cores).",
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
    out: Path | None = typer.Option(None, "--out", help="Output Parquet file."),
    backend: str = typer.Option(
        "threads", "--backend", help="Where chunks run: threads (this process) or dask."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler address (tcp://HOST:PORT); default with --backend dask: a local "
        "cluster, one worker process per core.",
    ),
    store: Path | None = typer.Option(
        None,
        "--store",
        help="Instead of --out: a resumable store directory (one Parquet file per chunk and "
        "manifest.json).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --store: compute only its missing chunks."
    ),
) -> None:
    """Simulate a virtual cohort after surgery; write one row per patient to a Parquet file
    (--out) or to a resumable store (--store)."""
    if patients < 1:
        raise RemnantInputError("--patients", "a whole number >= 1", patients)
    if backend not in BACKENDS:
        raise RemnantInputError("--backend", "one of " + ", ".join(BACKENDS), backend)
    if scheduler is not None and backend != "dask":
        raise RemnantInputError("--scheduler", "--scheduler only with --backend dask", scheduler)
    inputs = [("--scenario", scenario_file)]
    if out is None and store is None:
        raise RemnantInputError(
            "--out", "an output Parquet file (--out FILE) or a store directory (--store DIR)"
        )
    if out is not None and store is not None:
        raise RemnantInputError("--store", "either --out FILE or --store DIR, not both")
    if resume and store is None:
        raise RemnantInputError("--resume", "--resume only with --store DIR")
    if out is not None:
        check_output_file("--out", out, suffix=".parquet", inputs=inputs)
    if store is not None:
        check_output_dir("--store", store, inputs=inputs)
    with read_from("--scenario", scenario_file):
        scenario = resolve_scenario(preset_name, scenario_file, margin, immune)
    # the engine (numba) is imported once the cheap checks have passed
    from rich.console import Console

    from remnant.engine.simulate import draw_seed, simulate
    from remnant.report.tables import print_summary

    if seed is None and resume and store is not None:
        from remnant.engine.store import read_manifest

        with named_as_flags(SIMULATE_FLAGS):
            seed = (read_manifest(store) or {}).get("seed") if store.is_dir() else None
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
            backend=backend,
            scheduler=scheduler,
            store=store,
            resume=resume,
        )
    print_summary(result.summary, title=f"{scenario.name}: {patients:,} patients, seed {seed}")
    Console().print(f"wrote {out if store is None else store}")


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the application."""
    app.command("simulate")(simulate_command)
