"""One patient's risk over time, the share of each cause, and what would change it.

:func:`explain` takes a :class:`remnant.model.Patient` and a fitted model (mechanism links;
default: the shipped fit of the patient's cancer) and returns an :class:`Explanation`:

* the recurrence-free curve to 10 years with a 95% band from the fit's Laplace posterior
  (:mod:`remnant.explanation.band`), the risk at 1, 3, 5 and 10 years, local and distant cumulative
  incidences, and the conditional risk after ``recurrence_free_years`` without recurrence;
* exact Shapley shares of the excess 5-year risk over the reference patient of the same
  cancer (stage I size and nodes, R0, high immunity) for the three causes, from the 8
  counterfactual patients that switch each cause between the patient's and the reference's
  value (docs/explain.md); the shares sum to the excess risk by construction;
* "what if" curves: found earlier by ``earlier_months`` (the primary smaller by its volume
  doubling time), a clear margin (R0), immunity at the high level, and all three.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from remnant import arguments as validate
from remnant.errors import RemnantInputError
from remnant.explanation.band import posterior_band
from remnant.inference.links import Design
from remnant.inference.model import RemnantFit
from remnant.machine import available_cores
from remnant.model.parameters import (
    IMMUNE_LEVELS,
    IMMUNOSCORE_BANDS,
    STAGE_DEFAULTS,
    WHOLE_BAND,
    Patient,
    immune_category,
)
from remnant.model.units import DAYS_PER_MONTH, DAYS_PER_YEAR

CAUSES = ("immunity", "removal", "stage")
HORIZONS_YEARS = (1, 3, 5, 10)
SHARE_YEARS = 5.0
BAND_MONTHLY_YEARS = 2.0  # the band is evaluated monthly to here, then quarterly
CURVE_YEARS = 10.0
MIN_DRAWS = 2  # percentiles of a single draw are that draw: no band
MAX_DRAWS = 10_000  # draws x patients x times of risks are held at once
COUNTERFACTUALS = ("earlier", "clear_margin", "high_immunity", "all")


def high_immunity(patient: Patient, spread: bool) -> Patient:
    """The patient with immunity at least at the high level: with a spread of immunity
    between patients, the Immunoscore-high band (or the patient's own if already above it);
    without, the high level of :data:`IMMUNE_LEVELS`."""
    if not spread:
        return patient.replace(immunity=max(patient.immunity, IMMUNE_LEVELS["high"]))
    high = IMMUNOSCORE_BANDS["high"]
    if patient.immune_band[0] >= high[0]:
        return patient
    return patient.replace(immunity=max(patient.immunity, 1.0), immune_band=high)


def reference_patient(patient: Patient, spread: bool = False) -> Patient:
    """Stage I size and nodes of the patient's cancer, R0, high immunity (:func:`high_immunity`
    of a typical patient); the rest as given."""
    d = STAGE_DEFAULTS[patient.cancer]["I"]
    typical = patient.replace(immunity=1.0, immune_band=WHOLE_BAND)
    return high_immunity(typical, spread).replace(
        size_mm=d["size_mm"], nodes=int(d["nodes"]), margin="R0"
    )


def _with_causes(patient: Patient, ref: Patient, causes: tuple[str, ...]) -> Patient:
    """The reference with the patient's own value for each cause in ``causes``."""
    out = ref
    if "stage" in causes:
        out = out.replace(size_mm=patient.size_mm, nodes=patient.nodes)
    if "removal" in causes:
        out = out.replace(margin=patient.margin)
    if "immunity" in causes:
        out = out.replace(immunity=patient.immunity, immune_band=patient.immune_band)
    return out


def found_earlier(patient: Patient, months: float, fit: RemnantFit) -> Patient:
    """The primary ``months`` earlier: its volume halves every primary doubling time."""
    td = fit.mechanism.primary_doubling_days[patient.cancer]
    factor = 2.0 ** (-months * DAYS_PER_MONTH / (3.0 * td))  # diameter: cube root of volume
    return patient.replace(size_mm=max(patient.size_mm * factor, 0.5))


def shapley(values: dict[frozenset[str], float]) -> dict[str, float]:
    """Exact Shapley values of a 3-player game ``values[S]`` (``values[{}] = 0``)."""
    n = len(CAUSES)
    out = {}
    for c in CAUSES:
        others = [o for o in CAUSES if o != c]
        total = 0.0
        for k in range(n):
            for sub in itertools.combinations(others, k):
                s = frozenset(sub)
                w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                total += w * (values[s | {c}] - values[s])
        out[c] = total
    return out


