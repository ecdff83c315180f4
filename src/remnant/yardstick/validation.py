"""Validation schemes: stratified k-fold cross-validation and train-on-A / test-on-B."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.model_selection import StratifiedKFold

from remnant.data.cohort import EVENT_COL, TIME_COL, Cohort
from remnant.errors import RemnantInputError


def stratified_folds(cohort: Cohort, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) for k folds stratified on the event indicator.

    Stratifying keeps the event fraction of every test fold close to the cohort's, so that
    no fold is scored on too few events. Shuffling uses ``seed``.

    Raises
    ------
    RemnantInputError
        ``k`` below 2, or more folds than events or than censored patients.
    """
    n_events = cohort.n_events
    n_censored = cohort.n - n_events
    most = min(n_events, n_censored)
    if k < 2 or k > most:
        raise RemnantInputError(
            "cv",
            f"a number of folds from 2 to {most} (the fewer of {n_events} events and "
            f"{n_censored} censored patients in {cohort.name})",
            k,
        )
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    placeholder = np.zeros((cohort.n, 1))
    return [(tr, te) for tr, te in splitter.split(placeholder, cohort.event)]


def align_to_train(train: Cohort, test: Cohort) -> Cohort:
    """The test cohort with exactly the training covariates, in the training order.

    Extra test covariates are dropped; cause groups are taken from the training cohort.

    Raises
    ------
    RemnantInputError
        Naming the training covariates the test cohort lacks.
    """
    absent = [c for c in train.covariates if c not in test.frame.columns]
    if absent:
        raise RemnantInputError(
            "test",
            f"the training covariates of {train.name}",
            test.name,
            detail="missing columns: " + ", ".join(absent),
        )
    frame = test.frame.loc[:, [TIME_COL, EVENT_COL, *train.covariates]]
    return replace(
        test,
        frame=frame,
        stage_cols=train.stage_cols,
        removal_cols=train.removal_cols,
        immune_cols=train.immune_cols,
        other_cols=train.other_cols,
    )
