"""The one schema every cohort is mapped to: :class:`Cohort`.

A cohort is one row per patient with the follow-up time in days (``time_days``), the event
indicator (``event``, 1 = the endpoint happened, 0 = censored) and numeric covariates. Each
covariate belongs to exactly one cause group:

``stage``
    extent of the disease at surgery (size, nodes, grade, depth of spread, stage scores);
``removal``
    completeness of the resection (residual disease, margins);
``immune``
    the host's immune infiltrate (cell densities);
``other``
    everything else (age, sex, treatment, laboratory values).

When the endpoint counts deaths as well as recurrences (recurrence-free survival) and the
source says which events were deaths without a recurrence, the frame also holds
``death_first`` (1 = the event was a death with no recurrence before it): the fit then models
those deaths by their own hazard instead of as recurrences (docs/fit.md, section 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

TIME_COL = "time_days"
EVENT_COL = "event"
DEATH_FIRST_COL = "death_first"
CAUSE_GROUPS = ("stage", "removal", "immune", "other")


@dataclass(frozen=True)
class Provenance:
    """Where a cohort comes from.

    Attributes
    ----------
    source
        Package and data set, or the path of a user file.
    citation
        The publication(s) that describe the data.
    notes
        How the source columns were turned into this cohort.
    """

    source: str
    citation: str = ""
    notes: str = ""

    def as_dict(self) -> dict[str, str]:
        """The provenance as a plain dictionary (for JSON reports)."""
        return {"source": self.source, "citation": self.citation, "notes": self.notes}


@dataclass(frozen=True, eq=False)
class Cohort:
    """One cohort: a patient table plus the meaning of its columns.

    Attributes
    ----------
    name
        Short name (``"colon"``, ``"rotterdam"``, or the file name of a user file).
    frame
        One row per patient: ``time_days`` (float, days from surgery or randomisation to the
        event or censoring), ``event`` (int, 1 = endpoint, 0 = censored) and the covariates
        (all numeric). The index runs 0..n-1.
    stage_cols, removal_cols, immune_cols, other_cols
        Covariate names in each cause group; together they are :attr:`covariates`.
    endpoint
        A sentence defining ``event == 1`` for this cohort.
    provenance
        Source package or file and citation.
    n_dropped
        Rows removed because a used covariate was missing.
    n_imputed
        Missing covariate cells filled in (median for numbers, mode for categories).
    """

    name: str
    frame: pd.DataFrame
    stage_cols: tuple[str, ...] = ()
    removal_cols: tuple[str, ...] = ()
    immune_cols: tuple[str, ...] = ()
    other_cols: tuple[str, ...] = ()
    endpoint: str = ""
    provenance: Provenance = field(default_factory=lambda: Provenance(source="unknown"))
    n_dropped: int = 0
    n_imputed: int = 0

    def __post_init__(self) -> None:
        for col in (TIME_COL, EVENT_COL):
            if col not in self.frame.columns:
                raise ValueError(f"cohort frame needs a {col!r} column")
        cols = self.covariates
        if len(set(cols)) != len(cols):
            raise ValueError(f"a covariate is listed in two cause groups: {cols}")
        absent = [c for c in cols if c not in self.frame.columns]
        if absent:
            raise ValueError(f"covariates not in the frame: {absent}")
        if DEATH_FIRST_COL in self.frame.columns:
            death = self.frame[DEATH_FIRST_COL].to_numpy()
            if not np.isin(death, (0, 1)).all() or (death > self.frame[EVENT_COL].to_numpy()).any():
                raise ValueError(f"{DEATH_FIRST_COL} must be 0/1 and 1 only where event is 1")

    # -- columns -----------------------------------------------------------------------------
    @property
    def covariates(self) -> tuple[str, ...]:
        """All covariate names, in group order stage, removal, immune, other."""
        return self.stage_cols + self.removal_cols + self.immune_cols + self.other_cols

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Cause group name -> covariate names."""
        return {
            "stage": self.stage_cols,
            "removal": self.removal_cols,
            "immune": self.immune_cols,
            "other": self.other_cols,
        }

    def group_of(self, column: str) -> str:
        """The cause group of a covariate: stage, removal, immune or other."""
        for group, cols in self.groups.items():
            if column in cols:
                return group
        raise KeyError(column)

    # -- data --------------------------------------------------------------------------------
    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the usual name for a design matrix
        """Covariates as floats, one row per patient, columns in :attr:`covariates` order."""
        return self.frame.loc[:, list(self.covariates)].astype(float)

    @property
    def time(self) -> np.ndarray:
        """Follow-up time in days."""
        return self.frame[TIME_COL].to_numpy(dtype=float)

    @property
    def event(self) -> np.ndarray:
        """Event indicator (1 = endpoint, 0 = censored)."""
        return self.frame[EVENT_COL].to_numpy(dtype=int)

    @property
    def death_first(self) -> np.ndarray | None:
        """1 where the event was a death without a recurrence before it (None: not known)."""
        if DEATH_FIRST_COL not in self.frame.columns:
            return None
        return self.frame[DEATH_FIRST_COL].to_numpy(dtype=int)

    @property
    def y(self) -> np.ndarray:
        """Outcome as a scikit-survival structured array with fields ``event`` and ``time``."""
        from sksurv.util import Surv  # imported here: scikit-survival is slow to import

        return Surv.from_arrays(event=self.event.astype(bool), time=self.time)

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self.frame)

    @property
    def n_events(self) -> int:
        """Number of patients with ``event == 1``."""
        return int(self.event.sum())

    @property
    def event_rate(self) -> float:
        """Fraction of patients with ``event == 1`` (crude, ignores censoring)."""
        return self.n_events / self.n if self.n else float("nan")

    # -- derived cohorts ---------------------------------------------------------------------
    def subset(self, rows: Sequence[int] | np.ndarray) -> Cohort:
        """The same cohort restricted to some rows (positions 0..n-1), re-indexed from 0."""
        frame = self.frame.iloc[np.asarray(rows, dtype=int)].reset_index(drop=True)
        return replace(self, frame=frame)

    def restrict(self, columns: Sequence[str]) -> Cohort:
        """The same rows with only some covariates, each keeping its cause group.

        Raises ``KeyError`` naming the first column that is not a covariate of this cohort.
        """
        wanted = list(dict.fromkeys(columns))
        for col in wanted:
            if col not in self.covariates:
                raise KeyError(col)
        keep = set(wanted)
        outcome = [c for c in (TIME_COL, EVENT_COL, DEATH_FIRST_COL) if c in self.frame.columns]
        frame = self.frame.loc[:, [*outcome, *[c for c in self.covariates if c in keep]]]
        return replace(
            self,
            frame=frame,
            stage_cols=tuple(c for c in self.stage_cols if c in keep),
            removal_cols=tuple(c for c in self.removal_cols if c in keep),
            immune_cols=tuple(c for c in self.immune_cols if c in keep),
            other_cols=tuple(c for c in self.other_cols if c in keep),
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: size, events, dropped rows, groups, endpoint, provenance."""
        return {
            "name": self.name,
            "n": self.n,
            "n_events": self.n_events,
            "event_rate": round(self.event_rate, 4),
            "n_dropped": self.n_dropped,
            "n_imputed": self.n_imputed,
            "median_follow_up_days": float(np.median(self.time)) if self.n else None,
            "endpoint": self.endpoint,
            "groups": {g: list(cols) for g, cols in self.groups.items()},
            "provenance": self.provenance.as_dict(),
        }


Times = Sequence[float] | np.ndarray
"""Time points in days: a list or a 1-d array."""


def as_covariates(X: pd.DataFrame | Cohort) -> pd.DataFrame:
    """The covariate table of a cohort, or the DataFrame itself, as floats."""
    if isinstance(X, Cohort):
        return X.X
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"covariates must be a pandas DataFrame or a Cohort, got {type(X)}")
    return X.astype(float)


def times_array(times: Times | float) -> np.ndarray:
    """Times (days) as a 1-d float array; negative times are an error."""
    arr = np.atleast_1d(np.asarray(times, dtype=float))
    if arr.ndim != 1 or (arr < 0).any() or not np.isfinite(arr).all():
        raise ValueError(f"times must be finite, non-negative days, got {arr}")
    return arr
