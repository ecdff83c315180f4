"""End to end: the engine's patients against the event-by-event reference's.

Both simulate the same patients at reduced detection size (1e4 cells; switch 1e3 except where
noted in ``remnant.checks.verification.CASES``) with the post-operative dip, frequent lapses, seeds
and margin residual all active. Every test is a hypothesis test at level ``ALPHA`` with
fixed seeds.

Power at N = 10,000 patients per side and alpha = 1e-3 (two-sided, 50% power): a difference
in a recurrence fraction p of 3.29 * sqrt(2 p (1 - p) / N), i.e. 1.9% at p = 0.2 or 0.8 and
2.3% at p = 0.5; a KS distance between recurrence-time CDFs of 1.95 * sqrt(2 / n_recurred),
about 2.2% to 3% here. ``test_trap_discretised_times_fail`` shows that the time test rejects
a plausible implementation error (times rounded up to a 30-day grid). The ``slow`` variants
use five times as many patients.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from remnant.checks.verification import (
    ALPHA,
    CASES,
    RECURRENCE,
    chi2_binned,
    chi2_two_sample,
    engine_table,
    recurrence_times,
    reference_table,
    round_up,
)

N = 10_000
NAMES = list(CASES)
# The reference takes longest on the macroscopic margin and on the two spreads between
# patients (20-25 s each here): those cases run in make verify (the slow marker), the other
# cases in make test. The engine's spreads are also held to the likelihood's independent
# integrals in make test (tests/test_calibrated.py: 1e5 copies of six patients).
SLOW_CASES = {"breast2-R2-low", "colon2-R1-spread-high", "colon3-R1-clock-spread"}


def quick(names: list[str]) -> list[object]:
    """Parameters for ``names``, the slow cases marked for make verify."""
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_CASES else n for n in names]


Tables = Callable[[str, int], tuple[pd.DataFrame, pd.DataFrame]]


@pytest.fixture(scope="module")
def tables() -> Tables:
    cache: dict[tuple[str, int], tuple[pd.DataFrame, pd.DataFrame]] = {}

    def get(name: str, n: int = N) -> tuple[pd.DataFrame, pd.DataFrame]:
        if (name, n) not in cache:
            i = NAMES.index(name)
            case = CASES[name]
            cache[name, n] = (
                engine_table(case, n, seed=1000 + i),
                reference_table(case, n, seed=2000 + i, workers=2),
            )
        return cache[name, n]

    return get


def recurred(t: pd.DataFrame) -> pd.DataFrame:
    return t[t["event"].isin(RECURRENCE)]


@pytest.mark.parametrize("name", quick(NAMES))
def test_event_shares(tables: Tables, name: str) -> None:
    # local / distant / death / none: recurrence fraction by site and competing death
    eng, ref = tables(name, N)
    _, p = chi2_two_sample(eng["event"], ref["event"])
    assert p > ALPHA, (eng["event"].value_counts(), ref["event"].value_counts())


@pytest.mark.parametrize("name", quick(NAMES))
def test_recurrence_time_distribution(tables: Tables, name: str) -> None:
    eng, ref = tables(name, N)
    res = stats.ks_2samp(recurrence_times(eng), recurrence_times(ref))
    assert res.pvalue > ALPHA, res


@pytest.mark.parametrize("column", ["origin", "immune_phase"])
@pytest.mark.parametrize("name", quick(NAMES))
def test_shares_among_recurrences(tables: Tables, name: str, column: str) -> None:
    eng, ref = tables(name, N)
    a, b = recurred(eng)[column], recurred(ref)[column]
    _, p = chi2_two_sample(a, b)
    assert p > ALPHA, (a.value_counts(), b.value_counts())


@pytest.mark.parametrize("name", quick(NAMES))
def test_escaped_low_immunity_of_seed_clones(tables: Tables, name: str) -> None:
    eng, ref = tables(name, N)
    a = recurred(eng).query("origin == 'seed'")["escaped_low_immunity"]
    b = recurred(ref).query("origin == 'seed'")["escaped_low_immunity"]
    _, p = chi2_two_sample(a, b)
    assert p > ALPHA, (a.mean(), b.mean())


@pytest.mark.parametrize("name", quick(["colon3-R1", "breast2-R2-low"]))
def test_escaped_low_immunity_of_margin_clones(tables: Tables, name: str) -> None:
    eng, ref = tables(name, N)
    a = recurred(eng).query("origin == 'margin'")["escaped_low_immunity"]
    b = recurred(ref).query("origin == 'margin'")["escaped_low_immunity"]
    _, p = chi2_two_sample(a, b)
    assert p > ALPHA, (a.mean(), b.mean())


@pytest.mark.parametrize("column", ["clones_alive", "dormant_alive"])
@pytest.mark.parametrize("name", ["colon3-R1", "colon3-R0-high"])
def test_alive_counts_without_recurrence(tables: Tables, name: str, column: str) -> None:
    eng, ref = tables(name, N)
    a = eng.loc[~eng["event"].isin(RECURRENCE), column].to_numpy()
    b = ref.loc[~ref["event"].isin(RECURRENCE), column].to_numpy()
    _, p = chi2_binned(a, b)
    assert p > ALPHA, (a.mean(), b.mean())


@pytest.mark.xfail(
    strict=True,
    reason=(
        "the engine counts clones and asleep seeds at the end of the phase in which the "
        "recurrence happened, not at the recurrence time"
    ),
)
def test_dormant_alive_at_recurrence(tables: Tables) -> None:
    eng, ref = tables("colon3-R1", N)
    a = recurred(eng)["dormant_alive"].to_numpy()
    b = recurred(ref)["dormant_alive"].to_numpy()
    _, p = chi2_binned(a, b)
    assert p > ALPHA, (a.mean(), b.mean())


def test_trap_discretised_times_fail(tables: Tables) -> None:
    # The same KS test at the same level must reject engine times rounded up to the next
    # multiple of 30 days, while the real engine passes: the test has power.
    eng, ref = tables("colon3-R1", N)
    te, tr = recurrence_times(eng), recurrence_times(ref)
    assert stats.ks_2samp(te, tr).pvalue > ALPHA
    wrong = stats.ks_2samp(round_up(te, 30.0), tr)
    assert wrong.pvalue < ALPHA
    assert wrong.pvalue < 1e-10, wrong


def test_reference_rejects_visible_patients(tables: Tables) -> None:
    # conditioning on M0 is active in these cases (some draws had a visible clone)
    _, ref = tables("colon3-R1", N)
    assert ref["rejected"].sum() > 0
    assert np.all(ref["rejected"] >= 0)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_large_sample_agreement(tables: Tables, name: str) -> None:
    eng, ref = tables(name, 5 * N)
    pvalues = {
        "event": chi2_two_sample(eng["event"], ref["event"])[1],
        "time": stats.ks_2samp(recurrence_times(eng), recurrence_times(ref)).pvalue,
        "origin": chi2_two_sample(recurred(eng)["origin"], recurred(ref)["origin"])[1],
        "phase": chi2_two_sample(recurred(eng)["immune_phase"], recurred(ref)["immune_phase"])[1],
        "escaped (seed)": chi2_two_sample(
            recurred(eng).query("origin == 'seed'")["escaped_low_immunity"],
            recurred(ref).query("origin == 'seed'")["escaped_low_immunity"],
        )[1],
    }
    assert min(pvalues.values()) > ALPHA, pvalues
