"""Covariate links: from a patient's columns to the predictors of the kernel table.

Two kinds of link (docs/fit.md, section 3):

* **columns** (any cohort or user file): each cause group's standardised columns feed a
  log-linear link of that cause's parameters, around a reference patient of the cancer (stage
  II, R0, intermediate immunity):

  - ``stage`` columns -> ``log mu`` (seeds shed before surgery) and ``log I0`` (a larger,
    more advanced tumour has escaped immunity: it moves the timing as well as the number);
  - ``removal`` columns -> ``log res`` (residual cells at the margin);
  - ``immune`` columns -> ``log I0`` (baseline immunity; positive = stronger immunity);
  - ``other`` columns (treatment, age, ...) -> ``log mu`` and ``log res`` with one
    coefficient (a treatment kills a fraction of every residual cell) and ``log I0``;

  a grade column (``grade``, ``differ``, ``grade3``: :data:`GRADE_COLUMNS`) also picks the
  kernel table of the patient's grade (its doubling times);

  plus the intercepts ``burden`` (``log mu``), ``residual`` (``log res``, only when removal
  columns exist), ``clock`` (``log a``, the clock speed of the cohort's disease against the
  mechanism's kinetics: ``Lambda(t) = mu K(a t)``; with ``fit_clock``) and the spread of
  ``log I0`` between patients (``immune_spread``, the log of its standard deviation;
  heterogeneity of immunity that no column explains).

* **mechanism** (patients described by the model's own fields): ``mu`` from size and nodes
  through the seeding law, ``res`` from the margin, ``I0`` from the immunity, the grade's
  doubling time from its own kernel table; the fit estimates the log multipliers of the
  seeding coefficient (``burden``), of the residual cells (``residual``) and of every
  patient's immunity (``immunity``).

The clock is one number per cohort by default; with ``clock_links`` the stage columns move
``log a`` as well (a clock per patient, ``stage:<col>@clock``), which the cohorts' own
cross-validation did not choose (docs/fit.md, section 6.3). Mechanism links keep the
mechanism's kinetics (``log a = 0``).

Every parameter has a normal prior (mean, sd) on its log scale: weakly informative, centred on
the defaults of :class:`remnant.model.Mechanism` (anchors in docs/parameters.md).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from remnant.errors import RemnantInputError
from remnant.likelihood.cohort import PatientArrays
from remnant.likelihood.survival import dormant_seeds
from remnant.model.parameters import Mechanism, Patient

CAUSES = ("stage", "removal", "immune", "other")
PREDICTORS = ("log_mu", "log_res", "log_i0", "log_a")
P_MU, P_RES, P_I0, P_A = range(4)

# Priors (mean, sd) on the log scale. Intercepts: an order of magnitude either way of the
# mechanism's defaults is plausible (anchors.md: seeding and residual cells are known to
# about a decade). Coefficients are per standard deviation of their column: a hazard ratio
# of e^2 per sd is already extreme (Royston & Altman 2013 report <= 1.9 per category).
PRIOR_INTERCEPT = (0.0, 2.0)
PRIOR_IMMUNITY = (0.0, 1.0)  # log multiplier of every patient's measured immunity
PRIOR_SPREAD = (math.log(0.5), 1.0)  # sd of log I0 between patients
PRIOR_COEF = (0.0, 1.0)
PRIOR_CLOCK = (0.0, 1.0)  # log clock speed of the cohort's disease: e-fold either way
PRIOR_IMMUNE_COEF = (0.0, 0.5)
PRIOR_CLOCK_COEF = (0.0, 0.5)  # per sd of a stage column: its patients' disease e^0.5 faster


@dataclass(frozen=True)
class Design:
    """Predictors as ``offset + A @ theta`` for one set of patients.

    Attributes
    ----------
    names : tuple of str
        Parameter names (the order of ``theta``).
    loadings : ndarray, shape (4, n, p)
        ``d predictor / d theta`` for ``log mu, log res, log I0, log a``.
    offset : ndarray, shape (4, n)
    grade_index : ndarray of int, shape (n,)
        Row of the kernel table (grade) per patient.
    spread_index : int or None
        Position of ``immune_spread`` in ``theta`` (None: not fitted).
    fixed_spread : float
        Standard deviation of ``log I0`` between patients when it is not fitted (the
        mechanism's ``immune_spread``; 0: none).
    band_z : ndarray, shape (2, n), optional
        Each patient's immune band (``Patient.immune_band``) as standard normal quantiles;
        None: the whole population.
    """

    names: tuple[str, ...]
    loadings: np.ndarray
    offset: np.ndarray
    grade_index: np.ndarray
    spread_index: int | None
    fixed_spread: float = 0.0
    band_z: np.ndarray | None = None

    def rows(self, index: slice | np.ndarray) -> Design:
        """The design of the patients ``index`` selects (a slice of the rows, or their
        positions)."""
        return dataclasses.replace(
            self,
            loadings=self.loadings[:, index],
            offset=self.offset[:, index],
            grade_index=self.grade_index[index],
            band_z=None if self.band_z is None else self.band_z[:, index],
        )

    def predictors(self, theta: np.ndarray) -> np.ndarray:
        """The four predictors per patient, shape (4, n)."""
        return self.offset + np.einsum("knp,p->kn", self.loadings, theta)

    @property
    def spread_integrated(self) -> bool:
        """True when ``log I0`` is spread between patients (fitted, or the mechanism's)."""
        return self.spread_index is not None or self.fixed_spread > 0.0

    @property
    def active(self) -> np.ndarray:
        """Which of ``log mu, log res, log I0, log a, sigma`` the parameters move."""
        moved = self.loadings.reshape(4, -1).any(axis=1)
        return np.append(moved, self.spread_index is not None)

    def spread(self, theta: np.ndarray) -> float:
        """Standard deviation of ``log I0`` between patients (0 without spread)."""
        if self.spread_index is None:
            return self.fixed_spread
        return float(math.exp(theta[self.spread_index]))


# Kernel-table horizon of mechanism links (years): their clock is fixed (a = 1), and 25 years
# covers the bundled cohorts' follow-up (Rotterdam, the longest, about 19 years) and every
# prediction (10-year curves after up to 9 recurrence-free years, the anchors' 20 years).
MECHANISM_TABLE_YEARS = 25.0


# Columns whose link shape the mechanism fixes (docs/fit.md, 3.1): the seeding rate grows as
# (1 + nodes)^0.55 and as N_s^(2/3) with N_s proportional to size^3, so log mu is linear in
# log(1 + nodes) and in log(size).
TRANSFORMS = {"nodes": "log1p", "size_mm": "log"}


# Columns that give a patient's histological grade, and so the doubling times of its kernel
# table (the mechanism's grade law, docs/parameters.md: x1.4 / 1.0 / 0.7 for grades 1 / 2 / 3):
# ``grade`` (1-3, a user file's), ``differ`` (colon: 1 well, 2 moderately, 3 poorly
# differentiated) and ``grade3`` (the breast cohorts: 1 = grade 3, 0 = grade 2; the tumour bank
# recorded grades 2 and 3 only; in GBSG, 0 also holds grade 1). The column also stays a
# stage column (seeds and immunity).
GRADE_COLUMNS = {"grade": 0, "differ": 0, "grade3": 2}  # grade = value + this


def _grade_rows(grades: np.ndarray, seen: tuple[int, ...], field: str) -> np.ndarray:
    """Each patient's row of the kernel table: the position of its grade among ``seen``."""
    lookup = {g: j for j, g in enumerate(seen)}
    try:
        return np.array([lookup[int(g)] for g in grades], dtype=np.int64)
    except KeyError as exc:
        raise RemnantInputError(field, f"a grade seen in the fit {seen}", exc.args[0]) from None


def _transformed(col: str, x: np.ndarray) -> np.ndarray:
    kind = TRANSFORMS.get(col)
    if kind == "log1p":
        return np.log1p(np.clip(x, 0.0, None))
    if kind == "log":
        return np.log(np.clip(x, 1e-3, None))
    return x


@dataclass
class ColumnLinks:
    """Log-linear links per cause group; remembers the standardisation of the fitting data.

    Parameters
    ----------
    cancer : str
        Kinetics of the model's cancer (``colon`` or ``breast``).
    groups : dict
        Cause group -> column names (groups may be empty).
    mechanism : Mechanism
        Defaults that fix the reference patient's offsets.
    """

    cancer: str
    groups: dict[str, tuple[str, ...]]
    mechanism: Mechanism = field(default_factory=Mechanism)
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)
    fit_spread: bool = True
    kind: str = "columns"
    fit_clock: bool = False
    grades_seen: tuple[int, ...] = (2,)
    grade_kinetics: bool = True  # a grade column picks the kernel table (off: grade 2 for all)
    clock_links: bool = False  # stage columns also move log a (a clock per patient)
    prior_scale: float = 1.0  # multiplies the coefficients' prior sds (fit/evidence.py)

    def __post_init__(self) -> None:
        unknown = set(self.groups) - set(CAUSES)
        if unknown:
            raise RemnantInputError("cause group", "one of " + ", ".join(CAUSES), sorted(unknown))
        self.groups = {c: tuple(self.groups.get(c, ())) for c in CAUSES}
        seen: dict[str, str] = {}
        for cause, cols in self.groups.items():
            for col in cols:
                if col in seen:
                    raise RemnantInputError(
                        f"{cause} columns",
                        "each column in one cause group",
                        col,
                        detail=f"already in {seen[col]}",
                    )
                seen[col] = cause

    @property
    def columns(self) -> list[str]:
        return [c for cause in CAUSES for c in self.groups[cause]]

    def standardise(self, X: pd.DataFrame) -> None:
        """Remember each column's mean and standard deviation (constant columns: sd 1), and
        the grades of the fitting data (their kernel tables)."""
        for col in self.columns:
            x = _transformed(col, X[col].to_numpy(dtype=float))
            sd = float(x.std())
            self.means[col] = float(x.mean())
            self.scales[col] = sd if sd > 0 else 1.0
        grade_col = self.grade_column
        if grade_col is not None:
            self.grades_seen = tuple(int(g) for g in np.unique(self._grades(X, grade_col)))

    @property
    def grade_column(self) -> str | None:
        """The stage column that gives the grade (:data:`GRADE_COLUMNS`), if any."""
        if not self.grade_kinetics:
            return None
        return next((c for c in self.groups["stage"] if c in GRADE_COLUMNS), None)

    @staticmethod
    def _grades(X: pd.DataFrame, col: str) -> np.ndarray:
        g = X[col].to_numpy(dtype=float) + GRADE_COLUMNS[col]
        bad = ~np.isin(g, (1.0, 2.0, 3.0))
        if bad.any():
            allowed = ", ".join(
                str(v - GRADE_COLUMNS[col]) for v in (1, 2, 3) if v > GRADE_COLUMNS[col]
            )
            first = float(X[col].to_numpy(dtype=float)[bad][0])
            raise RemnantInputError(col, f"a grade column: one of {allowed}", first)
        return g.astype(np.int64)

    def names(self) -> tuple[str, ...]:
        out = ["burden"] + (["immune_spread"] if self.fit_spread else [])
        out += ["clock"] if self.fit_clock else []
        if self.groups["removal"]:
            out.append("residual")
        out += [f"stage:{c}" for c in self.groups["stage"]]
        out += [f"stage:{c}@immunity" for c in self.groups["stage"]]
        if self.clock_links:
            out += [f"stage:{c}@clock" for c in self.groups["stage"]]
        out += [f"removal:{c}" for c in self.groups["removal"]]
        out += [f"immune:{c}" for c in self.groups["immune"]]
        out += [f"other:{c}" for c in self.groups["other"]]
        out += [f"other:{c}@immunity" for c in self.groups["other"]]
        return tuple(out)

    def priors(self) -> tuple[np.ndarray, np.ndarray]:
        table = {
            "burden": PRIOR_INTERCEPT,
            "immune_spread": PRIOR_SPREAD,
            "residual": PRIOR_INTERCEPT,
            "clock": PRIOR_CLOCK,
        }
        mean, sd = [], []
        for n in self.names():
            if n in table:
                m, s = table[n]
            elif n.endswith("@immunity"):
                m, s = PRIOR_IMMUNE_COEF
            elif n.endswith("@clock"):
                m, s = PRIOR_CLOCK_COEF
            elif n.startswith("immune:"):
                m, s = PRIOR_IMMUNE_COEF
            else:
                m, s = PRIOR_COEF
            mean.append(m)
            sd.append(s * self.prior_scale if ":" in n else s)
        return np.asarray(mean), np.asarray(sd)

    def coefficients(self) -> np.ndarray:
        """Which parameters are the links' coefficients (whose prior sds ``prior_scale``
        multiplies), as a boolean mask over :meth:`names`."""
        return np.array([":" in n for n in self.names()], dtype=bool)

    def reference_offsets(self) -> np.ndarray:
        """``log mu, log res, log I0, log a`` of the reference patient (stage II, R0)."""
        ref = Patient.from_stage(self.cancer, "II", margin="R0", immune="intermediate")
        mu = dormant_seeds(PatientArrays.from_patients([ref]), self.mechanism)[0]
        res = self.mechanism.residual_cells["R0"]
        return np.array([math.log(mu), math.log(res), math.log(ref.immunity), 0.0])

    def design(self, X: pd.DataFrame) -> Design:
        """Predictor loadings for the rows of ``X`` (columns standardised as at fit time)."""
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise RemnantInputError("covariates", "the columns the model was fitted on", missing)
        names = self.names()
        n, p = len(X), len(names)
        pos = {nm: j for j, nm in enumerate(names)}
        load = np.zeros((4, n, p))
        load[P_MU, :, pos["burden"]] = 1.0
        if "residual" in pos:
            load[P_RES, :, pos["residual"]] = 1.0
        if "clock" in pos:
            load[P_A, :, pos["clock"]] = 1.0
        for cause in CAUSES:
            for col in self.groups[cause]:
                x = _transformed(col, X[col].to_numpy(dtype=float))
                z = (x - self.means[col]) / self.scales[col]
                if not np.isfinite(z).all():
                    raise RemnantInputError(col, "finite numbers (no missing values)", "NaN")
                key = f"{cause}:{col}"
                if cause == "stage":
                    load[P_MU, :, pos[key]] = z
                    load[P_I0, :, pos[key + "@immunity"]] = z
                    if self.clock_links:
                        load[P_A, :, pos[key + "@clock"]] = z
                elif cause == "removal":
                    load[P_RES, :, pos[key]] = z
                elif cause == "immune":
                    load[P_I0, :, pos[key]] = z
                else:
                    load[P_MU, :, pos[key]] = z
                    load[P_RES, :, pos[key]] = z
                    load[P_I0, :, pos[key + "@immunity"]] = z
        offset = np.repeat(self.reference_offsets()[:, None], n, axis=1)
        spread = pos.get("immune_spread")
        grade_col = self.grade_column
        rows = (
            np.zeros(n, dtype=np.int64)
            if grade_col is None
            else _grade_rows(self._grades(X, grade_col), self.grades_seen, grade_col)
        )
        return Design(names, load, offset, rows, spread)

    def grades(self) -> tuple[int, ...]:
        return self.grades_seen

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cancer": self.cancer,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "means": self.means,
            "scales": self.scales,
            "fit_spread": self.fit_spread,
            "fit_clock": self.fit_clock,
            "clock_links": self.clock_links,
            "prior_scale": self.prior_scale,
            "grades": list(self.grades_seen),
        }


