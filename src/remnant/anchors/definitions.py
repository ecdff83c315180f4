"""The anchors: published figures of ../shared/design/anchors.md, each with the setting its
source measured and the function that measures the model there.

Each :class:`Anchor` is one row of the table. Citations are written as anchors.md writes them.
Where the model cannot express a setting exactly, the approximation is stated in the anchor
(``approximation``) and, for the stage mixes, in :mod:`remnant.anchors.cohorts` with the source
of the weights. Figures that the model cannot speak to at all are :data:`NOT_EXPRESSIBLE`.

Definitions used throughout (the model's side):

* "recurrence by t" (a percentage of patients): crude cumulative incidence of a first
  recurrence, other-cause death competing (virtual patients are followed completely);
* "RFS", "time to recurrence", "distant recurrence years 5-20": Kaplan-Meier with
  other-cause deaths censored (a stage II RFS of 89% at 7 years, BMC Cancer 2014;14:336, is
  above the overall survival of 68-year-olds, so the published RFS cannot count deaths);
* a hazard: actuarial life table of first recurrences (deaths censored) in monthly bins,
  smoothed with a Gaussian kernel of one month for peak and mode finding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from remnant.anchors import stats
from remnant.anchors.cohorts import (
    BREAST_ALL_STAGES,
    BREAST_CONSERVING,
    BREAST_NODE_POSITIVE,
    COLON_ALL_STAGES,
    DISTANT,
    LOCAL,
    PAN_NODES,
    PAN_T1_SIZE_MM,
    POSTMENOPAUSAL_AGE,
    PREMENOPAUSAL_AGE,
    Cohort,
    CohortCache,
    Setting,
    patient,
    stage_mix,
)
from remnant.anchors.stats import Estimate, LifeTable
from remnant.model.units import DAYS_PER_YEAR

BOOTSTRAP_REPLICATES = 200
MONTH = 1.0 / 12.0
SMOOTH_BINS = 1.0  # Gaussian smoothing of the monthly hazard, in bins (one month)
MODE_PROMINENCE = 0.1  # a mode must stand 10% of the maximum above its surroundings
UNVERIFIED = "from anchors.md, unverified"
# The Immunoscore figures as the ASCO Post reported the paper (https://www.ascopost.com/News/
# 58924): 5-year recurrence 8% / 19% / 32% for high / intermediate / low, HR high vs low
# 0.20, in the training set (n = 700); the HR's interval is not in that report.
PAGES_CHECKED = "training set; checked against the ASCO Post report of the paper"


@dataclass(frozen=True)
class Curve:
    """A model curve for an anchor's figure, in the anchor's display units."""

    label: str
    x: np.ndarray
    y: np.ndarray
    xlabel: str
    ylabel: str


@dataclass(frozen=True)
class Measured:
    """What an anchor's measurement returns: the estimate and what to draw.

    Attributes
    ----------
    estimate : Estimate
        The model's value and its Monte Carlo interval (anchor units, e.g. a fraction).
    curves : tuple of Curve
        Model curves for the figure (display units); empty for a scalar (forest) figure.
    x : float or None
        Where the published figure sits on the curves' x axis (None: on the y axis of a
        hazard curve, or a forest figure).
    note : str
        Anything the reader needs to interpret the value (e.g. "no second mode").
    """

    estimate: Estimate
    curves: tuple[Curve, ...] = ()
    x: float | None = None
    note: str = ""
    shade: tuple[float, float] | None = None  # an x-range to shade (a published time window)


Measure = Callable[[CohortCache, np.random.Generator], Measured]


@dataclass(frozen=True)
class Anchor:
    """One published figure and how the model is measured against it.

    Attributes
    ----------
    id : str
        Short stable name (``--only`` takes these).
    source : str
        The citation, as anchors.md gives it.
    setting : str
        Cancer, stage mix, margin, immune category and horizon the figure was measured in,
        as the model expresses it.
    quantity : str
        What is compared.
    published : float
        The published figure in the anchor's units (a fraction for a percentage); NaN for a
        qualitative figure such as "falls".
    published_text : str
        The published figure as written.
    interval : tuple of float or None
        The published interval (95% CI or a stated range); None when there is none, and the
        tolerance rule (3 points or 20%) applies.
    unit : {"%", "%/year", "ratio", "years", "months", "year"}
        Display unit (fractions are shown as percentages).
    proportion : bool
        For the tolerance rule: a proportion or risk (3 points or 20%, whichever is wider).
    figure : str
        Name of the figure the row is drawn in (rows of one curve share one figure).
    measure : callable
        ``measure(cache, rng) -> Measured``.
    approximation : str
        How the setting was approximated where the model cannot express it exactly.
    verified : bool
        False for figures anchors.md itself marks to be checked against the paper.
    interval_label : str
        Where the interval comes from, when it is not simply "published" or the tolerance.
    """

    id: str
    source: str
    setting: str
    quantity: str
    published: float
    published_text: str
    interval: tuple[float, float] | None
    unit: str
    proportion: bool
    figure: str
    measure: Measure = field(repr=False)
    approximation: str = ""
    verified: bool = True
    interval_label: str = ""

    def band(self) -> tuple[float, float]:
        """The interval the model's value must lie in to pass."""
        if self.interval is not None:
            return self.interval
        return stats.tolerance_band(self.published, proportion=self.proportion)

    @property
    def interval_kind(self) -> str:
        """Where the pass interval comes from."""
        if self.interval_label:
            return self.interval_label
        if self.interval is not None:
            return "published"
        return "tolerance: 3 points or 20%" if self.proportion else "tolerance: 20%"

    @property
    def scale(self) -> float:
        """Factor from the anchor's units to its display units."""
        return 100.0 if self.unit in ("%", "%/year") else 1.0


@dataclass(frozen=True)
class NotExpressible:
    """A figure of anchors.md that the model cannot speak to, and why."""

    id: str
    source: str
    figure: str
    reason: str


# ------------------------------------------------------------------------------ settings


