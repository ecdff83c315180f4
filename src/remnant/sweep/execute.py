"""Where a sweep's points run: threads of this process, or the workers of a Dask cluster.

A point is one call of :func:`remnant.simulate` (one thread: ``workers=1``) and its
summary row (:func:`remnant.sweep.summary.point_summary`), computed where the point ran: only
the row (a few hundred bytes) comes back, never the patients (docs/scaling.md). A point is a
pure function of its scenario, seed, patients and horizon, so the rows are the same whatever
the backend, the number of workers or the order in which points finish.

On Dask, several points of small cohorts go into one task (about :data:`PATIENTS_PER_TASK`
patients a task), so that the scheduler's per-task cost stays small; the local cluster's
workers are forked from this process after the compiled kernel is loaded (~0.5 s to start,
against several seconds when each imports numba anew).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from remnant.errors import RemnantInputError
from remnant.machine import available_cores
from remnant.model.scenario import Scenario

BACKENDS = ("process", "dask")
PATIENTS_PER_TASK = 262_144  # eight of the engine's chunks of 32,768 patients
TASKS_PER_THREAD = 2  # at least this many tasks per worker thread, to balance the load
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class PointTask:
    """One point to simulate: its number, scenario and seed."""

    point: int
    scenario: Scenario
    seed: int


def evaluate(
    tasks: Sequence[PointTask], patients: int, horizon_years: float
) -> list[dict[str, Any]]:
    """Simulate each point (one thread) and return its summary row, ``point`` first."""
    from remnant.engine.simulate import simulate
    from remnant.sweep.summary import point_summary

    rows = []
    for task in tasks:
        result = simulate(
            task.scenario, patients, seed=task.seed, horizon_years=horizon_years, workers=1
        )
        assert result.table is not None
        rows.append({"point": task.point, **point_summary(result.table)})
    return rows


def default_threads() -> int:
    """The cores this process may use."""
    return available_cores()


def groups(tasks: Sequence[PointTask], patients: int, threads: int) -> list[list[PointTask]]:
    """Points grouped into tasks of about :data:`PATIENTS_PER_TASK` patients, keeping at
    least :data:`TASKS_PER_THREAD` tasks per thread when there are enough points."""
    size = max(1, math.ceil(PATIENTS_PER_TASK / patients))
    size = max(1, min(size, len(tasks) // (TASKS_PER_THREAD * threads)))
    return [list(tasks[k : k + size]) for k in range(0, len(tasks), size)]


Evaluate = Callable[[list[PointTask]], list[dict[str, Any]]]


class Runner:
    """Runs groups of points; :meth:`rows` yields each finished point's row as it comes."""

    name: str
    threads: int

    def rows(self, work: Evaluate, batches: list[list[PointTask]]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


class ThreadRunner(Runner):
    """Points on threads of this process (the compiled kernel releases the GIL)."""

    name = "process"

    def __init__(self, workers: int | None = None):
        self.threads = workers or default_threads()

    def rows(self, work: Evaluate, batches: list[list[PointTask]]) -> Iterator[dict[str, Any]]:
        queue = iter(batches)
        pool = ThreadPoolExecutor(max_workers=self.threads)
        pending: set[Future[list[dict[str, Any]]]] = set()
        try:
            for batch in queue:  # at most TASKS_PER_THREAD tasks per thread in flight
                pending.add(pool.submit(work, batch))
                if len(pending) >= self.threads * TASKS_PER_THREAD:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield from future.result()
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield from future.result()
        finally:  # on an interrupt or an error, tasks not yet started are not started
            pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner(Runner):
    """Points on a Dask cluster's workers; rows come back as tasks finish."""

    name = "dask"

    def __init__(self, client: Any):
        self.client = client
        info: dict[str, Any] = client.scheduler_info(n_workers=-1)
        self.threads = max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))

    def rows(self, work: Evaluate, batches: list[list[PointTask]]) -> Iterator[dict[str, Any]]:
        from distributed import as_completed

        futures = [self.client.submit(work, batch, pure=False) for batch in batches]
        try:
            for future in as_completed(futures, loop=self.client.loop):
                yield from future.result()
                future.release()
        finally:
            if self.client.status == "running":
                self.client.cancel(futures)


@contextmanager
def open_runner(
    backend: str, *, scheduler: str | None = None, workers: int | None = None
) -> Iterator[Runner]:
    """The runner of ``backend`` (``process`` or ``dask``), opened and closed after.

    Raises
    ------
    RemnantInputError
        Field ``backend`` unknown; ``scheduler`` without dask, or unreachable, or with no
        worker; ``workers`` together with a scheduler.
    """
    if backend not in BACKENDS:
        raise RemnantInputError("backend", "one of " + ", ".join(BACKENDS), backend)
    if scheduler is not None and backend != "dask":
        raise RemnantInputError("scheduler", "a scheduler only with backend dask", scheduler)
    if scheduler is not None and workers is not None:
        raise RemnantInputError("workers", "no workers with a scheduler (it has its own)", workers)
    if backend == "process":
        yield ThreadRunner(workers)
        return
    with _dask_client(scheduler, workers) as client:
        yield DaskRunner(client)


@contextmanager
def _dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise RemnantInputError(
                "scheduler",
                "the address of a running Dask scheduler (tcp://HOST:PORT)",
                scheduler,
                detail=f"cannot connect within {CONNECT_TIMEOUT_S:g} s: {reason[:200]}",
            ) from None
        with client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                raise RemnantInputError(
                    "scheduler", "a Dask scheduler with at least one worker", scheduler
                ) from None
            yield client
        return
    method = {}
    if "fork" in multiprocessing.get_all_start_methods():
        _load_kernel()  # forked workers inherit it
        method = {"distributed.worker.multiprocessing-method": "fork"}
    with (
        dask.config.set(method),
        LocalCluster(
            n_workers=workers or default_threads(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client


def _load_kernel() -> None:
    """Load the compiled kernel in this process by simulating one patient."""
    from remnant.engine.simulate import simulate

    simulate("colon-stage1", 1, seed=0, horizon_years=1.0, workers=1)
