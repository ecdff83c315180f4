"""``remnant simulate``: a virtual cohort to a Parquet file, with a printed summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from remnant.model.scenario import Scenario

from remnant.cli.flags import named_as_flags, read_from
from remnant.errors import RemnantInputError
from remnant.explanation.fields import FIELD_FLAGS
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


# Flags of one patient, as ``remnant predict``'s: copies of that patient are simulated under
# the calibrated model of its cancer.
PATIENT_FLAGS = FIELD_FLAGS


def resolve_scenario(
    preset_name: str | None,
    scenario_file: Path | None,
    margin: str | None,
    immune: str | None,
    patient: dict[str, object] | None = None,
) -> Scenario:
    """The scenario named by the command-line flags: a preset or a scenario file with margin /
    immunity overrides, or copies of one patient (``patient``: its fields) under the
    calibrated model of its cancer."""
    from remnant.model.parameters import MARGINS
    from remnant.model.presets import preset
    from remnant.model.scenario import Scenario

    fields = {k: v for k, v in (patient or {}).items() if v is not None}
    if fields:
        if preset_name is not None or scenario_file is not None:
            raise RemnantInputError(
                "--cancer", "patient flags or one of --preset NAME / --scenario FILE, not both"
            )
        return patient_scenario({**fields, "margin": margin, "immune": immune})
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
        try:
            scenario = scenario.with_patients(immune=immune)
        except RemnantInputError as exc:
            raise exc.with_field("--immune") from None
    return scenario


def patient_scenario(fields: dict[str, object]) -> Scenario:
    """Copies of the patient of ``fields`` (read as ``remnant predict`` reads them) under the
    calibrated mechanism of its cancer."""
    from remnant.explanation.fields import patient_from_fields
    from remnant.model import calibrated
    from remnant.model.scenario import Scenario

    if fields.get("cancer") is None:
        raise RemnantInputError("--cancer", "colon or breast, with the patient flags", None)
    try:
        given = patient_from_fields(fields)
    except RemnantInputError as exc:
        raise exc.with_field(PATIENT_FLAGS.get(exc.field, exc.field)) from None
    p = given.patient
    name = f"{p.cancer} stage {given.stage} {p.margin}, immunity {given.immune_name()}"
    return Scenario.single(p, calibrated.mechanism(p.cancer), name=name)


def simulate_command(
    preset_name: str | None = typer.Option(None, "--preset", help="Preset scenario name."),
    scenario_file: Path | None = typer.Option(None, "--scenario", help="TOML scenario file."),
    margin: str | None = typer.Option(None, "--margin", help="Margin R0, R1 or R2."),
    immune: str | None = typer.Option(
        None,
        "--immune",
        help="Immunoscore: low, intermediate, high, IS0-IS4, a mean percentile (40%) or "
        "unknown (a preset's or a scenario's levels: low, intermediate, high).",
    ),
    cancer: str | None = typer.Option(
        None, "--cancer", help="Copies of one patient (as remnant predict): colon or breast."
    ),
    stage: str | None = typer.Option(None, "--stage", help="The patient's stage: I, II, III."),
    size_mm: float | None = typer.Option(None, "--size-mm", help="Primary size (mm)."),
    nodes: int | None = typer.Option(None, "--nodes", help="Positive lymph nodes."),
    grade: int | None = typer.Option(None, "--grade", help="Grade 1, 2 or 3."),
    age: float | None = typer.Option(None, "--age", help="Age at surgery (years)."),
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
        scenario = resolve_scenario(
            preset_name,
            scenario_file,
            margin,
            immune,
            {
                "cancer": cancer,
                "stage": stage,
                "size_mm": size_mm,
                "nodes": nodes,
                "grade": grade,
                "age": age,
            },
        )
    # the engine (numba) is imported once the cheap checks have passed
    import pyarrow
    from rich.console import Console

    from remnant.engine.simulate import draw_seed, simulate
    from remnant.report.tables import print_summary

    # the command line handles Ctrl-C and SIGTERM itself (remnant.cli.main); pyarrow's own
    # handlers, set for the length of each write, must not come between a signal and it
    pyarrow.enable_signal_handlers(False)

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
