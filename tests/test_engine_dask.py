"""The engine on Dask and the resumable store (issue 18, points 1, 2 and 5).

Dask and the in-process threads give the same rows, byte for byte in the Parquet data pages;
a scheduler that cannot be reached is one ``error:`` line and exit 2; a store killed with
SIGKILL mid-way and resumed equals an uninterrupted run, computing only the missing chunks;
a store is never overwritten and never resumed for another request.

Most tests share one in-process LocalCluster (2 workers, threads of this process) for speed;
``test_dask_processes_identical_to_threads`` and
``test_tasks_over_the_offload_size_on_a_cluster_forked_late`` start real clusters of 2 worker
processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import remnant
from remnant.cli import main
from remnant.engine.chunks import CHUNK_SIZE, ChunkPlan, run_chunk
from remnant.engine.simulate import read_metadata
from remnant.engine.store import MANIFEST, part_name, read_store

distributed = pytest.importorskip("distributed")

REMNANT = Path(sys.executable).with_name("remnant")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Address of an in-process cluster: 2 single-threaded workers (threads, for speed)."""
    import logging

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


def data_pages(path: Path) -> bytes:
    """A Parquet file's bytes before its footer (the footer holds the key-value metadata)."""
    raw = path.read_bytes()
    footer = int.from_bytes(raw[-8:-4], "little")
    return raw[: len(raw) - 8 - footer]


