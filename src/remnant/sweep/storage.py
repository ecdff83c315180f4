"""A sweep's directory: its design, its finished points (Parquet) and a manifest.

Layout::

    DIR/manifest.json          format, the sweep as asked (every parameter, the base scenario),
                               its sha256, the version, points done, one entry per run
    DIR/design.parquet         one row per point: point, row, seed and the parameter values
    DIR/points-00000.parquet   summary rows of finished points (several points per file)
    DIR/points-00001.parquet   ...

Files are written with :func:`remnant.files.write_atomic` and kept when a run fails or is
interrupted, so a file that exists is whole. Finished points are written at most about a
second after they finish, and at the end (or interruption) of the run; on resume the points
in the ``points-*.parquet`` files are done and only the others are computed.

Read with DuckDB: ``SELECT * FROM 'DIR/points-*.parquet'``, or ``remnant runs query``.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from remnant import files
from remnant.errors import RemnantInputError

FORMAT = "remnant-sweep/1"
MANIFEST = "manifest.json"
DESIGN_FILE = "design.parquet"
POINTS_GLOB = "points-*.parquet"
FLUSH_EVERY_S = 1.0  # seconds between writes of finished points while a run goes on
_STALE = re.compile(r"^\.(points-\d+\.parquet|design\.parquet|manifest\.json)\..*\.tmp$")
_PART = re.compile(r"^points-(\d+)\.parquet$")

# What a directory must match to be resumed, with what sets it.
RESUME_FIELDS = {"sweep_sha256": "the sweep file", "remnant_version": "remnant version"}


def points_name(index: int) -> str:
    """File name of the ``index``-th file of finished points: ``points-00000.parquet``."""
    return f"points-{index:05d}.parquet"


def read_sweep_manifest(path: str | Path) -> dict[str, Any] | None:
    """The manifest of the sweep directory ``path``, or None when it has none (or another
    format's)."""
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def point_files(path: Path) -> list[Path]:
    """The files of finished points in ``path``, in order."""
    if not path.is_dir():
        return []
    return sorted(path / n for n in os.listdir(path) if _PART.match(n))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SweepStore:
    """An open sweep directory: which points are done, and how to add finished ones.

    Use :meth:`open` (checks before any work), :meth:`start`, :meth:`add` per finished point,
    and :meth:`finish` (also after an error: it writes what was finished).
    """

    path: Path
    header: dict[str, Any]
    design: pd.DataFrame
    done: set[int]
    runs: list[dict[str, Any]]
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _next_file: int = 0
    _last_write: float = 0.0

    @classmethod
    def open(
        cls, path: Path, header: dict[str, Any], design: pd.DataFrame, *, resume: bool
    ) -> SweepStore:
        """Check ``path`` for this sweep and open it; nothing is written yet.

        Parameters
        ----------
        header : dict
            What the manifest records: ``sweep`` (the spec), ``sweep_sha256``,
            ``remnant_version`` and any other provenance.
        design : pandas.DataFrame
            One row per point (``point``, ``row``, ``seed``, parameter columns).

        Raises
        ------
        RemnantInputError
            Field ``run``: not a directory; a non-empty directory without ``resume``; on
            resume, no sweep manifest, or one of another sweep or version.
        """
        if path.exists() and not path.is_dir():
            raise RemnantInputError("run", "a directory", str(path), detail="is a file")
        entries = [n for n in os.listdir(path) if not n.startswith(".")] if path.is_dir() else []
        if entries and not resume:
            raise RemnantInputError(
                "run",
                "a new or empty run directory (or --resume to continue the sweep in it)",
                str(path),
                detail=f"it holds {len(entries)} entries; a run is never overwritten",
            )
        done: set[int] = set()
        runs: list[dict[str, Any]] = []
        next_file = 0
        if entries:
            manifest = read_sweep_manifest(path)
            if manifest is None:
                raise RemnantInputError("run", "a sweep directory to resume", str(path))
            for key, what in RESUME_FIELDS.items():
                if manifest.get(key) != header[key]:
                    raise RemnantInputError(
                        "run",
                        "a sweep of the same request to resume",
                        str(path),
                        detail=f"{key} differs ({what}): the directory has "
                        f"{manifest.get(key)!r}, this run asks for {header[key]!r}",
                    )
            runs = list(manifest.get("runs", []))
            parts = point_files(path)
            for part in parts:
                done.update(pq.read_table(part, columns=["point"]).column(0).to_pylist())
            if parts:
                match = _PART.match(parts[-1].name)
                assert match is not None
                next_file = int(match.group(1)) + 1
        return cls(path, header, design, done, runs, _next_file=next_file)

    @property
    def n_points(self) -> int:
        return len(self.design)

    def finished(self) -> int:
        """Points done, on disk or waiting to be written."""
        return len(self.done) + len(self._pending)

    def missing(self) -> list[int]:
        """Points still to compute, in order."""
        return [int(p) for p in self.design["point"] if int(p) not in self.done]

    def start(self, backend: str) -> None:
        """Create the directory, remove stale temporary files, write the design and manifest."""
        files.make_dir(self.path)
        stale = [n for n in os.listdir(self.path) if _STALE.match(n)]
        for name in stale:
            (self.path / name).unlink(missing_ok=True)
        entry = dict.fromkeys(("computed", "finished_utc"))
        self.runs.append(entry | {"backend": backend, "started_utc": _now(), "computed": 0})
        entry = self.runs[-1]
        entry["reused"] = len(self.done)
        with files.kept():
            if not (self.path / DESIGN_FILE).is_file():
                table = pa.Table.from_pandas(self.design, preserve_index=False)
                files.write_atomic(self.path / DESIGN_FILE, lambda p: pq.write_table(table, p))
        self._write_manifest()

    def add(self, row: dict[str, Any]) -> None:
        """Record a finished point's row; written with others at most ~1 s later."""
        self._pending.append(row)
        if time.monotonic() - self._last_write >= FLUSH_EVERY_S:
            self.write_pending()

    def write_pending(self) -> None:
        """Write the finished points not yet on disk to a new file, and the manifest."""
        if self._pending:
            frame = pd.DataFrame(self._pending).sort_values("point", kind="stable")
            table = pa.Table.from_pandas(frame, preserve_index=False)
            target = self.path / points_name(self._next_file)
            with files.kept():
                files.write_atomic(target, lambda p: pq.write_table(table, p))
            self._next_file += 1
            self.done.update(int(p) for p in frame["point"])
            self.runs[-1]["computed"] += len(frame)
            self._pending.clear()
        self._write_manifest()

    def finish(self) -> None:
        """Write what is finished; record the end of the run when every point is done."""
        self.write_pending()
        if len(self.done) == self.n_points:
            self.runs[-1]["finished_utc"] = _now()
            self._write_manifest()

    def _write_manifest(self) -> None:
        manifest = {
            "format": FORMAT,
            **self.header,
            "n_points": self.n_points,
            "points_done": len(self.done),
            "complete": len(self.done) == self.n_points,
            "runs": self.runs,
        }
        text = json.dumps(manifest, indent=1, sort_keys=True, default=_json_default) + "\n"
        with files.kept():
            files.write_text_atomic(self.path / MANIFEST, text)
        self._last_write = time.monotonic()

    def read_points(self) -> pd.DataFrame:
        """Every finished point's row, in point order."""
        return read_points(self.path)


def read_points(path: str | Path) -> pd.DataFrame:
    """The finished points of the sweep directory ``path``, one row each, in point order."""
    parts = point_files(Path(path))
    if not parts:
        return pd.DataFrame()
    frame = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    return frame.sort_values("point", kind="stable").reset_index(drop=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)