@dataclass(frozen=True)
class Explanation:
    """Everything ``remnant predict`` shows, as numbers.

    Attributes
    ----------
    curve : DataFrame
        Index ``time_days`` (0 to 10 years, monthly); columns ``risk`` (1 - S), ``lower``,
        ``upper`` (95% band), ``local``, ``distant`` (cumulative incidences of the first
        recurrence by site), and one ``risk_<counterfactual>`` column per what-if.
    risk, risk_lower, risk_upper : dict
        Year ("1", "3", "5", "10") -> probability of recurrence by then.
    shares, share_intervals : dict
        Cause -> Shapley share of the excess 5-year risk, and its 95% interval.
    counterfactuals : dict
        Name -> {"patient": fields, "risk": {year: probability}}.
    conditional : dict or None
        After ``recurrence_free_years``: years ahead ("1", "3", "5") -> probability.
    """

    patient: Patient
    reference: Patient
    curve: pd.DataFrame
    risk: dict[str, float]
    risk_lower: dict[str, float]
    risk_upper: dict[str, float]
    excess_risk: float
    reference_risk: float
    shares: dict[str, float]
    share_intervals: dict[str, tuple[float, float]]
    counterfactuals: dict[str, dict[str, Any]]
    earlier_months: float
    recurrence_free_years: float
    conditional: dict[str, float] | None
    model: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content (probabilities in [0, 1])."""
        c = self.curve
        return {
            "patient": dataclasses.asdict(self.patient),
            "immunoscore": {
                "category": immune_category(self.patient.immune_band),
                "mean_percentile_range": [100.0 * q for q in self.patient.immune_band],
            },
            "reference": dataclasses.asdict(self.reference),
            "risk": self.risk,
            "risk_interval": {k: [self.risk_lower[k], self.risk_upper[k]] for k in self.risk},
            "local_5y": float(np.interp(5 * DAYS_PER_YEAR, c.index, c["local"])),
            "distant_5y": float(np.interp(5 * DAYS_PER_YEAR, c.index, c["distant"])),
            "excess_risk": self.excess_risk,
            "reference_risk": self.reference_risk,
            "shares": self.shares,
            "share_intervals": {k: list(v) for k, v in self.share_intervals.items()},
            "counterfactuals": self.counterfactuals,
            "earlier_months": self.earlier_months,
            "recurrence_free_years": self.recurrence_free_years,
            "conditional_risk": self.conditional,
            "curve": {
                "time_days": [float(t) for t in c.index],
                **{col: [float(v) for v in c[col]] for col in c.columns},
            },
            "model": self.model,
            "disclaimer": DISCLAIMER,
        }


DISCLAIMER = (
    "This is a research model, not medical advice. Its numbers come from a mathematical model "
    "fitted to published cohorts; they are not a diagnosis or a prognosis for any person. "
    "Talk to the care team about what they mean."
)


def _frame(patients: list[Patient]) -> pd.DataFrame:
    return pd.DataFrame([dataclasses.asdict(p) for p in patients])


# The mixed patients without the patient's stage (the reference, and it with the patient's
# margin, immunity or both) are the same for every patient of a model with that grade, margin
# and immunity: their 5-year risks at each set of posterior points are kept per fit, at most
# this many (9 numbers each)
MAX_KEPT_RISKS = 4096
_KEPT_LOCK = threading.Lock()


def _kept_risks(fit: RemnantFit) -> collections.OrderedDict[bytes, np.ndarray]:
    with _KEPT_LOCK:
        kept = fit.__dict__.get("_mixed_5y")
        if kept is None:
            kept = fit.__dict__["_mixed_5y"] = collections.OrderedDict()
        return kept


def mixed_risks(
    fit: RemnantFit,
    games: Design,
    points: np.ndarray,
    keep: Sequence[bool],
    skip: int | None = None,
) -> np.ndarray:
    """The 5-year risk of each mixed patient (``games``' rows, columns of the result) at each
    posterior point (rows of ``points``). Those ``keep`` marks are read from the fit's memory
    when there and kept there otherwise (a patient's risk is its own, whatever it is computed
    with, so kept numbers are the numbers computed); column ``skip`` is left to the caller
    (NaN)."""
    five = np.array([SHARE_YEARS * DAYS_PER_YEAR])
    n = games.grade_index.shape[0]
    at_points = np.ascontiguousarray(points, dtype=np.float64).tobytes()

    def key(i: int) -> bytes:
        # the design row decides the curve within one fit
        band = b"" if games.band_z is None else games.band_z[:, i].tobytes()
        return b"|".join(
            (
                at_points,
                games.offset[:, i].tobytes(),
                games.loadings[:, i].tobytes(),
                games.grade_index[i : i + 1].tobytes(),
                band,
            )
        )

    kept = _kept_risks(fit)
    out = np.full((points.shape[0], n), np.nan)
    missing = []
    keys = [key(i) if keep[i] else b"" for i in range(n)]
    with _KEPT_LOCK:
        for i in range(n):
            if i == skip:
                continue
            found = kept.get(keys[i]) if keep[i] else None
            if found is None:
                missing.append(i)
            else:
                out[:, i] = found
                kept.move_to_end(keys[i])
    if missing:
        idx = np.array(missing)
        rows = games.rows(idx)
        out[:, idx] = 1.0 - fit.posterior_curves(rows, five, points)[:, :, 0, 0]
        with _KEPT_LOCK:
            for i in missing:
                if keep[i]:
                    kept[keys[i]] = out[:, i].copy()
            while len(kept) > MAX_KEPT_RISKS:
                kept.popitem(last=False)
    return out


@functools.cache
def _pool() -> ThreadPoolExecutor:
    # one pool per process for every explanation's curves (starting threads per call costs
    # milliseconds; concurrent explanations share the cores instead of each taking all)
    return ThreadPoolExecutor(max_workers=available_cores(), thread_name_prefix="explain")


# a forked child has none of the parent's threads: it starts a pool of its own
os.register_at_fork(after_in_child=_pool.cache_clear)


def explain(
    patient: Patient,
    fit: RemnantFit | None = None,
    *,
    earlier_months: float = 6.0,
    recurrence_free_years: float = 0.0,
    draws: int | None = None,
    seed: int = 0,
) -> Explanation:
    """Explain one patient's recurrence risk (see the module docstring).

    Parameters
    ----------
    patient : Patient
    fit : RemnantFit, optional
        A fit with mechanism links for the patient's cancer (default: the shipped one).
    earlier_months : float
        How much earlier the "found earlier" what-if finds the tumour (months, >= 0).
    recurrence_free_years : float
        Years already without recurrence, for the conditional risk (0: none).
    draws : int, optional
        None (default): the band and the shares' intervals from the ends of the posterior's
        95% range along each of its axes (:mod:`remnant.explanation.band`); a whole number in
        [2, 10000]: by that many posterior draws instead (a band needs at least two).
    seed : int
        Seed of the posterior draws (with ``draws``), in [0, 2**32 - 1].

    Raises
    ------
    RemnantInputError
        A bad argument, named, before any computation.
    """
    if not isinstance(patient, Patient):
        raise RemnantInputError("patient", "a Patient (remnant.Patient)", type(patient).__name__)
    if fit is not None and not isinstance(fit, RemnantFit):
        raise RemnantInputError(
            "fit", "a RemnantFit or None (the shipped model)", type(fit).__name__
        )
    earlier_months = validate.in_range("earlier_months", earlier_months, 0.0, 120.0)
    recurrence_free_years = validate.in_range(
        "recurrence_free_years", recurrence_free_years, 0.0, 9.0
    )
    if draws is not None:
        draws = validate.whole_number("draws", draws, MIN_DRAWS, MAX_DRAWS)
    seed = validate.seed("seed", seed)
    if fit is None:
        from remnant.explanation.default_model import load_default

        fit = load_default(patient.cancer)
    if fit.links.kind != "mechanism" or fit.links.cancer != patient.cancer:
        raise RemnantInputError(
            "fit",
            f"a model fitted with mechanism links for {patient.cancer}",
            f"{fit.links.kind} links for {fit.links.cancer}",
        )
    own = fit.links.design(_frame([patient]))  # the patient alone: its curve and band
    spread = own.spread_integrated
    if patient.immune_band != WHOLE_BAND and not spread:
        raise RemnantInputError(
            "immune",
            "a level or number: this model has no spread of immunity between patients, so an "
            "Immunoscore band has no meaning in it",
            immune_category(patient.immune_band),
        )
    ref = reference_patient(patient, spread)
    subsets = [
        frozenset(s) for k in range(len(CAUSES) + 1) for s in itertools.combinations(CAUSES, k)
    ]
    mixed = [_with_causes(patient, ref, tuple(s)) for s in subsets]
    earlier = found_earlier(patient, earlier_months, fit)
    cf = {
        "earlier": earlier,
        "clear_margin": patient.replace(margin="R0"),
        "high_immunity": high_immunity(patient, spread),
        "all": high_immunity(earlier.replace(margin="R0"), spread),
    }
    rows = [patient] + list(cf.values())
    grid = np.round(np.arange(0.0, CURVE_YEARS * 12 + 1) * DAYS_PER_MONTH, 6)
    hz = np.array([h * DAYS_PER_YEAR for h in HORIZONS_YEARS])
    rf = recurrence_free_years * DAYS_PER_YEAR
    cond_t = np.array([rf + h * DAYS_PER_YEAR for h in (1, 3, 5)]) if rf > 0 else np.empty(0)
    times = np.unique(np.concatenate([grid, hz, [SHARE_YEARS * DAYS_PER_YEAR, rf], cond_t]))
    at = {float(t): j for j, t in enumerate(times)}
    # the band's points: monthly while the curve bends most, then quarterly (and every time
    # the answer reports); between them the band's width is interpolated (explain.band)
    band_times = times[
        (times <= BAND_MONTHLY_YEARS * DAYS_PER_YEAR)
        | np.isin(times, np.arange(0.0, CURVE_YEARS * 4 + 1) * 3 * DAYS_PER_MONTH)
        | np.isin(times, np.concatenate([hz, [rf], cond_t]))
    ]

    # Rows are independent and the compiled loop releases the GIL: each piece of work on a
    # thread, the same numbers in the same order whatever the number of threads. One design
    # for the patient's rows and the mixed patients (a patient's design is its own row's).
    both = fit.links.design(_frame(rows + mixed))
    rows_design = both.rows(slice(0, len(rows)))
    games = both.rows(slice(len(rows), None))

    keep = ["stage" not in s for s in subsets]  # the same for every patient of the stage
    # the mixed patient with every cause is the patient: its 5-year risk is on its own curve
    whole = subsets.index(frozenset(CAUSES))
    at_five = int(np.searchsorted(band_times, SHARE_YEARS * DAYS_PER_YEAR))

    def own_and_games(points: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        curve = 1.0 - fit.posterior_curves(own, band_times, points)[:, 0, :, 0]
        r5 = mixed_risks(fit, games, points, keep, skip=whole)
        r5[:, whole] = curve[:, at_five]
        return list(zip(curve, r5, strict=True))

    pool = _pool()
    point_job = pool.submit(fit.design_curves, rows_design, times, None)
    mixed_job = pool.submit(mixed_risks, fit, games, fit.result.theta[None, :], keep, whole)
    band = posterior_band(
        fit.result.theta,
        fit.result.covariance,
        own_and_games,
        draws,
        seed,
        pool,
        chunks=available_cores(),
    )
    curves = point_job.result()
    point = 1.0 - curves[:, :, 0]
    mixed_5y = mixed_job.result()[0]
    mixed_5y[whole] = point[0, at[SHARE_YEARS * DAYS_PER_YEAR]]

    def game(r5: np.ndarray) -> dict[frozenset[str], float]:
        """Each coalition's 5-year excess risk over the reference (``r5``: mixed rows)."""
        base = r5[subsets.index(frozenset())]
        return {s: float(r5[i] - base) for i, s in enumerate(subsets)}

    shares = shapley(game(mixed_5y))
    share_lo, share_hi = band.shares(
        lambda r5: np.array(list(shapley(game(r5)).values())), mixed_5y
    )
    ref_risk = float(mixed_5y[subsets.index(frozenset())])
    excess = float(mixed_5y[subsets.index(frozenset(CAUSES))] - ref_risk)

    def by_year(r: np.ndarray) -> dict[str, float]:
        return {str(h): float(r[at[h * DAYS_PER_YEAR]]) for h in HORIZONS_YEARS}

    lower, upper = band.curve(point[0], times, band_times)
    # The first recurrence is local or distant: the distant incidence integrates its density
    # (smooth: seeds wake over years), the local one is the rest of the risk, so the two add
    # up to it exactly (the margin clone's density peaks too sharply to integrate monthly).
    from scipy.integrate import cumulative_trapezoid

    distant_all = np.minimum(cumulative_trapezoid(curves[0, :, 2], times, initial=0.0), point[0])
    local_all = point[0] - distant_all
    gi = [at[float(t)] for t in grid]
    curve = pd.DataFrame(
        {
            "risk": point[0, gi],
            "lower": lower[gi],
            "upper": upper[gi],
            "local": local_all[gi],
            "distant": distant_all[gi],
        },
        index=pd.Index(grid, name="time_days"),
    )
    counterfactuals: dict[str, dict[str, Any]] = {}
    for k, (name, p) in enumerate(cf.items()):
        row = 1 + k
        curve[f"risk_{name}"] = point[row, gi]
        counterfactuals[name] = {"patient": dataclasses.asdict(p), "risk": by_year(point[row])}
    conditional = None
    if rf > 0:
        s0 = 1.0 - point[0, at[rf]]
        conditional = {
            str(h): float(1.0 - (1.0 - point[0, at[rf + h * DAYS_PER_YEAR]]) / s0)
            for h in (1, 3, 5)
        }
    return Explanation(
        patient=patient,
        reference=ref,
        curve=curve,
        risk=by_year(point[0]),
        risk_lower=by_year(lower),
        risk_upper=by_year(upper),
        excess_risk=excess,
        reference_risk=ref_risk,
        shares=shares,
        share_intervals={c: (float(share_lo[i]), float(share_hi[i])) for i, c in enumerate(CAUSES)},
        counterfactuals=counterfactuals,
        earlier_months=float(earlier_months),
        recurrence_free_years=float(recurrence_free_years),
        conditional=conditional,
        model={"data": fit.data, "parameters": fit.parameter_summary()},
    )
