"""Flags shared by the commands that read a cohort (``evaluate``, ``fit``): ``NAME|FILE``,
the file's columns and cause groups, the missing-value rule; and turning them into a cohort.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from remnant.errors import RemnantInputError

if TYPE_CHECKING:
    from remnant.data import Cohort

# The data layer (pandas) is imported when a cohort is loaded, not for --help.

TimeCol = Annotated[str | None, typer.Option("--time-col", help="Time column of a file.")]
EventCol = Annotated[str | None, typer.Option("--event-col", help="Event column (0/1) of a file.")]
DeathCol = Annotated[
    str | None,
    typer.Option(
        "--death-col",
        help="0/1 column of a file: 1 where the event was a death without recurrence.",
    ),
]
TimeUnit = Annotated[
    str, typer.Option("--time-unit", help="Unit of --time-col: days, months or years.")
]
StageCols = Annotated[
    str | None, typer.Option("--stage-cols", help="Stage covariates of a file (a,b,...).")
]
RemovalCols = Annotated[
    str | None, typer.Option("--removal-cols", help="Removal covariates of a file.")
]
ImmuneCols = Annotated[
    str | None, typer.Option("--immune-cols", help="Immune covariates of a file.")
]
OtherCols = Annotated[str | None, typer.Option("--other-cols", help="Other covariates of a file.")]
CategoricalCols = Annotated[
    str | None,
    typer.Option(
        "--categorical-cols",
        help="Covariates of a file to one-hot encode even when they hold numbers (a,b,...); "
        "a column is otherwise categorical only when it holds no numbers at all.",
    ),
]
Covariates = Annotated[
    str | None,
    typer.Option("--covariates", help="Use only these covariates of a bundled cohort."),
]
Missing = Annotated[
    str, typer.Option("--missing", help="Rows with missing covariates: drop or impute.")
]


# Fields of the data loaders' errors, and the flags that set them (other fields: the file's flag).
_FILE_FIELD_FLAGS = {
    "time_col": "--time-col",
    "event_col": "--event-col",
    "death_col": "--death-col",
    "time_unit": "--time-unit",
    "missing": "--missing",
    "covariates": "--stage-cols/--removal-cols/--immune-cols/--other-cols",
    "categorical_cols": "--categorical-cols",
}


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class CohortSources:
    """How to turn ``NAME|FILE`` into a cohort, with the file flags and missing option."""

    def __init__(
        self,
        *,
        time_col: str | None,
        event_col: str | None,
        time_unit: str,
        groups: dict[str, list[str]],
        covariates: list[str] | None,
        missing: str,
        death_col: str | None = None,
        categorical: list[str] | None = None,
    ) -> None:
        self.categorical = categorical or []
        self.time_col = time_col
        self.death_col = death_col
        self.event_col = event_col
        self.time_unit = time_unit
        self.groups = groups
        self.covariates = covariates
        self.missing = missing

    @staticmethod
    def is_file(value: str) -> bool:
        """Whether ``value`` names a file rather than a bundled cohort."""
        from remnant.data import FILE_EXTENSIONS

        return Path(value).suffix.lower() in FILE_EXTENSIONS or Path(value).exists()

    def load(self, value: str, flag: str) -> Cohort:
        """The cohort ``value`` (a bundled name or a file) given by ``flag``; errors about the
        file or its columns name the command-line flags."""
        from remnant.data import list_cohorts

        try:
            return self._load(value, flag)
        except RemnantInputError as exc:
            if exc.field.startswith("--"):
                raise
            if value in list_cohorts() and exc.field == "covariates":
                renamed = "--covariates"
            elif exc.field in _FILE_FIELD_FLAGS:
                renamed = _FILE_FIELD_FLAGS[exc.field]
            elif exc.field == "file":
                renamed = flag
            else:  # a column or a row of the file: say which file flag it came from
                renamed = f"{flag}: {exc.field}"
            raise exc.with_field(renamed) from None
        except MemoryError:
            raise RemnantInputError(flag, "a cohort that fits in memory", value) from None

    def _load(self, value: str, flag: str) -> Cohort:
        from remnant.data import FILE_EXTENSIONS, list_cohorts, load_cohort, load_file

        if value in list_cohorts():
            return load_cohort(value, missing=self.missing, covariates=self.covariates)
        if not self.is_file(value):
            raise RemnantInputError(
                flag,
                "a bundled cohort ("
                + ", ".join(list_cohorts())
                + ") or a "
                + "/".join(FILE_EXTENSIONS)
                + " file",
                value,
            )
        for option, given in (("--time-col", self.time_col), ("--event-col", self.event_col)):
            if not given:
                raise RemnantInputError(
                    option,
                    f"the name of a column of {Path(value).name}",
                    None,
                    detail=f"required when {flag} is a file",
                )
        assert self.time_col is not None and self.event_col is not None
        return load_file(
            value,
            self.time_col,
            self.event_col,
            time_unit=self.time_unit,
            stage_cols=self.groups["stage"],
            removal_cols=self.groups["removal"],
            immune_cols=self.groups["immune"],
            other_cols=self.groups["other"],
            missing=self.missing,
            death_col=self.death_col,
            categorical_cols=self.categorical,
        )


def cohort_sources(
    names: list[str],
    *,
    time_col: str | None,
    event_col: str | None,
    time_unit: str,
    stage_cols: str | None,
    removal_cols: str | None,
    immune_cols: str | None,
    other_cols: str | None,
    covariates: str | None,
    missing: str,
    death_col: str | None = None,
    categorical_cols: str | None = None,
) -> CohortSources:
    """Check the cohort flags (before any work) and return how to load ``names``.

    File flags are an error when every name is a bundled cohort.
    """
    from remnant.data import MISSING_OPTIONS, TIME_UNITS, list_cohorts

    if time_unit not in TIME_UNITS:
        raise RemnantInputError("--time-unit", "one of " + ", ".join(TIME_UNITS), time_unit)
    if missing not in MISSING_OPTIONS:
        raise RemnantInputError("--missing", "one of " + ", ".join(MISSING_OPTIONS), missing)
    file_flags = [
        flag
        for flag, given in (
            ("--time-col", time_col),
            ("--event-col", event_col),
            ("--death-col", death_col),
            ("--stage-cols", stage_cols),
            ("--removal-cols", removal_cols),
            ("--immune-cols", immune_cols),
            ("--other-cols", other_cols),
            ("--categorical-cols", categorical_cols),
        )
        if given
    ]
    if file_flags and all(v in list_cohorts() for v in names):
        raise RemnantInputError(
            file_flags[0],
            "only with a .csv/.parquet file",
            None,
            detail="bundled cohorts define their own columns; use --covariates to choose some",
        )
    if covariates and not all(v in list_cohorts() for v in names):
        raise RemnantInputError(
            "--covariates",
            "only with bundled cohorts",
            covariates,
            detail="a file's covariates are the columns named by --stage-cols, --removal-cols, "
            "--immune-cols and --other-cols",
        )
    return CohortSources(
        time_col=time_col,
        event_col=event_col,
        death_col=death_col,
        time_unit=time_unit,
        groups={
            "stage": split_list(stage_cols),
            "removal": split_list(removal_cols),
            "immune": split_list(immune_cols),
            "other": split_list(other_cols),
        },
        covariates=split_list(covariates) or None,
        missing=missing,
        categorical=split_list(categorical_cols),
    )


def cohort_line(role: str, cohort: Cohort) -> str:
    text = (
        f"{role}{cohort.name}: {cohort.n} patients, {cohort.n_events} events "
        f"({cohort.event_rate:.1%}), {len(cohort.covariates)} covariates"
    )
    if cohort.n_dropped:
        text += f"; {cohort.n_dropped} rows dropped for missing covariates"
    if cohort.n_imputed:
        text += f"; {cohort.n_imputed} missing values imputed"
    return text
