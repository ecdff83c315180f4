"""Reading a user's own cohort from a .csv or .parquet file.

The file has one row per patient, a follow-up time column, a 0/1 event column and covariate
columns assigned to cause groups by the caller. Covariates that hold no number at all, or
are declared categorical, are one-hot encoded (first sorted level dropped). See
docs/data.md, section "Your own data".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from remnant.data.cohort import EVENT_COL, TIME_COL, Cohort, Provenance
from remnant.data.preparation import (
    MISSING_OPTIONS,
    TIME_UNITS,
    assemble_cohort,
    check_choice,
    parse_events,
    parse_times,
)
from remnant.errors import RemnantInputError

FILE_EXTENSIONS = (".csv", ".parquet")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv or .parquet file into a DataFrame, turning every failure into one error."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in FILE_EXTENSIONS:
        raise RemnantInputError("file", "a file ending in " + " or ".join(FILE_EXTENSIONS), str(p))
    if not p.is_file():
        raise RemnantInputError("file", "an existing, readable file", str(p), detail="not found")
    try:
        if suffix == ".csv":
            table = pd.read_csv(p)
            names = _raw_header(p)
        else:
            import pyarrow.parquet as pq

            names = [str(c) for c in pq.read_schema(p).names]
            table = pd.read_parquet(p)
    except Exception as exc:  # noqa: BLE001 - parsers raise many types; all mean "unreadable"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RemnantInputError(
            "file", f"a readable {suffix} file", str(p), detail=reason[:200]
        ) from None
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise RemnantInputError(
            "file",
            "distinct column names",
            str(p),
            detail="duplicated: " + ", ".join(duplicated)[:200],
        )
    return table


def _raw_header(path: Path) -> list[str]:
    # pandas renames a repeated header ("a", "a.1"); the first line as written is the truth.
    import csv

    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        return next(csv.reader(handle), [])


def load_file(
    path: str | Path,
    time_col: str,
    event_col: str,
    time_unit: str = "days",
    stage_cols: Sequence[str] = (),
    removal_cols: Sequence[str] = (),
    immune_cols: Sequence[str] = (),
    other_cols: Sequence[str] = (),
    missing: str = "drop",
    *,
    endpoint: str | None = None,
    death_col: str | None = None,
    categorical_cols: Sequence[str] = (),
) -> Cohort:
    """Load a user cohort from a .csv or .parquet file.

    Parameters
    ----------
    path
        The file.
    time_col
        Follow-up time from surgery to the event or censoring, non-negative.
    event_col
        1 = event (e.g. recurrence), 0 = censored.
    time_unit
        Unit of ``time_col``: ``"days"``, ``"months"`` (365.25/12 days) or ``"years"``
        (365.25 days). Times are stored in days.
    stage_cols, removal_cols, immune_cols, other_cols
        Covariates by cause group. Columns not listed are ignored.
    missing
        ``"drop"`` (default): drop rows with a missing covariate, counted in
        ``Cohort.n_dropped``; ``"impute"``: median for numbers, most frequent value otherwise.
        Missing times or events are always an error.
    endpoint
        Sentence stored as ``Cohort.endpoint``; a generic one is written if omitted.
    death_col
        Optional 0/1 column: 1 where the event was a death without a recurrence before it
        (an endpoint of recurrence or death). The fit then gives those deaths their own hazard
        (needs an ``age`` covariate, years).
    categorical_cols
        Covariates to one-hot encode even when they hold numbers. Any other covariate is
        categorical only when it holds no number at all; a number column with a stray word,
        a non-finite or an implausibly large value is an error naming the column and row.

    Returns
    -------
    Cohort

    Raises
    ------
    RemnantInputError
        Unreadable file, unknown extension, missing column, bad times or events, no events,
        unknown time unit or missing option.
    """
    check_choice("time_unit", time_unit, tuple(TIME_UNITS))
    check_choice("missing", missing, MISSING_OPTIONS)
    groups = {
        "stage": tuple(stage_cols),
        "removal": tuple(removal_cols),
        "immune": tuple(immune_cols),
        "other": tuple(other_cols),
    }
    covariates = [c for cols in groups.values() for c in cols]
    repeated = sorted({c for c in covariates if covariates.count(c) > 1})
    if repeated:
        raise RemnantInputError(
            "covariates", "each column in one cause group only", ", ".join(repeated)
        )
    outcome = [time_col, event_col, TIME_COL, EVENT_COL] + ([death_col] if death_col else [])
    reserved = [c for c in covariates if c in outcome]
    if reserved:
        raise RemnantInputError(
            "covariates",
            f"columns other than the outcome ({', '.join(outcome)})",
            ", ".join(reserved),
        )

    table = read_table(path)
    columns = [str(c) for c in table.columns]
    table.columns = pd.Index(columns)
    named = [("time_col", time_col), ("event_col", event_col)]
    if death_col:
        named.append(("death_col", death_col))
    for flag, col in named:
        if col not in columns:
            raise RemnantInputError(
                flag, f"a column of {Path(path).name}", col, detail=_columns_text(columns)
            )
    absent = [c for c in covariates if c not in columns]
    if absent:
        raise RemnantInputError(
            "covariates",
            f"columns of {Path(path).name}",
            ", ".join(absent),
            detail=_columns_text(columns),
        )
    if len(table) == 0:
        raise RemnantInputError("file", "at least one data row", str(path), detail="empty")

    time_days = parse_times(table[time_col], time_col, time_unit)
    event = parse_events(table[event_col], event_col)
    death_first = None
    if death_col:
        death_first = parse_events(table[death_col], death_col, require_event=False, what="death")
        if (death_first > event).any():
            raise RemnantInputError(
                "death_col", f"1 only on rows where {event_col} is 1", death_col
            )
        if "age" not in covariates:
            # the hazard of death without recurrence is a law of attained age
            raise RemnantInputError("death_col", "an 'age' covariate (years) beside it", death_col)
    return assemble_cohort(
        Path(path).stem,
        table,
        time_days=time_days,
        event=event,
        groups=groups,
        endpoint=endpoint
        or f"event = 1 where {event_col} == 1; time = {time_col} in {time_unit}, stored in days.",
        provenance=Provenance(
            source=f"file: {Path(path).resolve()}",
            notes=f"time column {time_col} ({time_unit}), event column {event_col}",
        ),
        missing=missing,
        death_first=death_first,
        categorical=tuple(categorical_cols),
    )


def _columns_text(columns: Sequence[str]) -> str:
    shown = ", ".join(columns[:20])
    return "columns: " + shown + (" ..." if len(columns) > 20 else "")
