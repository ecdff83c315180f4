"""``remnant.simulate``: the one entry point of the stochastic engine."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from remnant import arguments as validate
from remnant.engine.backend import BACKENDS, ChunkBackend, ThreadBackend
from remnant.engine.chunks import SCHEMA, ChunkPlan
from remnant.engine.summary import Summary
from remnant.errors import RemnantInputError
from remnant.files import write_atomic
from remnant.model.presets import PRESETS, preset
from remnant.model.scenario import Scenario
from remnant.provenance import provenance

if TYPE_CHECKING:
    from remnant.engine.store import Store

METADATA_KEY = b"remnant"


@dataclass
class SimulationResult:
    """A simulated cohort.

    Attributes
    ----------
    table : pandas.DataFrame or None
        One row per virtual patient (None when the rows were streamed to ``path``).
    metadata : dict
        Seed, package version, number of patients, horizon and every parameter.
    summary : Summary
        Cumulative recurrence by site and shares by origin and immune phase.
    path : Path or None
        The Parquet file written, if any.
    """

    table: pd.DataFrame | None
    metadata: dict[str, Any]
    summary: Summary
    path: Path | None = None


def draw_seed() -> int:
    """A fresh seed from the operating system's entropy (recorded with the result)."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)
    return entropy % (2**32 - 1) + 1


