"""Chunks on dask.distributed: the same pure chunk function, run by a cluster's workers.

Imported only when ``backend="dask"`` is asked for (``import distributed`` costs about a
second and is not needed otherwise). The plan is scattered to the workers once; each task
then carries only its chunk indices, runs :func:`remnant.engine.chunks.run_chunk` on each and
returns the record batches. Several chunks go into one task when the run is long enough, so
that the scheduler's per-task cost stays well under 1% of a task's work (docs/scaling.md);
the chunk itself, and so every random number, does not change. At most
``in_flight_per_worker`` tasks per worker thread are submitted ahead of the one being read,
and results are read in chunk order, so the client's memory does not grow with the run.

Workers of a remote scheduler must have the same version of remnant (and numpy, numba)
installed: the function is sent by reference, not by value.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dask
import pyarrow as pa
from distributed import Client, Future, LocalCluster

from remnant.engine.backend import default_workers
from remnant.engine.chunks import ChunkPlan, run_chunk
from remnant.errors import RemnantInputError

# Chunks of CHUNK_SIZE patients in one task at most: a chunk costs ~75 ms of one core
# (colon-stage3) and a task 1-15 ms of scheduling (quiet to loaded machine; benchmarks/
# engine_dask.py), so 8 chunks keep the overhead under 1% of a task.
CHUNKS_PER_TASK = 8
CONNECT_TIMEOUT_S = 5.0


def run_group(plan: ChunkPlan, indices: Sequence[int]) -> list[pa.RecordBatch]:
    """Simulate the chunks ``indices`` of ``plan`` (on a worker); their batches in order."""
    return [run_chunk(plan, int(i)) for i in indices]


def _warm_kernel() -> None:
    """Load the compiled kernel (numba's cache) in this process, by one 1-patient chunk."""
    from remnant.model.presets import preset

    run_chunk(ChunkPlan.build(preset("colon-stage1"), 1, 0, 1.0), 0)


def _groups(indices: Sequence[int], size: int) -> Iterator[list[int]]:
    for k in range(0, len(indices), size):
        yield list(indices[k : k + size])


class DaskBackend:
    """Run chunks on a Dask cluster: a scheduler's address, or a local cluster of processes.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``). None: start a
        ``LocalCluster`` with one single-threaded worker process per core (or ``workers``),
        closed when the backend is.
    workers : int, optional
        Worker processes of the local cluster (not allowed with ``scheduler``).
    chunks_per_task : int
        Most chunks in one task (fewer when the run has too few chunks to keep every
        worker busy).
    in_flight_per_worker : int
        Tasks submitted ahead per worker thread.
    timeout_s : float
        Seconds to wait for the scheduler (and for a first worker) before giving up.
    processes : bool
        Local cluster only: worker processes (True) or threads of this process (False).

    Use as a context manager::

        with DaskBackend() as backend:
            for index, batch in backend.run_chunks(plan, range(plan.n_chunks)): ...
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        *,
        chunks_per_task: int = CHUNKS_PER_TASK,
        in_flight_per_worker: int = 2,
        timeout_s: float = CONNECT_TIMEOUT_S,
        processes: bool = True,
    ):
        self.scheduler = scheduler
        self.workers = workers
        self.chunks_per_task = max(1, chunks_per_task)
        self.in_flight_per_worker = max(1, in_flight_per_worker)
        self.timeout_s = timeout_s
        self.processes = processes
        self.client: Client | None = None
        self.cluster: LocalCluster | None = None
        self.tasks_submitted = 0
        self._config: Any = None

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> DaskBackend:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect to the scheduler, or start the local cluster.

        Raises
        ------
        RemnantInputError
            Field ``scheduler``: the address cannot be reached within ``timeout_s``, or
            the scheduler has no worker.
        """
        if self.scheduler is None:
            if self.processes and "fork" in multiprocessing.get_all_start_methods():
                # Forked workers inherit this process's imports and the compiled kernel:
                # ~0.5 s to start two workers, against ~8 s when each imports numba anew.
                _warm_kernel()
                self._config = dask.config.set(
                    {"distributed.worker.multiprocessing-method": "fork"}
                )
            self.cluster = LocalCluster(
                n_workers=self.workers or default_workers(),
                threads_per_worker=1,
                processes=self.processes,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.cluster, set_as_default=False)
            return
        try:
            self.client = Client(self.scheduler, timeout=self.timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise RemnantInputError(
                "scheduler",
                "the address of a running Dask scheduler (tcp://HOST:PORT)",
                self.scheduler,
                detail=f"cannot connect within {self.timeout_s:g} s: {reason[:200]}",
            ) from None
        try:
            self.client.wait_for_workers(1, timeout=self.timeout_s)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise RemnantInputError(
                "scheduler",
                "a Dask scheduler with at least one worker",
                self.scheduler,
                detail=f"no worker within {self.timeout_s:g} s",
            ) from exc

    def close(self) -> None:
        """Close the client and, if this backend started it, the local cluster."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        if self._config is not None:
            self._config.__exit__(None, None, None)
            self._config = None

    # ------------------------------------------------------------------ work

    def threads(self) -> int:
        """Worker threads of the cluster now (at least 1)."""
        assert self.client is not None, "open the backend first"
        info: dict[str, Any] = self.client.scheduler_info(n_workers=-1)
        return max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))

    def run_chunks(
        self, plan: ChunkPlan, indices: Iterable[int]
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Simulate the chunks ``indices`` of ``plan`` on the cluster; yield them in order.

        The plan is scattered once (to every worker); each task carries its indices only.
        Tasks not yet finished when the caller stops reading are cancelled.
        """
        client = self.client
        assert client is not None, "open the backend first"
        wanted = list(indices)
        if not wanted:
            return
        threads = self.threads()
        per_task = max(1, min(self.chunks_per_task, len(wanted) // (2 * threads)))
        plan_future = client.scatter(plan, broadcast=True, hash=False)
        pending: deque[tuple[list[int], Future]] = deque()
        max_in_flight = threads * self.in_flight_per_worker
        try:
            for group in _groups(wanted, per_task):
                pending.append((group, client.submit(run_group, plan_future, group, pure=False)))
                self.tasks_submitted += 1
                if len(pending) >= max_in_flight:
                    yield from self._collect(pending.popleft())
            while pending:
                yield from self._collect(pending.popleft())
        finally:
            # When the caller stopped reading (an error, Ctrl-C), this may run only once the
            # generator is collected, after the client was closed, which cancelled it all.
            if self.client is not None and self.client.status == "running":
                try:
                    client.cancel([future for _, future in pending])
                    plan_future.release()
                except (RuntimeError, OSError, TimeoutError):
                    pass  # the client is closing: its futures go with it
            pending.clear()

    @staticmethod
    def _collect(item: tuple[list[int], Future]) -> Iterator[tuple[int, pa.RecordBatch]]:
        group, future = item
        batches = future.result()
        future.release()
        yield from zip(group, batches, strict=True)
