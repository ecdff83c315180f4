"""``remnant predict``: one patient's risk, the share of each cause, and the what-ifs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from remnant.cli.flags import named_as_flags, read_from
from remnant.cli.progress import progress
from remnant.errors import RemnantInputError
from remnant.explanation.fields import FIELD_FLAGS, PATIENT_FIELDS
from remnant.files import check_output_file, write_text_atomic

_HELP = (
    "Explain one patient: recurrence risk over 10 years with a band, the share of immunity, "
    "removal and stage in the excess risk, and what if the tumour had been found earlier, "
    "removed with a clear margin, or met stronger immunity. A research model, not medical advice."
)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _read_patient_row(path: Path, row: int | None) -> dict[str, Any]:
    import pandas as pd

    if row is None:
        raise RemnantInputError("--row", "the row of the cohort file to explain (0-based)", None)
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise RemnantInputError(
            "--patient",
            "a readable .csv/.parquet file",
            str(path),
            detail=str(exc).splitlines()[0] if str(exc) else None,
        ) from None
    if not 0 <= row < len(frame):
        raise RemnantInputError("--row", f"a row number in [0, {len(frame) - 1}]", row)
    record = frame.iloc[row]
    out = {k: record[k] for k in PATIENT_FIELDS if k in frame.columns and pd.notna(record[k])}
    for keys, kind in ((("nodes", "grade"), int), (("size_mm", "age"), float)):
        for k in keys:
            if k in out:
                try:
                    out[k] = kind(out[k])
                except (TypeError, ValueError, OverflowError):
                    raise RemnantInputError(
                        f"--patient: {k}",
                        "a number" if kind is float else "a whole number",
                        _plain(out[k]),
                        detail=f"row {row}",
                    ) from None
    return out


def _read_patient_file(path: Path, row: int | None = None) -> dict[str, Any]:
    if not path.is_file():
        raise RemnantInputError(
            "--patient", "an existing .toml, .json, .csv or .parquet file", str(path)
        )
    if path.suffix.lower() in (".csv", ".parquet"):
        return _read_patient_row(path, row)
    if row is not None:
        raise RemnantInputError("--row", "only with a .csv/.parquet --patient file", row)
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise RemnantInputError("--patient", "a .toml or .json file", str(path))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise RemnantInputError(
            "--patient", "a valid TOML/JSON file", str(path), detail=str(exc).splitlines()[0]
        ) from None
    if isinstance(data, dict) and "patient" in data and isinstance(data["patient"], dict):
        data = data["patient"]
    if not isinstance(data, dict):
        raise RemnantInputError("--patient", "a table of patient fields", type(data).__name__)
    unknown = sorted(set(data) - set(PATIENT_FIELDS))
    if unknown:
        raise RemnantInputError("--patient", "keys " + ", ".join(PATIENT_FIELDS), unknown[0])
    return data


EXPLAIN_FLAGS = {
    "earlier_months": "--earlier-months",
    "recurrence_free_years": "--recurrence-free-years",
    "draws": "--draws",
    "seed": "--seed",
    "fit": "--model",
}
# The flag that sets each patient field.
FLAG_OF_FIELD = FIELD_FLAGS


def predict_command(
    cancer: Annotated[str | None, typer.Option("--cancer", help="colon or breast.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="I, II or III.")] = None,
    size_mm: Annotated[float | None, typer.Option("--size-mm", help="Primary size (mm).")] = None,
    nodes: Annotated[int | None, typer.Option("--nodes", help="Positive lymph nodes.")] = None,
    grade: Annotated[int | None, typer.Option("--grade", help="Grade 1, 2 or 3.")] = None,
    margin: Annotated[str | None, typer.Option("--margin", help="R0, R1 or R2.")] = None,
    immune: Annotated[
        str | None,
        typer.Option(
            "--immune",
            help="Immunoscore: low, intermediate, high, IS0-IS4, a mean percentile (40%) "
            "or unknown.",
        ),
    ] = None,
    age: Annotated[float | None, typer.Option("--age", help="Age at surgery (years).")] = None,
    earlier_months: Annotated[
        float, typer.Option("--earlier-months", help="The 'found earlier' what-if (months).")
    ] = 6.0,
    recurrence_free_years: Annotated[
        float,
        typer.Option("--recurrence-free-years", help="Years already without recurrence."),
    ] = 0.0,
    patient_file: Annotated[
        Path | None,
        typer.Option(
            "--patient",
            help="Patient fields: a TOML/JSON file, or a CSV/Parquet cohort file with --row.",
        ),
    ] = None,
    row: Annotated[
        int | None, typer.Option("--row", help="Row of a --patient cohort file (0-based).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="A model JSON from remnant fit (mechanism).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the numbers here.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option(
            "--draws",
            help="Band by this many posterior draws (default: by the posterior's axes).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the posterior draws (with --draws).")
    ] = 0,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Do not show progress on stderr.")
    ] = False,
) -> None:
    """Explain one patient's recurrence risk."""
    from rich.console import Console
    from rich.table import Table

    from remnant.explanation.fields import FILLED_FROM_STAGE, patient_from_fields

    if row is not None and patient_file is None:
        raise RemnantInputError("--row", "only with --patient FILE", row)
    with read_from("--patient", patient_file):
        fields: dict[str, Any] = _read_patient_file(patient_file, row) if patient_file else {}
    flags = {
        "cancer": cancer,
        "stage": stage,
        "size_mm": size_mm,
        "nodes": nodes,
        "grade": grade,
        "margin": margin,
        "immune": immune,
        "age": age,
    }
    fields.update({k: v for k, v in flags.items() if v is not None})
    # A bad value is named by its flag when a flag gave it, else as a key of the --patient file.
    given_by = {
        k: (
            FLAG_OF_FIELD[k]
            if flags.get(k) is not None or patient_file is None
            else f"--patient: {k}"
        )
        for k in PATIENT_FIELDS
    }
    inputs = [("--patient", patient_file), ("--model", model)]
    if json_out is not None:
        check_output_file("--json", json_out, suffix=".json", inputs=inputs)
    if report is not None:
        check_output_file("--report", report, suffix=".html", inputs=inputs)
    if json_out is not None and report is not None and json_out == report:
        raise RemnantInputError("--report", "a path other than --json", str(report))
    if model is not None and not model.is_file():
        raise RemnantInputError("--model", "an existing model .json file", str(model))
    with named_as_flags(given_by):
        given = patient_from_fields(fields)
    patient = given.patient
    con = Console(highlight=False, width=max(Console().width, 100))
    con.print(given.sentence({k: FLAG_OF_FIELD[k] for k in FILLED_FROM_STAGE}))

    from remnant.explanation.explain import CAUSES, explain
    from remnant.inference.model import RemnantFit

    with read_from("--model", model):
        fitted = RemnantFit.load(model) if model is not None else None
    with progress("predict", enabled=not no_progress) as update:
        update("the curve, its 95% band, the shares of the causes and the what-ifs")
        with named_as_flags(EXPLAIN_FLAGS):
            e = explain(
                patient,
                fitted,
                earlier_months=earlier_months,
                recurrence_free_years=recurrence_free_years,
                draws=draws,
                seed=seed,
            )
    from remnant.explanation.report import out_of_100, sentences, write_html

    t = Table(title="risk of recurrence (out of 100)")
    for col in (
        "within",
        "this patient",
        "95% range",
        "earlier",
        "clear margin",
        "high immunity",
        "all three",
    ):
        t.add_column(col, justify="right")
    for h in e.risk:
        t.add_row(
            f"{h} y",
            str(out_of_100(e.risk[h])),
            f"{out_of_100(e.risk_lower[h])}-{out_of_100(e.risk_upper[h])}",
            *(str(out_of_100(cf["risk"][h])) for cf in e.counterfactuals.values()),
        )
    con.print(t)
    s = Table(title=f"share of the excess 5-year risk ({100 * e.excess_risk:.1f} points)")
    for col in ("cause", "share (points)", "95% interval"):
        s.add_column(col)
    for cause in CAUSES:
        lo, hi = e.share_intervals[cause]
        s.add_row(cause, f"{100 * e.shares[cause]:.1f}", f"{100 * lo:.1f} to {100 * hi:.1f}")
    con.print(s)
    for line in sentences(e):
        con.print(line)
    from remnant.explanation.explain import DISCLAIMER

    con.print(DISCLAIMER)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(e.to_dict(), indent=1) + "\n")
        con.print(f"wrote {json_out}")
    if report is not None:
        write_html(e, report)
        con.print(f"wrote {report}")


def register(app: typer.Typer) -> None:
    """Add the ``predict`` command to the application."""
    app.command("predict", help=_HELP)(predict_command)
