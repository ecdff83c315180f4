"""Statistics of the anchor table: estimates from simulated cohorts and their Monte Carlo
intervals, and the pass/miss rule.

Every function here is a pure function of its arguments (random draws, for the bootstrap,
come from a generator passed in). Times are in years unless a name says otherwise; a
proportion is a fraction in [0, 1]; a hazard is per year.

Intervals (95%):

* a proportion of patients (crude cumulative incidence with complete follow-up): Wilson score;
* a Kaplan-Meier probability (other-cause deaths censored): Greenwood variance on the
  log(-log) scale (the default of ``lifelines``);
* an odds ratio: Woolf's delta method on the log odds ratio;
* a hazard ratio: Cox partial likelihood (Breslow ties), Wald interval on the log hazard ratio
  from the observed information (delta method);
* a ratio of two proportions or an attributable fraction: delta method on the log ratio;
* an event rate per person-year: Poisson, delta method on the log rate;
* a peak time or a ratio of hazards of a life table: bootstrap of patients (multinomial over
  the life table's cells, which is exactly resampling patients), percentile interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks
from scipy.stats import norm

Z95 = float(norm.ppf(0.975))

# The tolerance for a published figure given without an interval (issue 16, "Targets"): within
# 3 percentage points or 20% relative, whichever is wider. For a quantity that is not a
# proportion (a ratio, a time) percentage points have no meaning and 20% relative applies.
TOLERANCE_POINTS = 0.03
TOLERANCE_RELATIVE = 0.20


def tolerance_band(value: float, *, proportion: bool) -> tuple[float, float]:
    """The band around a published figure that has no interval.

    Parameters
    ----------
    value : float
        The published figure (a fraction for a proportion).
    proportion : bool
        True for a proportion or a risk per year (3 points or 20%, whichever is wider,
        clipped to [0, 1]); False for a ratio or a time (20% relative).

    Returns
    -------
    (low, high) : tuple of float
    """
    if proportion:
        half = max(TOLERANCE_POINTS, TOLERANCE_RELATIVE * abs(value))
        return max(0.0, value - half), min(1.0, value + half)
    half = TOLERANCE_RELATIVE * abs(value)
    return value - half, value + half


def verdict(value: float, low: float, high: float) -> str:
    """``"pass"`` when the model's value lies in the published interval (ends included),
    else ``"miss"`` (a value that could not be computed, NaN, is a miss)."""
    if not math.isfinite(value):
        return "miss"
    return "pass" if low <= value <= high else "miss"


def borderline(mc_low: float, mc_high: float, low: float, high: float) -> bool:
    """True when the Monte Carlo interval crosses an end of the published interval, so that
    the verdict could change with another seed."""
    if not (math.isfinite(mc_low) and math.isfinite(mc_high)):
        return False
    return (mc_low < low <= mc_high) or (mc_low <= high < mc_high)


@dataclass(frozen=True)
class Estimate:
    """A model value with its 95% Monte Carlo interval and how the interval was computed."""

    value: float
    low: float
    high: float
    method: str


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(k: int, n: int) -> Estimate:
    """A proportion of patients with its Wilson interval."""
    lo, hi = wilson(k, n)
    return Estimate(k / n if n else math.nan, lo, hi, "Wilson (binomial)")


def crude_incidence(time: np.ndarray, is_event: np.ndarray, horizon: float) -> Estimate:
    """Fraction of all patients whose first event is of the kind ``is_event`` by ``horizon``.

    With complete follow-up of virtual patients this is the cumulative incidence with
    competing events (Aalen-Johansen), and it is a binomial proportion.

    Parameters
    ----------
    time : array of float
        Time of each patient's first event or end of follow-up (years).
    is_event : array of bool
        The first event is of the kind counted.
    horizon : float
        Years after surgery.
    """
    k = int(np.count_nonzero(is_event & (time <= horizon)))
    return proportion(k, len(time))


def kaplan_meier(
    time: np.ndarray, is_event: np.ndarray, at: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan-Meier survival at ``at`` with its 95% log(-log) Greenwood interval.

    Parameters
    ----------
    time : array of float
        Time of event or censoring (years).
    is_event : array of bool
        True for an event, False for a censoring.
    at : float or array of float
        Times (years) at which to evaluate.

    Returns
    -------
    (survival, low, high) : arrays of the shape of ``at``
    """
    at_arr = np.atleast_1d(np.asarray(at, dtype=np.float64))
    n = len(time)
    t = np.sort(time, kind="stable")
    ev_sorted = np.sort(time[is_event])
    ev_times, deaths = np.unique(ev_sorted, return_counts=True)
    # at risk at each distinct event time: the patients whose time is >= it
    at_risk = n - np.searchsorted(t, ev_times, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_terms = np.log1p(-deaths / at_risk)
        green_terms = deaths / (at_risk * (at_risk - deaths))
    cum_log = np.concatenate([[0.0], np.cumsum(log_terms)])
    cum_green = np.concatenate([[0.0], np.cumsum(green_terms)])
    idx = np.searchsorted(ev_times, at_arr, side="right")
    log_s = cum_log[idx]
    s = np.exp(log_s)
    var = cum_green[idx]
    low = np.empty_like(s)
    high = np.empty_like(s)
    for i in range(len(s)):
        if s[i] <= 0.0 or s[i] >= 1.0 or not math.isfinite(var[i]):
            low[i] = high[i] = s[i]
            continue
        theta = math.log(-log_s[i])
        se = math.sqrt(var[i]) / abs(log_s[i])
        low[i] = math.exp(-math.exp(theta + Z95 * se))
        high[i] = math.exp(-math.exp(theta - Z95 * se))
    return s, low, high


def km_estimate(time: np.ndarray, is_event: np.ndarray, at: float, *, complement: bool) -> Estimate:
    """One Kaplan-Meier value at ``at``: survival, or its complement (the net risk)."""
    s, lo, hi = kaplan_meier(time, is_event, at)
    method = "Kaplan-Meier, Greenwood log(-log)"
    if complement:
        return Estimate(1 - float(s[0]), 1 - float(hi[0]), 1 - float(lo[0]), method)
    return Estimate(float(s[0]), float(lo[0]), float(hi[0]), method)


def odds_ratio(k1: int, n1: int, k0: int, n0: int) -> Estimate:
    """Odds ratio of group 1 against group 0 with Woolf's interval (0.5 added to every cell
    when one is empty, Haldane)."""
    a, b, c, d = float(k1), float(n1 - k1), float(k0), float(n0 - k0)
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return Estimate(
        math.exp(log_or),
        math.exp(log_or - Z95 * se),
        math.exp(log_or + Z95 * se),
        "Woolf (delta method on log OR)",
    )


def attributable_fraction(k1: int, n1: int, k0: int, n0: int) -> Estimate:
    """``1 - p0 / p1``: the share of group 1's events that group 0 (the counterfactual)
    lacks, with the delta-method interval of the log ratio (independent samples)."""
    if k1 == 0 or k0 == 0:
        return Estimate(math.nan, math.nan, math.nan, "delta method on log(p0/p1)")
    p1, p0 = k1 / n1, k0 / n0
    log_r = math.log(p0 / p1)
    se = math.sqrt((1 - p0) / k0 + (1 - p1) / k1)
    return Estimate(
        1 - p0 / p1,
        1 - math.exp(log_r + Z95 * se),
        1 - math.exp(log_r - Z95 * se),
        "delta method on log(p0/p1)",
    )


def cox_binary(
    time: np.ndarray, is_event: np.ndarray, group: np.ndarray, *, max_iter: int = 50
) -> Estimate:
    """Hazard ratio of ``group`` (True) against the rest, Cox partial likelihood.

    Newton-Raphson on the log hazard ratio with Breslow's handling of tied event times; the
    interval is the Wald interval from the observed information (delta method).

    Parameters
    ----------
    time : array of float
        Time of event or censoring (years).
    is_event : array of bool
        Event indicator.
    group : array of bool
        Covariate (1 in the group compared, 0 in the reference).
    """
    order = np.argsort(time, kind="stable")
    t = time[order]
    x = group[order].astype(np.float64)
    e = is_event[order]
    ev = np.flatnonzero(e)
    if len(ev) == 0:
        return Estimate(math.nan, math.nan, math.nan, "Cox (Breslow), Wald on log HR")
    start = np.searchsorted(t, t[ev], side="left")  # risk set: time >= event time
    x_ev_sum = float(x[ev].sum())
    beta = 0.0
    info = math.nan
    for _ in range(max_iter):
        w = np.exp(beta * x)
        s0 = np.cumsum(w[::-1])[::-1]
        s1 = np.cumsum((w * x)[::-1])[::-1]
        ratio = s1[start] / s0[start]
        score = x_ev_sum - float(ratio.sum())
        info = float((ratio * (1 - ratio)).sum())  # x binary: S2 = S1
        if info <= 0:
            return Estimate(math.nan, math.nan, math.nan, "Cox (Breslow), Wald on log HR")
        step = score / info
        beta += float(np.clip(step, -5, 5))
        if abs(step) < 1e-10:
            break
    se = 1.0 / math.sqrt(info)
    return Estimate(
        math.exp(beta),
        math.exp(beta - Z95 * se),
        math.exp(beta + Z95 * se),
        "Cox (Breslow ties), Wald on log HR",
    )


def event_rate(time: np.ndarray, is_event: np.ndarray, start: float, stop: float) -> Estimate:
    """Events per person-year in ``[start, stop)`` among patients at risk there, with a
    Poisson interval (delta method on the log rate)."""
    exposure = float(np.clip(np.minimum(time, stop) - start, 0.0, None).sum())
    k = int(np.count_nonzero(is_event & (time >= start) & (time < stop)))
    if k == 0 or exposure <= 0:
        return Estimate(0.0 if exposure > 0 else math.nan, 0.0, math.nan, "Poisson")
    rate = k / exposure
    se = 1 / math.sqrt(k)
    return Estimate(
        rate,
        rate * math.exp(-Z95 * se),
        rate * math.exp(Z95 * se),
        "Poisson (delta method on log rate)",
    )


# ----------------------------------------------------------------------------- life tables


@dataclass(frozen=True)
class LifeTable:
    """Counts of a life table: per bin, events and censorings, and patients beyond the end.

    Attributes
    ----------
    edges : array of float
        Bin edges (years), starting at 0.
    events, censored : arrays of int
        Per bin: first events of the kind counted, and other ends of follow-up.
    beyond : int
        Patients still at risk at the last edge.
    """

    edges: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    beyond: int

    @classmethod
    def build(cls, time: np.ndarray, is_event: np.ndarray, edges: np.ndarray) -> LifeTable:
        """The life table of ``time`` (years) with events ``is_event`` on ``edges``."""
        k = len(edges) - 1
        bins = np.searchsorted(edges, time, side="right") - 1  # bin of [edge_i, edge_i+1)
        inside = (bins >= 0) & (bins < k)
        events = np.bincount(bins[inside & is_event], minlength=k)[:k]
        censored = np.bincount(bins[inside & ~is_event], minlength=k)[:k]
        beyond = int(np.count_nonzero(bins >= k))
        return cls(np.asarray(edges, dtype=np.float64), events, censored, beyond)

    @property
    def n(self) -> int:
        return int(self.events.sum() + self.censored.sum() + self.beyond)

    def cells(self) -> np.ndarray:
        """Probabilities of the table's cells (events per bin, censorings per bin, beyond)."""
        counts = np.concatenate([self.events, self.censored, [self.beyond]]).astype(np.float64)
        return counts / counts.sum()

    def resample(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` bootstrap replicates of (events, censored), each of shape (size, bins):
        a multinomial draw over the cells is the same as resampling patients."""
        k = len(self.events)
        draws = rng.multinomial(self.n, self.cells(), size=size)
        return draws[:, :k], draws[:, k : 2 * k]


def actuarial(events: np.ndarray, censored: np.ndarray, beyond: int | np.ndarray) -> np.ndarray:
    """Per-bin conditional probability of an event (actuarial: censorings at risk for half
    the bin), for one table (1-d) or replicates (2-d, bins on the last axis)."""
    events = np.asarray(events, dtype=np.float64)
    censored = np.asarray(censored, dtype=np.float64)
    later = np.cumsum((events + censored)[..., ::-1], axis=-1)[..., ::-1]
    entering = later + np.asarray(beyond, dtype=np.float64)[..., None]
    effective = entering - censored / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(effective > 0, events / effective, np.nan)


def hazard(
    table_events: np.ndarray, censored: np.ndarray, beyond: int | np.ndarray, widths: np.ndarray
) -> np.ndarray:
    """Actuarial hazard per year in each bin: ``-ln(1 - q) / width``."""
    q = actuarial(table_events, censored, beyond)
    with np.errstate(divide="ignore"):
        return -np.log1p(-np.clip(q, 0, 1 - 1e-12)) / widths


def smoothed(h: np.ndarray, sigma_bins: float) -> np.ndarray:
    """The hazard smoothed with a Gaussian kernel of ``sigma_bins`` bins (last axis)."""
    return gaussian_filter1d(np.nan_to_num(h), sigma_bins, axis=-1, mode="nearest")


def modes(h: np.ndarray, *, prominence: float = 0.1) -> np.ndarray:
    """Indices of the local maxima of a (smoothed) hazard whose prominence is at least
    ``prominence`` times its maximum, in time order."""
    top = float(np.max(h)) if len(h) else 0.0
    if top <= 0:
        return np.array([], dtype=np.int64)
    # a maximum at the first bin counts too: pad with a zero before it
    padded = np.concatenate([[0.0], h, [0.0]])
    peaks, _ = find_peaks(padded, prominence=prominence * top)
    return np.asarray(peaks - 1, dtype=np.int64)


def percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of finite bootstrap values (NaN when fewer than half are
    finite, i.e. the quantity did not exist in most replicates)."""
    finite = values[np.isfinite(values)]
    if len(finite) < max(1, len(values) // 2):
        return math.nan, math.nan
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return float(lo), float(hi)
