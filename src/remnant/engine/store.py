"""A resumable store: a run kept as a Parquet dataset, one file per chunk, and a manifest.

Layout of a store directory::

    DIR/manifest.json          what was asked (scenario hash, seed, sizes, version), each
                               chunk's patient range and status, and one entry per run
    DIR/part-00000.parquet     the rows of chunk 0 (patients 0 .. CHUNK_SIZE-1)
    DIR/part-00001.parquet     ...

Every part file and every version of the manifest is written with
:func:`remnant.files.write_atomic` (a hidden temporary file, then a rename), so a part file
that exists is whole, whatever killed the run. Parts and the manifest are kept when a run
fails or is interrupted: they are what ``resume`` continues from. The manifest is rewritten
at most about once a second (and at the end), so on resume the part files on disk are the
truth: a chunk whose part file is there, with the expected number of rows and the run's
hash in its metadata, is done; any other chunk is computed again.

Read a store with :func:`read_store`, or with DuckDB: ``SELECT * FROM 'DIR/part-*.parquet'``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from remnant import files
from remnant.engine.chunks import SCHEMA, ChunkPlan
from remnant.errors import RemnantInputError
from remnant.model.outcomes import EVENTS, ORIGINS, PHASES
from remnant.model.scenario import Scenario

MANIFEST = "manifest.json"
FORMAT = "remnant-store/1"
METADATA_KEY = b"remnant"
FLUSH_EVERY_S = 1.0  # seconds between manifest rewrites while a run goes on
_STALE = re.compile(r"^\.(part-\d+\.parquet|manifest\.json)\..*\.tmp$")
_DICTS = {"event": EVENTS, "origin": ORIGINS, "immune_phase": PHASES}

# The fields of the request a store must match to be resumed, with the flag that sets each.
REQUEST_FIELDS = {
    "scenario_sha256": "--preset/--scenario/--margin/--immune",
    "seed": "--seed",
    "n_patients": "--patients",
    "horizon_years": "--horizon-years",
    "chunk_size": "chunk size",
    "remnant_version": "remnant version",
}


def part_name(index: int) -> str:
    """File name of chunk ``index``'s rows: ``part-00000.parquet``."""
    return f"part-{index:05d}.parquet"


