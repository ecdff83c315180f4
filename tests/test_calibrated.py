"""One model behind both faces: the simulator runs the calibrated model ``predict`` explains.

``remnant.model.calibrated.mechanism(cancer)`` writes the shipped fit's parameters into a
:class:`Mechanism`; the engine's Kaplan-Meier curve of copies of a patient (recurrence, other
deaths censored) must lie on the fit's recurrence-free curve ``S_rec`` at its mode within
``Z_MAX`` Greenwood standard errors at every half year to ``YEARS`` years. The engine draws
each copy's baseline immunity from the spread, within the patient's Immunoscore band; the
fit integrates the band in closed form over its kernel table (docs/model.md 1.9). Eight
patients spanning stage, margin and immunity, ``N_COPIES`` copies each. (Where immunity holds
clones near zero net growth the table's interpolation in ``log2 I0`` is coarsest: a breast
stage III patient of intermediate Immunoscore lies up to 1.2 points off at 9-10 years,
docs/explain.md.)
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import remnant
from remnant.engine.simulate import read_metadata
from remnant.errors import RemnantInputError
from remnant.explanation.default_model import load_default
from remnant.model import calibrated
from remnant.model.parameters import (
    IMMUNITY_FLOOR,
    IMMUNOSCORE_BANDS,
    WHOLE_BAND,
    Patient,
    immune_category,
    immune_input,
)
from remnant.model.units import DAYS_PER_YEAR

Z_MAX = 3.0
YEARS = 10.0
N_COPIES = 100_000
HALF_YEARS = np.arange(0.5, YEARS + 1e-9, 0.5) * DAYS_PER_YEAR

CASES = [
    ("colon", "II", "R0", "unknown"),
    ("colon", "III", "R1", "low"),
    ("colon", "II", "R1", "intermediate"),
    ("colon", "I", "R0", "high"),
    # a margin clone of e^5.5 lineages: the sharpest S_1 of the model, which sets the clock's
    # knot step (docs/model.md 1.10)
    ("colon", "III", "R2", "low"),
    ("breast", "II", "R0", "unknown"),
    ("breast", "II", "R1", "unknown"),
    ("breast", "II", "R2", "unknown"),
]


def km_with_greenwood(
    time: np.ndarray, event: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival and its Greenwood standard error at times ``at``."""
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(time, event)
    table = km.event_table
    d, n = table["observed"].to_numpy(float), table["at_risk"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, d / (n * (n - d)), 0.0)
    greenwood = pd.Series(np.cumsum(terms), index=table.index)
    s = km.survival_function_at_times(at).to_numpy()
    var = greenwood.reindex(greenwood.index.union(at)).ffill().reindex(at).fillna(0.0)
    return s, s * np.sqrt(var.to_numpy())


def z_scores(case: tuple[str, str, str, str], n: int, seed: int) -> tuple[np.ndarray, float]:
    """Standardised differences engine - predict at the half years, and the 5-year risk."""
    cancer, stage, margin, immune = case
    patient = calibrated.patient(cancer, stage, margin=margin, immune=immune)
    scenario = remnant.Scenario.single(patient, calibrated.mechanism(cancer))
    table = remnant.simulate(scenario, n, seed=seed, horizon_years=YEARS + 0.5).table
    recurred = table["event"].isin(["local", "distant"]).to_numpy()
    s_km, se = km_with_greenwood(table["time_days"].to_numpy(), recurred, HALF_YEARS)
    fit = load_default(cancer)
    s_fit = fit.curves(pd.DataFrame([dataclasses.asdict(patient)]), HALF_YEARS)[0, :, 0]
    # where every copy has recurred (or none has) both curves are flat at the same value
    z = np.where(se > 0, (s_km - s_fit) / np.where(se > 0, se, 1.0), 0.0)
    degenerate = (se == 0) & (np.abs(s_km - s_fit) > 1e-3)
    assert not degenerate.any(), (case, s_km, s_fit)
    return z, float(1.0 - s_fit[9])


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_engine_copies_lie_on_the_predicted_curve(case: tuple[str, str, str, str]) -> None:
    # Two stages with fixed seeds: the 20 half-years of one Kaplan-Meier curve move together,
    # so a model that agrees still has one of its copies' curves beyond Z_MAX somewhere with
    # a probability of a few percent (breast II R1: 1 of 17 seeds); such a case is drawn
    # again with a second seed and must lie within Z_MAX there. A true departure of Z_MAX
    # standard errors fails both; an agreeing model fails both with about the square of that
    # probability.
    z, _ = z_scores(case, N_COPIES, seed=12)
    if np.abs(z).max() >= Z_MAX:
        z, _ = z_scores(case, N_COPIES, seed=13)
    assert np.abs(z).max() < Z_MAX, dict(zip(HALF_YEARS / DAYS_PER_YEAR, z.round(2), strict=True))


# Every patient of the shipped models' grid of inputs (make verify): stages I-III, margins
# R0-R2, the three Immunoscore groups and unknown, both cancers. With 72 curves of 20 points
# the bound is wider than the six patients' above: at seed 12 ten of 72 lie beyond 3 SE and
# the largest is 3.89 (breast II R2 low, 4 years). Part of it is a bias of the spread
# integral's rows 1/8 apart in log2 I0 where immunity holds clones near zero net growth
# (docs/explain.md: the breast III R0 intermediate patient lies up to 3.1 SE above the curve
# at 1-2 years at both seeds, and not with rows 1/16 apart). A stage III R2 low-immunity colon
# patient lay 4.5 and 4.8 SE off at both seeds when the clock's knots were 0.1 apart.
GRID_Z_MAX = 4.0
GRID = [
    (cancer, stage, margin, immune)
    for cancer in ("colon", "breast")
    for stage in ("I", "II", "III")
    for margin in ("R0", "R1", "R2")
    for immune in ("low", "intermediate", "high", "unknown")
]


