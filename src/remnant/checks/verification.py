"""Statistical verification of the engine against theory and the event-by-event reference.

Each check simulates the same thing two ways (the engine and :mod:`remnant.checks.reference`, or a
simulation and a closed-form law), runs one test at the fixed level :data:`ALPHA` and reads
"correct" when the result is what a correct engine gives: a p-value above ``ALPHA`` for the
agreement checks, below it for the "trap" check (a deliberately wrong variant that the test
must reject, which shows the test has power). Checks that compare distributions also draw a
QQ plot with the band inside which a correct engine's points fall at level ``ALPHA``.

Run all checks, or some, from the command line::

    python -m remnant.checks.verification --out-dir docs/verification
    python -m remnant.checks.verification --out-dir docs/verification \
        --check clone-sizes --scale 0.5

The results go to ``<out-dir>/README.md`` (one row per test) and one PNG per plot. The
cheaper versions of the same checks run in the test suite (tests/test_engine_theory.py,
tests/test_engine_vs_reference.py).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from scipy import stats

from remnant.checks.reference import gillespie_clone, seed_history, simulate_reference
from remnant.engine.kernel import advance_clone
from remnant.model.mechanisms import derive, extinction_probability, geometric_parameter
from remnant.model.parameters import Mechanism, Patient
from remnant.model.units import DAYS_PER_YEAR

ALPHA = 1e-3
RECURRENCE = ("local", "distant")

# ---------------------------------------------------------------------------------------
# Test statistics
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One statistical test.

    Attributes
    ----------
    check : str
        The check it belongs to.
    name : str
        What is compared.
    test : str
        The test used ("KS", "chi-square", "binomial", "z").
    statistic : float
        The test statistic.
    pvalue : float
        Its p-value.
    n : str
        Sample sizes.
    expect_reject : bool
        True for a trap: a correct test must reject it.
    note : str
        What an "incorrect" reading most likely means (printed under the table).
    """

    check: str
    name: str
    test: str
    statistic: float
    pvalue: float
    n: str
    expect_reject: bool = False
    note: str = ""

    @property
    def correct(self) -> bool:
        """Whether the outcome is the one a correct engine gives at level :data:`ALPHA`."""
        return (self.pvalue < ALPHA) == self.expect_reject


def _merge_small(counts: np.ndarray, min_expected: float = 5.0) -> np.ndarray:
    # Merge adjacent columns of a 2 x K table until every expected count is >= min_expected,
    # the usual condition for the chi-square approximation.
    cols = [c for c in counts.T if c.sum() > 0]
    if not cols:
        return np.zeros((2, 0))
    total = counts.sum()
    rows = counts.sum(axis=1)

    def small(col: np.ndarray) -> bool:
        return bool((rows * col.sum() / total < min_expected).any())

    merged: list[np.ndarray] = []
    acc = np.zeros(2)
    for col in cols:
        acc = acc + col
        if not small(acc):
            merged.append(acc)
            acc = np.zeros(2)
    if acc.sum() > 0:
        if merged:
            merged[-1] = merged[-1] + acc
        else:
            merged.append(acc)
    return np.array(merged).T


def chi2_two_sample(
    a: Sequence[Any] | np.ndarray, b: Sequence[Any] | np.ndarray
) -> tuple[float, float]:
    """Chi-square test that two samples of labels come from the same categorical law.

    Categories are ordered by label and adjacent ones merged until each expected count is at
    least 5. Returns ``(statistic, p-value)``; p = 1 when only one category is left.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    labels = np.unique(np.concatenate([a, b]))
    counts = np.array([[np.sum(a == lab) for lab in labels], [np.sum(b == lab) for lab in labels]])
    table = _merge_small(counts.astype(float))
    if table.shape[1] < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue)


def chi2_binned(x: np.ndarray, y: np.ndarray, n_bins: int = 30) -> tuple[float, float]:
    """Chi-square test that two samples of numbers share a law, on bins of the pooled sample.

    Bin edges are pooled quantiles (repeated values collapse, so discrete laws get one bin
    per value where values are frequent). Returns ``(statistic, p-value)``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    pooled = np.concatenate([x, y])
    edges = np.unique(np.quantile(pooled, np.linspace(0.0, 1.0, n_bins + 1)))
    # right-open bins [e_i, e_{i+1}) with the last one holding the maximum
    ix = np.searchsorted(edges, x, side="right")
    iy = np.searchsorted(edges, y, side="right")
    return chi2_two_sample(ix, iy)