def _check_int(field_name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise RemnantInputError(field_name, f"a whole number >= {lo}", value)
    if value < lo or (hi is not None and value > hi):
        bound = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise RemnantInputError(field_name, f"a whole number {bound}", value)
    return int(value)


def _check_out(out: Any) -> Path:
    """The Parquet file to stream to: a ``.parquet`` path in an existing directory."""
    path = validate.path("out", out)
    if path.suffix.lower() != ".parquet":
        raise RemnantInputError("out", "a path ending in .parquet", str(out))
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise RemnantInputError("out", "a path in an existing directory", str(out))
    if path.is_dir():
        raise RemnantInputError("out", "a file path, not a directory", str(out))
    return path


def simulate(
    scenario: Scenario | str,
    n_patients: int,
    *,
    seed: int | None = None,
    horizon_years: float = 15.0,
    workers: int | None = None,
    out: str | Path | None = None,
    progress: bool | Callable[[int], None] = False,
    backend: str = "threads",
    scheduler: str | None = None,
    store: str | Path | None = None,
    resume: bool = False,
) -> SimulationResult:
    """Simulate ``n_patients`` virtual patients after surgery.

    Parameters
    ----------
    scenario : Scenario or str
        A scenario, or the name of a preset (``remnant.model.PRESETS``).
    n_patients : int
        Number of patients (>= 1).
    seed : int, optional
        Random seed (>= 0). Drawn and recorded in the metadata when omitted. The output is
        a pure function of (scenario, seed, n_patients, horizon): identical whatever
        ``workers``.
    horizon_years : float
        Follow-up after surgery (years).
    workers : int, optional
        Threads; default all cores. With ``backend="dask"`` and no ``scheduler``: worker
        processes of the local cluster.
    out : path, optional
        Stream the rows to this Parquet file (written to a temporary file, then renamed);
        the returned ``table`` is then None, and memory does not grow with ``n_patients``.
    progress : bool or callable
        Show a progress bar on stderr, or call ``progress(patients_done)`` after each chunk
        (None: no bar). Chunks reused from a store count as done from the start.
    backend : {"threads", "dask"}
        Where the chunks run: threads of this process, or dask.distributed (imported only
        then). The rows are the same either way; the metadata records which ran.
    scheduler : str, optional
        ``backend="dask"`` only: address of a running scheduler (``tcp://host:8786``);
        default a local cluster of one worker process per core, closed afterwards.
    store : path, optional
        Write a resumable store to this directory instead: one Parquet file per chunk
        (``part-00000.parquet`` ...) and ``manifest.json`` (``remnant.engine.store``). The
        directory must be new or empty unless ``resume``. Not with ``out``.
    resume : bool
        Continue the run in ``store``: its manifest must match this request (scenario,
        seed, patients, horizon, chunk size, version); only missing chunks are computed.
        ``seed`` may then be omitted (the store's is used).

    Returns
    -------
    SimulationResult

    Raises
    ------
    RemnantInputError
        A bad argument, named, before any patient is simulated.
    """
    if isinstance(scenario, str):
        if scenario not in PRESETS:
            raise RemnantInputError(
                "scenario", "a Scenario or a preset name: " + ", ".join(PRESETS), scenario
            )
        scenario = preset(scenario)
    if not isinstance(scenario, Scenario):
        raise RemnantInputError("scenario", "a Scenario or a preset name", type(scenario).__name__)
    n_patients = _check_int("n_patients", n_patients, 1, 10**10)
    resume = bool(validate.flag("resume", resume, allow_none=False))
    store_path = None if store is None else validate.path("store", store)
    if resume and store_path is None:
        raise RemnantInputError("resume", "resume only with a store directory (store=DIR)", resume)
    if store_path is not None and out is not None:
        raise RemnantInputError("store", "a store or an out file, not both", str(store_path))
    if seed is None and resume and store_path is not None:
        from remnant.engine.store import read_manifest

        seed = (read_manifest(store_path) or {}).get("seed") if store_path.is_dir() else None
    seed = draw_seed() if seed is None else _check_int("seed", seed, 0, 2**63 - 1)
    if (
        isinstance(horizon_years, bool)
        or not isinstance(horizon_years, int | float)
        or not 0 < horizon_years <= 100
    ):
        raise RemnantInputError("horizon_years", "a number of years in (0, 100]", horizon_years)
    if workers is not None:
        workers = _check_int("workers", workers, 1, 1024)
    if out is not None:
        out = _check_out(out)
    if not callable(progress):
        progress = bool(validate.flag("progress", progress))
    if backend not in BACKENDS:
        raise RemnantInputError("backend", "one of " + ", ".join(BACKENDS), backend)
    if scheduler is not None:
        if backend != "dask":
            raise RemnantInputError("scheduler", "a scheduler only with backend dask", scheduler)
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise RemnantInputError("scheduler", "a scheduler address (tcp://HOST:PORT)", scheduler)
        if workers is not None:
            raise RemnantInputError(
                "workers", "no workers with a scheduler (its cluster has its own)", workers
            )

    plan = ChunkPlan.build(scenario, n_patients, seed, float(horizon_years))
    metadata = {
        **provenance(),
        "seed": seed,
        "n_patients": n_patients,
        "horizon_years": float(horizon_years),
        "chunk_size": plan.chunk_size,
        "scenario": scenario.to_dict(),
        "backend": backend,
    }
    opened = None
    if store_path is not None:
        from remnant.engine.store import Store, request_of

        request = request_of(scenario, plan, float(horizon_years))
        opened = Store.open(store_path, request, plan, metadata, resume=resume)
    summary = Summary(horizon_years=float(horizon_years))

    with _open_backend(backend, workers, scheduler) as runner:
        if opened is not None:
            _run_store(opened, runner, summary, progress, n_patients)
            return SimulationResult(None, metadata, summary, store_path)
        batches = (batch for _, batch in runner.run_chunks(plan, range(plan.n_chunks)))
        with _progress(progress, n_patients) as tick:
            if out is None:
                kept = []
                for batch in batches:
                    summary.update(batch)
                    kept.append(batch)
                    tick(batch.num_rows)
                table = pa.Table.from_batches(kept, schema=SCHEMA).to_pandas()
                return SimulationResult(table, metadata, summary)
            path = Path(out)
            schema = SCHEMA.with_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
            _write_atomically(path, schema, batches, summary, tick)
    return SimulationResult(None, metadata, summary, path)


@contextmanager
def _open_backend(
    backend: str, workers: int | None, scheduler: str | None
) -> Iterator[ChunkBackend]:
    """The backend named, opened (a Dask cluster started or reached) and closed after."""
    if backend == "threads":
        yield ThreadBackend(workers)
        return
    from remnant.engine.dask_backend import DaskBackend

    with DaskBackend(scheduler, workers) as dask:
        yield dask


def _run_store(
    store: Store,
    runner: ChunkBackend,
    summary: Summary,
    progress: bool | Callable[[int], None],
    n_patients: int,
) -> None:
    """Compute the store's missing chunks, one part file each; summarise every chunk."""
    store.start(runner.name)
    try:
        with _progress(progress, n_patients) as tick:
            tick(store.done_rows())  # chunks of earlier runs count as done
            reused = sorted(store.done)
            for index, batch in runner.run_chunks(store.plan, store.missing()):
                store.write_chunk(index, batch)
                summary.update(batch)
                tick(batch.num_rows)
    finally:
        store.finish()
    for index in reused:  # the summary is over all chunks: read back the finished ones
        for batch in store.read_chunk(index).to_batches():
            summary.update(batch)


def _write_atomically(
    path: Path, schema: pa.Schema, batches: Any, summary: Summary, tick: Any
) -> None:
    def stream(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema, compression="snappy") as writer:
            for batch in batches:
                summary.update(batch)
                writer.write_batch(batch)
                tick(batch.num_rows)

    write_atomic(path, stream)


class _progress:
    """Context manager giving a ``tick(n)`` callback: a rich bar, a user callback or nothing."""

    def __init__(self, progress: bool | Callable[[int], None], total: int):
        self.progress = progress
        self.total = total
        self.done = 0
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if callable(self.progress):
            user = self.progress

            def tick(n: int) -> None:
                self.done += n
                user(self.done)

            return tick
        if self.progress:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            task = self.bar.add_task("patients", total=self.total)
            return lambda n: self.bar.advance(task, n)
        return lambda n: None

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata (seed, version, parameters) stored in a simulated cohort's Parquet file."""
    meta = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in meta:
        raise RemnantInputError("file", "a Parquet file written by remnant simulate", str(path))
    return dict(json.loads(meta[METADATA_KEY]))
