"""``remnant serve`` in a child process on a free port of this machine, for a script or a test.

:func:`serving` starts the server on ``127.0.0.1`` and an unused port, waits until
``GET /api/v1/health`` answers, yields the base URL and stops the server when the block ends
(SIGINT, uvicorn's graceful stop; killed if it has not stopped in a few seconds). The browser
test, the screenshots and the calculator's benchmarks use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"
# Seconds for the server to answer its health check (imports and startup: about 2 s here).
START_TIMEOUT = 60.0
# Seconds for a graceful stop before the server is killed.
STOP_TIMEOUT = 10.0


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def remnant_command() -> list[str]:
    """The ``remnant`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("remnant")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("remnant")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from remnant.cli import main; sys.exit(main())"]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2.0) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serving(
    host: str = LOOPBACK, port: int | None = None, timeout: float = START_TIMEOUT
) -> Iterator[str]:
    """Run ``remnant serve`` for the block and yield its base URL (``http://host:port``).

    Raises
    ------
    RuntimeError
        The server exited, or did not answer within ``timeout`` seconds (its log is in the
        message).
    """
    port = free_port(host) if port is None else port
    url = f"http://{host}:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [*remnant_command(), "serve", "--host", host, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode("utf-8", "replace")[-2000:]
                    raise RuntimeError(f"remnant serve did not start on {url}:\n{tail}")
                time.sleep(0.1)
            yield url
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
