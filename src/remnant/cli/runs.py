"""``remnant runs list|show|query``: the stored runs and sweeps under a root directory, and
DuckDB SQL over their Parquet files (views ``runs``, ``points``, ``summaries``, ``design``,
``patients``; docs/sweeps.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_ROOT = "remnant-runs"  # remnant.sweep.runs.DEFAULT_ROOT, without importing pandas

runs_app = typer.Typer(
    name="runs",
    help="List, show and query (DuckDB SQL) the stored runs and sweeps under a root directory.",
    no_args_is_help=True,
)

ROOT_OPTION = typer.Option(
    Path(DEFAULT_ROOT), "--root", help="Directory holding the runs (one directory each)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def print_frame(frame: pd.DataFrame, title: str | None = None) -> None:
    """Print ``frame`` as a rich table (numbers to 6 significant digits)."""
    from rich.console import Console
    from rich.table import Table

    from remnant.sweep.runs import records

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(
            str(column), justify="right" if frame[column].dtype.kind in "iuf" else "left"
        )
    for row in records(frame):
        table.add_row(*(_cell(v) for v in row.values()))
    Console(width=max(120, 18 * len(frame.columns))).print(table)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (NaN as null)."""
    typer.echo(json.dumps(value, indent=1, default=str))


@runs_app.command("list")
def list_command(root: Path = ROOT_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the runs (sweeps, sensitivity runs, simulation stores) under --root."""
    from remnant.sweep.runs import list_runs, records

    frame = list_runs(root)
    if as_json:
        print_json(records(frame))
        return
    print_frame(frame.drop(columns=["path"]), title=f"runs under {root}")


@runs_app.command("show")
def show_command(
    run: str = typer.Argument(..., metavar="ID", help="The run's id (its directory's name)."),
    root: Path = ROOT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one run: its kind, progress, and what was asked (the manifest)."""
    from rich.console import Console

    from remnant.sweep.runs import show_run

    shown = show_run(root, run)
    if as_json:
        print_json(shown)
        return
    console = Console()
    for key, value in shown.items():
        if key != "manifest":
            console.print(f"{key}: {_cell(value)}")
    manifest = shown["manifest"]
    sweep = manifest.get("sweep")
    if sweep:
        console.print(
            f"design {sweep['design']}, seeds {sweep['seeds']}, {sweep['patients']:,} patients "
            f"per point, horizon {sweep['horizon_years']:g} years"
        )
        import pandas as pd

        print_frame(pd.DataFrame(sweep["parameters"]), title="parameters")
    for entry in manifest.get("runs", []):
        console.print(
            f"run on {entry.get('backend')}: started {entry.get('started_utc')}, reused "
            f"{entry.get('reused')}, computed {entry.get('computed')}, finished "
            f"{entry.get('finished_utc') or '-'}"
        )


@runs_app.command("query")
def query_command(
    sql: str = typer.Argument(..., metavar="SQL", help="DuckDB SQL over the views."),
    root: Path = ROOT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run DuckDB SQL over the stored runs: views runs, points, summaries, design, patients."""
    from remnant.sweep.runs import query, records

    frame = query(sql, root)
    if as_json:
        print_json(records(frame))
        return
    print_frame(frame)


def register(app: typer.Typer) -> None:
    """Add ``runs`` (list, show, query) to the application."""
    app.add_typer(runs_app, name="runs")
