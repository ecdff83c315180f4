"""Where chunks run. One seam: ``map_ordered(fn, indices)`` yields results in index order.

The in-process backend runs the compiled kernel (which releases the GIL) on a thread pool and
keeps at most a few chunks in flight, so memory does not grow with the number of patients.
A cluster backend (e.g. Dask's ``Client.map`` over the same pure chunk function) fits the
same seam.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class ThreadBackend:
    """Run chunks on ``workers`` threads; yield their results in submission order."""

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
