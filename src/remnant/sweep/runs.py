"""The stored runs under a root directory: listed, shown, and queried with DuckDB.

A run is a directory directly under the root holding a ``manifest.json``: a sweep
(:mod:`remnant.sweep.storage`, kinds ``sweep`` and ``sensitivity``) or a simulation store
(``remnant simulate --store``, :mod:`remnant.engine.store`, kind ``simulation``). Its id is the
directory's name.

:func:`query` runs SQL over these views (each with a ``run`` column, the run's id):

- ``runs``: one row per run (the columns of :func:`list_runs`);
- ``points``: one row per finished sweep point: ``point``, ``row``, ``seed``, the parameters,
  the statistics (:data:`remnant.sweep.summary.STAT_COLUMNS`);
- ``design``: one row per planned sweep point, finished or not;
- ``summaries``: one row per design row of a sweep, its seeds pooled: the mean of each
  estimate over the seeds, with the error ``sqrt(sum se^2) / seeds``;
- ``patients``: the rows of the simulation stores (one per virtual patient).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from remnant.errors import RemnantInputError
from remnant.sweep.storage import DESIGN_FILE, MANIFEST, point_files, read_sweep_manifest
from remnant.sweep.summary import COUNTS, ESTIMATES, STAT_COLUMNS

DEFAULT_ROOT = Path("remnant-runs")
STORE_FORMAT = "remnant-store/1"  # remnant.engine.store.FORMAT, without importing the engine
POINT_KEYS = ("run", "point", "row", "seed")
LIST_COLUMNS = (
    "run",
    "kind",
    "complete",
    "done",
    "total",
    "unit",
    "patients",
    "scenario",
    "design",
    "started_utc",
    "path",
)


def _manifest(path: Path) -> dict[str, Any] | None:
    """A run directory's manifest (sweep or store), or None."""
    sweep = read_sweep_manifest(path)
    if sweep is not None:
        return sweep
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == STORE_FORMAT else None


