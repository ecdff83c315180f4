"""Turning a raw table into a :class:`~remnant.data.cohort.Cohort`: outcome checks, unit
conversion, missing values and one-hot encoding. Shared by the bundled cohorts and user files.

Every check raises :class:`~remnant.errors.RemnantInputError`; row numbers in messages are
1-based data rows (the first row after a CSV header is row 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NoReturn

import numpy as np
import pandas as pd

from remnant.data.cohort import (
    CAUSE_GROUPS,
    DEATH_FIRST_COL,
    EVENT_COL,
    TIME_COL,
    Cohort,
    Provenance,
)
from remnant.errors import RemnantInputError
from remnant.model.units import DAYS_PER_YEAR

# Days per unit; a month is a twelfth of a Julian year, so months and years agree.
TIME_UNITS: dict[str, float] = {
    "days": 1.0,
    "months": DAYS_PER_YEAR / 12.0,
    "years": DAYS_PER_YEAR,
}
MISSING_OPTIONS = ("drop", "impute")
_MAX_ROWS_SHOWN = 5
# Longest plausible follow-up: a century after surgery. Longer times are a wrong time unit,
# an overflow or a sentinel code (such as 1e300 or 99999999), never a patient's follow-up.
MAX_FOLLOW_UP_DAYS = 100 * DAYS_PER_YEAR
# Largest plausible covariate magnitude in its own unit: cell densities, marker levels and
# sizes stay far below; beyond it a value is a sentinel code or an overflow.
MAX_ABS_COVARIATE = 1e9
# Fewest events a model is fitted to: with fewer, no covariate effect (and no fold of a
# cross-validation) is estimable, and the fit would report an answer the data cannot give.
MIN_EVENTS_TO_FIT = 10
# Fewest patients a model is scored on: a C-index or a Brier score of fewer says nothing.
MIN_PATIENTS_TO_SCORE = 10


def check_choice(field: str, value: str, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming the choices."""
    if value not in allowed:
        raise RemnantInputError(field, "one of " + ", ".join(allowed), value)
    return value


def rows_text(mask: np.ndarray) -> str:
    """'rows 3, 7, 9' for the first few True positions of ``mask`` (1-based)."""
    rows = np.flatnonzero(mask) + 1
    shown = ", ".join(str(r) for r in rows[:_MAX_ROWS_SHOWN])
    more = f" and {len(rows) - _MAX_ROWS_SHOWN} more" if len(rows) > _MAX_ROWS_SHOWN else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}{more}"


def _plain(value: object) -> object:
    """A numpy scalar as the Python value, so messages read 2 rather than np.int64(2)."""
    return value.item() if isinstance(value, np.generic) else value


def refuse_rows(field: str, allowed: str, values: np.ndarray, bad: np.ndarray) -> NoReturn:
    """Raise naming ``field``, the first bad value of ``values`` and the rows where ``bad``."""
    first = _plain(np.asarray(values, dtype=object)[np.flatnonzero(bad)[0]])
    raise RemnantInputError(field, allowed, first, detail=rows_text(bad))


def parse_times(values: pd.Series, column: str, unit: str = "days") -> np.ndarray:
    """Follow-up times converted to days.

    Parameters
    ----------
    values
        Raw times, one per patient.
    column
        Column name, for messages.
    unit
        ``"days"``, ``"months"`` or ``"years"``.

    Returns
    -------
    numpy.ndarray
        Times in days (float).
    """
    factor = TIME_UNITS[check_choice("time_unit", unit, tuple(TIME_UNITS))]
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    field = f"time column {column!r}"
    bad = ~np.isfinite(numbers)
    if bad.any():
        allowed = "numbers (missing values are not allowed in the outcome)"
        refuse_rows(field, allowed, values.to_numpy(), bad)
    if (numbers < 0).any():
        refuse_rows(field, "non-negative times", numbers, numbers < 0)
    days = numbers * factor
    if (days > MAX_FOLLOW_UP_DAYS).any():
        allowed = f"follow-up times of at most 100 years (in {unit}; is the time unit right?)"
        refuse_rows(field, allowed, numbers, days > MAX_FOLLOW_UP_DAYS)
    return days


