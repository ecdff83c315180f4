"""Shared test settings: hypothesis without deadlines (compiled code loads on first call), and
the session's real calculator server."""

from collections.abc import Iterator

import pytest
from hypothesis import settings

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
