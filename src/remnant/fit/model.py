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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from remnant.data.cohort import Cohort
from remnant.errors import RemnantInputError
from remnant.fit.death import NAMES as DEATH_NAMES
from remnant.fit.death import OtherCauseDeath, fit_death
from remnant.fit.evidence import Expansion
from remnant.fit.links import ColumnLinks, Design, Links, MechanismLinks
from remnant.fit.map import MapResult, Objective, fit_map, near_mode
from remnant.fit.tables import FIT_DRAWS, KernelTable, build_table
from remnant.model import _validate as validate
from remnant.model.parameters import CANCERS, Mechanism
from remnant.model.units import DAYS_PER_YEAR
from remnant.provenance import provenance
from remnant.yardstick.base import SurvivalModel, Times, as_covariates, times_array

# Kinetics used for each bundled cohort; other cohorts default to colon's (a user can choose).
COHORT_CANCER = {"colon": "colon", "rotterdam": "breast", "gbsg": "breast"}
RISK_HORIZON_YEARS = 5.0  # risk score: probability of the endpoint by 5 years
AGE_COL = "age"  # age at surgery (years): the hazard of death without recurrence needs it
FORMAT = "remnant-fit/1"


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

    @property
    def mechanism(self) -> Mechanism:
        return self.links.mechanism

    @property
    def table(self) -> KernelTable:
        if self._table is None:
            self._table = build_table(
                self.mechanism,
                self.links.cancer,
                self.links.grades(),
                n_draws=self.n_draws,
                seed=self.seed,
            )
        return self._table

    def parameters(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates (log scale) with standard errors and Laplace intervals, one row each."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
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

    def curves(self, X: pd.DataFrame, times: Times, theta: np.ndarray | None = None) -> np.ndarray:
        """``(S_rec, f_local, f_distant)`` per row of ``X`` and time, shape (n, n_times, 3)."""
        return self.design_curves(self.links.design(X), times, theta)

    def design_curves(
        self, design: Design, times: Times, theta: np.ndarray | None = None
    ) -> np.ndarray:
        """As :meth:`curves` for patients already turned into a design (reused across
        parameter draws), at ``theta`` (default: the fitted mode)."""
        th = self.result.theta if theta is None else np.asarray(theta, dtype=float)
        return self.table.curves(
            times_array(times),
            design.predictors(th),
            design.spread(th),
            design.grade_index,
            design.spread_integrated,
        )

    def survival(self, X: pd.DataFrame, times: Times) -> pd.DataFrame:
        """Probability of no endpoint event: index = times (days), one column per row of ``X``.

        Without recurrence (``S_rec``), times the probability of no death without recurrence
        when the fit modelled those deaths (the endpoint is then recurrence-free survival).
        """
        t = times_array(times)
        s = self.curves(X, t)[:, :, 0]
        if self.death is not None:
            if AGE_COL not in X.columns:
                raise RemnantInputError(
                    "X", "an 'age' column (years): the model includes death without recurrence"
                )
            s = s * self.death.survival(t, X[AGE_COL].to_numpy(dtype=float))
        return pd.DataFrame(s.T, index=pd.Index(t, name="time_days"), columns=X.index)

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "format": FORMAT,
            "model": "remnant",
            "links": self.links.to_dict(),
            "mechanism": dataclasses.asdict(self.mechanism),
            "parameters": {
                n: {"estimate": float(v), "se": float(s), "lower": float(lo), "upper": float(hi)}
                for n, v, s, lo, hi in self.parameters().reset_index().itertuples(index=False)
            },
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
        from remnant.yardstick.output import write_text_atomic

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
                    bool(ld.get("fit_spread", True)),
                    fit_clock=bool(ld.get("fit_clock", False)),
                    clock_links=bool(ld.get("clock_links", False)),
                    prior_scale=float(ld.get("prior_scale", 1.0)),
                    grades_seen=tuple(int(g) for g in ld.get("grades", (2,))),
                    # model files written before grades chose the kinetics: grade 2 for all
                    grade_kinetics="grades" in ld,
                )
            else:
                links = MechanismLinks(
                    ld["cancer"],
                    mech,
                    bool(ld["fit_spread"]),
                    tuple(ld["grades"]),
                    seed_slope=float(ld.get("seed_slope", 1.0)),
                    seed_centre=float(ld.get("seed_centre", 0.0)),
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
            dd = data.get("death_without_recurrence")
            death = None if dd is None else OtherCauseDeath.from_dict(dd)
        except (KeyError, TypeError, ValueError) as exc:
            raise RemnantInputError(source, "a complete remnant model file", str(exc)) from None
        return cls(
            links,
            result,
            dict(data.get("data", {})),
            int(fit["lapse_draws"]),
            int(fit["seed"]),
            death,
        )

    @classmethod
    def load(cls, path: str | Path) -> RemnantFit:
        """Read a model file written by :meth:`save`."""
        p = Path(path)
        if not p.is_file():
            raise RemnantInputError("--model", "an existing model JSON file", str(path))
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RemnantInputError(
                "--model", "a JSON model file", str(path), detail=str(exc)
            ) from None
        return cls.from_dict(data, source=str(path))


def _check_outcome(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event).ravel()
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
        is chosen by the Laplace evidence of the data (:mod:`remnant.fit.evidence`: the
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
    validate.seed("seed", seed)
    if clock_links is not None and not isinstance(clock_links, bool | np.bool_):
        raise RemnantInputError(
            "clock_links", "True, False or None (chosen by the evidence)", clock_links
        )
    mech = mechanism or Mechanism()
    death: OtherCauseDeath | None = None
    if isinstance(data, Cohort):
        X = data.X
        t, e = _check_outcome(data.time, data.event)
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
        if time is None or event is None:
            raise RemnantInputError("time, event", "times and events with a covariate table")
        X = data
        t, e = _check_outcome(np.asarray(time), np.asarray(event))
        if len(X) != t.shape[0]:
            raise RemnantInputError("time", f"one time per row ({len(X)})", t.shape[0])
        grp = {k: tuple(v) for k, v in (groups or {"other": tuple(X.columns)}).items()}
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
    elif links == "mechanism":
        if clock_links:
            raise RemnantInputError("clock_links", "column links (links='columns')", True)
        lk = MechanismLinks(cancer, mech, bool(fit_spread))
    else:
        raise RemnantInputError("links", "columns or mechanism", links)
    if prior_scale is not None:
        if not isinstance(lk, ColumnLinks):
            raise RemnantInputError("prior_scale", "column links (links='columns')", prior_scale)
        lk.prior_scale = validate.positive("prior_scale", prior_scale)
    lk.standardise(X)
    table = build_table(mech, cancer, lk.grades(), n_draws=n_draws, seed=seed)
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
    objective = Objective(lk.design(X), table, t, e, mean, sd)
    result = fit_map(objective, start, callback=report, newton_start=start is not None)
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
    expanded there (:mod:`remnant.fit.evidence`); the width of each then costs a linear
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
        objective = Objective(cand.design(X), table, t, e, mean, sd)
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


class RemnantModel(SurvivalModel):
    """The three-cause model under the yardstick's contract (``--model remnant``).

    The risk score is ``-log S(h | x)`` at ``h = risk_horizon_years``: the cumulative hazard
    of the endpoint (recurrence, and death without recurrence when the fit models it).
    """

    name = "remnant"

    def __init__(
        self,
        cancer: str | None = None,
        seed: int = 0,
        risk_horizon_years: float = RISK_HORIZON_YEARS,
        fit_spread: bool | None = None,
        death_hazard: bool = True,
        fit_clock: bool | None = None,
        clock_links: bool | None = None,
        prior_scale: float | None = None,
    ) -> None:
        self.cancer = cancer
        self.seed = seed
        self.risk_horizon_years = risk_horizon_years
        self.fit_spread = fit_spread
        self.death_hazard = death_hazard
        self.fit_clock = fit_clock
        self.clock_links = clock_links
        self.prior_scale = prior_scale
        self.fit_: RemnantFit | None = None

    def _fit(
        self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray, cohort: Cohort | None
    ) -> None:
        # a cohort carries its cause groups; a bare table is fitted with every column in "other"
        data: Cohort | pd.DataFrame = cohort if cohort is not None else X
        self.fit_ = fit(
            data,
            None if cohort is not None else time,
            None if cohort is not None else event,
            cancer=self.cancer,
            seed=self.seed,
            fit_spread=self.fit_spread,
            death_hazard=self.death_hazard,
            fit_clock=self.fit_clock,
            clock_links=self.clock_links,
            prior_scale=self.prior_scale,
        )

    def _fitted(self) -> RemnantFit:
        if self.fit_ is None:
            raise RuntimeError("the model is not fitted")
        return self.fit_

    def predict_survival(self, X: pd.DataFrame | Cohort, times: Times) -> pd.DataFrame:
        return self._fitted().survival(self._design(X), times)

    def risk_score(self, X: pd.DataFrame | Cohort) -> np.ndarray:
        h = self.risk_horizon_years * DAYS_PER_YEAR
        s = self.predict_survival(X, [h]).to_numpy(dtype=float)[0]
        return -np.log(np.clip(s, 1e-300, 1.0))

    def get_params(self) -> dict[str, Any]:
        return {
            "cancer": self.cancer,
            "risk_horizon_years": self.risk_horizon_years,
            "death_hazard": self.death_hazard,
            "fit_clock": self.fit_clock,
            "clock_links": self.clock_links,
            "prior_scale": self.prior_scale,
        }


__all__ = ["RemnantFit", "RemnantModel", "default_cancer", "fit"]