def parse_events(
    values: pd.Series, column: str, require_event: bool = True, what: str = "event"
) -> np.ndarray:
    """Event indicators as 0/1 integers; anything else (including missing) is an error, and
    so is a column without a 1 when ``require_event``."""
    if values.dtype == bool:
        numbers = values.to_numpy(dtype=float)
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(numbers, (0.0, 1.0))
    if bad.any():
        refuse_rows(
            f"{what} column {column!r}", "0 (censored) or 1 (event)", values.to_numpy(), bad
        )
    events = numbers.astype(int)
    if require_event and events.sum() == 0:
        raise RemnantInputError(
            f"event column {column!r}", "at least one event (a 1)", "no events", detail=None
        )
    return events


def check_covariates(
    frame: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str] = ()
) -> None:
    """Every covariate is numeric and finite, or categorical; raise naming the first bad cell.

    A column is categorical when declared in ``categorical`` or when it holds no number at
    all; a column of numbers with a stray word is an error, not a new set of dummy columns.
    Missing cells are left to :func:`handle_missing`.

    Raises
    ------
    RemnantInputError
        Duplicate column names, a text cell in a numeric column, a non-finite or implausibly
        large number (``|x|`` above :data:`MAX_ABS_COVARIATE`).
    """
    names = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise RemnantInputError(
            "columns", "distinct column names", ", ".join(duplicated), detail="duplicated"
        )
    unknown = [c for c in categorical if c not in columns]
    if unknown:
        raise RemnantInputError("categorical_cols", "covariates that are used", ", ".join(unknown))
    for col in columns:
        if col in categorical:
            continue
        series = frame[col]
        if pd.api.types.is_bool_dtype(series):
            continue
        present = series.notna().to_numpy()
        if pd.api.types.is_numeric_dtype(series):
            numbers = series.to_numpy(dtype=float)
        else:
            numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            text = present & np.isnan(numbers)
            if not (present & ~text).any():
                continue  # no number at all: a categorical column
            if text.any():
                allowed = "numbers throughout (or declare the column categorical)"
                refuse_rows(f"covariate {col!r}", allowed, series.to_numpy(), text)
        bad = present & ~(np.abs(np.nan_to_num(numbers, nan=0.0)) <= MAX_ABS_COVARIATE)
        if bad.any():
            allowed = f"finite numbers of magnitude at most {MAX_ABS_COVARIATE:g}"
            refuse_rows(f"covariate {col!r}", allowed, numbers, bad)


def check_fittable(n_events: int, field: str = "data", minimum: int = MIN_EVENTS_TO_FIT) -> None:
    """Raise unless a cohort has at least ``minimum`` events to fit a model to."""
    if n_events < minimum:
        raise RemnantInputError(
            field,
            f"a cohort with at least {minimum} events to fit a model",
            f"{n_events} event" + ("" if n_events == 1 else "s"),
        )


def check_scorable(n_patients: int, n_events: int, field: str = "test") -> None:
    """Raise unless a cohort has :data:`MIN_PATIENTS_TO_SCORE` patients and an event."""
    if n_patients < MIN_PATIENTS_TO_SCORE or n_events < 1:
        raise RemnantInputError(
            field,
            f"a cohort of at least {MIN_PATIENTS_TO_SCORE} patients with an event to score a "
            "model on",
            f"{n_patients} patients, {n_events} events",
        )


def handle_missing(
    frame: pd.DataFrame, columns: Sequence[str], how: str
) -> tuple[pd.DataFrame, int, int]:
    """Drop or fill rows with missing values in ``columns``.

    Parameters
    ----------
    frame
        The table; only ``columns`` are inspected.
    columns
        The covariates that will be used.
    how
        ``"drop"``: remove incomplete rows; ``"impute"``: fill numbers with the median and
        other values with the most frequent value.

    Returns
    -------
    (frame, n_dropped, n_imputed)
        The cleaned table (index reset), rows removed, cells filled.
    """
    check_choice("missing", how, MISSING_OPTIONS)
    cols = list(columns)
    empty = [c for c in cols if frame[c].isna().all()]
    if empty:
        raise RemnantInputError(
            "covariates", "columns with at least one value", ", ".join(empty), detail="all missing"
        )
    incomplete = frame[cols].isna()
    if how == "drop":
        keep = ~incomplete.any(axis=1)
        return frame.loc[keep].reset_index(drop=True), int((~keep).sum()), 0
    filled = frame.copy()
    for col in cols:
        if not incomplete[col].any():
            continue
        if pd.api.types.is_numeric_dtype(filled[col]) and not pd.api.types.is_bool_dtype(
            filled[col]
        ):
            filled[col] = filled[col].fillna(filled[col].median())
        else:
            filled[col] = filled[col].fillna(filled[col].mode(dropna=True).iloc[0])
    return filled.reset_index(drop=True), 0, int(incomplete.to_numpy().sum())