def rows_sha256(table: pa.Table) -> str:
    """sha256 of the rows sorted by patient, dictionary columns as their strings."""
    frame = table.to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(str)
    frame = frame.sort_values("patient", kind="stable").reset_index(drop=True)
    digest = hashlib.sha256(",".join(frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def store_argv(store: Path, patients: int, seed: int = 1, *extra: str) -> list[str]:
    return [
        "simulate",
        "--preset",
        "colon-stage2",
        "--patients",
        str(patients),
        "--seed",
        str(seed),
        "--store",
        str(store),
        "--no-progress",
        *extra,
    ]


# ---------------------------------------------------------------- dask = threads


def test_dask_processes_identical_to_threads(tmp_path: Path) -> None:
    """A real LocalCluster of 2 worker processes: same data pages, same metadata but backend."""
    n = 3 * CHUNK_SIZE + 1234  # four chunks, the last one short
    threads, dask = tmp_path / "threads.parquet", tmp_path / "dask.parquet"
    a = remnant.simulate("colon-stage3", n, seed=5, out=threads)
    b = remnant.simulate("colon-stage3", n, seed=5, out=dask, backend="dask", workers=2)
    assert data_pages(threads) == data_pages(dask)
    meta_a, meta_b = read_metadata(threads), read_metadata(dask)
    assert (meta_a.pop("backend"), meta_b.pop("backend")) == ("threads", "dask")
    assert meta_a == meta_b
    assert a.summary.to_dict() == b.summary.to_dict()


def test_dask_table_identical_to_threads(scheduler: str) -> None:
    n = 2 * CHUNK_SIZE + 99
    a = remnant.simulate("breast-stage2", n, seed=8)
    b = remnant.simulate("breast-stage2", n, seed=8, backend="dask", scheduler=scheduler)
    assert a.table is not None and b.table is not None
    pd.testing.assert_frame_equal(a.table, b.table)


def test_grouped_tasks_give_the_chunks_in_order(scheduler: str) -> None:
    """Several chunks per task (the plan scattered once): the same batches, in index order."""
    from remnant.engine.dask_backend import DaskBackend

    plan = ChunkPlan.build(remnant.preset("colon-stage3"), 9_900, 3, 15.0)
    plan = replace(plan, chunk_size=500)  # 20 chunks
    wanted = [i for i in range(plan.n_chunks) if i not in (1, 8)]
    with DaskBackend(scheduler, chunks_per_task=3) as backend:
        got = list(backend.run_chunks(plan, wanted))
        assert backend.tasks_submitted < len(wanted)
    assert [i for i, _ in got] == wanted
    for index, batch in got:
        assert batch.equals(run_chunk(plan, index))


def test_groups_shrink_towards_the_end() -> None:
    """8 chunks a task at most, never more than half of what is left per worker thread."""
    from remnant.engine.dask_backend import _groups

    groups = list(_groups(list(range(306)), 8, 2))
    assert [i for group in groups for i in group] == list(range(306))
    sizes = [len(group) for group in groups]
    assert sizes[0] == 8 and sizes == sorted(sizes, reverse=True) and sizes[-4:] == [1] * 4


def test_tasks_over_the_offload_size_on_a_cluster_forked_late(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """16-chunk tasks on worker processes forked after this process's offload thread started.

    Dask (de)serialises a message over ``distributed.comm.offload`` in a one-thread pool; a
    forked worker must not inherit the parent's pool, whose thread it does not have (its
    results over the size would never come back). The size is lowered here, and the forked
    workers inherit it, so that a small plan's tasks cross it.
    """
    import distributed.comm.utils
    import distributed.utils

    from remnant.engine.dask_backend import DaskBackend

    monkeypatch.setattr(distributed.comm.utils, "OFFLOAD_THRESHOLD", 1024)
    distributed.utils._offload_executor.submit(int).result()  # this process's thread runs
    plan = ChunkPlan.build(remnant.preset("colon-stage3"), 64 * 200, 4, 15.0)
    plan = replace(plan, chunk_size=200)  # 64 chunks: tasks of 16, 12, 9, ... chunks
    got: list[tuple[int, pa.RecordBatch]] = []
    tasks: list[int] = []

    def run() -> None:
        with DaskBackend(workers=2, chunks_per_task=16) as backend:
            got.extend(backend.run_chunks(plan, range(plan.n_chunks)))
            tasks.append(backend.tasks_submitted)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(90)
    assert not worker.is_alive(), "a task's result over the offload size never came back"
    assert tasks == [15]
    assert [i for i, _ in got] == list(range(64))
    for index, batch in got:
        assert batch.equals(run_chunk(plan, index))


def test_unreachable_scheduler_is_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.parquet"
    argv = ["simulate", "--preset", "colon-stage1", "--patients", "100", "--seed", "1"]
    argv += ["--out", str(out), "--no-progress", "--backend", "dask"]
    start = time.monotonic()
    code, _, err = cli([*argv, "--scheduler", "tcp://127.0.0.1:9"], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --scheduler:"), err
    assert time.monotonic() - start < 30
    assert not out.exists()
    code, _, err = cli(["simulate", *argv[1:-2], "--scheduler", "tcp://127.0.0.1:9"], capsys)
    assert code == 2 and err.startswith("error: --scheduler:"), err  # without --backend dask


# ---------------------------------------------------------------- the store


def test_sigkill_then_resume_equals_uninterrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 20 * CHUNK_SIZE - 1000  # 20 chunks, the last one short
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    proc = subprocess.Popen(
        [str(REMNANT), *store_argv(killed, n)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "REMNANT_DEBUG"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if killed.is_dir() and len(list(killed.glob("part-*.parquet"))) >= 2:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    parts = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in killed.glob("part-*")}
    assert 2 <= len(parts) < 20, len(parts)

    code, _, err = cli(store_argv(killed, n, 1, "--resume"), capsys)
    assert code == 0, err
    code, _, err = cli(store_argv(whole, n), capsys)
    assert code == 0, err

    manifest = json.loads((killed / MANIFEST).read_text())
    last = manifest["runs"][-1]
    assert manifest["complete"] and manifest["n_chunks"] == 20
    assert (last["reused"], last["computed"]) == (len(parts), 20 - len(parts))
    for name, stamp in parts.items():  # the finished chunks were not written again
        p = killed / name
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp
    assert not [p for p in os.listdir(killed) if p.startswith(".")]  # stale temp files gone
    a, b = read_store(whole), read_store(killed)
    assert a.num_rows == b.num_rows == n
    assert rows_sha256(a) == rows_sha256(b)
    for chunk in ("part-00000.parquet", part_name(19)):
        assert data_pages(whole / chunk) == data_pages(killed / chunk)


def test_resume_on_dask_computes_only_missing_chunks(tmp_path: Path, scheduler: str) -> None:
    n = 5 * CHUNK_SIZE + 7
    full, partial = tmp_path / "full", tmp_path / "partial"
    first = remnant.simulate("colon-stage3", n, seed=2, store=full)
    remnant.simulate("colon-stage3", n, seed=2, store=partial)
    for index in (1, 4):
        (partial / part_name(index)).unlink()
    seen: list[int] = []
    again = remnant.simulate(
        "colon-stage3",
        n,
        store=partial,
        resume=True,  # the seed is taken from the store
        backend="dask",
        scheduler=scheduler,
        progress=seen.append,
    )
    assert seen[0] == n - 2 * CHUNK_SIZE and seen[-1] == n  # reused chunks count as done
    manifest = json.loads((partial / MANIFEST).read_text())
    assert [(r["backend"], r["reused"], r["computed"]) for r in manifest["runs"]] == [
        ("threads", 0, 6),
        ("dask", 4, 2),
    ]
    assert rows_sha256(read_store(full)) == rows_sha256(read_store(partial))
    assert again.summary.to_dict() == first.summary.to_dict()  # over all chunks


def test_existing_store_without_resume_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s"
    assert cli(store_argv(store, CHUNK_SIZE + 10), capsys)[0] == 0
    before = {p.name: p.stat().st_mtime_ns for p in store.iterdir()}
    code, _, err = cli(store_argv(store, CHUNK_SIZE + 10), capsys)
    assert code == 2 and err.startswith("error: --store:") and "--resume" in err, err
    assert {p.name: p.stat().st_mtime_ns for p in store.iterdir()} == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, _, err = cli(store_argv(other, 100, 1, "--resume"), capsys)
    assert code == 2 and "manifest" in err, err
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--seed", "2"], "seed"),
        (["--patients", "40000"], "n_patients"),
        (["--horizon-years", "10"], "horizon_years"),
        (["--immune", "low"], "scenario_sha256"),
    ],
)
def test_manifest_mismatch_on_resume_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], field: str
) -> None:
    store = tmp_path / "s"
    assert cli(store_argv(store, CHUNK_SIZE + 10), capsys)[0] == 0
    argv = store_argv(store, CHUNK_SIZE + 10, 1, "--resume")
    flag, value = flags
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    code, _, err = cli(argv, capsys)
    assert code == 2, err
    assert err.startswith("error: --store:") and f"{field} differs" in err, err
    assert len(err.strip().splitlines()) == 1