def _colon(stage: str, **kw: object) -> Setting:
    label = f"colon stage {stage}, " + ", ".join(f"{k} {v}" for k, v in kw.items())
    key = f"colon-{stage}-" + "-".join(f"{k}={v}" for k, v in sorted(kw.items()))
    margin = str(kw.get("margin", "R0"))
    immune = str(kw.get("immune", "unknown"))
    return Setting(
        key,
        label.rstrip(", ") if kw else f"colon stage {stage}, R0, immunity unknown",
        ((patient(cancer="colon", stage=stage, margin=margin, immune=immune), 1.0),),
    )


COLON = {s: _colon(s) for s in ("I", "II", "III")}
COLON_II_R1 = Setting(
    "colon-II-R1",
    "colon stage II, R1, immunity unknown",
    ((patient(cancer="colon", stage="II", margin="R1"), 1.0),),
)
COLON_MIX = {
    (margin, immune): Setting(
        f"colon-mix-{margin}-{immune}",
        f"colon stage I/II/III 25/25/50%, {margin}, {immune} immunity",
        stage_mix("colon", COLON_ALL_STAGES, margin=margin, immune=immune),
    )
    for margin, immune in (
        ("R0", "unknown"),
        ("R1", "unknown"),
        ("R0", "intermediate"),
        ("R0", "high"),
        ("R0", "low"),
    )
}
PAN = {
    cat: Setting(
        f"breast-pan-T1{cat}",
        f"breast T1 ({PAN_T1_SIZE_MM:g} mm), {cat} (node counts {', '.join(map(str, nodes))}"
        " equally weighted), R0, immunity unknown",
        tuple(
            (
                patient(cancer="breast", stage="I", size_mm=PAN_T1_SIZE_MM, nodes=k),
                1.0 / len(nodes),
            )
            for k in nodes
        ),
    )
    for cat, nodes in PAN_NODES.items()
}
BREAST_MIX = Setting(
    "breast-mix-R0",
    "breast stage I/II/III equally weighted, R0, immunity unknown",
    stage_mix("breast", BREAST_ALL_STAGES),
)
# The counterfactual without the surgery's effects: no waking burst, no post-operative dip.
BREAST_MIX_NO_SURGERY_EFFECT = Setting(
    "breast-mix-R0-no-surgery-effect",
    "as breast-mix-R0, with surgery_wake_multiplier 1 and dip_depth 0",
    stage_mix("breast", BREAST_ALL_STAGES),
    (("dip_depth", 0.0), ("surgery_wake_multiplier", 1.0)),
)
BREAST_BCS = {
    margin: Setting(
        f"breast-bcs-{margin}",
        f"breast stage I/II 50/50%, {margin}, immunity unknown",
        stage_mix("breast", BREAST_CONSERVING, margin=margin),
    )
    for margin in ("R0", "R1")
}
BREAST_NODE_POS = {
    age: Setting(
        f"breast-nodepos-age{age:g}",
        f"breast stage II/III (1 and 5 nodes) 50/50%, R0, immunity unknown, age {age:g}",
        stage_mix("breast", BREAST_NODE_POSITIVE, age=age),
    )
    for age in (PREMENOPAUSAL_AGE, POSTMENOPAUSAL_AGE)
}


# ------------------------------------------------------------------------------ measures


def _grid(stop: float, step: float = 0.05) -> np.ndarray:
    return np.arange(0.0, stop + 1e-9, step)


def _kind_mask(cohort: Cohort, kind: str) -> np.ndarray:
    if kind == "local":
        return cohort.event == LOCAL
    if kind == "distant":
        return cohort.event == DISTANT
    return cohort.recurrence


def crude_curve(cohort: Cohort, kind: str, stop: float, label: str) -> Curve:
    """Crude cumulative incidence (%) of a first recurrence of ``kind`` over time."""
    x = _grid(stop)
    t = np.sort(cohort.time[_kind_mask(cohort, kind)])
    y = 100.0 * np.searchsorted(t, x, side="right") / cohort.n
    return Curve(label, x, y, "years after surgery", f"cumulative {kind} recurrence (%)")


def crude_at(setting: Setting, kind: str, horizon: float, label: str = "") -> Measure:
    """Crude cumulative incidence of a first recurrence of ``kind`` by ``horizon`` years."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        est = stats.crude_incidence(c.time, _kind_mask(c, kind), horizon)
        curve = crude_curve(c, kind, max(10.0, horizon), label or setting.key)
        return Measured(est, (curve,), horizon)

    return measure


def km_curve(cohort: Cohort, stop: float, label: str, *, complement: bool) -> Curve:
    x = _grid(stop)
    s, _, _ = stats.kaplan_meier(cohort.time, cohort.recurrence, x)
    if complement:
        return Curve(label, x, 100 * (1 - s), "years after surgery", "recurrence, KM (%)")
    return Curve(label, x, 100 * s, "years after surgery", "recurrence-free survival, KM (%)")


def km_at(setting: Setting, at: float, *, complement: bool, label: str = "") -> Measure:
    """Kaplan-Meier recurrence-free survival (or its complement) at ``at`` years, other-cause
    deaths censored."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        est = stats.km_estimate(c.time, c.recurrence, at, complement=complement)
        curve = km_curve(c, max(10.0, at), label or setting.key, complement=complement)
        return Measured(est, (curve,), at)

    return measure


def pan_distant(setting: Setting) -> Measure:
    """Distant recurrence in years 5-20 among patients alive and recurrence-free at 5 years:
    Kaplan-Meier from 5 years, deaths and local recurrences censored."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        keep = c.time > 5.0
        t = c.time[keep]
        ev = c.event[keep] == DISTANT
        est = stats.km_estimate(t, ev, 20.0, complement=True)
        x = np.arange(5.0, 20.0 + 1e-9, 0.1)
        s, _, _ = stats.kaplan_meier(t, ev, x)
        curve = Curve(
            setting.key, x, 100 * (1 - s), "years after surgery", "distant recurrence after 5 y (%)"
        )
        return Measured(est, (curve,), 20.0)

    return measure


def two_group_or(group1: Setting, group0: Setting, kind: str, horizon: float) -> Measure:
    """Odds ratio of a first recurrence of ``kind`` by ``horizon``, group 1 against group 0."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c1, c0 = cache.get(group1), cache.get(group0)
        k1 = int(np.count_nonzero(_kind_mask(c1, kind) & (c1.time <= horizon)))
        k0 = int(np.count_nonzero(_kind_mask(c0, kind) & (c0.time <= horizon)))
        est = stats.odds_ratio(k1, c1.n, k0, c0.n)
        note = (
            f"{kind} recurrence by {horizon:g} y: {100 * k1 / c1.n:.1f}% vs {100 * k0 / c0.n:.1f}%"
        )
        return Measured(est, (), None, note)

    return measure


