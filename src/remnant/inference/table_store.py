"""Kernel tables kept on disk between processes, so that a new process does not tabulate again.

A kernel table (:mod:`remnant.inference.tables`) takes seconds to build and depends only on its
arguments and on the code that computes it, so the first process to build one writes each of
its grades to a cache directory and later processes read them back: the same float64 values,
bit for bit, in a fraction of a second (docs/performance.md, "The calculator").

The directory is ``$REMNANT_CACHE_DIR`` if set (``off`` or an empty value: no disk cache),
else ``$XDG_CACHE_HOME/remnant/tables``, else ``~/.cache/remnant/tables``. An entry's name is
a digest of the table's arguments and of the source of the modules that compute it, so a
changed model or code never reads a stale table. At most :data:`MAX_STORED_TABLES` entries
are kept (the least recently used go first). Every failure to read or write the cache is
silent: the table is then built as if there were no cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from remnant.files import umask

if TYPE_CHECKING:
    from remnant.inference.tables import KernelTable

CACHE_ENV = "REMNANT_CACHE_DIR"
DISABLED = ("", "off", "none", "0")
# entries of one grade each, about 50 MB per 25 years of table: twelve are the two cancers'
# shipped models (five grades) and two fits of the user's own
MAX_STORED_TABLES = 12
# the modules whose code decides a table's values (besides its arguments, in the key)
SOURCES = (
    "likelihood",
    "model",
    "inference/tables.py",
    "inference/table_layout.py",
    "inference/table_store.py",
)
_META = "table.json"
_VALUES = "values.npy"
_WEIGHTS = "weights.npy"


def cache_dir() -> Path | None:
    """The directory of stored tables, or None when the disk cache is switched off."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.strip().lower() in DISABLED else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "remnant" / "tables"


@functools.cache
def source_digest() -> str:
    """SHA-256 of the source files that compute a table (:data:`SOURCES`)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for name in SOURCES:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def entry_name(key: tuple[object, ...]) -> str:
    """The directory name of the table of ``key`` (the arguments of ``build_table``, one
    grade)."""
    text = json.dumps([source_digest(), *key], default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load(key: tuple[object, ...]) -> KernelTable | None:
    """The stored table of ``key``, or None (not stored, unreadable or the cache is off)."""
    from remnant.inference.tables import KernelTable

    root = cache_dir()
    if root is None:
        return None
    entry = root / entry_name(key)
    try:
        meta = json.loads((entry / _META).read_text())
        values = np.load(entry / _VALUES, allow_pickle=False)
        weights = np.load(entry / _WEIGHTS, allow_pickle=False)
        table = KernelTable(
            cancer=str(meta["cancer"]),
            grades=tuple(int(g) for g in meta["grades"]),
            log2_i0=np.asarray(meta["log2_i0"], dtype=np.float64),
            dt=float(meta["dt"]),
            weights=weights,
            values=values,
            m_local=float(meta["m_local"]),
            sub_rows=int(meta["sub_rows"]),
            grade_rows=tuple(int(n) for n in meta.get("grade_rows", ())),
        )
        if values.dtype != np.float64 or values.shape[:2] != (
            len(table.grades),
            table.log2_i0.shape[0],
        ):
            return None
        os.utime(entry)  # recently used: pruned last
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return table


@contextlib.contextmanager
def building(key: tuple[object, ...]) -> Iterator[None]:
    """Held while tables of ``key`` are tabulated: another process that needs one of them
    meanwhile waits (an advisory lock on a file of the temporary directory), then reads it from the
    store instead of tabulating it beside the first. Without a store, or when the lock cannot
    be taken, nothing is held."""
    root = cache_dir()
    handle = None
    if root is not None:
        try:
            # in the temporary directory, not beside the entries: the lock is of this
            # machine's processes, and leaves nothing in the store
            name = hashlib.sha256(f"{root.resolve()}/{entry_name(key)}".encode()).hexdigest()
            lock = Path(tempfile.gettempdir()) / f"remnant-table-{name[:32]}.lock"
            handle = open(lock, "a")  # noqa: SIM115
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            if handle is not None:
                handle.close()
            handle = None
    try:
        yield
    finally:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def save(key: tuple[object, ...], table: KernelTable) -> None:
    """Store ``table`` under ``key``: written whole in a temporary directory, then renamed."""
    root = cache_dir()
    if root is None:
        return
    entry = root / entry_name(key)
    try:
        root.mkdir(parents=True, exist_ok=True)
        if entry.exists():
            return
        tmp = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=root))
        try:
            np.save(tmp / _VALUES, table.values, allow_pickle=False)
            np.save(tmp / _WEIGHTS, table.weights, allow_pickle=False)
            meta = {
                "cancer": table.cancer,
                "grades": list(table.grades),
                "log2_i0": [float(x) for x in table.log2_i0],
                "dt": table.dt,
                "m_local": table.m_local,
                "sub_rows": table.sub_rows,
                "grade_rows": list(table.grade_rows),
            }
            (tmp / _META).write_text(json.dumps(meta))
            os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it owner-only
            os.rename(tmp, entry)  # another process may have stored it meanwhile: keep theirs
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(root)
    except OSError:
        return


def _prune(root: Path) -> None:
    entries = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_STORED_TABLES:]:
        shutil.rmtree(old, ignore_errors=True)