def chi2_goodness(
    sample: np.ndarray, pmf: Callable[[np.ndarray], np.ndarray]
) -> tuple[float, float]:
    """Chi-square goodness of fit of integer data to a probability mass function.

    Values are merged from the top down until each expected count is at least 5 (the last
    class holds the whole upper tail). Returns ``(statistic, p-value)``.
    """
    sample = np.asarray(sample, dtype=np.int64)
    n = sample.size
    top = int(sample.max())
    support = np.arange(0, top + 1)
    probs = pmf(support)
    observed = np.bincount(sample, minlength=top + 1).astype(float)
    expected = n * probs
    expected[-1] += n * max(0.0, 1.0 - probs.sum())  # upper tail beyond the largest value
    obs_m: list[float] = []
    exp_m: list[float] = []
    o_acc = e_acc = 0.0
    for o, e in zip(observed, expected, strict=True):
        o_acc += o
        e_acc += e
        if e_acc >= 5.0:
            obs_m.append(o_acc)
            exp_m.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc > 0 and obs_m:
        obs_m[-1] += o_acc
        exp_m[-1] += e_acc
    if len(obs_m) < 2:
        return 0.0, 1.0
    res = stats.chisquare(obs_m, exp_m)
    return float(res.statistic), float(res.pvalue)


def z_mean(sample: np.ndarray, mean: float, variance: float) -> tuple[float, float]:
    """z test of a sample mean against a known mean and per-draw variance (two-sided)."""
    sample = np.asarray(sample, dtype=float)
    if variance <= 0:
        return 0.0, 1.0 if np.allclose(sample, mean) else 0.0
    z = (sample.mean() - mean) / math.sqrt(variance / sample.size)
    return float(z), float(2.0 * stats.norm.sf(abs(z)))


def binomial(successes: int, trials: int, p: float) -> tuple[float, float]:
    """Exact binomial test; returns (observed fraction, p-value)."""
    res = stats.binomtest(int(successes), int(trials), float(p))
    return successes / trials, float(res.pvalue)


# ---------------------------------------------------------------------------------------
# Birth-death laws at constant rates
# ---------------------------------------------------------------------------------------


def bd_mean(n0: float, b: float, d: float, tau: float) -> float:
    """E[N(tau)] of a linear birth-death clone from ``n0`` cells (cells)."""
    return n0 * math.exp((b - d) * tau)


def bd_variance(n0: float, b: float, d: float, tau: float) -> float:
    """Var N(tau) of a linear birth-death clone from ``n0`` cells (cells squared)."""
    r = b - d
    if abs(r) * tau < 1e-12:
        return n0 * 2.0 * b * tau
    e = math.exp(r * tau)
    return n0 * (b + d) / r * e * (e - 1.0)


def bd_pmf_one_cell(b: float, d: float, tau: float) -> Callable[[np.ndarray], np.ndarray]:
    """P(N(tau) = n), n = 0, 1, ..., for a clone of one cell (Kendall 1948)."""
    p0 = extinction_probability(b, d, tau)
    beta = geometric_parameter(b, d, tau)

    def pmf(n: np.ndarray) -> np.ndarray:
        n = np.asarray(n)
        out = (1.0 - p0) * (1.0 - beta) * beta ** np.maximum(n - 1, 0)
        return np.where(n == 0, p0, out)

    return pmf


def poisson_pmf(mean: float) -> Callable[[np.ndarray], np.ndarray]:
    """The Poisson probability mass function of the given mean."""

    def pmf(k: np.ndarray) -> np.ndarray:
        return np.asarray(stats.poisson.pmf(k, mean))

    return pmf