def cox_hr(group1: Setting, group0: Setting, horizon: float) -> Measure:
    """Hazard ratio of recurrence, group 1 against group 0, follow-up cut at ``horizon``."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c1, c0 = cache.get(group1), cache.get(group0)
        time = np.minimum(np.concatenate([c1.time, c0.time]), horizon)
        rec = np.concatenate(
            [c1.recurrence & (c1.time <= horizon), c0.recurrence & (c0.time <= horizon)]
        )
        group = np.concatenate([np.ones(c1.n, bool), np.zeros(c0.n, bool)])
        return Measured(stats.cox_binary(time, rec, group))

    return measure


def monthly_table(cohort: Cohort, stop: float = 15.0) -> LifeTable:
    return LifeTable.build(cohort.time, cohort.recurrence, np.arange(0.0, stop + 1e-9, MONTH))


def _smoothed_hazards(table: LifeTable, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed hazard of a table, and of its bootstrap replicates (one per row)."""
    widths = np.diff(table.edges)
    h = stats.smoothed(
        stats.hazard(table.events, table.censored, table.beyond, widths), SMOOTH_BINS
    )
    ev, ce = table.resample(rng, BOOTSTRAP_REPLICATES)
    beyond = table.n - ev.sum(axis=1) - ce.sum(axis=1)
    hb = stats.smoothed(stats.hazard(ev, ce, beyond, widths), SMOOTH_BINS)
    return h, hb


def hazard_curve(table: LifeTable, h: np.ndarray, label: str, months: bool) -> Curve:
    centres = 0.5 * (table.edges[:-1] + table.edges[1:])
    x = centres * 12.0 if months else centres
    return Curve(
        label,
        x,
        100 * h,
        "months after surgery" if months else "years after surgery",
        "hazard of recurrence (% per year, smoothed)",
    )


def peak(
    setting: Setting,
    *,
    which: str,
    window: float,
    months: bool,
    shade: tuple[float, float] | None = None,
) -> Measure:
    """A time (years, or months when ``months``) of the smoothed hazard: its global maximum
    within ``window`` years (``which="global"``) or its first / second mode (``"mode1"``,
    ``"mode2"``). Interval: bootstrap of patients, percentile."""

    def stat(h: np.ndarray, centres: np.ndarray) -> float:
        inside = centres <= window
        hh = h[inside]
        if which == "global":
            t = float(centres[inside][int(np.argmax(hh))])
        else:
            found = stats.modes(hh, prominence=MODE_PROMINENCE)
            k = 0 if which == "mode1" else 1
            t = float(centres[inside][found[k]]) if len(found) > k else math.nan
        return 12.0 * t if months else t

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        table = monthly_table(c, max(window, 10.0))
        centres = 0.5 * (table.edges[:-1] + table.edges[1:])
        h, hb = _smoothed_hazards(table, rng)
        value = stat(h, centres)
        boot = np.array([stat(row, centres) for row in hb])
        lo, hi = stats.percentile_interval(boot)
        n_modes = len(stats.modes(h[centres <= window], prominence=MODE_PROMINENCE))
        est = Estimate(
            value,
            lo,
            hi,
            f"bootstrap of patients ({BOOTSTRAP_REPLICATES}), percentile; one-month bins",
        )
        curve = hazard_curve(table, h, setting.key, months)
        note = f"{n_modes} mode(s) of the smoothed hazard within {window:g} y"
        if not math.isfinite(value):
            note = "no such mode; " + note
        return Measured(est, (curve,), None, note, shade)

    return measure


def hazard_ratio_bins(
    setting: Setting,
    num: tuple[float, float],
    den: tuple[float, float],
    *,
    den_is_peak: bool = False,
) -> Measure:
    """Ratio of the hazard in the years ``num`` to that in ``den`` (or, with ``den_is_peak``,
    to the smoothed monthly hazard's maximum). Interval: bootstrap of patients."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        table = monthly_table(c, 15.0)
        centres = 0.5 * (table.edges[:-1] + table.edges[1:])
        h, hb = _smoothed_hazards(table, rng)
        widths = np.diff(table.edges)
        raw = stats.hazard(table.events, table.censored, table.beyond, widths)
        ev, ce = table.resample(rng, BOOTSTRAP_REPLICATES)
        beyond = table.n - ev.sum(axis=1) - ce.sum(axis=1)
        raw_b = stats.hazard(ev, ce, beyond, widths)
        in_num = (centres >= num[0]) & (centres < num[1])
        in_den = (centres >= den[0]) & (centres < den[1])

        def ratio(raw_h: np.ndarray, smooth_h: np.ndarray) -> np.ndarray:
            top = np.max(smooth_h, axis=-1) if den_is_peak else np.mean(raw_h[..., in_den], -1)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.asarray(np.mean(raw_h[..., in_num], axis=-1) / top)

        value = float(ratio(raw, h))
        lo, hi = stats.percentile_interval(ratio(raw_b, hb))
        est = Estimate(value, lo, hi, f"bootstrap of patients ({BOOTSTRAP_REPLICATES}), percentile")
        return Measured(est, (hazard_curve(table, h, setting.key, False),), None)

    return measure


def annual_risk(setting: Setting, year: int) -> Measure:
    """Conditional probability of a first recurrence in year ``year`` (1 = the first year)
    among patients at risk at its start (actuarial; Wilson on the effective number)."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        table = LifeTable.build(c.time, c.recurrence, np.arange(0.0, 13.0, 1.0))
        q = stats.actuarial(table.events, table.censored, table.beyond)
        later = np.cumsum((table.events + table.censored)[::-1])[::-1] + table.beyond
        effective = later[year - 1] - table.censored[year - 1] / 2
        k = int(table.events[year - 1])
        lo, hi = stats.wilson(k, int(round(effective)))
        est = Estimate(float(q[year - 1]), lo, hi, "Wilson on the actuarial number at risk")
        x = np.arange(1, 13, dtype=np.float64)
        curve = Curve(
            setting.key, x, 100 * q, "year after surgery", "annual risk of recurrence (%)"
        )
        return Measured(est, (curve,), float(year))

    return measure


