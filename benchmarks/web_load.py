"""Load test of the calculator: N concurrent clients for T seconds against ``remnant serve``.

    .venv/bin/python benchmarks/web_load.py [--clients 20] [--seconds 60] [--patients new]
        [--drain 60] [--json result.json]

Starts ``remnant serve`` on a free port of 127.0.0.1 (:func:`remnant.web.local.serving`),
sends one request per cancer first so that both models and their kernel tables are loaded
(not timed: the cold start is benchmarks/web.py's), then runs ``--clients`` asyncio clients
(httpx), each sending ``POST /api/v1/predict`` one after the other for ``--seconds``. With
``--patients new`` each request asks for a patient not asked before (every answer is
computed); with ``repeat`` all ask for the warm-up's patient (every answer comes from the
server's memory). After ``--seconds`` no request is started; those in flight get
``--drain`` more seconds, and any still unanswered then is cut (counted apart from the
errors). Then the server is stopped.

Prints the requests answered, errors, cut, requests/s and the latency's p50, p95 and max, and
the server's CPU seconds per answered request (from ``/proc``: what the answers cost,
whatever else the machine runs meanwhile) and the share of the machine's CPU time its host
took (steal: on a virtual machine, cores given to other guests; Linux only); ``--json``
writes the same. Traffic
goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PREDICT = "/api/v1/predict"
WARM_PATIENT: dict[str, Any] = {"cancer": "colon", "stage": "II", "margin": "R0", "immune": "low"}


def new_patients(seed: int = 0) -> Iterator[dict[str, Any]]:
    """Patients each asked for once: cancer, stage, margin and immune category drawn at random
    (the same sequence for a ``seed``), and an age that makes each of them new."""
    rng = random.Random(seed)
    for k in itertools.count():
        yield {
            "cancer": rng.choice(("colon", "breast")),
            "stage": rng.choice(("I", "II", "III")),
            "margin": rng.choice(("R0", "R1", "R2")),
            "immune": rng.choice(("low", "intermediate", "high")),
            "age": 40.0 + 0.01 * k,  # distinct for each request
        }


@dataclass
class Tally:
    """What the clients saw."""

    latencies: list[float] = field(default_factory=list)  # seconds, answered with 200
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count
    cut: int = 0  # still in flight when the drain ended

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def quantile(xs: list[float], q: float) -> float | None:
    """The ``q`` quantile of ``xs`` (None for no data)."""
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[round(100 * q) - 1]


async def _client(
    http: httpx.AsyncClient,
    patients: Iterator[dict[str, Any]],
    stop_at: float,
    tally: Tally,
) -> None:
    while time.monotonic() < stop_at:
        body = next(patients)
        start = time.perf_counter()
        try:
            r = await http.post(PREDICT, json=body)
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
            continue
        if r.status_code == 200:
            tally.latencies.append(time.perf_counter() - start)
        else:
            tally.error(f"HTTP {r.status_code}")


async def run_load(
    url: str, clients: int, seconds: float, patients: str, drain: float
) -> dict[str, Any]:
    """Run the clients against ``url``; the result as a dict (see the module docstring)."""
    source = new_patients() if patients == "new" else itertools.repeat(WARM_PATIENT)
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    timeout = httpx.Timeout(seconds + drain + 10.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as http:
        start = time.monotonic()
        stop_at = start + seconds
        tasks = [asyncio.create_task(_client(http, source, stop_at, tally)) for _ in range(clients)]
        done, pending = await asyncio.wait(tasks, timeout=seconds + drain)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        tally.cut = len(pending)
        elapsed = time.monotonic() - start
    lat = sorted(tally.latencies)
    return {
        "clients": clients,
        "seconds": seconds,
        "drain": drain,
        "patients": patients,
        "elapsed_s": elapsed,
        "answered": len(lat),
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "cut": tally.cut,
        "requests_per_s": len(lat) / elapsed if elapsed > 0 else 0.0,
        "p50_s": quantile(lat, 0.50),
        "p95_s": quantile(lat, 0.95),
        "max_s": lat[-1] if lat else None,
    }


def server_cpu_seconds() -> float | None:
    """CPU seconds (user + system) used so far by this process's children (the server), from
    ``/proc``; None where there is no ``/proc``."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for pid in filter(str.isdigit, entries):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after the command's name
        if int(fields[1]) == os.getpid():  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (``/proc/stat``: user, nice, system, idle, iowait,
    irq, softirq, steal), or None where there is no ``/proc``."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    return [int(x) for x in first[1:9]]


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """The share of the machine's CPU time taken by its host between two :func:`cpu_times`
    (steal: a virtual machine's cores given to others), or None."""
    if before is None or after is None:
        return None
    used = [b - a for a, b in zip(before, after, strict=True)]
    return used[7] / sum(used) if sum(used) > 0 else None


def _seconds(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    """Start the server, warm it, run the load, stop the server, print (and write) the result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--patients", choices=("new", "repeat"), default="new")
    ap.add_argument("--drain", type=float, default=60.0, help="seconds for requests in flight")
    ap.add_argument("--json", type=Path, default=None, help="write the result here")
    args = ap.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.drain < 0:
        ap.error("--clients >= 1, --seconds > 0, --drain >= 0")
    from remnant.web.local import serving

    with serving() as url:
        warm = time.perf_counter()
        for cancer in ("breast", "colon"):  # both models loaded; the colon one is the repeat's
            body = {**WARM_PATIENT, "cancer": cancer}
            httpx.post(f"{url}{PREDICT}", json=body, timeout=300.0).raise_for_status()
        warm_s = time.perf_counter() - warm
        cpu0, machine0 = server_cpu_seconds(), cpu_times()
        result = asyncio.run(run_load(url, args.clients, args.seconds, args.patients, args.drain))
        cpu1, machine1 = server_cpu_seconds(), cpu_times()
    result["steal_share"] = steal_share(machine0, machine1)
    result["warmup_s"] = warm_s
    result["server_cpu_s_per_request"] = (
        (cpu1 - cpu0) / result["answered"]
        if cpu0 is not None and cpu1 is not None and result["answered"]
        else None
    )
    print(
        f"{result['clients']} clients, {result['seconds']:g} s (+{result['drain']:g} s drain), "
        f"patients {result['patients']}; warm-up request {warm_s:.1f} s"
    )
    print(
        f"answered {result['answered']}, errors {result['errors']} {result['error_kinds'] or ''}"
        f", cut {result['cut']}, {result['requests_per_s']:.2f} requests/s over "
        f"{result['elapsed_s']:.1f} s"
    )
    print(
        f"latency p50 {_seconds(result['p50_s'])} s, p95 {_seconds(result['p95_s'])} s, "
        f"max {_seconds(result['max_s'])} s; server CPU "
        f"{_seconds(result['server_cpu_s_per_request'])} s per request; the host took "
        + ("-" if result["steal_share"] is None else f"{100 * result['steal_share']:.0f}%")
        + " of the machine's CPU time (steal)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
