"""The calculator's answer time: one patient explained cold (a fresh server) and warm.

    .venv/bin/python benchmarks/web.py [--warm 18] [--json result.json]

For each cancer, a fresh ``remnant serve`` on a free port of 127.0.0.1
(:func:`remnant.web.local.serving`), then, one request after another:

* start: from the command to the first answer of ``GET /api/v1/health``;
* cold: the first ``POST /api/v1/predict`` of the process (imports, the default model, its
  kernel table, the explanation), twice: with an empty table store (the first process on a
  machine tabulates the kernels and stores them) and then, in a second fresh server, with the
  table stored (every later process; :mod:`remnant.inference.table_store`);
* warm, new patient: ``--warm`` more patients not asked before (each explanation computed;
  stages, margins and immune categories in turn), the median and the slowest;
* warm, repeated patient: the cold request's patient again, 20 times (from the server's
  memory), the median;
* page, new patient: ``GET /`` with a patient not asked before (the same explanation, as HTML).

Times are wall seconds measured by the client; the machine is shared, so its load average is
printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

PREDICT = "/api/v1/predict"
PATIENTS: dict[str, dict[str, Any]] = {
    "colon": {"cancer": "colon", "stage": "III", "margin": "R1", "immune": "low", "age": 60.0},
    "breast": {"cancer": "breast", "stage": "II", "margin": "R0", "immune": "low", "age": 60.0},
}
REPEATS = 20
TIMEOUT = 600.0


def _timed(http: httpx.Client, method: str, path: str, **kwargs: Any) -> float:
    start = time.perf_counter()
    r = http.request(method, path, **kwargs)
    r.raise_for_status()
    return time.perf_counter() - start


def _variants(patient: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` patients of the cancer of ``patient``, none asked before."""
    stages, margins = ("I", "II", "III"), ("R0", "R1", "R2")
    immune = ("low", "intermediate", "high")
    return [
        {
            **patient,
            "stage": stages[k % 3],
            "margin": margins[(k // 3) % 3],
            "immune": immune[(k // 9) % 3],
            "age": patient["age"] + 1 + k,
        }
        for k in range(n)
    ]


def one_cancer(cancer: str, warm: int) -> dict[str, Any]:
    """The rows of two fresh servers' runs for ``cancer`` (see the module docstring)."""
    import tempfile

    from remnant.inference.table_store import CACHE_ENV
    from remnant.web.local import serving

    patient = PATIENTS[cancer]
    saved = os.environ.get(CACHE_ENV)
    try:
        with tempfile.TemporaryDirectory() as store:
            os.environ[CACHE_ENV] = store
            with serving() as url, httpx.Client(base_url=url, timeout=TIMEOUT) as http:
                cold_empty = _timed(http, "POST", PREDICT, json=patient)
            started = time.perf_counter()
            with serving() as url, httpx.Client(base_url=url, timeout=TIMEOUT) as http:
                start_s = time.perf_counter() - started
                cold = _timed(http, "POST", PREDICT, json=patient)
                new = [_timed(http, "POST", PREDICT, json=p) for p in _variants(patient, warm)]
                repeated = [_timed(http, "POST", PREDICT, json=patient) for _ in range(REPEATS)]
                page = _timed(http, "GET", "/", params={**patient, "age": patient["age"] - 1})
    finally:
        if saved is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = saved
    return {
        "cancer": cancer,
        "start_s": start_s,
        "cold_empty_store_s": cold_empty,
        "cold_s": cold,
        "warm_new_median_s": statistics.median(new) if new else None,
        "warm_new_max_s": max(new) if new else None,
        "warm_repeated_median_s": statistics.median(repeated),
        "page_new_s": page,
        "load_average": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    """Time both cancers; print a table (and write the JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warm", type=int, default=18, help="new patients timed warm")
    ap.add_argument("--cancers", default="colon,breast")
    ap.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = ap.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    rows = [one_cancer(c.strip(), args.warm) for c in args.cancers.split(",")]
    table = Table(title="remnant serve: seconds per request (client's wall clock)")
    columns = {
        "start_s": "start",
        "cold_empty_store_s": "cold, empty store",
        "cold_s": "cold (1st predict)",
        "warm_new_median_s": "warm, new patient (median)",
        "warm_new_max_s": "warm, new (max)",
        "warm_repeated_median_s": "warm, repeated",
        "page_new_s": "page, new patient",
        "load_average": "load avg",
    }
    table.add_column("cancer")
    for title in columns.values():
        table.add_column(title, justify="right")
    for row in rows:
        cells = ["-" if row[k] is None else f"{row[k]:.3f}" for k in columns]
        table.add_row(row["cancer"], *cells)
    Console(width=140).print(table)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