def scenario_sha256(scenario: Scenario) -> str:
    """sha256 (hex) of the scenario's canonical JSON (``Scenario.to_dict()``, sorted keys)."""
    text = json.dumps(scenario.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def request_of(scenario: Scenario, plan: ChunkPlan, horizon_years: float) -> dict[str, Any]:
    """The request a store records and checks on resume (keys of :data:`REQUEST_FIELDS`)."""
    from remnant import __version__

    return {
        "scenario_sha256": scenario_sha256(scenario),
        "seed": int(plan.seed),
        "n_patients": int(plan.n_patients),
        "horizon_years": float(horizon_years),
        "chunk_size": int(plan.chunk_size),
        "remnant_version": __version__,
    }


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest of the store at ``path``, or None when there is none."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        return None
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RemnantInputError(
            "store", "a store with a readable manifest.json", str(path), detail=str(exc)[:200]
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RemnantInputError("store", f"a store of format {FORMAT}", str(path))
    return manifest


def _visible_entries(path: Path) -> list[str]:
    return [n for n in os.listdir(path) if not n.startswith(files.TEMP_PREFIX)]


def canonical(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary columns coded as :data:`SCHEMA` codes them.

    A dictionary read back from Parquet may list its values in another order; the summary
    reads the codes, so they are mapped back to the engine's (``EVENTS``, ``ORIGINS``...).
    """
    columns = []
    for name in SCHEMA.names:
        column = table.column(name).combine_chunks()
        if name in _DICTS:
            values = _DICTS[name]
            assert isinstance(column, pa.DictionaryArray)
            lookup = np.array([values.index(v) for v in column.dictionary.to_pylist()], np.int8)
            codes = lookup[column.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
            column = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(values))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=SCHEMA)


@dataclass
class Store:
    """An open store: which chunks are done, and how to add one.

    Use :meth:`open` (which checks the directory and the manifest before any work), then
    :meth:`write_chunk` per computed chunk, and :meth:`finish`.
    """

    path: Path
    request: dict[str, Any]
    plan: ChunkPlan
    metadata: dict[str, Any]
    done: set[int]
    runs: list[dict[str, Any]]
    _last_flush: float = 0.0

    @classmethod
    def open(
        cls,
        path: Path,
        request: dict[str, Any],
        plan: ChunkPlan,
        metadata: dict[str, Any],
        *,
        resume: bool,
    ) -> Store:
        """Check ``path`` for this request and open it; nothing is written yet.

        Raises
        ------
        RemnantInputError
            Field ``store``: not a directory; a non-empty directory without ``resume``; on
            resume, no manifest, or a manifest of another request (naming the field).
        """
        if path.exists() and not path.is_dir():
            raise RemnantInputError("store", "a directory", str(path), detail="is a file")
        parent = path.parent if str(path.parent) else Path(".")
        if not path.exists() and not parent.is_dir():
            raise RemnantInputError("store", "a directory in an existing directory", str(path))
        entries = _visible_entries(path) if path.is_dir() else []
        done: set[int] = set()
        runs: list[dict[str, Any]] = []
        if entries and not resume:
            raise RemnantInputError(
                "store",
                "a new or empty directory (or resume, --resume, to continue the run in it)",
                str(path),
                detail=f"it holds {len(entries)} entries; a store is never overwritten",
            )
        if entries:
            manifest = read_manifest(path)
            if manifest is None:
                raise RemnantInputError(
                    "store", "a remnant store to resume (it has no manifest.json)", str(path)
                )
            for key, flag in REQUEST_FIELDS.items():
                if manifest.get(key) != request[key]:
                    raise RemnantInputError(
                        "store",
                        "a store of the same request to resume",
                        str(path),
                        detail=(
                            f"{key} differs ({flag}): the store has {manifest.get(key)!r}, "
                            f"this run asks for {request[key]!r}"
                        ),
                    )
            runs = list(manifest.get("runs", []))
            done = {i for i in range(plan.n_chunks) if _part_is_whole(path, plan, request, i)}
        return cls(path, request, plan, metadata, done, runs)

    # ------------------------------------------------------------------ writing

    def missing(self) -> list[int]:
        """Chunk indices still to compute, in order."""
        return [i for i in range(self.plan.n_chunks) if i not in self.done]

    def done_rows(self) -> int:
        """Patients in the chunks already done."""
        return sum(b - a for a, b in map(self.plan.bounds, self.done))

    def start(self, backend: str) -> None:
        """Create the directory, remove stale temporary files, record this run, write the
        manifest."""
        files.make_dir(self.path)
        for name in os.listdir(self.path):
            if _STALE.match(name):
                (self.path / name).unlink(missing_ok=True)
        self.runs.append(
            {
                "backend": backend,
                "started_utc": _now(),
                "reused": len(self.done),
                "computed": 0,
                "finished_utc": None,
            }
        )
        self.flush()

    def write_chunk(self, index: int, batch: pa.RecordBatch) -> None:
        """Write chunk ``index``'s part file atomically and mark it done."""
        meta = {**self.metadata, "store": self.request, "chunk": index}
        schema = SCHEMA.with_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True)})
        table = pa.Table.from_batches([batch], schema=schema)
        with files.kept():
            files.write_atomic(
                self.path / part_name(index),
                lambda tmp: pq.write_table(table, tmp, compression="snappy"),
            )
        self.done.add(index)
        self.runs[-1]["computed"] += 1
        if time.monotonic() - self._last_flush >= FLUSH_EVERY_S:
            self.flush()

    def finish(self) -> None:
        """Record the end of the run (when every chunk is done) and write the manifest."""
        if len(self.done) == self.plan.n_chunks:
            self.runs[-1]["finished_utc"] = _now()
        self.flush()

    def flush(self) -> None:
        """Rewrite the manifest (atomically) with each chunk's status."""
        chunks = []
        for i in range(self.plan.n_chunks):
            start, stop = self.plan.bounds(i)
            chunks.append(
                {
                    "index": i,
                    "start": start,
                    "stop": stop,
                    "file": part_name(i),
                    "status": "done" if i in self.done else "missing",
                }
            )
        manifest = {
            "format": FORMAT,
            **self.request,
            "n_chunks": self.plan.n_chunks,
            "complete": len(self.done) == self.plan.n_chunks,
            "metadata": self.metadata,
            "runs": self.runs,
            "chunks": chunks,
        }
        text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        with files.kept():
            files.write_text_atomic(self.path / MANIFEST, text)
        self._last_flush = time.monotonic()

    # ------------------------------------------------------------------ reading

    def read_chunk(self, index: int) -> pa.Table:
        """The rows of a finished chunk, coded as :data:`SCHEMA` codes them."""
        return canonical(pq.read_table(self.path / part_name(index)))


def _part_is_whole(path: Path, plan: ChunkPlan, request: dict[str, Any], index: int) -> bool:
    """Whether chunk ``index``'s part file is there, of this request, with all its rows."""
    file = path / part_name(index)
    if not file.is_file():
        return False
    try:
        meta = pq.read_metadata(file)
        stored = json.loads((meta.metadata or {})[METADATA_KEY])
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return False
    start, stop = plan.bounds(index)
    return bool(
        meta.num_rows == stop - start
        and stored.get("store") == request
        and stored.get("chunk") == index
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_store(path: str | Path) -> pa.Table:
    """Every row of a complete store, in patient order.

    Raises
    ------
    RemnantInputError
        Field ``store``: no manifest, or chunks still missing (resume the run first).
    """
    root = Path(path)
    manifest = read_manifest(root)
    if manifest is None:
        raise RemnantInputError(
            "store", "a remnant store (a directory with manifest.json)", str(path)
        )
    missing = [c["index"] for c in manifest["chunks"] if not (root / c["file"]).is_file()]
    if missing:
        raise RemnantInputError(
            "store", "a complete store", str(path), detail=f"{len(missing)} chunks missing"
        )
    tables = [canonical(pq.read_table(root / c["file"])) for c in manifest["chunks"]]
    return pa.concat_tables(tables)