def peak_year(setting: Setting) -> Measure:
    """The year (1 = first) with the highest annual risk of recurrence; bootstrap."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        table = LifeTable.build(c.time, c.recurrence, np.arange(0.0, 13.0, 1.0))
        q = stats.actuarial(table.events, table.censored, table.beyond)
        ev, ce = table.resample(rng, BOOTSTRAP_REPLICATES)
        beyond = table.n - ev.sum(axis=1) - ce.sum(axis=1)
        qb = stats.actuarial(ev, ce, beyond)
        value = float(np.nanargmax(q) + 1)
        lo, hi = stats.percentile_interval(np.nanargmax(qb, axis=1).astype(float) + 1)
        est = Estimate(value, lo, hi, f"bootstrap of patients ({BOOTSTRAP_REPLICATES}), percentile")
        x = np.arange(1, 13, dtype=np.float64)
        curve = Curve(
            setting.key, x, 100 * q, "year after surgery", "annual risk of recurrence (%)"
        )
        return Measured(est, (curve,), None, shade=(1.5, 2.5))

    return measure


def plateau_rate(setting: Setting, start: float, stop: float) -> Measure:
    """Recurrences per person-year between ``start`` and ``stop`` years (deaths censored)."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        est = stats.event_rate(c.time, c.recurrence, start, stop)
        table = LifeTable.build(c.time, c.recurrence, np.arange(0.0, 15.0 + 1e-9, 1.0))
        widths = np.diff(table.edges)
        h = stats.hazard(table.events, table.censored, table.beyond, widths)
        curve = Curve(
            setting.key,
            table.edges[:-1] + 0.5,
            100 * h,
            "years after surgery",
            "hazard of recurrence (% per year)",
        )
        return Measured(est, (curve,), 0.5 * (start + stop), shade=(start, stop))

    return measure


