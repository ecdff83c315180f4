"""Engine benchmark: patients per second and peak memory, end to end as a user runs it.

    .venv/bin/python benchmarks/engine.py [--sizes 1e5,1e6,1e7] [--reference-patients 300]
        [--skip-cli]

Each size runs ``remnant simulate --preset colon-stage3 --patients N --seed 1
--horizon-years 15 --no-progress --out x.parquet`` in a fresh process (compile cache warm),
timing the wall clock and reading the child's peak resident memory. The first-run compile time
is measured on its own with an empty numba cache. The speed ratio against the event-by-event
reference is measured in one process, both at a reduced detection size (1e6 cells, switch 1e5)
where the reference finishes. Results print as a table; docs/performance.md records them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REDUCED_DETECTION = 1e6  # cells; the reference needs ~1e6 events per recurrence here
REMNANT = str(Path(sys.executable).with_name("remnant"))


def run_cli(n: int, out: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one ``remnant simulate`` process."""
    cmd = [
        REMNANT,
        "simulate",
        "--preset",
        "colon-stage3",
        "--patients",
        str(n),
        "--seed",
        "1",
        "--horizon-years",
        "15",
        "--no-progress",
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"benchmark run failed: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return wall, usage.ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def compile_time(tmp: Path) -> float:
    """Seconds for a 1-patient run with an empty numba cache, minus the same with it warm."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp / "numba-cache"))
    cold, _ = run_cli(1, tmp / "cold.parquet", env)
    warm, _ = run_cli(1, tmp / "warm.parquet", env)
    return cold - warm


def reference_ratio(n_ref: int, n_engine: int) -> tuple[float, float, float]:
    """Patients/s of the reference and of the engine at a reduced detection size, and the ratio."""
    import remnant
    from remnant.checks.reference import simulate_reference

    mech = remnant.Mechanism(
        detection_cells_local=REDUCED_DETECTION,
        detection_cells_distant=REDUCED_DETECTION,
        visible_cells_at_surgery=REDUCED_DETECTION,
        switch_cells=1e5,
    )
    patient = remnant.Patient.from_stage("colon", "III")
    scenario = remnant.Scenario.single(patient, mech)
    horizon = 15.0
    simulate_reference(patient, mech, 10, seed=0, horizon_days=horizon * 365.25)  # compile
    remnant.simulate(scenario, 10, seed=0, horizon_years=horizon)
    t0 = time.perf_counter()
    simulate_reference(patient, mech, n_ref, seed=1, horizon_days=horizon * 365.25)
    ref = n_ref / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    remnant.simulate(scenario, n_engine, seed=1, horizon_years=horizon, workers=1)
    eng = n_engine / (time.perf_counter() - t0)
    return ref, eng, eng / ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6,1e7")
    parser.add_argument("--reference-patients", type=int, default=300)
    parser.add_argument("--skip-cli", action="store_true", help="only the reference ratio")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    console = Console()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.skip_cli:
            sizes = []
        ct = compile_time(tmp) if sizes else float("nan")
        run_cli(1000, tmp / "warmup.parquet")  # make sure the real cache is warm
        table = Table(title="remnant simulate --preset colon-stage3, 15-year horizon, 2 cores")
        for col in ("patients", "wall s", "patients/s", "peak RSS GiB"):
            table.add_column(col, justify="right")
        for n in sizes:
            wall, rss = run_cli(n, tmp / "x.parquet")
            table.add_row(f"{n:,}", f"{wall:.2f}", f"{n / wall:,.0f}", f"{rss:.2f}")
        console.print(table)
        console.print(f"first-run compile time (empty numba cache): {ct:.1f} s")
    ref, eng, ratio = reference_ratio(args.reference_patients, 200_000)
    console.print(
        "reduced detection size (M = 1e6 cells, switch 1e5), colon-stage3, one thread: "
        f"reference {ref:,.1f} patients/s, engine {eng:,.0f} patients/s, ratio {ratio:,.0f}"
    )


if __name__ == "__main__":
    main()
