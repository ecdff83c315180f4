"""The engine on Dask: patients/s of the threads backend against a 2-worker LocalCluster, and
the scheduler's per-task overhead against a chunk's work.

    .venv/bin/python benchmarks/engine_dask.py [--patients 1e7] [--repeats 1] [--tasks 2000]

All in one process, one after the other, so that the numbers compare as ratios on a shared
machine:

1. a chunk's cost: :func:`remnant.engine.chunks.run_chunk` of ``colon-stage3`` on one core
   (ms per chunk of 32,768 patients);
2. an upper bound of the per-task overhead on a 2-worker LocalCluster (worker processes):
   ``--tasks`` empty tasks that take the scattered plan, read in order with at most 2 per
   worker submitted and not read, in ms per task (a round trip: a latency, not what a run
   loses); and the cost of bringing one chunk's rows (an Arrow batch, ~1.1 MB) back to the
   client, in ms per chunk;
3. ``remnant.simulate("colon-stage3", N, seed=1, out=...)`` end to end with
   ``backend="threads"`` (2 threads) and ``backend="dask", workers=2`` (the cluster's start
   and close included, and measured on their own);
4. what the overhead costs that Dask run, from the scheduler's task stream (each task's
   compute start and stop on its worker): the workers' idle share,
   1 - sum(compute) / (wall x workers), over the run's wall and over the tasks' span (first
   start to last stop); the idle time between a worker's consecutive tasks (median, the
   per-task cost), as a share of a task's compute; and a chunk's compute time in the workers.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

import remnant
from remnant.engine import dask_backend
from remnant.engine.chunks import CHUNK_SIZE, ChunkPlan, run_chunk
from remnant.engine.dask_backend import CHUNKS_PER_TASK, DaskBackend


def noop(plan: ChunkPlan, group: list[int]) -> int:
    """An empty task with the arguments of a real one."""
    return len(group)


def one_batch(plan: ChunkPlan, group: list[int]) -> pa.RecordBatch:
    """A chunk's rows, simulated once per worker and then returned again (transfer only)."""
    from distributed import get_worker

    worker = get_worker()
    if not hasattr(worker, "_bench_batch"):
        worker._bench_batch = run_chunk(plan, 0)  # type: ignore[attr-defined]
    return worker._bench_batch  # type: ignore[attr-defined, no-any-return]


def chunk_ms(plan: ChunkPlan, n: int = 8) -> float:
    """Milliseconds of one core per chunk (after one warm-up chunk)."""
    run_chunk(plan, 0)
    start = time.perf_counter()
    for i in range(1, n + 1):
        run_chunk(plan, i)
    return (time.perf_counter() - start) / n * 1e3


def per_task_ms(backend: DaskBackend, plan: ChunkPlan, fn: Any, tasks: int) -> float:
    """Wall milliseconds per task, ``tasks`` tasks submitted and read as the backend does."""
    client = backend.client
    assert client is not None
    future_plan = client.scatter(plan, broadcast=True, hash=False)
    limit = backend.threads() * backend.in_flight_per_worker
    for _ in range(2):  # warm-up round trip
        client.submit(fn, future_plan, [0], pure=False).result()
    pending: deque[Any] = deque()
    start = time.perf_counter()
    for i in range(tasks):
        pending.append(client.submit(fn, future_plan, [i], pure=False))
        if len(pending) >= limit:
            pending.popleft().result()
    while pending:
        pending.popleft().result()
    wall = time.perf_counter() - start
    future_plan.release()
    return wall / tasks * 1e3


@contextmanager
def task_streams() -> Iterator[list[dict[str, Any]]]:
    """While open, each Dask run of ``remnant.simulate`` records its scheduler's task stream
    and its workers' CPU seconds.

    The backend that ``simulate`` opens is swapped for a subclass that installs the
    scheduler's task-stream plugin when it opens and reads the stream before it closes.
    """
    streams: list[dict[str, Any]] = []

    class Recording(DaskBackend):
        def open(self) -> None:
            super().open()
            assert self.client is not None
            self.client.get_task_stream()  # the first call installs the plugin
            self._cpu = self.client.run(time.process_time)

        def close(self) -> None:
            if self.client is not None:
                cpu = self.client.run(time.process_time)
                streams.append(
                    {
                        "stream": list(self.client.get_task_stream(start=0)),
                        "worker_cpu": sum(cpu[w] - self._cpu[w] for w in self._cpu),
                    }
                )
            super().close()

    dask_backend.DaskBackend = Recording  # type: ignore[misc]
    try:
        yield streams
    finally:
        dask_backend.DaskBackend = DaskBackend  # type: ignore[misc]


