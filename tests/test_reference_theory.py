"""The event-by-event reference against closed-form results of the model.

Every test is a hypothesis test at the fixed level ``ALPHA`` with a fixed seed: a tolerance
follows from the sample size, never from tuning.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from remnant.checks.reference import (
    gillespie_clone,
    immune_schedule,
    seed_history,
    simulate_reference,
)
from remnant.checks.verification import (
    ALPHA,
    bd_mean,
    bd_pmf_one_cell,
    bd_variance,
    binomial,
    chi2_goodness,
    poisson_pmf,
    reduced_mechanism,
    z_mean,
)
from remnant.model.mechanisms import derive, dip_multiplier
from remnant.model.parameters import Mechanism, Patient
from remnant.model.units import DAYS_PER_YEAR

PATIENT = Patient.from_stage("colon", "III", margin="R1")


def rates(immunity: float, mech: Mechanism | None = None) -> tuple[float, float]:
    """Birth and death (per day) of an awake cell at immunity ``immunity``."""
    der = derive(PATIENT, mech or Mechanism())
    return der.birth, der.death0 + der.kill * immunity


# --- one clone at constant rates ---------------------------------------------------------


@pytest.mark.parametrize("immunity", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("n0", [1, 3])
def test_eventual_extinction_is_death_over_birth(immunity: float, n0: int) -> None:
    # Gambler's ruin: P(extinct before T cells) = (q^n0 - q^T) / (1 - q^T), q = d / b; T is
    # chosen so that q^T < e^-30 and the result is (d / b)^n0 to double precision.
    b, d = rates(immunity)
    q = d / b
    assert q < 1.0
    target = math.ceil(30.0 / -math.log(q))
    reps = 20_000
    sizes, _ = gillespie_clone(n0, b, d, math.inf, 100 + n0, target=target, replicates=reps)
    extinct = int(np.sum(np.asarray(sizes) == 0))
    expected = (q**n0 - q**target) / (1.0 - q**target)
    _, p = binomial(extinct, reps, expected)
    assert p > ALPHA, (extinct / reps, expected)


CLONES = [
    (1, 0.12, 0.0969, 60.0),
    (5, 0.12, 0.0969, 60.0),
    (20, 0.12, 0.0969, 30.0),
    (5, 0.12, 0.12, 40.0),
    (20, 0.12, 0.14, 40.0),
]


@pytest.mark.parametrize(("n0", "b", "d", "tau"), CLONES)
def test_mean_size_is_exponential(n0: int, b: float, d: float, tau: float) -> None:
    sizes, _ = gillespie_clone(n0, b, d, tau, 7, replicates=20_000)
    _, p = z_mean(np.asarray(sizes), bd_mean(n0, b, d, tau), bd_variance(n0, b, d, tau))
    assert p > ALPHA


@pytest.mark.parametrize(
    ("b", "d", "tau"), [(0.12, 0.0969, 60.0), (0.12, 0.12, 40.0), (0.12, 0.14, 40.0)]
)
def test_one_cell_size_law_is_kendall(b: float, d: float, tau: float) -> None:
    sizes, _ = gillespie_clone(1, b, d, tau, 11, replicates=20_000)
    _, p = chi2_goodness(np.asarray(sizes), bd_pmf_one_cell(b, d, tau))
    assert p > ALPHA


def test_pure_birth_first_passage_time() -> None:
    # Yule process: P(T_n <= t) = P(N(t) >= n) = (1 - e^{-bt})^(n-1).
    b, n = 0.1, 50
    _, hits = gillespie_clone(1, b, 0.0, math.inf, 13, target=n, replicates=10_000)
    hits = np.asarray(hits)
    assert (hits > 0).all()
    res = stats.kstest(hits, lambda t: (-np.expm1(-b * t)) ** (n - 1))
    assert res.pvalue > ALPHA


def test_gillespie_clone_scalar_and_target() -> None:
    n, th = gillespie_clone(10, 0.0, 0.0, 5.0, 1)
    assert (n, th) == (10, -1.0)
    n, th = gillespie_clone(10, 0.1, 0.0, math.inf, 1, target=10)
    assert (n, th) == (10, 0.0)
    n, th = gillespie_clone(1, 0.0, 0.1, math.inf, 1)
    assert (n, th) == (0, -1.0)
    with pytest.raises(ValueError):
        gillespie_clone(1, -0.1, 0.0, 1.0, 1)


# --- seeds before surgery ----------------------------------------------------------------


@pytest.fixture(scope="module")
def histories() -> pd.DataFrame:
    return seed_history(PATIENT, reduced_mechanism(), 20_000, seed=5)


@pytest.mark.parametrize("column", ["lodged", "asleep", "woken", "died"])
def test_seed_counts_are_poisson(histories: pd.DataFrame, column: str) -> None:
    # mu = nu N_s^g / (g r_p) lodged; mu_D asleep, mu_W woken at surgery (docs/model.md 1.1-2)
    s = derive(PATIENT, reduced_mechanism()).seeds
    mean = {
        "lodged": s.total,
        "asleep": s.dormant,
        "woken": s.woken,
        "died": s.total - s.dormant - s.woken,
    }[column]
    x = histories[column].to_numpy()
    _, p = z_mean(x, mean, mean)
    assert p > ALPHA, (x.mean(), mean)
    _, p = chi2_goodness(x, poisson_pmf(mean))
    assert p > ALPHA


def test_asleep_seeds_independent_of_m0(histories: pd.DataFrame) -> None:
    # Rejecting patients with a visible clone must not change the law of the asleep seeds:
    # this is what lets the engine thin instead of rejecting.
    s = derive(PATIENT, reduced_mechanism()).seeds
    m0 = histories.loc[histories["visible"] == 0, "asleep"].to_numpy()
    assert 0 < m0.size < len(histories)
    _, p = z_mean(m0, s.dormant, s.dormant)
    assert p > ALPHA


# --- whole patients ----------------------------------------------------------------------


def no_seeds(**overrides: float) -> Mechanism:
    # seeding this small lodges no seed in practice (mean ~1e-20 per patient)
    return reduced_mechanism(seeding_coefficient={"colon": 1e-30, "breast": 1e-30}, **overrides)


def test_margin_clone_recurs_unless_every_lineage_dies() -> None:
    # Constant immunity: each of Poisson(rho) residual cells founds a lineage that escapes
    # extinction with probability 1 - d/b, so P(local recurrence) = 1 - exp(-rho (1 - d/b)).
    mech = no_seeds(
        dip_steps=0,
        lapse_rate_per_year=0.0,
        mortality_a=0.0,
        mortality_b=0.0,
        detection_cells_local=1e3,
        switch_cells=1e3,
    )
    b, d = rates(PATIENT.immunity, mech)
    rho = mech.residual_cells[PATIENT.margin]
    n = 5000
    table = simulate_reference(PATIENT, mech, n, seed=17, horizon_days=20 * DAYS_PER_YEAR)
    assert set(table["event"]) <= {"local", "none"}
    local = int((table["event"] == "local").sum())
    _, p = binomial(local, n, 1.0 - math.exp(-rho * (1.0 - d / b)))
    assert p > ALPHA
    assert (table.loc[table["event"] == "local", "origin"] == "margin").all()
    assert (table.loc[table["event"] == "local", "immune_phase"] == "baseline").all()


def test_other_cause_death_is_gompertz_makeham() -> None:
    mech = no_seeds(residual_cells={"R0": 0.0, "R1": 0.0, "R2": 0.0})
    patient = PATIENT.replace(age=70.0)
    table = simulate_reference(patient, mech, 5000, seed=19, horizon_days=80 * DAYS_PER_YEAR)
    assert (table["event"] == "death").all()
    a, bb, c, x0 = mech.mortality_a, mech.mortality_b, mech.mortality_c, patient.age

    def cdf(days: np.ndarray) -> np.ndarray:
        y = np.asarray(days) / DAYS_PER_YEAR
        return -np.expm1(-a * y - bb / c * math.exp(c * x0) * np.expm1(c * y))

    assert stats.kstest(table["time_days"], cdf).pvalue > ALPHA


def test_immune_schedule_dip_and_lapses() -> None:
    mech = Mechanism(lapse_rate_per_year=2.0, lapse_days=30.0)
    sched = immune_schedule(mech, 1.5, 200 * DAYS_PER_YEAR, 23)
    dip = sched[sched["phase"] == "dip"]
    steps = (dip["start"] // mech.dip_step_days).astype(int)
    assert np.allclose(dip["immunity"], [1.5 * dip_multiplier(mech, j) for j in steps])
    after_dip = sched["start"] >= mech.dip_steps * mech.dip_step_days
    assert (sched.loc[after_dip, "phase"] != "dip").all()
    assert (sched["end"] > sched["start"]).all()
    # after the dip and the burst, baseline runs between lapses are Exp(rate) waits
    late = sched[sched["start"] > 200.0].reset_index(drop=True)
    runs = []
    start = None
    for row in late.itertuples():
        if row.phase == "baseline" and start is None:
            start = row.start
        if row.phase == "lapse":
            if start is not None:
                runs.append(row.start - start)
            start = None
            assert row.immunity == pytest.approx(1.5 * (1.0 - mech.lapse_depth))
    runs = runs[1:]  # the first run may have started before day 200
    assert len(runs) > 300
    rate = mech.lapse_rate_per_year / DAYS_PER_YEAR
    assert stats.kstest(runs, "expon", args=(0.0, 1.0 / rate)).pvalue > ALPHA
    lapses = late[late["phase"] == "lapse"]
    assert np.allclose((lapses["end"] - lapses["start"]).iloc[:-1], mech.lapse_days)


def test_reference_is_reproducible_and_thread_invariant() -> None:
    mech = reduced_mechanism()
    a = simulate_reference(PATIENT, mech, 1200, seed=3, horizon_days=365.0)
    b = simulate_reference(PATIENT, mech, 1200, seed=3, horizon_days=365.0, workers=2)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == [
        "time_days",
        "event",
        "origin",
        "escaped_low_immunity",
        "immune_phase",
        "clones_alive",
        "dormant_alive",
        "rejected",
    ]
    assert set(a["event"]) <= {"local", "distant", "death", "none"}
    assert (a["time_days"] <= 365.0).all()
    rec = a["event"].isin(["local", "distant"])
    assert (a.loc[~rec, "origin"] == "none").all()
    assert (a.loc[rec, "immune_phase"] != "none").all()
