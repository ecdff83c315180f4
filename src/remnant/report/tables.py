"""Printed tables (rich) of simulation summaries."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from remnant.engine.summary import Summary


def print_summary(summary: Summary, title: str, console: Console | None = None) -> None:
    """Print cumulative recurrence by site and the shares by origin and immune phase."""
    console = console or Console()
    table = Table(title=title)
    table.add_column("years", justify="right")
    for col in ("local", "distant", "any"):
        table.add_column(f"{col} %", justify="right")
    table.add_column("± SE %", justify="right")
    rec = summary.recurrence_table()
    for years, row in rec.iterrows():
        table.add_row(
            f"{years:g}",
            f"{100 * row['local']:.2f}",
            f"{100 * row['distant']:.2f}",
            f"{100 * row['any']:.2f}",
            f"{100 * row['se_any']:.2f}",
        )
    console.print(table)
    shares = summary.shares()
    n_rec = summary.recurrences
    console.print(
        f"recurrences: {n_rec:,} of {summary.n:,}; "
        f"deaths from other causes first: {summary.deaths:,}"
    )
    for name, values in shares.items():
        parts = ", ".join(f"{k} {100 * v:.1f}%" for k, v in values.items())
        console.print(f"share by {name.replace('_', ' ')}: {parts}")
