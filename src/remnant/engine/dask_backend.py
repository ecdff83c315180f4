"""Chunks on dask.distributed: the same pure chunk function, run by a cluster's workers.

Imported only when ``backend="dask"`` is asked for (``import distributed`` costs about a
second and is not needed otherwise). The plan is scattered to the workers once; each task
then carries only its chunk indices, runs :func:`remnant.engine.chunks.run_chunk` on each and
returns the record batches. Several chunks go into one task when the run is long enough, so
that the scheduler's per-task cost stays well under 1% of a task's work (docs/scaling.md),
and fewer towards the end, so that the workers finish together; the chunk itself, and so
every random number, does not change. Up to ``in_flight_per_worker`` tasks per worker
thread are running or queued at a time, whatever the order they finish in, so that a worker
does not wait for the client reading a slower worker's result; results are read in chunk
order, and at most twice that many tasks are held, so the client's memory does not grow with
the run.

The local cluster forks its workers from this process. A forked worker gets a fresh copy of
distributed's one-thread offload pool (:func:`_fresh_offload_pool`): the inherited copy counts
the parent's thread, which a child does not have, and would queue for ever the serialisation
of any result over ``distributed.comm.offload`` (10 MiB, 10 chunks' rows).

Workers of a remote scheduler must have the same version of remnant (and numpy, numba)
installed: the function is sent by reference, not by value.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import pyarrow as pa
from distributed import Client, Future, LocalCluster, as_completed

from remnant.engine.backend import default_workers
from remnant.engine.chunks import ChunkPlan, run_chunk
from remnant.errors import RemnantInputError

# Chunks of CHUNK_SIZE patients in one task at most. A chunk costs 140-180 ms of one core
# (colon-stage3); in a run a worker waits ~4 ms between two tasks (the task stream in
# benchmarks/engine_dask.py), ~0.2% of an 8-chunk task, and an empty task's round trip (an
# upper bound) is 9-17 ms, ~1%. The rows do not depend on it.
CHUNKS_PER_TASK = 8
CONNECT_TIMEOUT_S = 5.0

_fork_hook_installed = False


def run_group(plan: ChunkPlan, indices: Sequence[int]) -> list[pa.RecordBatch]:
    """Simulate the chunks ``indices`` of ``plan`` (on a worker); their batches in order."""
    return [run_chunk(plan, int(i)) for i in indices]


def _warm_kernel() -> None:
    """Load the compiled kernel (numba's cache) in this process, by one 1-patient chunk."""
    from remnant.model.presets import preset

    run_chunk(ChunkPlan.build(preset("colon-stage1"), 1, 0, 1.0), 0)


def _fresh_offload_pool() -> None:
    """In a forked child: a new ``distributed.utils._offload_executor`` (one thread, unstarted).

    Dask serialises and deserialises messages over ``distributed.comm.offload`` (10 MiB) in
    that module-level pool of one thread. Once the parent has started its thread (its scheduler
    offloads every graph submitted), a forked child's copy of the pool counts that thread,
    which does not exist in the child, and never starts one: the worker's first result over
    10 MiB would wait for ever. The worker takes the pool at its start, after this has run.
    """
    import distributed.utils

    distributed.utils._offload_executor = ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="Dask-Offload"
    )


def _install_fork_hook() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed:
        os.register_at_fork(after_in_child=_fresh_offload_pool)
        _fork_hook_installed = True


def _groups(indices: Sequence[int], size: int, threads: int) -> Iterator[list[int]]:
    """Consecutive indices, ``size`` a group at most and never more than a half share of what
    is left per thread: the groups shrink towards the end, so the workers finish together."""
    k = 0
    while k < len(indices):
        n = max(1, min(size, (len(indices) - k) // (2 * threads)))
        yield list(indices[k : k + n])
        k += n


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
        Most chunks in one task (fewer towards the end of a run, at most half of what is
        left per worker thread).
    in_flight_per_worker : int
        Tasks running or queued per worker thread (twice as many submitted and not yet
        read, at most).
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
                _install_fork_hook()
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
        plan_future = client.scatter(plan, broadcast=True, hash=False)
        groups = _groups(wanted, self.chunks_per_task, threads)
        group = next(groups, None)
        pending: deque[tuple[list[int], Future]] = deque()  # submitted, not yet read
        finished = as_completed(loop=client.loop, raise_errors=False)
        done: set[str] = set()  # keys of pending tasks that have finished
        max_running = threads * self.in_flight_per_worker
        try:
            while True:
                while (
                    group is not None
                    and len(pending) - len(done) < max_running
                    and len(pending) < 2 * max_running
                ):
                    future = client.submit(run_group, plan_future, group, pure=False)
                    pending.append((group, future))
                    finished.add(future)
                    self.tasks_submitted += 1
                    group = next(groups, None)
                if not pending:
                    return
                if pending[0][1].key in done:
                    item = pending.popleft()
                    done.discard(item[1].key)
                    yield from self._collect(item)
                else:
                    done.add(next(finished).key)
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
