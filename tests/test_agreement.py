"""The engine against the event-by-event reference, end to end, recurrence times included.

Both simulate the same model at a reduced detection size (1e4 cells, switch 1e3) where the
reference finishes, with the post-operative dip and frequent lapses on, seeds and margin
residual both active. With 12,000 patients a side, a difference of 2 points in a fraction
(3.3 standard errors) or ~3% in the recurrence-time CDF is detected at alpha = 1e-3.
The last test shows the time test has power: rounding the engine's recurrence times up to a
30-day grid (what fixed sub-steps would do) fails it.

The same comparison, with one more case (immunity spread between patients), runs in ``make
test`` in tests/test_engine_vs_reference.py; this larger one runs in ``make verify``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import remnant
from remnant.checks.reference import simulate_reference

pytestmark = pytest.mark.slow

ALPHA = 1e-3
N = 12_000
HORIZON_YEARS = 3.0

CASES = {
    "colon-III R1, lapses": (
        remnant.Patient.from_stage("colon", "III", margin="R1"),
        dict(lapse_rate_per_year=1.0, residual_cells={"R0": 0.02, "R1": 3.0, "R2": 500.0}),
    ),
    "breast-II low immunity, strong dip": (
        remnant.Patient.from_stage("breast", "II", immune="low"),
        dict(
            lapse_rate_per_year=0.5,
            dip_depth=0.95,
            seeding_coefficient={"colon": 2.3e-10, "breast": 2e-8},
        ),
    ),
}


def _mechanism(overrides: dict[str, object]) -> remnant.Mechanism:
    reduced = dict(
        detection_cells_local=1e4,
        detection_cells_distant=1e4,
        visible_cells_at_surgery=1e4,
        switch_cells=1e3,
    )
    return remnant.Mechanism(**reduced, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=sorted(CASES))
def pair(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.DataFrame]:
    patient, overrides = CASES[request.param]
    mech = _mechanism(overrides)
    ref = simulate_reference(
        patient, mech, N, seed=101, horizon_days=HORIZON_YEARS * 365.25, workers=2
    )
    eng = remnant.simulate(
        remnant.Scenario.single(patient, mech), N, seed=202, horizon_years=HORIZON_YEARS
    ).table
    return ref, eng


def _chi2_same(ref: pd.Series, eng: pd.Series) -> float:
    cats = sorted(set(ref.astype(str)) | set(eng.astype(str)))
    table = np.array([[int((s.astype(str) == c).sum()) for c in cats] for s in (ref, eng)])
    table = table[:, table.sum(axis=0) > 0]
    return float(stats.chi2_contingency(table)[1])


def _recurrence_times(t: pd.DataFrame) -> np.ndarray:
    return t.loc[t["event"].astype(str).isin(["local", "distant"]), "time_days"].to_numpy()


def test_first_event_fractions_agree(pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, eng = pair
    assert _chi2_same(ref["event"], eng["event"]) > ALPHA


def test_origin_and_immune_phase_shares_agree(pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, eng = pair
    rr = ref[ref["event"].astype(str).isin(["local", "distant"])]
    er = eng[eng["event"].astype(str).isin(["local", "distant"])]
    assert _chi2_same(rr["origin"], er["origin"]) > ALPHA
    assert _chi2_same(rr["immune_phase"], er["immune_phase"]) > ALPHA
    assert _chi2_same(rr["escaped_low_immunity"], er["escaped_low_immunity"]) > ALPHA


def test_recurrence_times_agree(pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, eng = pair
    rt, et = _recurrence_times(ref), _recurrence_times(eng)
    assert len(rt) > 1000 and len(et) > 1000
    assert stats.ks_2samp(rt, et).pvalue > ALPHA


def test_time_test_catches_30_day_substeps(pair: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, eng = pair
    stepped = np.ceil(_recurrence_times(eng) / 30.0) * 30.0
    assert stats.ks_2samp(_recurrence_times(ref), stepped).pvalue < ALPHA