def recurrence_spread(setting: Setting, kind: str) -> Measure:
    """Spread of recurrence times of ``kind``: 90th minus 10th percentile (years);
    bootstrap of the recurrences."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c = cache.get(setting)
        t = np.sort(c.time[_kind_mask(c, kind)])
        if len(t) < 10:
            return Measured(
                Estimate(math.nan, math.nan, math.nan, "bootstrap"),
                (),
                None,
                f"only {len(t)} {kind} recurrences",
            )
        q10, q90 = np.percentile(t, [10, 90])
        boot = np.empty(BOOTSTRAP_REPLICATES)
        for i in range(BOOTSTRAP_REPLICATES):
            s = rng.choice(t, size=len(t), replace=True)
            b10, b90 = np.percentile(s, [10, 90])
            boot[i] = b90 - b10
        lo, hi = stats.percentile_interval(boot)
        est = Estimate(
            float(q90 - q10),
            lo,
            hi,
            f"bootstrap of recurrences ({BOOTSTRAP_REPLICATES}), percentile",
        )
        note = f"10th-90th percentile {q10:.2f}-{q90:.2f} y, {len(t)} {kind} recurrences"
        curve = crude_curve(c, kind, 5.0, setting.key)
        return Measured(est, (curve,), None, note)

    return measure


def surgery_share(with_effect: Setting, without: Setting, horizon: float) -> Measure:
    """Share of the recurrences by ``horizon`` that the counterfactual without the surgery's
    effects (waking burst, immune dip) lacks: 1 - p(without) / p(with)."""

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        c1, c0 = cache.get(with_effect), cache.get(without)
        k1 = int(np.count_nonzero(c1.recurrence & (c1.time <= horizon)))
        k0 = int(np.count_nonzero(c0.recurrence & (c0.time <= horizon)))
        est = stats.attributable_fraction(k1, c1.n, k0, c0.n)
        curves = (
            crude_curve(c1, "any", horizon, "with surgery effects"),
            crude_curve(c0, "any", horizon, "without (no burst, no dip)"),
        )
        note = (
            "independent-sample interval; the two cohorts share no random numbers by design "
            "(their seeds differ), so it is exact, not conservative"
        )
        return Measured(est, curves, None, note)

    return measure


def immune_dip(day: float, *, what: str) -> Measure:
    """The post-operative immune trajectory of the calibrated mechanism, exactly (no sampling).

    ``what="fall"``: the mean fall of immunity I(t)/I0 on ``day``; ``what="below75"``: the
    share of patients whose immunity is below 75% of baseline on ``day``. The model's
    I(t)/I0 (dip times lapse) stands for Angka 2018's NK-cell IFN-gamma output relative to
    baseline. The dip is deterministic; lapses start after a wait Exp(rate) and alternate with
    waits (an alternating renewal process from t = 0), so the k-th lapse starts at a
    Gamma(k, rate) wait plus (k - 1) lapse lengths.
    """

    def measure(cache: CohortCache, rng: np.random.Generator) -> Measured:
        from remnant.model import calibrated

        mech = calibrated.mechanism("colon")  # Angka 2018: colorectal surgery
        days = np.arange(0.0, 90.0, 0.5)
        dip = np.array([_dip_at(mech, d) for d in days])
        p_lapse = np.array([_in_lapse(mech, d) for d in days])
        low_factor = 1.0 - mech.lapse_depth
        if what == "fall":
            mean = dip * (1 - p_lapse) + dip * low_factor * p_lapse
            y = 100 * (1 - mean)
            d_dip = _dip_at(mech, day)
            d_p = _in_lapse(mech, day)
            value = 1 - (d_dip * (1 - d_p) + d_dip * low_factor * d_p)
            label, ylabel = "mean fall of I(t)/I0", "fall of immunity from baseline (%)"
        else:
            below = (dip < 0.75).astype(float) + (dip >= 0.75) * (dip * low_factor < 0.75) * p_lapse
            y = 100 * below
            d_dip = _dip_at(mech, day)
            d_p = _in_lapse(mech, day)
            value = 1.0 if d_dip < 0.75 else (d_p if d_dip * low_factor < 0.75 else 0.0)
            label, ylabel = "share with I(t)/I0 < 0.75", "patients below 75% of baseline (%)"
        est = Estimate(float(value), float(value), float(value), "exact (from the mechanism)")
        return Measured(est, (Curve(label, days, y, "days after surgery", ylabel),), day)

    return measure


def _dip_at(mech: object, day: float) -> float:
    from remnant.model.mechanisms import dip_multiplier

    step = int(day // mech.dip_step_days)  # type: ignore[attr-defined]
    if step >= mech.dip_steps:  # type: ignore[attr-defined]
        return 1.0
    return dip_multiplier(mech, step)  # type: ignore[arg-type]


def _in_lapse(mech: object, day: float) -> float:
    """P(a lapse covers ``day``) for the alternating renewal process of lapses."""
    from scipy.stats import gamma

    rate = mech.lapse_rate_per_year / DAYS_PER_YEAR  # type: ignore[attr-defined]
    length = mech.lapse_days  # type: ignore[attr-defined]
    if rate <= 0:
        return 0.0
    total = 0.0
    k = 1
    while (k - 1) * length <= day and k < 10_000:
        # the k-th lapse starts at S_k = G_k + (k - 1) L; it covers day if day - L < S_k <= day
        upper = day - (k - 1) * length
        lower = day - k * length
        cdf_up = gamma.cdf(upper, k, scale=1 / rate) if upper > 0 else 0.0
        cdf_lo = gamma.cdf(lower, k, scale=1 / rate) if lower > 0 else 0.0
        total += cdf_up - cdf_lo
        k += 1
    return float(total)


# ------------------------------------------------------------------------------- anchors

GATELY = "Gately et al., PubMed 34184594 (n = 4257)"
QADERI = "Qaderi 2021 (Dutch registry)"
BMC2014 = "BMC Cancer 2014;14:336"
PAN2017 = "Pan et al. 2017 NEJM 377:1836"
CRD2015 = "Colorectal Dis 2015;17:943, PMID 25808496 (1110 resections)"
HOUSSAMI = "Houssami 2014 Ann Surg Oncol 21:717 (28,162 patients)"
PAGES = "Pages 2018 (Lancet 391:2128; 2681 stage I-III colon)"
ANGKA = "Angka 2018 Ann Surg Oncol"
SAPHNER = "Saphner 1996 J Clin Oncol 14:2738"
GEURTS = "Geurts 2017 Breast Cancer Res Treat, PMC5602040 (9342 stage I-III)"
JATOI = "Jatoi 2005 Breast Cancer Res Treat 89:173"
MAEDA = "Maeda 2017 J Cancer 8:4057, PMC5706008 (3984 patients)"
DEMICHELI04 = "Demicheli 2004 Breast Cancer Res 6:R689"
DEMICHELI08 = "Demicheli 2008 Breast Cancer Res 10:R83"
RETSKY = "Retsky 2010 Cancers 2:305"
SMOOTH = "anchors.md (timing: real curves are smooth); threshold from issue 16's targets"

NO_TREATMENT = "the model has no adjuvant treatment: treated cohorts are compared untreated"


def _anchors() -> list[Anchor]:
    out: list[Anchor] = []
    # --- Stage: 5-year recurrence, colon I / II / III (Gately) ---
    for stage, value in (("I", 0.038), ("II", 0.12), ("III", 0.28)):
        out.append(
            Anchor(
                f"gately-colon-{stage}-5y",
                GATELY,
                COLON[stage].label + ", 5 years",
                "5-year recurrence (crude, death competing)",
                value,
                f"{100 * value:g}%",
                None,
                "%",
                True,
                "gately-colon-5y",
                crude_at(COLON[stage], "any", 5.0, f"stage {stage}"),
                "stage = the model's stage default "
                "(colon I 25 mm N0, II 45 mm N0, III 50 mm 3 nodes)",
            )
        )
    # --- Stage: 3-year cumulative recurrence by side (Qaderi) ---
    for side, values in (("right", (0.03, 0.12, 0.31)), ("left", (0.03, 0.16, 0.24))):
        for stage, value in zip(("I", "II", "III"), values, strict=True):
            out.append(
                Anchor(
                    f"qaderi-{side}-colon-{stage}-3y",
                    QADERI,
                    COLON[stage].label + ", 3 years",
                    "3-year cumulative recurrence (crude)",
                    value,
                    f"{100 * value:g}%",
                    None,
                    "%",
                    True,
                    f"qaderi-{side}-colon-3y",
                    crude_at(COLON[stage], "any", 3.0, f"stage {stage}"),
                    "the model's colon has no side: one colon cohort is compared with each side",
                )
            )
    # --- Recurrence-free survival by year, colon II and III (BMC Cancer 2014) ---
    rfs: tuple[tuple[str, tuple[float, ...]], ...] = (
        ("II", (0.98, 0.92, 0.90, 0.89)),
        ("III", (0.94, 0.78, 0.70, 0.66)),
    )
    for stage, rfs_values in rfs:
        for year, value in zip((1, 3, 5, 7), rfs_values, strict=True):
            out.append(
                Anchor(
                    f"bmc2014-colon-{stage}-rfs-{year}y",
                    BMC2014,
                    COLON[stage].label + f", {year} years",
                    "recurrence-free survival (KM, deaths censored)",
                    value,
                    f"{100 * value:g}%",
                    None,
                    "%",
                    True,
                    f"bmc2014-colon-{stage}-rfs",
                    km_at(COLON[stage], float(year), complement=False, label=f"stage {stage}"),
                )
            )
    # --- Breast by T and N: distant recurrence years 5-20 (Pan 2017) ---
    for cat, value in (("N0", 0.13), ("N1-3", 0.20), ("N4-9", 0.34)):
        out.append(
            Anchor(
                f"pan2017-breast-T1{cat}",
                PAN2017,
                PAN[cat].label + ", years 5-20",
                "distant recurrence in years 5-20 given recurrence-free at 5 (KM)",
                value,
                f"{100 * value:g}%",
                None,
                "%",
                True,
                "pan2017-breast",
                pan_distant(PAN[cat]),
                "ER+ and 5 years of endocrine therapy are not in the model: " + NO_TREATMENT,
            )
        )
    # --- Incomplete removal: colon R1 vs R0 over all stages (Colorectal Dis 2015) ---
    r0, r1 = COLON_MIX["R0", "unknown"], COLON_MIX["R1", "unknown"]
    mix_note = (
        "stage mix of the 1110 resections not in anchors.md: I/II/III 25/25/50% "
        "(Brenner 2016, see remnant/anchors/cohorts.py); the same mix for R0 and R1, so "
        "the model's contrast is stage-adjusted while the published one is crude; "
        "horizon not given, 5 years chosen"
    )
    out.append(
        Anchor(
            "crd2015-colon-R0-relapse",
            CRD2015,
            r0.label + ", 5 years",
            "relapse after R0 (crude)",
            0.189,
            "18.9%",
            None,
            "%",
            True,
            "crd2015-colon-margin",
            crude_at(r0, "any", 5.0, "R0"),
            mix_note,
        )
    )
    out.append(
        Anchor(
            "crd2015-colon-R1-relapse",
            CRD2015,
            r1.label + ", 5 years",
            "relapse after R1 (crude)",
            0.555,
            "55.5%",
            None,
            "%",
            True,
            "crd2015-colon-margin",
            crude_at(r1, "any", 5.0, "R1"),
            mix_note,
        )
    )
    # The crude odds ratio implied by 55.5% vs 18.9%, with Woolf's interval reconstructed from
    # the counts (13.3% of 1110 = 148 R1, 82 relapses; 962 R0, 182 relapses).
    crude = stats.odds_ratio(82, 148, 182, 962)
    out.append(
        Anchor(
            "crd2015-colon-R1-vs-R0-OR",
            CRD2015,
            f"{r1.label} vs R0, 5 years",
            "odds ratio of relapse, R1 vs R0",
            crude.value,
            f"{crude.value:.2f} (crude, from 55.5% vs 18.9%)",
            (crude.low, crude.high),
            "ratio",
            False,
            "crd2015-colon-or",
            two_group_or(r1, r0, "any", 5.0),
            mix_note + "; interval reconstructed from the counts (Woolf)",
            interval_label="reconstructed from n (Woolf)",
        )
    )
    # --- Incomplete removal: breast positive margin, local recurrence (Houssami 2014) ---
    out.append(
        Anchor(
            "houssami2014-breast-positive-margin-OR",
            HOUSSAMI,
            f"{BREAST_BCS['R1'].label} vs R0, 5 years",
            "odds ratio of local recurrence, positive (R1) vs negative (R0) margin",
            2.44,
            "2.44",
            None,
            "ratio",
            False,
            "houssami2014-breast-or",
            two_group_or(BREAST_BCS["R1"], BREAST_BCS["R0"], "local", 5.0),
            "breast-conserving surgery = stage I/II 50/50% (no mix in anchors.md); radiotherapy is "
            "not in the model; follow-up not given, 5 years chosen",
        )
    )
    # --- Immunity: Immunoscore groups (Pages 2018) ---
    for immune, value in (("high", 0.08), ("intermediate", 0.19), ("low", 0.32)):
        s = COLON_MIX["R0", immune]
        out.append(
            Anchor(
                f"pages2018-colon-immune-{immune}-5y",
                PAGES,
                s.label + ", 5 years",
                "5-year time to recurrence (KM, deaths censored)",
                value,
                f"{100 * value:g}% ({PAGES_CHECKED})",
                None,
                "%",
                True,
                "pages2018-colon-5y",
                km_at(s, 5.0, complement=True, label=f"{immune} immunity"),
                "Immunoscore high / intermediate / low = the bands 70-100% / 25-70% / 0-25% "
                "of the calibrated model's spread of baseline immunity (docs/model.md 1.9); "
                "stage mix I/II/III 25/25/50% (Brenner 2016, see remnant/anchors/cohorts.py)",
                verified=True,
            )
        )
    out.append(
        Anchor(
            "pages2018-colon-HR-high-vs-low",
            PAGES,
            "colon stage I/II/III 25/25/50%, R0, high vs low immunity, follow-up cut at 5 years",
            "hazard ratio of recurrence, high vs low",
            0.20,
            f"0.20 ({PAGES_CHECKED}); interval 0.10-0.38 ({UNVERIFIED})",
            (0.10, 0.38),
            "ratio",
            False,
            "pages2018-colon-hr",
            cox_hr(COLON_MIX["R0", "high"], COLON_MIX["R0", "low"], 5.0),
            "Immunoscore high / low = I0 2 / 0.5; stage mix as above",
            verified=False,
            interval_label="95% CI from anchors.md, unverified",
        )
    )
    # --- Immunity: the post-operative dip (Angka 2018) ---
    dip_note = "the model's relative immunity I(t)/I0 stands for NK-cell IFN-gamma output"
    out.append(
        Anchor(
            "angka2018-dip-day1",
            ANGKA,
            "default mechanism, day 1 after surgery",
            "fall of immunity from baseline on day 1",
            0.83,
            "83%",
            None,
            "%",
            True,
            "angka2018-dip-fall",
            immune_dip(1.0, what="fall"),
            dip_note,
        )
    )
    for day, value in ((28.0, 0.655), (56.0, 0.33)):
        out.append(
            Anchor(
                f"angka2018-below75-day{day:g}",
                ANGKA,
                f"default mechanism, day {day:g}",
                f"patients below 75% of baseline on day {day:g}",
                value,
                f"{100 * value:g}%",
                None,
                "%",
                True,
                "angka2018-dip-below75",
                immune_dip(day, what="below75"),
                dip_note,
            )
        )
    # --- Timing: breast hazard peak and fall (Saphner 1996, Geurts 2017) ---
    out.append(
        Anchor(
            "saphner1996-breast-peak",
            SAPHNER,
            BREAST_MIX.label,
            "time of the hazard's peak (years)",
            1.5,
            "in the interval 1-2 years",
            (1.0, 2.0),
            "years",
            False,
            "saphner1996-breast-hazard",
            peak(BREAST_MIX, which="global", window=12.0, months=False, shade=(1.0, 2.0)),
            "ECOG adjuvant trials: " + NO_TREATMENT + "; stage mix equal weights",
            interval_label="published range",
        )
    )
    out.append(
        Anchor(
            "saphner1996-breast-fall",
            SAPHNER,
            BREAST_MIX.label,
            "hazard in years 4-5 / hazard in years 1-2",
            math.nan,
            "falls from 2 to 5 years (< 1)",
            (0.0, 1.0),
            "ratio",
            False,
            "saphner1996-breast-hazard",
            hazard_ratio_bins(BREAST_MIX, (4.0, 5.0), (1.0, 2.0)),
            NO_TREATMENT,
            interval_label="published: falls",
        )
    )
    out.append(
        Anchor(
            "saphner1996-breast-plateau",
            SAPHNER,
            BREAST_MIX.label + ", years 5-12",
            "recurrences per person-year, years 5-12",
            0.043,
            "about 4.3% per year",
            None,
            "%/year",
            True,
            "saphner1996-breast-plateau",
            plateau_rate(BREAST_MIX, 5.0, 12.0),
            NO_TREATMENT,
        )
    )
    out.append(
        Anchor(
            "geurts2017-breast-peak-year",
            GEURTS,
            BREAST_MIX.label,
            "year with the highest annual risk",
            2.0,
            "the second year",
            (2.0, 2.0),
            "year",
            False,
            "geurts2017-breast-annual",
            peak_year(BREAST_MIX),
            "stage mix equal weights",
            interval_label="published",
        )
    )
    out.append(
        Anchor(
            "geurts2017-breast-year2-risk",
            GEURTS,
            BREAST_MIX.label + ", year 2",
            "annual risk of recurrence in year 2",
            0.039,
            "3.9% (3.5-4.3)",
            (0.035, 0.043),
            "%",
            True,
            "geurts2017-breast-annual",
            annual_risk(BREAST_MIX, 2),
            "stage mix equal weights",
            interval_label="published 95% CI",
        )
    )
    # --- Timing: without adjuvant therapy (Jatoi 2005) and after conservative surgery
    # (Demicheli 2008): peaks near 2 and 5 years ---
    for src, fig, unit_months, firsts in (
        (JATOI, "jatoi2005", False, ((1, 2.0), (2, 5.0))),
        (DEMICHELI08, "demicheli2008", True, ((1, 24.0), (2, 60.0))),
    ):
        for k, value in firsts:
            unit = "months" if unit_months else "years"
            out.append(
                Anchor(
                    f"{fig}-breast-peak{k}",
                    src,
                    BREAST_MIX.label,
                    f"time of the hazard's {'first' if k == 1 else 'second'} mode ({unit})",
                    value,
                    f"about {value:g} {unit}",
                    None,
                    unit,
                    False,
                    f"{fig}-breast-hazard",
                    peak(BREAST_MIX, which=f"mode{k}", window=12.0, months=unit_months),
                    "stage mix equal weights"
                    + (
                        "; the model has no adjuvant therapy, as in the source"
                        if fig == "jatoi2005"
                        else "; conservative surgery = R0"
                    ),
                )
            )
    # --- Timing: node-positive colon (Maeda 2017) ---
    out.append(
        Anchor(
            "maeda2017-colon-nodepos-peak",
            MAEDA,
            COLON["III"].label,
            "time of the hazard's peak (years)",
            0.6,
            "0.6 years",
            None,
            "years",
            False,
            "maeda2017-colon-hazard",
            peak(COLON["III"], which="global", window=10.0, months=False),
            "node-positive = the model's stage III (3 nodes); JFMC adjuvant trials: "
            + NO_TREATMENT,
        )
    )
    out.append(
        Anchor(
            "maeda2017-colon-nodepos-fall",
            MAEDA,
            COLON["III"].label,
            "hazard in years 2.5-3 / peak hazard",
            math.nan,
            "falls steadily to 3 years (< 1)",
            (0.0, 1.0),
            "ratio",
            False,
            "maeda2017-colon-hazard",
            hazard_ratio_bins(COLON["III"], (2.5, 3.0), (0.0, 0.0), den_is_peak=True),
            "node-positive = the model's stage III (3 nodes)",
            interval_label="published: falls",
        )
    )
    # --- Timing: bimodality after mastectomy (Demicheli 2004) ---
    pre, post = BREAST_NODE_POS[PREMENOPAUSAL_AGE], BREAST_NODE_POS[POSTMENOPAUSAL_AGE]
    meno = (
        "menopause is not in the model; premenopausal = age 45, postmenopausal = age 60 "
        "(age only changes other-cause death); node-positive = stage II/III 50/50%"
    )
    out.append(
        Anchor(
            "demicheli2004-premeno-peak1",
            DEMICHELI04,
            pre.label,
            "time of the hazard's first mode (months)",
            9.0,
            "8-10 months",
            (8.0, 10.0),
            "months",
            False,
            "demicheli2004-premeno",
            peak(pre, which="mode1", window=8.0, months=True, shade=(8.0, 10.0)),
            meno,
            interval_label="published range",
        )
    )
    out.append(
        Anchor(
            "demicheli2004-premeno-peak2",
            DEMICHELI04,
            pre.label,
            "time of the hazard's second mode (months)",
            29.0,
            "28-30 months",
            (28.0, 30.0),
            "months",
            False,
            "demicheli2004-premeno",
            peak(pre, which="mode2", window=8.0, months=True, shade=(28.0, 30.0)),
            meno,
            interval_label="published range",
        )
    )
    out.append(
        Anchor(
            "demicheli2004-postmeno-peak",
            DEMICHELI04,
            post.label,
            "time of the hazard's single peak (months)",
            19.0,
            "18-20 months",
            (18.0, 20.0),
            "months",
            False,
            "demicheli2004-postmeno",
            peak(post, which="global", window=8.0, months=True, shade=(18.0, 20.0)),
            meno,
            interval_label="published range",
        )
    )
    # --- Surgery-triggered relapses (Retsky 2010) ---
    out.append(
        Anchor(
            "retsky2010-surgery-triggered-share",
            RETSKY,
            BREAST_MIX.label + ", 10 years, against the counterfactual without surgery effects",
            "share of recurrences by 10 years due to the surgery's effects",
            0.5,
            "over half (> 50%)",
            (0.5, 1.0),
            "%",
            True,
            "retsky2010-breast",
            surgery_share(BREAST_MIX, BREAST_MIX_NO_SURGERY_EFFECT, 10.0),
            "surgery-triggered = not occurring without the waking burst and the immune dip "
            "(counterfactual cohort); horizon not given, 10 years chosen",
            interval_label="published: over half",
        )
    )
    # --- Smoothness: spread of margin recurrence times (issue 16 target) ---
    out.append(
        Anchor(
            "smooth-colon-II-R1-local-spread",
            SMOOTH,
            COLON_II_R1.label,
            "10th-90th percentile span of local recurrence times (years)",
            1.0,
            ">= 1 year",
            (1.0, math.inf),
            "years",
            False,
            "smooth-colon-r1",
            recurrence_spread(COLON_II_R1, "local"),
            "qualitative in anchors.md; the 1-year threshold is issue 16's target",
            interval_label="issue 16 target",
        )
    )
    return out


ANCHORS: tuple[Anchor, ...] = tuple(_anchors())

NOT_EXPRESSIBLE: tuple[NotExpressible, ...] = (
    NotExpressible(
        "qaderi2021-rectum",
        QADERI,
        "rectum 8/24/38% at 3 years",
        "the model has colon and breast cancer only; no rectal cancer",
    ),
    NotExpressible(
        "brenner2016-screening",
        "Brenner 2016 Oncotarget 7:44695",
        "screen-detected 68% stage I-II vs 50% by symptoms",
        "the model starts at surgery with the stage as an input; it has no "
        "pre-diagnostic history or screening to produce a stage distribution",
    ),
    NotExpressible(
        "houssami2014-close-margin",
        HOUSSAMI,
        "positive or close vs negative OR 1.96; wider negative margins no better",
        "the model's margins are R0 / R1 / R2: no 'close' margin and no margin width",
    ),
    NotExpressible(
        "tie2016-ctdna",
        "Tie 2016 Sci Transl Med 8:346ra92",
        "ctDNA+ 79% vs ctDNA- 9.8% recurred, HR 18 (also Henriksen 2022 HR 7, "
        "Faulkner 2022 HR 6.92, DYNAMIC Tie 2022)",
        "the simulator records no circulating tumour DNA (no shedding model) and no "
        "treatment; residual disease at surgery is not an output column",
    ),
    NotExpressible(
        "galon2006-infiltrates",
        "Galon 2006 Science 313:1960",
        "immune infiltrates predict recurrence better than stage",
        "a qualitative claim about predictive markers, no figure; the quantitative "
        "Immunoscore rows (Pages 2018) stand for it",
    ),
    NotExpressible(
        "maeda2017-node-negative-T4",
        MAEDA,
        "node-negative hazard stays low; T4 peaks near 1 year",
        "'stays low' has no figure; T4 is depth of invasion, which the model does "
        "not have (its colon T stage is a size)",
    ),
    NotExpressible(
        "kinetics-doubling",
        "Zhang 2017; colorectal liver metastases 71-155 days",
        "breast primary doubling median 164 days; metastasis doubling 71-155 days",
        "inputs of the model, not outputs: the breast primary doubling time is set to "
        "164 days, and the spread of doubling times between patients is set from the "
        "same figures (growth_spread 0.49, docs/model.md 1.10); clones grow exponentially "
        "(no Gompertz slowing), so there is no simulated doubling time to compare",
    ),
    NotExpressible(
        "treatment-follow-up",
        "Moertel 1990/1995; FACS JAMA 2014; COLOFOL JAMA 2018; PREDICT Breast",
        "treatment effects and follow-up schedules",
        "the model has no adjuvant treatment and no follow-up schedule",
    ),
    NotExpressible(
        "real-cohort-discrimination",
        "STRATOS (McLernon 2023); Katzman 2018; "
        "Nicolo 2020; measured Cox C on Rotterdam/GBSG/colon",
        "Harrell C, Brier score, calibration slope on real cohorts",
        "about the fit to real cohorts (remnant evaluate / remnant fit), not about "
        "the simulator at its defaults",
    ),
)


def select(only: list[str] | tuple[str, ...] | None) -> tuple[Anchor, ...]:
    """The anchors named in ``only`` (ids, in table order); all of them for None.

    An id may also be a prefix ending in ``*`` (``pan2017*``) or a figure name.
    """
    if only is None:
        return ANCHORS
    from remnant.errors import RemnantInputError

    chosen: list[Anchor] = []
    for name in only:
        if name.endswith("*"):
            hit = [a for a in ANCHORS if a.id.startswith(name[:-1])]
        else:
            hit = [a for a in ANCHORS if a.id == name or a.figure == name]
        if not hit:
            raise RemnantInputError("only", "anchor ids (see docs/anchors.md)", name)
        chosen.extend(a for a in hit if a not in chosen)
    order = {a.id: i for i, a in enumerate(ANCHORS)}
    return tuple(sorted(chosen, key=lambda a: order[a.id]))
