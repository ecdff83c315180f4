"""Shared test settings: hypothesis without deadlines (compiled code loads on first call)."""

from hypothesis import settings

settings.register_profile("remnant", deadline=None, derandomize=True, max_examples=50)
settings.load_profile("remnant")

pytest_plugins = ["reliability_report"]  # the door tests' tally as docs/reliability.md