@njit(cache=True)
def engine_clone_replicates(
    n0: float,
    b: float,
    d: float,
    tau: float,
    switch: float,
    detect: float,
    reps: int,
    rng: np.random.Generator,
    phase: float = math.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """``reps`` clones advanced by the engine's ``advance_clone`` over ``tau`` days.

    The interval is cut into phases of ``phase`` days (constant rates throughout), as the
    engine does at the immune trajectory's change points. Returns the sizes at ``tau``
    (cells; the detection size once reached) and the first times at ``detect`` cells (days;
    -1 if not reached).
    """
    sizes = np.empty(reps)
    hits = np.empty(reps)
    for i in range(reps):
        n = n0
        t = 0.0
        th = -1.0
        while t < tau and n > 0.0:
            step = min(phase, tau - t)
            n, h = advance_clone(n, b, d, step, switch, detect, rng)
            if h >= 0.0:
                th = t + h
                break
            t += step
        sizes[i] = n
        hits[i] = th
    return sizes, hits


# ---------------------------------------------------------------------------------------
# Scenarios at reduced detection size
# ---------------------------------------------------------------------------------------


def reduced_mechanism(**overrides: Any) -> Mechanism:
    """The default mechanism with detection and visibility at 1e4 cells and switch at 1e3.

    Lapses are made frequent (one a year) so that they matter within a few years.
    """
    base: dict[str, Any] = {
        "detection_cells_local": 1.0e4,
        "detection_cells_distant": 1.0e4,
        "visible_cells_at_surgery": 1.0e4,
        "switch_cells": 1.0e3,
        "lapse_rate_per_year": 1.0,
    }
    base.update(overrides)
    return Mechanism().replace(**base)


@dataclass(frozen=True)
class Case:
    """A patient and mechanism simulated by both the engine and the reference."""

    name: str
    patient: Patient
    mechanism: Mechanism
    horizon_days: float
    note: str = ""


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case(
            "colon3-R1",
            Patient.from_stage("colon", "III", margin="R1"),
            reduced_mechanism(),
            3 * DAYS_PER_YEAR,
            "typical immunity, seeds and margin both active",
        ),
        Case(
            "breast2-R2-low",
            Patient.from_stage("breast", "II", margin="R2", immune="low"),
            # the margin clone starts near 500 cells: the switch sits at the detection size
            # so that the deterministic regime does not start at the clone's own size (see
            # check_switch_limit)
            reduced_mechanism(switch_cells=1.0e4),
            2 * DAYS_PER_YEAR,
            "low immunity, macroscopic margin residual",
        ),
        Case(
            "colon3-R0-high",
            Patient.from_stage("colon", "III", margin="R0", immune="high", nodes=8),
            reduced_mechanism(lapse_depth=0.8),
            5 * DAYS_PER_YEAR,
            "high immunity: dip and deep lapses decide who recurs",
        ),
        Case(
            "colon2-R1-spread-high",
            Patient.from_stage("colon", "II", margin="R1", immune="high", spread=True),
            # a calibrated model's immunity: scaled, spread between patients, the patient in
            # the top 30% of the spread (Immunoscore high); the reference lives each
            # patient's whole history at its own drawn immunity
            reduced_mechanism(immune_scale=0.8, immune_spread=0.8),
            3 * DAYS_PER_YEAR,
            "immunity spread between patients, drawn within an Immunoscore band",
        ),
        Case(
            "colon3-R1-clock-spread",
            Patient.from_stage("colon", "III", margin="R1"),
            # each patient's disease runs on its own clock: the engine lives the mechanism's
            # history in disease time a t, the reference scales every post-surgery rate by a
            # and every duration of the host's by 1/a
            reduced_mechanism(growth_spread=0.6),
            3 * DAYS_PER_YEAR,
            "growth spread between patients: each patient's disease clock",
        ),
    )
}


