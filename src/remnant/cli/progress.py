"""Signs of life on stderr for the long commands: a transient rich bar or spinner, shown only
on a terminal and never with ``--no-progress``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Update(Protocol):
    def __call__(self, label: str, done: int | None = None, total: int | None = None) -> None:
        """Show ``label`` and, when known, ``done`` out of ``total`` steps."""


@contextmanager
def progress(title: str, *, enabled: bool = True) -> Iterator[Update]:
    """A context giving ``update(label, done=None, total=None)``; a no-op when disabled or
    when stderr is not a terminal (pipelines and logs stay clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    show = enabled and sys.stderr.isatty()
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show,
        transient=True,
    )
    with bar:
        task = bar.add_task(f"{title}: starting", total=None)

        def update(label: str, done: int | None = None, total: int | None = None) -> None:
            kwargs: dict[str, object] = {"description": f"{title}: {label}"}
            if done is not None:
                kwargs["completed"] = done
            if total is not None:
                kwargs["total"] = total
            bar.update(task, **kwargs)  # type: ignore[arg-type]

        yield update
