"""Shared test settings: one compiled-code cache per parallel test worker, hypothesis without
deadlines (compiled code loads on first call), and the session's real calculator server."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Parallel workers (pytest-xdist) compiling the same function for different argument types at
# once would write numba's cache index and data files over each other, and a later process
# could load machine code of another signature. Each worker, and the commands it starts,
# keeps its own cache; set before numba is first imported (pytest and hypothesis do not).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = str(
        Path(__file__).resolve().parents[1] / ".numba-cache" / _WORKER
    )

# Kernel tables stored by the suite stay in the checkout, not in the user's cache; every worker
# reads what another stored (remnant.inference.table_store).
os.environ.setdefault(
    "REMNANT_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".table-cache")
)

settings.register_profile("remnant", deadline=None, derandomize=True, max_examples=50)
settings.load_profile("remnant")

pytest_plugins = ["reliability_report"]  # the door tests' tally as docs/reliability.md


@pytest.fixture(scope="session")
def calculator() -> Iterator[str]:
    """``remnant serve`` with the real model on a free port of 127.0.0.1, for the session: its
    base URL (tests/test_web_browser.py, tests/test_web_schema.py)."""
    from remnant.web.local import serving

    with serving() as url:
        yield url
