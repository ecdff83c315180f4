"""Where chunks run. One seam: ``run_chunks(plan, indices)`` yields ``(index, batch)`` in the
order of ``indices``, a bounded number of chunks in flight.

The in-process backend (:class:`ThreadBackend`) runs the compiled kernel (which releases the
GIL) on a thread pool and keeps at most a few chunks in flight, so memory does not grow with
the number of patients; its ``map_ordered(fn, indices)`` is the general form. The cluster
backend (:class:`remnant.engine.dask_backend.DaskBackend`) runs the same pure chunk function
on dask.distributed; it is imported only when asked for, so that nothing else pays for Dask.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, TypeVar

from remnant.machine import available_cores

if TYPE_CHECKING:
    import pyarrow as pa

    from remnant.engine.chunks import ChunkPlan

T = TypeVar("T")

BACKENDS = ("threads", "dask")


class ChunkBackend(Protocol):
    """What :func:`remnant.simulate` needs of a backend."""

    name: str

    def run_chunks(
        self, plan: ChunkPlan, indices: Iterable[int]
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Simulate the chunks ``indices`` of ``plan``; yield ``(index, rows)`` in that order."""
        ...


def default_workers() -> int:
    """All cores this process may use."""
    return available_cores()


class ThreadBackend:
    """Run chunks on ``workers`` threads; yield their results in submission order."""

    name = "threads"

    def __init__(self, workers: int | None = None, in_flight_per_worker: int = 2):
        self.workers = workers or default_workers()
        self.max_in_flight = max(1, self.workers * in_flight_per_worker)

    def map_ordered(self, fn: Callable[[int], T], indices: Iterable[int]) -> Iterator[T]:
        it = iter(indices)
        pending: deque[Future[T]] = deque()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            try:
                for idx in it:
                    pending.append(pool.submit(fn, idx))
                    if len(pending) >= self.max_in_flight:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                # On an interrupt or an error, chunks not yet started are not started.
                for future in pending:
                    future.cancel()

    def run_chunks(
        self, plan: ChunkPlan, indices: Iterable[int]
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Simulate the chunks ``indices`` of ``plan`` on the threads; yield them in order."""
        from remnant.engine.chunks import run_chunk

        return self.map_ordered(lambda i: (i, run_chunk(plan, i)), indices)
