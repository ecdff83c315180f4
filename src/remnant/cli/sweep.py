"""``remnant sweep FILE.toml``: a grid or sample of scenarios times seeds as one resumable job,
one summary row per point, stored under ``--root`` (docs/sweeps.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from remnant.cli.flags import named_as_flags
from remnant.cli.runs import DEFAULT_ROOT, print_frame
from remnant.errors import RemnantInputError
from remnant.files import check_output_dir

if TYPE_CHECKING:
    from remnant.sweep.run import SweepResult

BACKENDS = ("process", "dask")  # remnant.sweep.execute.BACKENDS, without importing it
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # remnant.sweep.spec.RUN_ID
SHOWN_ROWS = 20  # rows of the summary table printed at the end
SHOWN_STATS = (
    "recurrence_5y",
    "recurrence_5y_se",
    "local_5y",
    "distant_5y",
    "share_margin",
    "median_years_to_recurrence",
)
SWEEP_FLAGS = {
    "backend": "--backend",
    "scheduler": "--scheduler",
    "workers": "--workers",
    "run": "--root/--id",
}

BACKEND_OPTION = typer.Option(
    "process", "--backend", help="Where points run: process (its threads) or dask."
)
SCHEDULER_OPTION = typer.Option(
    None,
    "--scheduler",
    help="Dask scheduler address (tcp://HOST:PORT); default with --backend dask: a local "
    "cluster, one worker process per core.",
)
WORKERS_OPTION = typer.Option(
    None, "--workers", help="Threads, or local Dask worker processes (default: all cores)."
)
RESUME_OPTION = typer.Option(
    False, "--resume", help="Continue the run in its directory: compute only missing points."
)
NO_PROGRESS_OPTION = typer.Option(False, "--no-progress", help="Hide the progress bar.")


def check_backend(backend: str, scheduler: str | None, workers: int | None) -> None:
    """The backend flags, checked before anything heavy is imported."""
    if backend not in BACKENDS:
        raise RemnantInputError("--backend", "one of " + ", ".join(BACKENDS), backend)
    if scheduler is not None and backend != "dask":
        raise RemnantInputError("--scheduler", "--scheduler only with --backend dask", scheduler)
    if workers is not None and workers < 1:
        raise RemnantInputError("--workers", "a whole number >= 1", workers)
    if workers is not None and scheduler is not None:
        raise RemnantInputError("--workers", "no --workers with --scheduler", workers)


@contextmanager
def points_progress(title: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a rich bar of the job's points."""
    from remnant.cli.progress import progress

    with progress(title, enabled=enabled) as update:
        yield lambda done, total: update("points", done, total)


@contextmanager
def read_sweep_file(file: Path) -> Iterator[None]:
    """Errors about the sweep file name it: ``FILE`` itself, or ``FILE: parameters[x].low``."""
    try:
        yield
    except RemnantInputError as exc:
        if exc.field.startswith("--"):
            raise
        field = str(file) if exc.field == "sweep file" else f"{file}: {exc.field}"
        raise exc.with_field(field) from None


def print_points(result: SweepResult, parameters: list[str]) -> None:
    """The first rows of a sweep's points: parameters and the main statistics."""
    frame = result.points
    columns = ["point", "seed", *parameters, *SHOWN_STATS]
    shown = frame[[c for c in columns if c in frame.columns]].head(SHOWN_ROWS)
    more = f" (first {SHOWN_ROWS} of {len(frame):,})" if len(frame) > SHOWN_ROWS else ""
    print_frame(shown, title=f"points{more}")


def sweep_command(
    file: Path = typer.Argument(..., metavar="FILE.toml", help="Sweep file (docs/sweeps.md)."),
    root: Path = typer.Option(
        Path(DEFAULT_ROOT), "--root", help="Directory of the runs; the sweep goes in ROOT/ID."
    ),
    run_id: str | None = typer.Option(
        None, "--id", help="Run id (default: the file's name = ..., else its stem)."
    ),
    backend: str = BACKEND_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    workers: int | None = WORKERS_OPTION,
    resume: bool = RESUME_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
) -> None:
    """Run a sweep: every point (design row times seed) simulated, one summary row each,
    stored as Parquet with a manifest under --root (query with remnant runs query)."""
    check_backend(backend, scheduler, workers)
    if run_id is not None and not RUN_ID.match(run_id):
        raise RemnantInputError("--id", "letters, digits, '.', '_' or '-' (at most 100)", run_id)
    check_output_dir("--root", root, inputs=[("FILE.toml", file)])
    from remnant.sweep.spec import read_spec

    with read_sweep_file(file):
        spec = read_spec(file)
    directory = root / (run_id or spec.name)
    from rich.console import Console

    from remnant.sweep.run import run_sweep

    with (
        read_sweep_file(file),
        named_as_flags(SWEEP_FLAGS),
        points_progress(f"sweep {directory.name}", not no_progress) as tick,
    ):
        result = run_sweep(
            spec,
            directory,
            backend=backend,
            scheduler=scheduler,
            workers=workers,
            resume=resume,
            progress=tick,
        )
    print_points(result, [p.column for p in spec.parameters])
    Console().print(
        f"wrote {directory}: {len(result.points):,} points ({result.computed:,} computed, "
        f"{result.reused:,} reused); query with: remnant runs query --root {root} "
        f"\"SELECT * FROM summaries WHERE run = '{directory.name}'\""
    )


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to the application."""
    app.command("sweep")(sweep_command)
