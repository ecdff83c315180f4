"""The fitted three-cause model: fit, predict, save and load (docs/fit.md).

:func:`fit` is the one entry point: a cohort (or covariates with times and events) in, a
:class:`RemnantFit` out, holding the MAP parameters with their Laplace intervals, the links
and the data's provenance. :class:`RemnantModel` is the same model under the yardstick's
estimator contract (``--model remnant``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from remnant import arguments as validate
from remnant.data.cohort import Cohort, Times, as_covariates, times_array
from remnant.data.preparation import check_fittable
from remnant.errors import RemnantInputError
from remnant.inference.clock_spread import mix_curves
from remnant.inference.death import NAMES as DEATH_NAMES
from remnant.inference.death import OtherCauseDeath, fit_death
from remnant.inference.evidence import Expansion
from remnant.inference.links import (
    CAUSES,
    MECHANISM_TABLE_YEARS,
    P_A,
    ColumnLinks,
    Design,
    Links,
    MechanismLinks,
)
from remnant.inference.map import MapResult, Objective, fit_map, near_mode
from remnant.inference.tables import FIT_DRAWS, TABLE_YEARS, KernelTable, build_table
from remnant.likelihood.cohort import FIELDS as PATIENT_FIELDS
from remnant.model.parameters import CANCERS, GROWTH_Z_MAX, Mechanism
from remnant.model.units import DAYS_PER_YEAR
from remnant.provenance import provenance

# Kinetics used for each bundled cohort; other cohorts default to colon's (a user can choose).
COHORT_CANCER = {"colon": "colon", "rotterdam": "breast", "gbsg": "breast"}
RISK_HORIZON_YEARS = 5.0  # risk score: probability of the endpoint by 5 years
AGE_COL = "age"  # age at surgery (years): the hazard of death without recurrence needs it
FORMAT = "remnant-fit/1"
LINK_KINDS = ("columns", "mechanism")
MAX_FIT_DRAWS = 4096  # lapse schedules: each one costs a full pass over the kernel table
# The numeric fields of a patient table (mechanism links); cancer and margin are names.
PATIENT_NUMBERS = ("size_mm", "nodes", "grade", "immunity", "age")


def covariate_table(field: str, X: Any) -> pd.DataFrame:
    """The covariate table of ``X``: a cohort's covariates, or the DataFrame itself."""
    if isinstance(X, Cohort):
        return X.X
    if isinstance(X, pd.DataFrame):
        return X
    raise RemnantInputError(field, "a pandas DataFrame or a Cohort", type(X).__name__)


def has_column(X: pd.DataFrame, column: Any) -> bool:
    try:
        return bool(column in X.columns)
    except TypeError:  # an unhashable name
        return False


def _first_not_number(values: Any) -> Any:
    for v in np.asarray(values, dtype=object).ravel():
        try:
            float(v)
        except (TypeError, ValueError):
            return v
    return None


def check_numeric_columns(
    field: str, X: pd.DataFrame, columns: Iterable[Any], *, finite: bool
) -> None:
    """Each of ``columns`` of ``X`` holds numbers (finite ones when ``finite``).

    Raises
    ------
    RemnantInputError
        Naming ``field`` and the column, with the first value that is not a (finite) number.
    """
    for col in columns:
        where = f"{field} column {col!r}"
        try:
            numbers = X[col].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise RemnantInputError(where, "numbers", _first_not_number(X[col])) from None
        if finite and not np.isfinite(numbers).all():
            bad = float(numbers[~np.isfinite(numbers)][0])
            raise RemnantInputError(where, "finite numbers (no missing values)", bad)


def _check_covariates(field: str, X: pd.DataFrame, kind: str, used: Sequence[Any]) -> None:
    """The columns a fit or a prediction reads are there and hold finite numbers.

    Column links read ``used`` (as floats; a fit converts every column of a table); mechanism
    links read the fields of :class:`remnant.model.Patient`.
    """
    if kind == "columns":
        missing = [c for c in used if not has_column(X, c)]
        if missing:
            raise RemnantInputError(
                field,
                "a table with the model's columns (" + ", ".join(map(str, used)) + ")",
                ", ".join(map(str, missing)),
            )
        check_numeric_columns(field, X, used, finite=True)
        return
    missing = [f for f in PATIENT_FIELDS if f not in X.columns]
    if missing:
        raise RemnantInputError(
            field, "a patient table with columns " + ", ".join(PATIENT_FIELDS), missing[0]
        )
    check_numeric_columns(field, X, PATIENT_NUMBERS, finite=True)