def _summary(run: str, path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    runs = manifest.get("runs") or [{}]
    started = runs[0].get("started_utc")
    if manifest.get("format") == STORE_FORMAT:
        chunks = manifest.get("chunks", [])
        return {
            "run": run,
            "kind": "simulation",
            "complete": bool(manifest.get("complete")),
            "done": sum(1 for c in chunks if c.get("status") == "done"),
            "total": manifest.get("n_chunks"),
            "unit": "chunks",
            "patients": manifest.get("n_patients"),
            "scenario": manifest.get("metadata", {}).get("scenario", {}).get("name"),
            "design": None,
            "started_utc": started,
            "path": str(path),
        }
    sweep = manifest.get("sweep", {})
    return {
        "run": run,
        "kind": manifest.get("kind", "sweep"),
        "complete": bool(manifest.get("complete")),
        "done": manifest.get("points_done"),
        "total": manifest.get("n_points"),
        "unit": "points",
        "patients": sweep.get("patients"),
        "scenario": sweep.get("base", {}).get("name"),
        "design": sweep.get("design"),
        "started_utc": started,
        "path": str(path),
    }


def check_root(root: str | Path) -> Path:
    """The root directory of the runs, which must exist."""
    path = Path(root)
    if not path.is_dir():
        raise RemnantInputError("--root", "an existing directory of runs", str(root))
    return path


def list_runs(root: str | Path = DEFAULT_ROOT) -> pd.DataFrame:
    """One row per run under ``root`` (columns :data:`LIST_COLUMNS`), by id."""
    base = check_root(root)
    rows = []
    for path in sorted(p for p in base.iterdir() if p.is_dir()):
        manifest = _manifest(path)
        if manifest is not None:
            rows.append(_summary(path.name, path, manifest))
    return pd.DataFrame(rows, columns=list(LIST_COLUMNS))


def show_run(root: str | Path, run: str) -> dict[str, Any]:
    """A run's manifest (a store's per-chunk list replaced by its counts).

    Raises
    ------
    RemnantInputError
        Field ``ID``: no run of that id under ``root``.
    """
    path = check_root(root) / run
    manifest = _manifest(path) if path.is_dir() and run not in ("", ".", "..") else None
    if manifest is None:
        known = ", ".join(list_runs(root)["run"]) or "none"
        raise RemnantInputError("ID", f"the id of a run under {root} ({known})", run)
    shown = {k: v for k, v in manifest.items() if k != "chunks"}
    return {"run": run, **_summary(run, path, manifest), "manifest": shown}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select(run: str, source: str) -> str:
    """SQL of the rows of Parquet ``source`` (read_parquet's arguments) with a ``run`` column."""
    return f"SELECT {_quote(run)} AS run, * FROM read_parquet({source})"


def _union(selects: list[str]) -> str:
    return " UNION ALL BY NAME ".join(selects)


def connect(root: str | Path = DEFAULT_ROOT) -> Any:
    """An in-memory DuckDB connection with the views of the module docstring."""
    import duckdb

    listing = list_runs(root)
    con = duckdb.connect()
    con.register("runs_listing", listing)
    con.execute("CREATE VIEW runs AS SELECT * FROM runs_listing")
    points, designs, patients = [], [], []
    for run, kind, path in listing[["run", "kind", "path"]].itertuples(index=False):
        where = Path(path)
        if kind == "simulation":
            if any(where.glob("part-*.parquet")):
                patients.append(_select(run, _quote(str(where / "part-*.parquet"))))
            continue
        if (where / DESIGN_FILE).is_file():
            designs.append(_select(run, _quote(str(where / DESIGN_FILE))))
        parts = point_files(where)
        if parts:
            files = "[" + ", ".join(_quote(str(p)) for p in parts) + "]"
            points.append(_select(run, f"{files}, union_by_name = true"))
    keys = "NULL::VARCHAR AS run, NULL::BIGINT AS point, NULL::BIGINT AS row, NULL::BIGINT AS seed"
    stats = ", ".join(f"NULL::DOUBLE AS {c}" for c in STAT_COLUMNS)
    empty_points = f"SELECT {keys}, {stats} WHERE false"
    con.execute("CREATE VIEW points AS " + (_union(points) if points else empty_points))
    con.execute(
        "CREATE VIEW design AS " + (_union(designs) if designs else f"SELECT {keys} WHERE false")
    )
    if patients:
        con.execute("CREATE VIEW patients AS " + _union(patients))
    con.execute("CREATE VIEW summaries AS " + _summaries_sql(con))
    return con


def _summaries_sql(con: Any) -> str:
    """The ``summaries`` view: ``points`` grouped by run and design row, seeds pooled."""
    columns = [r[0] for r in con.execute("DESCRIBE points").fetchall()]
    parameters = [c for c in columns if c not in POINT_KEYS and c not in STAT_COLUMNS]
    parts = ["run", "row", "count(*) AS seeds"]
    parts += [f'any_value("{c}") AS "{c}"' for c in parameters]
    parts += [f"sum({c})::BIGINT AS {c}" for c in COUNTS]
    for e in ESTIMATES:
        parts.append(f"avg({e}) AS {e}")
        parts.append(f"sqrt(sum({e}_se * {e}_se)) / count(*) AS {e}_se")
    return f"SELECT {', '.join(parts)} FROM points GROUP BY run, row ORDER BY run, row"


def query(sql: str, root: str | Path = DEFAULT_ROOT) -> pd.DataFrame:
    """The result of DuckDB ``sql`` over the runs under ``root`` (views of the module
    docstring).

    Raises
    ------
    RemnantInputError
        Field ``SQL``: DuckDB could not run the query (its message, first line).
    """
    import duckdb

    if not isinstance(sql, str) or not sql.strip():
        raise RemnantInputError("SQL", "a DuckDB query, e.g. SELECT * FROM points", sql)
    con = connect(root)
    try:
        listed = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal")
        views = [r[0] for r in listed.fetchall() if r[0] != "runs_listing"]
        try:
            return con.execute(sql).fetchdf()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RemnantInputError(
                "SQL",
                "a DuckDB query over the views " + ", ".join(sorted(views)),
                sql,
                detail=first[:300],
            ) from None
    finally:
        con.close()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame``'s rows as JSON-ready dicts (NaN as None, numpy scalars as Python's)."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif value is pd.NaT or value is pd.NA:
                value = None
            clean[str(key)] = value
        out.append(clean)
    return out
