"""CPU and wall seconds per explanation of a new patient, in one process (no server).

    .venv/bin/python benchmarks/explain.py [--patients 40]

For each cancer, the shipped model and its kernel tables are loaded and four patients
explained first (not timed: imports, tables, compiled code), then ``--patients`` new ones
(stages I-III, margins R0/R1/R2 and immune categories in turn, each a new age): the mean wall
seconds and CPU seconds (all threads of the process) per explanation. CPU seconds are what an
answer costs whatever else the machine runs; the calculator's throughput is the cores it gets
divided by them.
"""

from __future__ import annotations

import argparse
import sys
import time

WARM_UP = 4


def patient_fields(cancer: str, k: int) -> dict[str, object]:
    """The ``k``-th patient of ``cancer`` (stage, margin and immune category in turn)."""
    return {
        "cancer": cancer,
        "stage": ("I", "II", "III")[k % 3],
        "margin": ("R0", "R1", "R2")[(k // 3) % 3],
        "immune": ("low", "intermediate", "high")[(k // 9) % 3],
        "age": 40.0 + k,
    }


def per_explanation(cancer: str, n: int) -> tuple[float, float]:
    """Mean wall and CPU seconds of ``n`` explanations of new patients of ``cancer``."""
    from remnant.explanation.explain import explain
    from remnant.explanation.fields import patient_from_fields

    def one(k: int) -> None:
        explain(patient_from_fields(patient_fields(cancer, k)).patient)

    for k in range(WARM_UP):
        one(k)
    wall, cpu = time.perf_counter(), time.process_time()
    for k in range(WARM_UP, WARM_UP + n):
        one(k)
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=40)
    args = ap.parse_args(argv)
    if args.patients < 1:
        ap.error("--patients >= 1")
    for cancer in ("colon", "breast"):
        wall, cpu = per_explanation(cancer, args.patients)
        print(f"{cancer}: {wall:.4f} s wall, {cpu:.4f} s CPU per explanation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