# With a growth spread, the answers a mechanism-link model must give: the calculator's
# conditional risk 5 years after at most 9 recurrence-free years (remnant.explanation)
CLOCK_REACH_YEARS = 15.0


def mechanism_table_years(follow_up_years: float, growth_spread: float) -> float:
    """Years of a mechanism-link model's table: ``MECHANISM_TABLE_YEARS`` or the fitting
    data's follow-up; with a growth spread, its answers' reach (``CLOCK_REACH_YEARS`` or the
    follow-up) at the fastest clock of the spread (docs/model.md 1.10), in whole multiples of
    five years, at most ``TABLE_YEARS``."""
    if growth_spread == 0.0:
        return float(max(MECHANISM_TABLE_YEARS, math.ceil(follow_up_years) + 1))
    reach = max(CLOCK_REACH_YEARS, math.ceil(follow_up_years) + 1)
    years = reach * math.exp(GROWTH_Z_MAX * growth_spread)
    return float(min(TABLE_YEARS, 5.0 * math.ceil(years / 5.0)))


def _table_years(links: Links) -> float:
    """The kernel table's horizon (years) for these links."""
    return links.table_years if isinstance(links, MechanismLinks) else TABLE_YEARS


def _check_times(times: Any, field: str = "times") -> np.ndarray:
    """Times (days) as a 1-d float array: finite and >= 0."""
    allowed = "finite times >= 0 (days): a number or a 1-d sequence of numbers"
    if isinstance(times, str | bytes | Mapping | bool | np.bool_):
        raise RemnantInputError(field, allowed, times)
    try:
        arr = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError, OverflowError):
        raise RemnantInputError(field, allowed, type(times).__name__) from None
    if arr.ndim != 1:
        raise RemnantInputError(field, allowed, f"an array of shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise RemnantInputError(field, allowed, float(arr[bad][0]))
    return arr


def _check_groups(groups: Any, X: pd.DataFrame) -> dict[str, tuple[Any, ...]] | None:
    """Cause group -> columns of ``X``, or None."""
    if groups is None:
        return None
    allowed = "a mapping of cause group (" + ", ".join(CAUSES) + ") -> column names"
    if not isinstance(groups, Mapping):
        raise RemnantInputError("groups", allowed, type(groups).__name__)
    out: dict[str, tuple[Any, ...]] = {}
    for cause, cols in groups.items():
        if cause not in CAUSES:
            raise RemnantInputError("groups", allowed, cause)
        if isinstance(cols, str | bytes | Mapping) or not isinstance(cols, Iterable):
            raise RemnantInputError(f"groups[{cause!r}]", "a list of column names", cols)
        names = tuple(cols)
        missing = [c for c in names if not has_column(X, c)]
        if missing:
            raise RemnantInputError(
                f"groups[{cause!r}]", "columns of data", ", ".join(map(str, missing))
            )
        out[cause] = names
    return out


def _check_sequence(field: str, value: Any) -> np.ndarray:
    """A 1-d sequence (list, array, Series) as an array."""
    if value is None or isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise RemnantInputError(field, "a sequence with one value per row", type(value).__name__)
    try:
        return np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting
        raise RemnantInputError(field, "a flat sequence with one value per row", value) from None


def default_cancer(cohort_name: str) -> str:
    """Kinetics for a cohort: breast for the breast cohorts, colon otherwise."""
    return COHORT_CANCER.get(cohort_name, "colon")


@dataclass
class RemnantFit:
    """A fitted model.

    Attributes
    ----------
    links : ColumnLinks or MechanismLinks
    result : MapResult
        Mode, Laplace covariance, log-likelihood.
    data : dict
        Provenance of the fitting data (name, rows, events, endpoint, source).
    n_draws, seed : int
        Lapse schedules of the kernel table (common random numbers).
    death : OtherCauseDeath or None
        Hazard of death without recurrence, when the endpoint counts such deaths and the
        data said which events they were (None: the endpoint is recurrence alone).
    """

    links: Links
    result: MapResult
    data: dict[str, Any] = field(default_factory=dict)
    n_draws: int = FIT_DRAWS
    seed: int = 0
    death: OtherCauseDeath | None = None
    _table: KernelTable | None = field(default=None, repr=False)
    _grade_tables: dict[int, KernelTable] = field(default_factory=dict, repr=False, compare=False)

    @property
    def mechanism(self) -> Mechanism:
        return self.links.mechanism

    @property
    def table(self) -> KernelTable:
        if self._table is None:
            self._table = self._kernels(self.links.grades())
        return self._table

    def grade_table(self, grade: int) -> KernelTable:
        """The kernels of one of the model's grades alone (its rows only), on which the
        curves of its patients are computed; made once, from :attr:`table` if it is built."""
        table = self._grade_tables.get(grade)
        if table is None:
            table = self._grade_tables[grade] = self._kernels((int(grade),))
        return table

    def _points(self, field: str, value: Any, ndim: int) -> np.ndarray:
        """``value`` as finite parameter points (``ndim`` 1: one point; 2: one per row)."""
        p = len(self.result.names)
        try:
            th = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            th = np.empty(0)
        if th.ndim != ndim or th.shape[-1] != p or not np.isfinite(th).all():
            shape = "one point" if ndim == 1 else "points as rows"
            raise RemnantInputError(field, f"{shape} of the {p} parameters, finite", value)
        return th

    def _kernels(self, grades: tuple[int, ...]) -> KernelTable:
        return build_table(
            self.mechanism,
            self.links.cancer,
            grades,
            n_draws=self.n_draws,
            seed=self.seed,
            years=_table_years(self.links),
        )

    def parameters(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates (log scale) with standard errors and Laplace intervals, one row each."""
        from statistics import NormalDist  # scipy.stats costs a second of imports

        z = NormalDist().inv_cdf(0.5 + level / 2)
        se = self.result.se
        th = self.result.theta
        names = self.result.names
        if self.death is not None:
            th = np.append(th, self.death.theta)
            se = np.append(se, np.sqrt(np.diag(self.death.covariance)))
            names = names + DEATH_NAMES
        return pd.DataFrame(
            {"estimate": th, "se": se, "lower": th - z * se, "upper": th + z * se},
            index=pd.Index(names, name="parameter"),
        )

    def parameter_summary(self) -> dict[str, dict[str, float]]:
        """:meth:`parameters` as ``{name: {estimate, se, lower, upper}}`` (what ``to_dict``
        and an explanation's provenance hold)."""
        table = self.parameters()
        cols = ("estimate", "se", "lower", "upper")
        values = table[list(cols)].to_numpy(dtype=float)
        return {
            str(n): dict(zip(cols, map(float, row), strict=True))
            for n, row in zip(table.index, values, strict=True)
        }

    def _covariates(self, X: Any) -> pd.DataFrame:
        """``X`` as a table with the columns the links read (a bad ``X`` raises, naming it)."""
        frame = covariate_table("X", X)
        used = self.links.columns if isinstance(self.links, ColumnLinks) else []
        _check_covariates("X", frame, self.links.kind, used)
        return frame

    def curves(
        self, X: pd.DataFrame | Cohort, times: Times, theta: np.ndarray | None = None
    ) -> np.ndarray:
        """``(S_rec, f_local, f_distant)`` per row of ``X`` and time, shape (n, n_times, 3).

        Raises
        ------
        RemnantInputError
            ``X`` not a DataFrame or Cohort with the model's columns (finite numbers), or
            ``times`` not finite and >= 0.
        """
        frame = self._covariates(X)
        t = _check_times(times)
        return self.design_curves(self.links.design(frame), t, theta)

    def design_curves(
        self, design: Design, times: Times, theta: np.ndarray | None = None
    ) -> np.ndarray:
        """As :meth:`curves` for patients already turned into a design (reused across
        parameter draws), at ``theta`` (default: the fitted mode)."""
        th = self.result.theta if theta is None else self._points("theta", theta, 1)
        return self.posterior_curves(design, times, np.reshape(th, (1, -1)))[0]

    def posterior_curves(self, design: Design, times: Times, thetas: np.ndarray) -> np.ndarray:
        """:meth:`design_curves` at each row of ``thetas`` (shape (m, p): points of the
        posterior), shape (m, n, n_times, 3), in one pass over the table: the patients at
        every point read each time's rows once."""
        th = self._points("thetas", thetas, 2)
        t = _check_times(times)
        years = _table_years(self.links)
        clock = self.mechanism.growth_spread
        if isinstance(self.links, MechanismLinks):
            # the fastest clock of the spread reads the table furthest
            reach = years * DAYS_PER_YEAR * math.exp(-GROWTH_Z_MAX * clock)
            if t.max(initial=0.0) > reach:
                raise RemnantInputError(
                    "times",
                    f"times up to {reach / DAYS_PER_YEAR:.4g} years (the model's table)",
                    float(t.max()),
                )
        t = times_array(t)
        m, n = th.shape[0], design.grade_index.shape[0]
        # the patients at each point in turn: point j's patient i is row j n + i
        eta = np.concatenate([design.predictors(x) for x in th], axis=1)
        sigma = np.repeat([design.spread(x) for x in th], n)
        gi = np.tile(np.asarray(design.grade_index), m)
        band_z = None if design.band_z is None else np.tile(design.band_z, (1, m))
        grades = self.links.grades()

        def curves_at(tau: np.ndarray, eta: np.ndarray = eta) -> np.ndarray:
            # each grade's patients on that grade's own table: a patient's curve is the same
            # whichever other grades the model knows or were asked with it
            out = np.empty((m * n, tau.shape[0], 3))
            for g in np.unique(gi):
                idx = np.flatnonzero(gi == g)
                out[idx] = self.grade_table(grades[int(g)]).curves(
                    tau,
                    eta[:, idx],
                    sigma[idx],
                    np.zeros(idx.shape[0], dtype=gi.dtype),
                    design.spread_integrated,
                    None if band_z is None else band_z[:, idx],
                )
            return out

        if clock > 0.0:
            # each patient's curves at clock 1 on a grid of disease times, averaged over the
            # spread of its clock (docs/model.md 1.10)
            at_one = eta.copy()
            at_one[P_A] = 0.0
            out = mix_curves(t, eta[P_A], clock, lambda tau: curves_at(tau, at_one))
        else:
            out = curves_at(t)
        return out.reshape(m, n, t.shape[0], 3)

    def calibrated_mechanism(self, theta: np.ndarray | None = None) -> Mechanism:
        """The mechanism with this fit's parameters written into it (mechanism links):
        simulating it reproduces :meth:`curves` (``remnant.model.calibrated.fold``).

        Raises
        ------
        RemnantInputError
            Column links.
        """
        from remnant.model.calibrated import fold

        links = self.links
        if not isinstance(links, MechanismLinks):
            raise RemnantInputError("fit", "a fit with mechanism links", "column links")
        th = self.result.theta if theta is None else np.asarray(theta, dtype=float)
        return fold(links.mechanism, links.cancer, dict(zip(self.result.names, th, strict=True)))

    def survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        """Deprecated name of :meth:`predict_survival` (kept for one release)."""
        warnings.warn(
            "RemnantFit.survival is deprecated: use predict_survival",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.predict_survival(X, times)

    def predict_risk(self, X: pd.DataFrame | Cohort, horizon_days: float) -> np.ndarray:
        """Probability of the endpoint by ``horizon_days``: ``1 - S(horizon | x)``, one per
        row of ``X`` (the yardstick's ``predict_risk``)."""
        return 1.0 - self.predict_survival(X, [float(horizon_days)]).to_numpy(dtype=float)[0]

    def risk_score(
        self, X: pd.DataFrame | Cohort, horizon_years: float = RISK_HORIZON_YEARS
    ) -> np.ndarray:
        """``-log S(h | x)`` at ``h = horizon_years``: the endpoint's cumulative hazard, one
        per row of ``X``; higher = earlier event (the yardstick's ``risk_score``)."""
        s = self.predict_survival(X, [horizon_years * DAYS_PER_YEAR]).to_numpy(dtype=float)[0]
        return -np.log(np.clip(s, 1e-300, 1.0))

    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        """Probability of no endpoint event: index = times (days), one column per row of ``X``.

        Without recurrence (``S_rec``), times the probability of no death without recurrence
        when the fit modelled those deaths (the endpoint is then recurrence-free survival).

        Raises
        ------
        RemnantInputError
            ``X`` not a DataFrame or Cohort with the model's columns (finite numbers; an
            ``age`` column when the fit models death without recurrence), or ``times`` not
            finite and >= 0.
        """
        frame = self._covariates(X)
        t = _check_times(times)
        if self.death is not None:
            if AGE_COL not in frame.columns:
                raise RemnantInputError(
                    "X", "an 'age' column (years): the model includes death without recurrence"
                )
            check_numeric_columns("X", frame, [AGE_COL], finite=True)
        s = self.curves(frame, t)[:, :, 0]
        if self.death is not None:
            s = s * self.death.survival(t, frame[AGE_COL].to_numpy(dtype=float))
        return pd.DataFrame(s.T, index=pd.Index(t, name="time_days"), columns=frame.index)

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "format": FORMAT,
            "model": "remnant",
            "links": self.links.to_dict(),
            "mechanism": dataclasses.asdict(self.mechanism),
            "parameters": self.parameter_summary(),
            "theta": [float(v) for v in r.theta],
            "covariance": [[float(v) for v in row] for row in r.covariance],
            "fit": {
                "log_likelihood": r.log_likelihood,
                "log_posterior": r.log_posterior,
                "iterations": r.iterations,
                "evaluations": r.evaluations,
                "gradient_max": r.grad_max,
                "seconds": r.seconds,
                "lapse_draws": self.n_draws,
                "seed": self.seed,
            },
            "death_without_recurrence": None if self.death is None else self.death.to_dict(),
            "data": self.data,
            "provenance": provenance(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the fit as JSON (atomically)."""
        from remnant.files import write_text_atomic

        p = Path(path)
        write_text_atomic(p, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return p

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "model") -> RemnantFit:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RemnantInputError(source, f"a model file written by remnant fit ({FORMAT})")
        try:
            mech = Mechanism(**data["mechanism"])
            ld = data["links"]
            links: Links
            if ld["kind"] == "columns":
                links = ColumnLinks(
                    ld["cancer"],
                    {k: tuple(v) for k, v in ld["groups"].items()},
                    mech,
                    dict(ld["means"]),
                    dict(ld["scales"]),
                    _stored_flag("links.fit_spread", ld.get("fit_spread", True)),
                    fit_clock=_stored_flag("links.fit_clock", ld.get("fit_clock", False)),
                    clock_links=_stored_flag("links.clock_links", ld.get("clock_links", False)),
                    prior_scale=float(ld.get("prior_scale", 1.0)),
                    grades_seen=tuple(int(g) for g in ld.get("grades", (2,))),
                    # model files written before grades chose the kinetics: grade 2 for all
                    grade_kinetics="grades" in ld,
                )
            else:
                if float(ld.get("seed_slope", 1.0)) != 1.0:
                    raise ValueError("a recalibrated seeding slope (this version has none)")
                links = MechanismLinks(
                    ld["cancer"],
                    mech,
                    _stored_flag("links.fit_spread", ld["fit_spread"]),
                    tuple(ld["grades"]),
                    table_years=float(ld.get("table_years", TABLE_YEARS)),
                )
            # the table of parameters also lists the death hazard's (stored on their own)
            names = tuple(n for n in data["parameters"] if n not in DEATH_NAMES)
            fit = data["fit"]
            result = MapResult(
                names=names,
                theta=np.asarray(data["theta"], dtype=float),
                covariance=np.asarray(data["covariance"], dtype=float),
                log_likelihood=float(fit["log_likelihood"]),
                log_posterior=float(fit["log_posterior"]),
                iterations=int(fit["iterations"]),
                evaluations=int(fit["evaluations"]),
                grad_max=float(fit["gradient_max"]),
                seconds=float(fit["seconds"]),
            )
            k = len(names)
            if result.theta.shape != (k,) or result.covariance.shape != (k, k):
                raise ValueError(
                    f"{k} parameters but theta of shape {result.theta.shape} and covariance "
                    f"of shape {result.covariance.shape}"
                )
            if not (np.isfinite(result.theta).all() and np.isfinite(result.covariance).all()):
                raise ValueError("theta and covariance must be finite numbers")
            dd = data.get("death_without_recurrence")
            death = None if dd is None else OtherCauseDeath.from_dict(dd)
            info = dict(data.get("data", {}))
            n_draws = validate.whole_number("fit.lapse_draws", fit["lapse_draws"], 1)
            seed = validate.seed("fit.seed", fit["seed"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RemnantInputError(source, "a complete remnant model file", str(exc)) from None
        return cls(links, result, info, n_draws, seed, death)

    @classmethod
    def load(cls, path: str | Path) -> RemnantFit:
        """Read a model file written by :meth:`save`.

        Raises
        ------
        RemnantInputError
            ``path`` not a path, or naming the path: no such file, unreadable, not JSON, or
            not a complete model file.
        """
        p = validate.path("path", path)
        if not p.is_file():
            raise RemnantInputError("path", "an existing model JSON file", str(path))
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RemnantInputError(
                "path", "a readable model JSON file", str(path), detail=exc.strerror or str(exc)
            ) from None
        except (ValueError, RecursionError) as exc:  # not UTF-8 or not JSON
            raise RemnantInputError(
                "path", "a JSON model file", str(path), detail=str(exc).splitlines()[0]
            ) from None
        return cls.from_dict(data, source=str(path))


def _stored_flag(field: str, value: Any) -> bool:
    """A True/False switch read from a model file."""
    out = validate.flag(field, value, allow_none=False)
    assert out is not None
    return out


def _check_outcome(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        t = np.asarray(time, dtype=float).ravel()
    except (TypeError, ValueError, OverflowError):
        raise RemnantInputError("time", "numbers (days)", _first_not_number(time)) from None
    try:
        e = np.asarray(event).ravel()
    except (TypeError, ValueError):  # ragged nesting
        raise RemnantInputError("event", "0 (censored) or 1 (recurrence)", event) from None
    if e.dtype.kind == "O" and all(isinstance(v, int | float | np.number | np.bool_) for v in e):
        e = e.astype(float)
    if e.dtype.kind not in "biuf":
        first = next((v for v in e if not isinstance(v, int | float | np.number)), None)
        if isinstance(first, np.generic):
            first = first.item()
        raise RemnantInputError("event", "0 (censored) or 1 (recurrence)", first)
    if t.shape != e.shape:
        raise RemnantInputError("event", f"one event per time ({t.shape[0]})", e.shape)
    if not np.isfinite(t).all() or (t < 0).any():
        raise RemnantInputError("time", "finite times >= 0 (days)", "a negative or missing time")
    if not np.isin(e, [0, 1]).all():
        raise RemnantInputError("event", "0 (censored) or 1 (recurrence)", np.unique(e).tolist())
    if e.sum() < 1:
        raise RemnantInputError("event", "at least one recurrence to fit", 0)
    return t, e.astype(np.int64)


def fit(
    data: Cohort | pd.DataFrame,
    time: Sequence[float] | np.ndarray | None = None,
    event: Sequence[int] | np.ndarray | None = None,
    *,
    cancer: str | None = None,
    groups: dict[str, Sequence[str]] | None = None,
    links: str = "columns",
    mechanism: Mechanism | None = None,
    fit_spread: bool | None = None,
    n_draws: int = FIT_DRAWS,
    seed: int = 0,
    callback: Callable[[int, float], None] | None = None,
    death_hazard: bool = True,
    fit_clock: bool | None = None,
    clock_links: bool | None = None,
    prior_scale: float | None = None,
) -> RemnantFit:
    """Fit the three-cause model by maximum a posteriori with Laplace intervals.

    Parameters
    ----------
    data : Cohort or DataFrame
        A cohort (its cause groups give the links), or a covariate table with ``time`` and
        ``event``. With ``links="mechanism"`` the table holds the fields of
        :class:`remnant.model.Patient` (``cancer, size_mm, nodes, grade, margin, immunity,
        age``).
    time, event : array_like, optional
        Days to recurrence or censoring and 1 = recurrence (DataFrame input only).
    cancer : str, optional
        Kinetics (``colon`` or ``breast``); by default from the cohort's name.
    groups : dict, optional
        Cause group -> columns, for DataFrame input with column links (default: every
        column in ``other``).
    links : {"columns", "mechanism"}
    mechanism : Mechanism, optional
        Defaults around which the fit works (the reference patient's offsets).
    fit_spread : bool, optional
        Fit the spread of ``log I0`` between patients (default: on with column links, off
        with mechanism links, where each patient's immunity is given).
    n_draws, seed : int
        Lapse schedules of the kernel table.
    callback : callable, optional
        ``callback(iteration, negative log posterior)`` during the optimisation.
    fit_clock : bool, optional
        Fit the clock speed of the cohort's disease (``log a`` of every patient, the
        ``clock`` parameter): default on with column links; mechanism links keep the
        mechanism's kinetics.
    clock_links : bool, optional
        Column links only: the stage columns also move each patient's ``log a`` (a clock per
        patient, one ``stage:<col>@clock`` coefficient per column; docs/fit.md, section 3.1).
        By default the Laplace evidence of the data chooses (with the prior width).
    prior_scale : float, optional
        Column links only: multiplies the prior sds of the links' coefficients. By default it
        is chosen by the Laplace evidence of the data (:mod:`remnant.inference.evidence`: the
        log-likelihood expanded near the mode of the largest model at the default priors,
        then the fit at the best scale and links, by Newton steps from the mode they
        predict).
    death_hazard : bool
        When the cohort says which events were deaths without recurrence
        (:attr:`Cohort.death_first`) and has an ``age`` column: model those deaths by their own
        hazard (the mechanism sees them as censoring) instead of as recurrences.

    Returns
    -------
    RemnantFit

    Raises
    ------
    RemnantInputError
        Bad data or options. ``ConvergenceError`` when the fit does not converge.
    """
    # -- the arguments, before any work --
    if not isinstance(data, Cohort | pd.DataFrame):
        raise RemnantInputError("data", "a Cohort or a pandas DataFrame", type(data).__name__)
    links = validate.choice("links", links, LINK_KINDS)
    if cancer is not None:
        validate.choice("cancer", cancer, CANCERS)
    if mechanism is not None and not isinstance(mechanism, Mechanism):
        raise RemnantInputError("mechanism", "a Mechanism or None", type(mechanism).__name__)
    fit_spread = validate.flag("fit_spread", fit_spread)
    fit_clock = validate.flag("fit_clock", fit_clock)
    # None: chosen by the evidence
    clock_links = validate.flag("clock_links", clock_links)
    death_hazard = bool(validate.flag("death_hazard", death_hazard, allow_none=False))
    n_draws = validate.whole_number("n_draws", n_draws, 1, MAX_FIT_DRAWS)
    seed = validate.seed("seed", seed)
    validate.optional_callable("callback", callback)
    if prior_scale is not None:
        prior_scale = validate.positive("prior_scale", prior_scale)
    if links == "mechanism" and clock_links:
        raise RemnantInputError("clock_links", "column links (links='columns')", True)
    if links == "mechanism" and prior_scale is not None:
        raise RemnantInputError("prior_scale", "column links (links='columns')", prior_scale)
    X = data.X if isinstance(data, Cohort) else data
    given = _check_groups(groups, X)
    if isinstance(data, Cohort):
        t, e = _check_outcome(data.time, data.event)
        used: list[Any] = list(data.covariates)
    else:
        if time is None:
            raise RemnantInputError("time", "times (days), one per row, with a covariate table")
        if event is None:
            raise RemnantInputError("event", "events (0/1), one per row, with a covariate table")
        t, e = _check_outcome(_check_sequence("time", time), _check_sequence("event", event))
        if len(X) != t.shape[0]:
            raise RemnantInputError("time", f"one time per row ({len(X)})", t.shape[0])
        if links == "columns":  # every column of the table is read as numbers
            check_numeric_columns("data", X, X.columns, finite=False)
        used = [c for cols in (given or {"other": tuple(X.columns)}).values() for c in cols]
    _check_covariates("data", X, links, used)
    # the last check before any work: enough events for the data to say anything
    check_fittable(int(e.sum()), "event")

    mech = Mechanism() if mechanism is None else mechanism
    death: OtherCauseDeath | None = None
    if isinstance(data, Cohort):
        first = data.death_first
        if death_hazard and first is not None and AGE_COL in X.columns:
            death = fit_death(t, first, X[AGE_COL].to_numpy(dtype=float))
            e = e - first  # the mechanism's events: recurrences
        grp = {
            "stage": data.stage_cols,
            "removal": data.removal_cols,
            "immune": data.immune_cols,
            "other": data.other_cols,
        }
        info = {
            "name": data.name,
            "rows": len(X),
            "events": int(e.sum()),
            "endpoint": data.endpoint,
            "provenance": data.provenance.as_dict(),
            "deaths_without_recurrence": None if death is None else death.deaths,
        }
        cancer = cancer or default_cancer(data.name)
    else:
        grp = given or {"other": tuple(X.columns)}
        info = {"name": "table", "rows": len(X), "events": int(e.sum())}
        cancer = cancer or (str(X["cancer"].iloc[0]) if "cancer" in X else "colon")
    if cancer not in CANCERS:
        raise RemnantInputError("cancer", "one of " + ", ".join(CANCERS), cancer)
    lk: Links
    if links == "columns":
        X = as_covariates(X)
        lk = ColumnLinks(
            cancer,
            {k: tuple(v) for k, v in grp.items()},
            mech,
            fit_spread=True if fit_spread is None else bool(fit_spread),
            fit_clock=True if fit_clock is None else bool(fit_clock),
            # by default the largest model; the evidence then decides (_choose_by_evidence)
            clock_links=bool(grp.get("stage")) if clock_links is None else bool(clock_links),
        )
    else:
        lk = MechanismLinks(cancer, mech, bool(fit_spread))
    if prior_scale is not None and isinstance(lk, ColumnLinks):
        lk.prior_scale = prior_scale
    lk.standardise(X)
    if isinstance(lk, MechanismLinks):
        lk.table_years = mechanism_table_years(float(t.max()) / DAYS_PER_YEAR, mech.growth_spread)
    table = build_table(
        mech, cancer, lk.grades(), n_draws=n_draws, seed=seed, years=_table_years(lk)
    )
    start: np.ndarray | None = None
    spent = (0, 0, 0.0)  # iterations, evaluations and seconds of the choice
    # one iteration count across every optimisation of the fit
    counter = itertools.count(1)
    report = None if callback is None else (lambda _, v: callback(next(counter), v))
    choose = prior_scale is None or clock_links is None
    if choose and isinstance(lk, ColumnLinks) and lk.coefficients().any():
        lk, start, info["evidence"], spent = _choose_by_evidence(
            lk, X, table, t, e, prior_scale is None, clock_links is None, report
        )
    mean, sd = lk.priors()
    objective = Objective(lk.design(X), table, t, e, mean, sd, mech.growth_spread)
    result = fit_map(
        objective,
        start,
        callback=report,
        newton_start=start is not None,
        whiten=isinstance(lk, MechanismLinks),
    )
    result = dataclasses.replace(
        result,
        iterations=spent[0] + result.iterations,
        evaluations=spent[1] + result.evaluations,
        seconds=spent[2] + result.seconds,
    )
    return RemnantFit(lk, result, info, n_draws, seed, death, table)


def _choose_by_evidence(
    lk: ColumnLinks,
    X: pd.DataFrame,
    table: KernelTable,
    t: np.ndarray,
    e: np.ndarray,
    choose_scale: bool,
    choose_clock: bool,
    callback: Callable[[int, float], None] | None,
) -> tuple[ColumnLinks, np.ndarray, dict[str, Any], tuple[int, int, float]]:
    """The prior width and the clock links of highest Laplace evidence (docs/fit.md, 3.3).

    Each candidate structure (one clock per cohort; with ``choose_clock`` and stage columns,
    also a clock per patient) is located at the default width and its log-likelihood
    expanded there (:mod:`remnant.inference.evidence`); the width of each then costs a linear
    solve. Each candidate is fitted from the prior mean (a start taken from the other's mode
    can land on another of the posterior's modes where coefficients are many for the
    patients, as on hcc). Returns the chosen links (at their best width), the mode they predict,
    each candidate's best width and log evidence, and the optimisers' iterations,
    evaluations and seconds.
    """
    started = time.perf_counter()
    iterations = evaluations = 0
    structures = [lk.clock_links]
    if choose_clock:
        structures = [False, True] if lk.groups["stage"] else [False]
    record: dict[str, Any] = {}
    best: tuple[float, ColumnLinks, np.ndarray] | None = None
    for per_patient in structures:
        cand = dataclasses.replace(
            lk,
            clock_links=per_patient,
            means=dict(lk.means),
            scales=dict(lk.scales),
        )
        mean, sd = cand.priors()
        objective = Objective(cand.design(X), table, t, e, mean, sd, cand.mechanism.growth_spread)
        near = near_mode(objective, callback=callback)
        iterations += near.iterations
        evaluations += near.evaluations
        expansion = Expansion(
            near.theta,
            near.log_likelihood,
            near.gradient,
            near.hessian,
            mean,
            sd,
            cand.coefficients(),
        )
        if choose_scale:
            scale, evidence, mode = expansion.best_scale()
        else:
            scale = 1.0
            evidence, mode = expansion.log_evidence(1.0)
        cand.prior_scale *= scale
        record["clock per patient" if per_patient else "clock per cohort"] = {
            "prior_scale": cand.prior_scale,
            "log_evidence": evidence,
        }
        if best is None or evidence > best[0]:
            best = (evidence, cand, mode)
    assert best is not None
    return best[1], best[2], record, (iterations, evaluations, time.perf_counter() - started)


__all__ = ["RemnantFit", "default_cancer", "fit"]
