"""``remnant anchors``: the model at its defaults against the published figures (anchors.md).

Prints the anchor table, and with ``--out`` writes it as a page (docs/anchors.md) whose
figures go to ``--figures``. Heavy imports (numpy, pandas, the engine, matplotlib) happen
inside the command, so that ``remnant --help`` stays fast.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import typer

from remnant.errors import RemnantInputError
from remnant.files import check_output_dir, check_output_file, check_planned_files

MAX_PATIENTS = 100_000_000


def _parse_only(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise RemnantInputError("--only", "a comma-separated list of anchor ids", text)
    return names


def anchors_command(
    patients: int = typer.Option(
        200_000, "--patients", help="Virtual patients per setting (cohort)."
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the table as a markdown page (e.g. docs/anchors.md)."
    ),
    figures: Path | None = typer.Option(
        None, "--figures", help="Directory for one PNG per anchor (e.g. docs/anchors)."
    ),
    only: str | None = typer.Option(
        None, "--only", help="Comma-separated anchor ids (or figure names, or prefix*)."
    ),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Run every anchor of anchors.md the model can speak to; print pass or miss."""
    if isinstance(patients, bool) or not 1 <= patients <= MAX_PATIENTS:
        raise RemnantInputError("--patients", f"a whole number in [1, {MAX_PATIENTS}]", patients)
    if seed < 0 or seed > 2**63 - 1:
        raise RemnantInputError("--seed", "a whole number >= 0", seed)
    names = _parse_only(only)
    from remnant.anchors.definitions import select

    try:
        chosen = select(names)
    except RemnantInputError as exc:
        raise exc.with_field("--only") from None
    if out is not None:
        check_output_file("--out", out, suffix=".md")
    if figures is not None:
        check_output_dir("--figures", figures)
        from remnant.anchors.page import figure_names

        planned = [figures / f for f in figure_names(chosen)]
        if out is not None and any(p.resolve() == out.resolve() for p in planned):
            raise RemnantInputError("--figures", "a directory not holding --out", str(figures))
        check_planned_files("--figures", planned)

    from rich.console import Console

    from remnant.anchors.run import measure_anchors, results_table
    from remnant.cli.progress import progress

    started = time.perf_counter()
    with progress("anchors", enabled=not no_progress) as update:
        results = measure_anchors(
            patients,
            seed,
            only=[a.id for a in chosen] if names is not None else None,
            progress=lambda label, done, total: update(label, done, total),
        )
    seconds = time.perf_counter() - started
    table = results_table(results, with_not_expressible=names is None)
    console = Console()
    if not console.is_terminal:  # a log or a pipe: wide enough for the ids
        console = Console(width=160)
    _print_table(console, table, patients, seed)

    if figures is not None:
        from remnant.anchors.page import write_figures
        from remnant.files import make_dir

        make_dir(figures)
        written = write_figures(results, figures)
        console.print(f"wrote {len(written)} figures to {figures}")
    if out is not None:
        from remnant.anchors.page import relative_dir, render_page
        from remnant.files import write_text_atomic

        parts = ["remnant", "anchors", "--patients", str(patients), "--seed", str(seed)]
        parts += ["--out", str(out)]
        if figures is not None:
            parts += ["--figures", str(figures)]
        if names is not None:
            parts += ["--only", ",".join(names)]
        parts.append("--no-progress")
        page = render_page(
            results,
            table,
            n_patients=patients,
            seed=seed,
            command=shlex.join(parts),
            figures_dir=None if figures is None else relative_dir(figures, out),
            seconds=seconds,
        )
        write_text_atomic(out, page)
        console.print(f"wrote {out}")


def _print_table(console: object, table: object, patients: int, seed: int) -> None:
    from rich.table import Table

    from remnant.anchors.page import fmt, fmt_interval

    t = Table(title=f"anchors: {patients:,} patients per setting, seed {seed}")
    for col, justify in (
        ("id", "left"),  # never cut: the ids are what --only takes
        ("published", "right"),
        ("interval", "right"),
        ("model", "right"),
        ("95% MC", "right"),
        ("verdict", "left"),
    ):
        t.add_column(col, justify=justify, no_wrap=col == "id")  # type: ignore[arg-type]
    skipped = 0
    for _, row in table.iterrows():  # type: ignore[attr-defined]
        if row["verdict"] == "not expressible":
            skipped += 1
            continue
        unit = str(row["unit"])
        verdict = "[green]pass[/]" if row["verdict"] == "pass" else "[red]miss[/]"
        if row["borderline"]:
            verdict += " (borderline)"
        published = str(row["published_text"])
        if row["verified"] != "yes" and "unverified" not in published:
            published += " (unverified)"
        t.add_row(
            str(row["id"]),
            published,
            fmt_interval(row["low"], row["high"], unit),
            fmt(row["model"], unit),
            fmt_interval(row["mc_low"], row["mc_high"], unit),
            verdict,
        )
    console.print(t)  # type: ignore[attr-defined]
    measured = table[table["verdict"] != "not expressible"]  # type: ignore[index]
    n_pass = int((measured["verdict"] == "pass").sum())
    console.print(  # type: ignore[attr-defined]
        f"{n_pass} pass, {len(measured) - n_pass} miss of {len(measured)}; "
        f"{skipped} figures not expressible (see docs/anchors.md)"
    )


def register(app: typer.Typer) -> None:
    """Add ``anchors`` to the application."""
    app.command("anchors")(anchors_command)