def idle(
    stream: list[dict[str, Any]], wall: float, workers: int, n_chunks: int
) -> dict[str, float]:
    """The workers' idle time in one run, from its task stream (``run_group`` tasks)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for task in stream:
        if "run_group" not in str(task["key"]):
            continue
        for part in task["startstops"]:
            if part["action"] == "compute":
                spans.setdefault(task["worker"], []).append((part["start"], part["stop"]))
    computes = [(a, b) for v in spans.values() for a, b in v]
    compute = sum(b - a for a, b in computes)
    first, last = min(a for a, _ in computes), max(b for _, b in computes)
    span = last - first
    gaps: list[float] = []
    edges = 0.0  # a worker waiting for its first task, or done while another still computes
    for v in spans.values():
        v.sort()
        gaps += [v[k + 1][0] - v[k][1] for k in range(len(v) - 1)]
        edges += (v[0][0] - first) + (last - v[-1][1])
    task_s = compute / len(computes)
    gap = statistics.median(gaps) if gaps else 0.0
    return {
        "tasks": len(computes),
        "chunk_ms": compute / n_chunks * 1e3,
        "task_s": task_s,
        "idle_wall": 1 - compute / (wall * workers),
        "idle_span": 1 - compute / (span * workers),
        "idle_between": sum(gaps) / (span * workers),
        "idle_edges": edges / (span * workers),
        "gap_ms": gap * 1e3,
        "gap_share": gap / task_s,
        "gap_mean_ms": statistics.fmean(gaps) * 1e3 if gaps else 0.0,
    }


def run(n: int, out: Path, **kw: Any) -> float:
    start = time.perf_counter()
    remnant.simulate("colon-stage3", n, seed=1, out=out, **kw)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=float, default=1e7)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=2000)
    args = parser.parse_args()
    n = int(args.patients)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    print(f"machine: {len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.2f}")

    plan = ChunkPlan.build(remnant.preset("colon-stage3"), 64 * CHUNK_SIZE, 1, 15.0)
    one_chunk = chunk_ms(plan)
    print(f"chunk ({CHUNK_SIZE:,} patients, one core): {one_chunk:.1f} ms")

    start = time.perf_counter()
    with DaskBackend(workers=2) as backend:
        started = time.perf_counter() - start
        empty = per_task_ms(backend, plan, noop, args.tasks)
        with_rows = per_task_ms(backend, plan, one_batch, max(200, args.tasks // 4))
        start = time.perf_counter()
    closed = time.perf_counter() - start
    transfer = with_rows - empty
    print(f"LocalCluster, 2 worker processes: start {started:.2f} s, close {closed:.2f} s")
    print(f"per-task overhead (empty task, scattered plan): {empty:.2f} ms")
    print(f"  = {empty / one_chunk:.2%} of one chunk's work, ", end="")
    print(f"{empty / (CHUNKS_PER_TASK * one_chunk):.2%} of a {CHUNKS_PER_TASK}-chunk task's")
    print(f"bringing one chunk's rows to the client: {transfer:.2f} ms per chunk", end="")
    print(f" = {transfer / one_chunk:.2%} of its work")

    rows = []
    n_chunks = -(-n // CHUNK_SIZE)
    with tempfile.TemporaryDirectory() as tmp, task_streams() as streams:
        for r in range(args.repeats):
            t = run(n, Path(tmp) / f"t{r}.parquet")
            cpu = time.process_time()
            d = run(n, Path(tmp) / f"d{r}.parquet", backend="dask", workers=2)
            client_cpu = time.process_time() - cpu
            rows.append((t, d))
            print(
                f"run {r + 1}: {n:,} patients: threads {t:.1f} s ({n / t:,.0f} patients/s), "
                f"dask {d:.1f} s ({n / d:,.0f} patients/s), dask/threads patients/s = {t / d:.3f}"
            )
            i = idle(streams[-1]["stream"], d, 2, n_chunks)
            print(
                f"  dask task stream: {i['tasks']} tasks of {i['task_s']:.2f} s, "
                f"a chunk {i['chunk_ms']:.1f} ms in the workers; workers idle "
                f"{i['idle_wall']:.2%} of the run's wall, {i['idle_span']:.2%} of the tasks' span "
                f"({i['idle_between']:.2%} between tasks, {i['idle_edges']:.2%} at its start "
                "and end)"
            )
            print(
                f"  idle between a worker's tasks: median {i['gap_ms']:.2f} ms "
                f"(mean {i['gap_mean_ms']:.2f} ms) = {i['gap_share']:.3%} of a task's compute"
            )
            worker_ms = streams[-1]["worker_cpu"] / n_chunks * 1e3
            client_ms = client_cpu / n_chunks * 1e3
            print(
                f"  CPU per chunk: workers {worker_ms:.1f} ms; client process (scheduler, rows "
                f"in, Parquet, summary) {client_ms:.1f} ms = {client_ms / one_chunk:.1%} of a chunk"
            )
    best_t = min(t for t, _ in rows)
    best_d = min(d for _, d in rows)
    print(f"best: threads {n / best_t:,.0f} patients/s, dask {n / best_d:,.0f} patients/s, ")
    print(f"ratio dask/threads {best_t / best_d:.3f} (target >= 0.85)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":  # the worker processes must not run the benchmark again
    main()
