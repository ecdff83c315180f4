"""Cohorts in one schema: bundled real data sets and the user's own files.

>>> from remnant.data import load_cohort
>>> cohort = load_cohort("colon")
>>> cohort.X, cohort.y  # covariates; scikit-survival outcome (days)
"""

from __future__ import annotations

from remnant.data.bundled import list_cohorts, load_cohort
from remnant.data.cohort import CAUSE_GROUPS, EVENT_COL, TIME_COL, Cohort, Provenance
from remnant.data.preparation import (
    DAYS_PER_YEAR,
    MIN_EVENTS_TO_FIT,
    MIN_PATIENTS_TO_SCORE,
    MISSING_OPTIONS,
    TIME_UNITS,
    check_fittable,
    check_scorable,
)
from remnant.data.user_file import FILE_EXTENSIONS, load_file

__all__ = [
    "CAUSE_GROUPS",
    "DAYS_PER_YEAR",
    "EVENT_COL",
    "FILE_EXTENSIONS",
    "MIN_EVENTS_TO_FIT",
    "MISSING_OPTIONS",
    "TIME_COL",
    "TIME_UNITS",
    "Cohort",
    "Provenance",
    "MIN_PATIENTS_TO_SCORE",
    "check_fittable",
    "check_scorable",
    "list_cohorts",
    "load_cohort",
    "load_file",
]