def engine_table(case: Case, n: int, seed: int, workers: int | None = None) -> pd.DataFrame:
    """The engine's table for a case (events and phases as plain strings)."""
    import remnant

    scenario = remnant.Scenario.single(case.patient, case.mechanism, name=case.name)
    res = remnant.simulate(
        scenario, n, seed=seed, horizon_years=case.horizon_days / DAYS_PER_YEAR, workers=workers
    )
    assert res.table is not None
    t = res.table.copy()
    for col in ("event", "origin", "immune_phase"):
        t[col] = t[col].astype(str)
    return t


def reference_table(case: Case, n: int, seed: int, workers: int = 1) -> pd.DataFrame:
    """The reference's table for a case."""
    return simulate_reference(
        case.patient,
        case.mechanism,
        n,
        seed=seed,
        horizon_days=case.horizon_days,
        workers=workers,
    )


def recurrence_times(table: pd.DataFrame) -> np.ndarray:
    """Recurrence times (days) of the patients who recurred."""
    return table.loc[table["event"].isin(RECURRENCE), "time_days"].to_numpy(dtype=float)


def round_up(times: np.ndarray, grid_days: float = 30.0) -> np.ndarray:
    """Times rounded up to the next multiple of ``grid_days`` (the trap's wrong engine)."""
    return np.ceil(np.asarray(times) / grid_days) * grid_days


ALIVE_NOTE = (
    "`clones_alive` / `dormant_alive` at recurrence: the reference counts clones and asleep "
    "seeds at the recurrence time; the engine advances every clone and the dormant pool to "
    "the end of the phase in which the recurrence happened and counts them there (with one "
    "phase from surgery to the horizon, the asleep seeds are counted at the horizon)."
)


def compare_tables(check: str, eng: pd.DataFrame, ref: pd.DataFrame) -> list[Outcome]:
    """Every agreement test between an engine table and a reference table of one case."""
    n = f"{len(eng)} / {len(ref)}"
    out = []
    st, p = chi2_two_sample(eng["event"], ref["event"])
    out.append(Outcome(check, "event (local / distant / death / none)", "chi-square", st, p, n))
    te = recurrence_times(eng)
    tr = recurrence_times(ref)
    nr = f"{te.size} / {tr.size}"
    ks = stats.ks_2samp(te, tr)
    out.append(Outcome(check, "recurrence time", "KS", float(ks.statistic), float(ks.pvalue), nr))
    re_ = eng[eng["event"].isin(RECURRENCE)]
    rr = ref[ref["event"].isin(RECURRENCE)]
    for col, label in (("origin", "origin"), ("immune_phase", "immune phase at establishment")):
        st, p = chi2_two_sample(re_[col], rr[col])
        out.append(Outcome(check, f"{label} (recurrences)", "chi-square", st, p, nr))
    for origin in ("seed", "margin"):
        a = re_.loc[re_["origin"] == origin, "escaped_low_immunity"]
        b = rr.loc[rr["origin"] == origin, "escaped_low_immunity"]
        if len(a) and len(b):
            st, p = chi2_two_sample(a, b)
            out.append(
                Outcome(
                    check,
                    f"escaped_low_immunity ({origin} recurrences)",
                    "chi-square",
                    st,
                    p,
                    f"{len(a)} / {len(b)}",
                )
            )
    e_none = eng[~eng["event"].isin(RECURRENCE)]
    r_none = ref[~ref["event"].isin(RECURRENCE)]
    for col in ("clones_alive", "dormant_alive"):
        for label, e_rows, r_rows in (
            ("no recurrence", e_none, r_none),
            ("at recurrence", re_, rr),
        ):
            if len(e_rows) < 20 or len(r_rows) < 20:
                continue
            st, p = chi2_binned(e_rows[col].to_numpy(), r_rows[col].to_numpy())
            out.append(
                Outcome(
                    check,
                    f"{col} ({label})",
                    "chi-square",
                    st,
                    p,
                    f"{len(e_rows)} / {len(r_rows)}",
                    note=ALIVE_NOTE if label == "at recurrence" else "",
                )
            )
    return out


# ---------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------


