"""Run a sweep: every point (design row times seed) simulated, one summary row each, stored.

The rows are a pure function of the sweep (its file and seeds): each point's scenario comes
from the design (:mod:`remnant.sweep.design`), its patients from :func:`remnant.simulate`
with the point's seed, its row from :func:`remnant.sweep.summary.point_summary`; the backend,
the number of workers and the order of completion change nothing. Points already in the run
directory (``resume``) are not computed again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from remnant.errors import RemnantInputError
from remnant.model.scenario import Scenario
from remnant.provenance import provenance
from remnant.sweep.design import design
from remnant.sweep.execute import PointTask, evaluate, groups, open_runner
from remnant.sweep.spec import SweepSpec, scenario_at
from remnant.sweep.storage import SweepStore

KIND = "sweep"


@dataclass
class SweepResult:
    """A finished sweep.

    Attributes
    ----------
    path : Path
        The run directory.
    points : pandas.DataFrame
        One row per point, in point order: ``point``, ``row``, ``seed``, the parameter
        columns and the statistics (:data:`remnant.sweep.summary.STAT_COLUMNS`).
    computed, reused : int
        Points computed by this run, and found done in the directory.
    """

    path: Path
    points: pd.DataFrame
    computed: int
    reused: int


def plan(spec: SweepSpec) -> tuple[list[dict[str, Any]], list[PointTask]]:
    """The design (one record per point: ``point``, ``row``, ``seed``, the parameter columns)
    and the points' tasks, checked before any work.

    Raises
    ------
    RemnantInputError
        A design row gives an invalid scenario (``parameters: FIELD``, naming the row).
    """
    columns = {p.name: p.column for p in spec.parameters}
    records: list[dict[str, Any]] = []
    tasks: list[PointTask] = []
    for r, values in enumerate(design(spec)):
        scenario = _scenario(spec.base, values, r)
        for s, seed in enumerate(spec.seeds):
            point = r * len(spec.seeds) + s
            records.append(
                {"point": point, "row": r, "seed": seed}
                | {columns[k]: v for k, v in values.items()}
            )
            tasks.append(PointTask(point, scenario, seed))
    return records, tasks


def _scenario(base: Scenario, values: dict[str, Any], row: int) -> Scenario:
    try:
        return scenario_at(base, values)
    except RemnantInputError as exc:
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
        )
        raise RemnantInputError(
            f"parameters: {exc.field}", exc.allowed, exc.got, detail=f"design row {row}: {shown}"
        ) from None


def run_sweep(
    spec: SweepSpec,
    directory: str | Path,
    *,
    backend: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    kind: str = KIND,
) -> SweepResult:
    """Run (or resume) ``spec`` into the run directory ``directory``.

    Parameters
    ----------
    spec : SweepSpec
        The sweep (:func:`remnant.sweep.spec.read_spec`).
    directory : path
        The run directory: new or empty, or, with ``resume``, one of this sweep.
    backend : {"process", "dask"}
        Threads of this process, or a Dask cluster (``scheduler``'s, or a local one of
        ``workers`` processes).
    workers : int, optional
        Threads, or local Dask worker processes (default: all cores).
    resume : bool
        Continue the sweep in ``directory``: only points not yet stored are computed.
    progress : callable, optional
        Called as ``progress(points_done, points_total)`` after each point (and once first).
    kind : str
        Recorded in the manifest (``sweep``, ``sensitivity``), shown by ``remnant runs list``.

    Returns
    -------
    SweepResult
    """
    records, tasks = plan(spec)
    columns = ["point", "row", "seed", *(p.column for p in spec.parameters)]
    table = pd.DataFrame.from_records(records, columns=columns)
    header = {
        **provenance(),
        "kind": kind,
        "sweep": spec.to_dict(),
        "sweep_sha256": spec.sha256(),
        "columns": [p.column for p in spec.parameters],
    }
    store = SweepStore.open(Path(directory), header, table, resume=resume)
    reused = len(store.done)
    todo = [t for t in tasks if t.point not in store.done]
    with open_runner(backend, scheduler=scheduler, workers=workers) as runner:
        store.start(runner.name)
        tick = progress or (lambda done, total: None)
        tick(reused, len(tasks))
        work = functools.partial(evaluate, patients=spec.patients, horizon_years=spec.horizon_years)
        try:
            for row in runner.rows(work, groups(todo, spec.patients, runner.threads)):
                point = int(row["point"])
                store.add(records[point] | row)
                tick(store.finished(), len(tasks))
        finally:
            store.finish()
    return SweepResult(Path(directory), store.read_points(), len(todo), reused)