@pytest.mark.slow
def test_every_patient_of_the_grid_lies_near_the_predicted_curve() -> None:
    far = {}
    for case in GRID:
        z, _ = z_scores(case, N_COPIES, seed=12)
        if np.abs(z).max() >= GRID_Z_MAX:
            z, _ = z_scores(case, N_COPIES, seed=13)
        if np.abs(z).max() >= GRID_Z_MAX:
            far["-".join(case)] = float(np.abs(z).max())
    assert not far, far


def test_the_calibrated_mechanism_holds_the_fit() -> None:
    for cancer in ("colon", "breast"):
        fit = load_default(cancer)
        m = calibrated.mechanism(cancer)
        assert m == fit.calibrated_mechanism()
        est = dict(zip(fit.result.names, fit.result.theta, strict=True))
        base = fit.mechanism
        assert m.seeding_coefficient[cancer] == pytest.approx(
            base.seeding_coefficient[cancer] * np.exp(est["burden"])
        )
        assert m.residual_cells["R1"] == pytest.approx(
            base.residual_cells["R1"] * np.exp(est["residual"])
        )
        assert m.immune_scale == pytest.approx(np.exp(est["immunity"]))
        assert m.immune_spread == pytest.approx(np.exp(est["immune_spread"]))
        assert m.immune_spread > 0


def test_presets_are_cohorts_of_the_calibrated_model() -> None:
    for name in remnant.PRESETS:
        sc = remnant.preset(name)
        cancer = name.split("-")[0]
        assert sc.mechanism == calibrated.mechanism(cancer)
        assert sc.profiles[0].immune_band == WHOLE_BAND
    # the old default mechanism on request
    assert remnant.preset("colon-stage2", mechanism=remnant.Mechanism()).mechanism == (
        remnant.Mechanism()
    )


def test_immunoscore_inputs_map_to_bands_of_the_spread() -> None:
    assert immune_input("low", spread=True) == (1.0, IMMUNOSCORE_BANDS["low"])
    assert immune_input("IS3", spread=True) == (1.0, (0.70, 0.95))
    assert immune_input("unknown", spread=True) == (1.0, WHOLE_BAND)
    lo, hi = immune_input("40%", spread=True)[1]
    assert lo < 0.40 < hi and hi - lo == pytest.approx(0.01)
    # without a spread a name is a level of baseline immunity
    assert immune_input("low", spread=False) == (0.5, WHOLE_BAND)
    assert immune_category(IMMUNOSCORE_BANDS["high"]) == "high"
    assert immune_category(WHOLE_BAND) == "unknown"
    for bad in ("medium", "140%", "x%"):
        with pytest.raises(RemnantInputError, match="^immune: expected"):
            immune_input(bad, spread=True)
    with pytest.raises(RemnantInputError, match="immune_band"):
        Patient(immune_band=(0.5, 0.505))
    with pytest.raises(RemnantInputError, match="immune_band"):
        Patient(immune_band=(0.7, 0.2))


def test_band_draws_follow_the_truncated_normal() -> None:
    # the engine's draw within a band: the fraction of copies below the band's median
    # immunity is one half, within binomial error
    from scipy import stats

    from remnant.engine.kernel import band_normal

    rng = np.random.default_rng(3)
    lo, hi = stats.norm.ppf(0.70), np.inf
    z = np.array([band_normal(rng, lo, hi) for _ in range(20_000)])
    assert (z > lo).all()
    below = (z < stats.norm.ppf(0.85)).mean()
    assert abs(below - 0.5) < 4 * np.sqrt(0.25 / z.size)
    assert IMMUNITY_FLOOR == 2.0**-5


def test_immunoscore_groups_differ_in_the_predicted_risk() -> None:
    fit = load_default("colon")
    rows = [calibrated.patient("colon", "II", immune=g) for g in ("low", "intermediate", "high")]
    five = fit.curves(pd.DataFrame([dataclasses.asdict(p) for p in rows]), [5 * DAYS_PER_YEAR])
    risk = 1.0 - five[:, 0, 0]
    assert risk[0] > risk[1] > risk[2]


def test_simulate_takes_the_patient_flags_of_predict(tmp_path) -> None:
    out = tmp_path / "copies.parquet"
    cmd = [str(Path(sys.executable).with_name("remnant")), "simulate", "--cancer", "colon"]
    cmd += ["--stage", "III"]
    cmd += ["--margin", "R1", "--immune", "low", "--patients", "3000", "--seed", "5"]
    cmd += ["--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    scenario = read_metadata(out)["scenario"]
    profile = scenario["profiles"][0]
    assert profile["margin"] == "R1" and list(profile["immune_band"]) == [0.0, 0.25]
    assert scenario["mechanism"]["immune_spread"] == pytest.approx(
        calibrated.mechanism("colon").immune_spread
    )
    bad = subprocess.run(
        [
            cmd[0],
            "simulate",
            "--stage",
            "II",
            "--patients",
            "10",
            "--out",
            str(tmp_path / "b.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: --cancer"), bad.stderr
    both = subprocess.run(
        [*cmd, "--preset", "colon-stage2"], capture_output=True, text=True, timeout=120
    )
    assert both.returncode == 2 and "error: --cancer" in both.stderr, both.stderr