def qq_plot(
    path: Path,
    engine: np.ndarray,
    reference: np.ndarray,
    title: str,
    unit: str,
    *,
    log: bool = False,
) -> None:
    """QQ plot of engine against reference quantiles with the KS acceptance band.

    The band at probability level p spans the reference quantiles at p -/+ D*, where D* is
    the two-sample KS critical distance at level :data:`ALPHA`: a correct engine's points
    stay inside it (all of them, with probability 1 - ALPHA).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engine = np.sort(np.asarray(engine, dtype=float))
    reference = np.sort(np.asarray(reference, dtype=float))
    probs = np.linspace(0.005, 0.995, 199)
    qe = np.quantile(engine, probs)
    qr = np.quantile(reference, probs)
    n, m = engine.size, reference.size
    d_crit = math.sqrt(-math.log(ALPHA / 2.0) / 2.0) * math.sqrt((n + m) / (n * m))
    lo = np.quantile(reference, np.clip(probs - d_crit, 0.0, 1.0))
    hi = np.quantile(reference, np.clip(probs + d_crit, 0.0, 1.0))
    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    ax.fill_between(qr, lo, hi, color="0.85", label=f"KS band, alpha = {ALPHA:g}")
    ax.plot(qr, qe, ".", ms=3, color="C0", label="engine quantiles")
    span = [min(qr.min(), qe.min()), max(qr.max(), qe.max())]
    ax.plot(span, span, "-", lw=0.8, color="C3", label="y = x")
    if log:
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel(f"reference quantile ({unit})")
    ax.set_ylabel(f"engine quantile ({unit})")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


@dataclass
class Context:
    """Settings shared by the checks."""

    out_dir: Path
    seed: int = 20240601
    scale: float = 1.0
    workers: int = 1
    figures: list[tuple[str, str]] = field(default_factory=list)

    def size(self, n: int) -> int:
        return max(200, int(round(n * self.scale)))

    def figure(self, name: str, caption: str) -> Path:
        self.figures.append((name, caption))
        return self.out_dir / name


# (n0, b, d, tau): growing, flat (r = 0) and shrinking clones
CLONE_CONFIGS = tuple(
    (n0, b, d, tau)
    for n0 in (1, 5, 20)
    for (b, d, tau) in ((0.12, 0.0969, 60.0), (0.12, 0.12, 40.0), (0.12, 0.14, 40.0))
)


def check_clone_sizes(ctx: Context) -> list[Outcome]:
    """Engine ``advance_clone`` against theory and the reference, below the switch size."""
    out = []
    reps = ctx.size(50_000)
    for i, (n0, b, d, tau) in enumerate(CLONE_CONFIGS):
        tag = f"n0={n0}, b={b}, d={d}, tau={tau:g}"
        ss = np.random.SeedSequence([ctx.seed, 1, i])
        s_eng, s_ref = ss.spawn(2)
        eng, _ = engine_clone_replicates(
            float(n0), b, d, tau, math.inf, math.inf, reps, np.random.default_rng(s_eng)
        )
        ref, _ = gillespie_clone(n0, b, d, tau, s_ref, replicates=reps)
        ref = np.asarray(ref, dtype=float)
        p0n = extinction_probability(b, d, tau) ** n0
        for who, x in (("engine", eng), ("reference", ref)):
            frac, p = binomial(int(np.sum(x == 0)), reps, p0n)
            out.append(
                Outcome(
                    "clone-sizes",
                    f"{who} P(extinct) = p0^n0, {tag}",
                    "binomial",
                    frac,
                    p,
                    str(reps),
                )
            )
            z, p = z_mean(x, bd_mean(n0, b, d, tau), bd_variance(n0, b, d, tau))
            out.append(
                Outcome("clone-sizes", f"{who} mean = n0 e^(r tau), {tag}", "z", z, p, str(reps))
            )
        st, p = chi2_binned(eng, ref)
        out.append(
            Outcome(
                "clone-sizes",
                f"engine vs reference sizes, {tag}",
                "chi-square",
                st,
                p,
                f"{reps} / {reps}",
            )
        )
        if n0 == 1:
            st, p = chi2_goodness(ref.astype(np.int64), bd_pmf_one_cell(b, d, tau))
            out.append(
                Outcome(
                    "clone-sizes",
                    f"reference vs Kendall law, {tag}",
                    "chi-square",
                    st,
                    p,
                    str(reps),
                )
            )
        if i in (0, 5, 8):
            path = ctx.figure(f"qq_clone_sizes_{i}.png", f"Clone sizes, {tag}")
            qq_plot(path, eng, ref, f"clone size at tau, {tag}", "cells", log=True)
    return out


# (n0, d, switch, detect, phase): b = 0.12; one long phase, or phases of 30 and 14 days
HITTING_CONFIGS = (
    (1, 0.0969, 1.0e3, 1.0e4, math.inf),
    (5, 0.0969, 1.0e3, 1.0e4, 30.0),
    (1, 0.0769, 1.0e2, 2.0e3, 14.0),
)


def check_hitting_time(ctx: Context) -> list[Outcome]:
    """First passage to the detection size, through the deterministic regime above switch."""
    out = []
    reps = ctx.size(10_000)
    b, tau = 0.12, 3000.0
    for i, (n0, d, switch, detect, phase) in enumerate(HITTING_CONFIGS):
        tag = f"n0={n0}, b={b}, d={d}, switch={switch:g}, detect={detect:g}, phase={phase:g}"
        s_eng, s_ref = np.random.SeedSequence([ctx.seed, 2, i]).spawn(2)
        _, th_e = engine_clone_replicates(
            float(n0), b, d, tau, switch, detect, reps, np.random.default_rng(s_eng), phase
        )
        _, th_r = gillespie_clone(n0, b, d, tau, s_ref, target=detect, replicates=reps)
        th_r = np.asarray(th_r)
        he, hr = th_e[th_e >= 0], th_r[th_r >= 0]
        # the horizon is long enough for every surviving lineage to reach detect
        for who, h in (("engine", he), ("reference", hr)):
            frac, p = binomial(int(h.size), reps, 1.0 - (d / b) ** n0)
            out.append(
                Outcome(
                    "hitting-time",
                    f"{who} P(reach) = 1 - (d/b)^n0, {tag}",
                    "binomial",
                    frac,
                    p,
                    str(reps),
                )
            )
        ks = stats.ks_2samp(he, hr)
        out.append(
            Outcome(
                "hitting-time",
                f"time to detect, {tag}",
                "KS",
                float(ks.statistic),
                float(ks.pvalue),
                f"{he.size} / {hr.size}",
            )
        )
        path = ctx.figure(f"qq_hitting_time_{i}.png", f"Time to detection size, {tag}")
        qq_plot(path, he, hr, f"time to {detect:g} cells,\n{tag}", "days")
    return out


def check_seeds(ctx: Context) -> list[Outcome]:
    """Reference seed counts at surgery against their Poisson laws (docs/model.md 1.1-1.2)."""
    out = []
    n = ctx.size(20_000)
    patient = Patient.from_stage("colon", "III", margin="R1")
    mech = reduced_mechanism()
    hist = seed_history(patient, mech, n, seed=np.random.SeedSequence([ctx.seed, 3]))
    s = derive(patient, mech).seeds
    for col, mean in (
        ("lodged", s.total),
        ("asleep", s.dormant),
        ("woken", s.woken),
        ("died", s.total - s.dormant - s.woken),
    ):
        x = hist[col].to_numpy()
        z, p = z_mean(x, mean, mean)
        out.append(Outcome("seeds", f"mean {col} = {mean:.3f}", "z", z, p, str(n)))
        st, p = chi2_goodness(x, poisson_pmf(mean))
        out.append(Outcome("seeds", f"{col} ~ Poisson({mean:.3f})", "chi-square", st, p, str(n)))
    # thinning: among M0 histories the asleep count keeps its law
    m0 = hist.loc[hist["visible"] == 0, "asleep"].to_numpy()
    z, p = z_mean(m0, s.dormant, s.dormant)
    out.append(Outcome("seeds", "mean asleep given no visible clone", "z", z, p, str(m0.size)))
    return out


def _case_check(ctx: Context, case: Case, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ss = np.random.SeedSequence([ctx.seed, 4, sorted(CASES).index(case.name)])
    s_eng, s_ref = ss.generate_state(2)
    eng = engine_table(case, n, int(s_eng), workers=ctx.workers)
    ref = reference_table(case, n, int(s_ref), workers=ctx.workers)
    return eng, ref


def check_recurrence(ctx: Context) -> list[Outcome]:
    """End to end: the engine's patients against the reference's, case by case."""
    out = []
    n = ctx.size(40_000)
    for case in CASES.values():
        check = f"recurrence[{case.name}]"
        eng, ref = _case_check(ctx, case, n)
        out.extend(compare_tables(check, eng, ref))
        path = ctx.figure(
            f"qq_recurrence_{case.name}.png", f"Recurrence times, {case.name} ({case.note})"
        )
        qq_plot(
            path,
            recurrence_times(eng),
            recurrence_times(ref),
            f"recurrence time, {case.name}",
            "days",
        )
    return out


def check_trap(ctx: Context) -> list[Outcome]:
    """Power: engine times rounded up to 30 days must fail the KS test that the engine passes."""
    n = ctx.size(10_000)
    case = CASES["colon3-R1"]
    eng, ref = _case_check(ctx, case, n)
    te, tr = recurrence_times(eng), recurrence_times(ref)
    wrong = round_up(te)
    ks_ok = stats.ks_2samp(te, tr)
    ks_bad = stats.ks_2samp(wrong, tr)
    path = ctx.figure("qq_trap.png", "Trap: engine times rounded up to 30 days")
    qq_plot(path, wrong, tr, "engine times rounded up to 30 days (must fail)", "days")
    nr = f"{te.size} / {tr.size}"
    return [
        Outcome(
            "trap",
            "recurrence time, real engine",
            "KS",
            float(ks_ok.statistic),
            float(ks_ok.pvalue),
            nr,
        ),
        Outcome(
            "trap",
            "recurrence time rounded up to 30 days",
            "KS",
            float(ks_bad.statistic),
            float(ks_bad.pvalue),
            nr,
            expect_reject=True,
        ),
    ]


def check_switch_limit(ctx: Context) -> list[Outcome]:
    """The deterministic regime's limit: a clone that starts at half the switch size.

    Above ``switch_cells`` the engine follows a clone deterministically, dropping the
    fluctuations that the clone would still accumulate: for a clone of ``n0`` cells a fraction
    about ``n0 / switch`` of the variance of its time to detection. At the default sizes
    (residual <= 500 cells, switch 1e5) that is below 1%; with the switch at 1e3 and an R2
    margin clone of about 500 cells it is half, which the KS test sees because local
    recurrence times are tightly spread. This check is expected to reject.
    """
    n = ctx.size(20_000)
    base = CASES["breast2-R2-low"]
    case = Case(
        base.name,
        base.patient,
        base.mechanism.replace(switch_cells=1.0e3),
        base.horizon_days,
        "switch at 1e3 cells, margin clone near 500 cells",
    )
    eng, ref = _case_check(ctx, case, n)
    te, tr = recurrence_times(eng), recurrence_times(ref)
    ks = stats.ks_2samp(te, tr)
    iqr_e = float(np.subtract(*np.quantile(te, [0.75, 0.25])))
    iqr_r = float(np.subtract(*np.quantile(tr, [0.75, 0.25])))
    path = ctx.figure("qq_switch_limit.png", "Switch at 1e3 cells with a 500-cell margin clone")
    qq_plot(path, te, tr, "recurrence time, switch 1e3, R2 margin (expected to fail)", "days")
    return [
        Outcome(
            "switch-limit",
            f"recurrence time, switch 1e3 (IQR engine {iqr_e:.1f} d, reference {iqr_r:.1f} d)",
            "KS",
            float(ks.statistic),
            float(ks.pvalue),
            f"{te.size} / {tr.size}",
            expect_reject=True,
        )
    ]


CHECKS: dict[str, Callable[[Context], list[Outcome]]] = {
    "clone-sizes": check_clone_sizes,
    "hitting-time": check_hitting_time,
    "seeds": check_seeds,
    "recurrence": check_recurrence,
    "trap": check_trap,
    "switch-limit": check_switch_limit,
}


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


def write_report(
    path: Path, results: list[Outcome], ctx: Context, seconds: dict[str, float]
) -> None:
    """Write the markdown summary of all tests and plots."""
    n_bad = sum(not r.correct for r in results)
    lines = [
        "# Verification of the engine",
        "",
        "Generated by `python -m remnant.checks.verification` "
        f"(seed {ctx.seed}, scale {ctx.scale:g}). Each row is one test at level "
        f"alpha = {ALPHA:g}: an agreement test reads *correct* when p >= alpha; a test "
        "expected to reject (the trap, a deliberately wrong engine, and the switch-limit "
        "demonstration) reads *correct* when p < alpha.",
        "",
        f"**{len(results) - n_bad} of {len(results)} tests read correct.**",
        "",
        "Checks: `clone-sizes` (engine `advance_clone` vs the closed-form law and the "
        "event-by-event reference), `hitting-time` (first passage to the detection size "
        "through the deterministic regime), `seeds` (reference seed counts vs their Poisson "
        "laws), `recurrence` (whole patients: engine vs reference at detection 1e4 cells), "
        "`trap` (power of the recurrence-time test), `switch-limit` (the deterministic "
        "regime's known limit when a clone starts near the switch size; expected to reject).",
        "",
        "| check | quantity | test | statistic | p-value | n (engine / reference) | reading |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        reading = "correct" if r.correct else "**incorrect**"
        if r.expect_reject:
            reading += " (expected to reject)"
        lines.append(
            f"| {r.check} | {r.name} | {r.test} | {r.statistic:.4g} | {r.pvalue:.3g} | "
            f"{r.n} | {reading} |"
        )
    notes = sorted({r.note for r in results if r.note and not r.correct})
    if notes:
        lines += ["", "## Likely causes of the incorrect readings", ""]
        lines += [f"- {note}" for note in notes]
    lines += ["", "Run times: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()), ""]
    lines += ["## Plots", ""]
    lines.append(
        "QQ plots: engine quantiles against reference quantiles. The grey band is the "
        "two-sample KS acceptance region at level alpha; a correct engine stays inside."
    )
    lines.append("")
    for name, caption in ctx.figures:
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    path.write_text("\n".join(lines))


def run(
    out_dir: Path,
    checks: Sequence[str] | None = None,
    *,
    seed: int = 20240601,
    scale: float = 1.0,
    workers: int = 1,
) -> list[Outcome]:
    """Run the named checks (all by default), write plots and ``README.md`` to ``out_dir``."""
    names = list(checks) if checks else list(CHECKS)
    unknown = [c for c in names if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(out_dir, seed=seed, scale=scale, workers=workers)
    results: list[Outcome] = []
    seconds: dict[str, float] = {}
    for name in names:
        t0 = time.perf_counter()
        results.extend(CHECKS[name](ctx))
        seconds[name] = time.perf_counter() - t0
        print(f"{name}: {seconds[name]:.1f} s", flush=True)
    write_report(out_dir / "README.md", results, ctx, seconds)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m remnant.checks.verification --out-dir DIR [--check NAME ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m remnant.checks.verification", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--out-dir", type=Path, required=True, help="where to write plots and README.md"
    )
    parser.add_argument(
        "--check",
        action="append",
        choices=list(CHECKS),
        help="run only this check (repeatable); default all",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every sample size by this factor (default 1)",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--workers", type=int, default=1, help="threads for both simulators")
    args = parser.parse_args(argv)
    results = run(args.out_dir, args.check, seed=args.seed, scale=args.scale, workers=args.workers)
    bad = [r for r in results if not r.correct]
    for r in bad:
        print(f"incorrect: {r.check}: {r.name} ({r.test}, p = {r.pvalue:.3g})")
    print(
        f"{len(results) - len(bad)} of {len(results)} tests read correct; "
        f"report in {args.out_dir / 'README.md'}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