@dataclass
class MechanismLinks:
    """The model's own links: patients given by the fields of :class:`remnant.model.Patient`.

    Parameters
    ----------
    cancer : str
    mechanism : Mechanism
        The mechanism whose seeding coefficient, residual cells and immunity the fit rescales.
    fit_spread : bool
        Also fit a spread of ``log I0`` around each patient's immunity.
    table_years : float
        Horizon of the kernel table (years): the clock is the mechanism's own (``a = 1``), so
        the table needs to reach only the longest follow-up fitted or time predicted.
    """

    cancer: str
    mechanism: Mechanism = field(default_factory=Mechanism)
    fit_spread: bool = False
    grades_seen: tuple[int, ...] = (2,)
    kind: str = "mechanism"
    table_years: float = MECHANISM_TABLE_YEARS

    def names(self) -> tuple[str, ...]:
        out = ("burden", "residual", "immunity")
        return out + ("immune_spread",) if self.fit_spread else out

    def priors(self) -> tuple[np.ndarray, np.ndarray]:
        table = {
            "burden": PRIOR_INTERCEPT,
            "residual": PRIOR_INTERCEPT,
            "immunity": PRIOR_IMMUNITY,
            "immune_spread": PRIOR_SPREAD,
        }
        pairs = [table[n] for n in self.names()]
        return np.array([m for m, _ in pairs]), np.array([s for _, s in pairs])

    def standardise(self, X: pd.DataFrame) -> None:
        pa = PatientArrays.from_frame(X)
        if (pa.cancer != self.cancer).any():
            raise RemnantInputError("cancer", f"one cancer per fit ({self.cancer})", "mixed")
        self.grades_seen = tuple(int(g) for g in np.unique(pa.grade))

    def grades(self) -> tuple[int, ...]:
        return self.grades_seen

    def design(self, X: pd.DataFrame) -> Design:
        pa = PatientArrays.from_frame(X)
        n = len(pa)
        names = self.names()
        load = np.zeros((4, n, len(names)))
        load[P_MU, :, 0] = 1.0
        load[P_RES, :, 1] = 1.0
        load[P_I0, :, 2] = 1.0
        offset = np.zeros((4, n))
        offset[P_MU] = np.log(dormant_seeds(pa, self.mechanism))
        res = np.array([self.mechanism.residual_cells[str(m)] for m in pa.margin])
        offset[P_RES] = np.log(res)
        offset[P_I0] = np.log(pa.immunity) + math.log(self.mechanism.immune_scale)
        gi = _grade_rows(pa.grade, self.grades_seen, "grade")
        spread = 3 if self.fit_spread else None
        band_z = ndtri(np.vstack([np.asarray(pa.immune_lo), np.asarray(pa.immune_hi)]))
        return Design(names, load, offset, gi, spread, self.mechanism.immune_spread, band_z)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cancer": self.cancer,
            "fit_spread": self.fit_spread,
            "grades": list(self.grades_seen),
            "table_years": self.table_years,
        }


Links = ColumnLinks | MechanismLinks