def encode_categoricals(
    frame: pd.DataFrame, groups: Mapping[str, Sequence[str]], categorical: Sequence[str] = ()
) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """One-hot encode non-numeric covariates and those in ``categorical``, dropping the first
    (sorted) level.

    A column ``c`` with levels ``a < b < d`` becomes ``c_b`` and ``c_d`` (0/1), in the same
    cause group; booleans become 0/1.

    Returns
    -------
    (frame, groups)
        The encoded table and the cause groups with the new column names.
    """
    out = frame.copy()
    new_groups: dict[str, tuple[str, ...]] = {}
    for group, cols in groups.items():
        names: list[str] = []
        for col in cols:
            series = out[col]
            if col not in categorical and pd.api.types.is_bool_dtype(series):
                out[col] = series.astype(int)
                names.append(col)
                continue
            if col not in categorical and pd.api.types.is_numeric_dtype(series):
                names.append(col)
                continue
            dummies = pd.get_dummies(
                series.astype(str), prefix=col, prefix_sep="_", drop_first=True, dtype=int
            )
            clash = [d for d in dummies.columns if d in out.columns]
            if clash:
                raise RemnantInputError(
                    f"covariate {col!r}",
                    "one-hot column names that are not already in the data",
                    ", ".join(clash),
                )
            at = out.columns.get_loc(col)
            out = out.drop(columns=[col])
            for offset, name in enumerate(dummies.columns):
                out.insert(int(at) + offset, name, dummies[name].to_numpy())  # type: ignore[arg-type]
            names.extend(dummies.columns)
        new_groups[group] = tuple(names)
    return out, new_groups


def assemble_cohort(
    name: str,
    raw: pd.DataFrame,
    *,
    time_days: np.ndarray,
    event: np.ndarray,
    groups: Mapping[str, Sequence[str]],
    endpoint: str,
    provenance: Provenance,
    missing: str = "drop",
    death_first: np.ndarray | None = None,
    categorical: Sequence[str] = (),
) -> Cohort:
    """Build a :class:`Cohort` from covariates in ``raw`` and an already checked outcome.

    Parameters
    ----------
    name
        Cohort name.
    raw
        Table holding at least the covariates listed in ``groups`` (any dtype).
    time_days, event
        Checked outcome, aligned with the rows of ``raw`` (days; 0/1).
    groups
        Cause group name (``stage``, ``removal``, ``immune``, ``other``) -> column names.
    endpoint, provenance
        Stored on the cohort.
    missing
        ``"drop"`` or ``"impute"`` (see :func:`handle_missing`).
    death_first
        Optional 0/1 per row: the event was a death without a recurrence before it.
    categorical
        Covariates to one-hot encode even when they hold numbers (see
        :func:`check_covariates`).
    """
    unknown = [g for g in groups if g not in CAUSE_GROUPS]
    if unknown:
        raise ValueError(f"unknown cause groups {unknown}")
    covariates = [c for g in CAUSE_GROUPS for c in groups.get(g, ())]
    check_covariates(raw, covariates, categorical)
    table = raw.loc[:, covariates].reset_index(drop=True).copy()
    table.insert(0, EVENT_COL, np.asarray(event, dtype=int))
    table.insert(0, TIME_COL, np.asarray(time_days, dtype=float))
    if death_first is not None:
        table.insert(2, DEATH_FIRST_COL, np.asarray(death_first, dtype=int))
    table, n_dropped, n_imputed = handle_missing(table, covariates, missing)
    if len(table) == 0:
        raise RemnantInputError(
            "missing", "some rows complete in the used covariates", "drop", detail="none left"
        )
    if int(table[EVENT_COL].sum()) == 0:
        raise RemnantInputError("event", "at least one event among the complete rows", "no events")
    table, encoded = encode_categoricals(
        table, {g: groups.get(g, ()) for g in CAUSE_GROUPS}, categorical
    )
    return Cohort(
        name=name,
        frame=table,
        stage_cols=encoded["stage"],
        removal_cols=encoded["removal"],
        immune_cols=encoded["immune"],
        other_cols=encoded["other"],
        endpoint=endpoint,
        provenance=provenance,
        n_dropped=n_dropped,
        n_imputed=n_imputed,
    )
