"""Every door holds under interrupts: the console script (.venv/bin/remnant) as a separate
process, stopped by SIGINT (Ctrl-C), SIGTERM and SIGKILL while it writes a large cohort.

SIGINT and SIGTERM must end it with exit code 130, one ``error:`` line, no traceback and
nothing left in the output's directory (neither the output nor a temporary file). After
SIGKILL nothing can be cleaned up, but the same command must then succeed in the same
directory. The three processes run at the same time (start-up is ~1.5-3 s each).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from doors import listing, record_external

REMNANT = Path(sys.executable).with_name("remnant")
MIN_WAIT = 3.0  # seconds after the start before the signal...
MAX_WAIT = 40.0  # ...once the temporary output is being written, at the latest after this
EXIT_WAIT = 20.0  # seconds the process has to exit after the signal
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def simulate_argv(patients: int) -> list[str]:
    return [
        str(REMNANT),
        "simulate",
        "--preset",
        "colon-stage2",
        "--patients",
        str(patients),
        "--seed",
        "1",
        "--out",
        "X.parquet",
        "--no-progress",
    ]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REMNANT_DEBUG", None)
    return env


@dataclass
class Run:
    directory: Path
    code: int | None
    stdout: str
    stderr: str
    waited: float  # seconds from the start to the signal
    writing: bool  # the temporary output existed when the signal was sent
    hung: bool  # still running EXIT_WAIT seconds after the signal (then killed)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One 20,000,000-patient simulation per signal, each signalled once it is writing."""
    assert REMNANT.exists(), f"no console script at {REMNANT}"
    # Compiled first: in a fresh clone the engine's kernels are compiled by the first run,
    # and an interrupt waits for the chunks already running, compiling included (tens of
    # seconds on a loaded machine); what is tested is an installation that has run once.
    warm = tmp_path_factory.mktemp("compile")
    subprocess.run(
        simulate_argv(1000), cwd=warm, capture_output=True, env=environment(), timeout=600
    )
    procs = {}
    for name in SIGNALS:
        directory = tmp_path_factory.mktemp(name.lower())
        proc = subprocess.Popen(
            simulate_argv(20_000_000),
            cwd=directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        procs[name] = (directory, proc, time.monotonic())
    sent: dict[str, tuple[float, bool]] = {}
    try:
        while len(sent) < len(procs):
            for name, (directory, proc, t0) in procs.items():
                if name in sent:
                    continue
                elapsed = time.monotonic() - t0
                writing = any(n.startswith(".") for n in os.listdir(directory))
                if (
                    proc.poll() is not None
                    or (elapsed >= MIN_WAIT and writing)
                    or (elapsed >= MAX_WAIT)
                ):
                    if proc.poll() is None:
                        proc.send_signal(SIGNALS[name])
                    sent[name] = (elapsed, writing)
            time.sleep(0.05)
        runs = {}
        for name, (directory, proc, _) in procs.items():
            hung = False
            try:
                out, err = proc.communicate(timeout=EXIT_WAIT)
            except subprocess.TimeoutExpired:
                hung = True
                proc.kill()
                out, err = proc.communicate()
            runs[name] = Run(directory, proc.returncode, out, err, *sent[name], hung)
        return runs
    finally:
        for _, proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_interrupt_leaves_nothing(name: str, interrupted: dict[str, Run]) -> None:
    run = interrupted[name]
    case = record_external(
        "simulate",
        f"{name} while writing 20,000,000 patients",
        code=None if run.hung else run.code,
        stdout=run.stdout,
        stderr=run.stderr,
        expect=130,
        directory=run.directory,
        before=set(),
    )
    if run.hung:
        case.problems.append(f"still running {EXIT_WAIT:g} s after {name}; killed")
    if not run.writing:
        case.problems.append(f"no temporary output {run.waited:.1f} s after the start")
    assert not case.problems, (case.problems, run.stderr[-2000:])


def test_rerun_after_sigkill(interrupted: dict[str, Run]) -> None:
    run = interrupted["SIGKILL"]
    assert run.code == -signal.SIGKILL, (run.code, run.stderr[-2000:])
    assert not (run.directory / "X.parquet").exists()
    before = listing(run.directory)  # a stale temporary file may stay: nothing could remove it
    proc = subprocess.run(
        simulate_argv(1000),
        cwd=run.directory,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
    )
    case = record_external(
        "simulate",
        "the same command after SIGKILL, in the same directory",
        code=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        expect=0,
        directory=run.directory,
        before=before,
        allowed_new={"X.parquet"},
    )
    if proc.returncode == 0:
        import pyarrow.parquet as pq

        rows = pq.read_metadata(run.directory / "X.parquet").num_rows
        if rows != 1000:
            case.problems.append(f"X.parquet has {rows} rows, not 1000")
    assert not case.problems, (case.problems, proc.stderr[-2000:])
