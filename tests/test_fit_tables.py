"""The kernel tables against the likelihood they tabulate, and parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest

from remnant.fit.recovery import TRUTH, recover
from remnant.fit.tables import build_table, dormant_seeds
from remnant.likelihood import PatientArrays, survival_matrix
from remnant.model.parameters import Mechanism, Patient

TIMES = np.array([180.0, 365.25, 1000.0, 1826.25, 3652.5])


@pytest.fixture(scope="module")
def colon_table():
    return build_table(Mechanism(), "colon", (2,))


def _patients() -> PatientArrays:
    return PatientArrays.from_patients(
        [
            Patient.from_stage("colon", st, margin=m, immune=im)
            for st in ("I", "III")
            for m in ("R0", "R1")
            for im in ("low", "intermediate", "high")
        ]
    )


def _curves(tab, pa, mech, times):
    n = len(pa)
    lr = np.log([mech.residual_cells[m] for m in pa.margin])
    eta = np.vstack([np.log(dormant_seeds(pa, mech)), lr, np.log(pa.immunity), np.zeros(n)])
    return tab.curves(times, eta, 0.0, np.zeros(n, dtype=np.int64), False)


def test_table_reproduces_survival_matrix(colon_table):
    # same 16 lapse schedules: what differs is interpolation and the 14-day smoothing
    mech = Mechanism()
    pa = _patients()
    ref = survival_matrix(pa, mech, TIMES, n_lapse_draws=16, seed=0)
    got = _curves(colon_table, pa, mech, TIMES)[:, :, 0]
    assert np.abs(got - ref).max() < 2e-3


def test_densities_are_derivatives_of_survival(colon_table):
    mech = Mechanism()
    pa = _patients()
    h = 0.5
    mid = _curves(colon_table, pa, mech, TIMES)
    up = _curves(colon_table, pa, mech, TIMES + h)[:, :, 0]
    down = _curves(colon_table, pa, mech, TIMES - h)[:, :, 0]
    numeric = (down - up) / (2 * h)
    analytic = mid[:, :, 1] + mid[:, :, 2]
    scale = np.abs(analytic).max()
    assert np.abs(numeric - analytic).max() < 0.02 * scale


def test_survival_is_monotone_and_starts_at_one(colon_table):
    mech = Mechanism()
    pa = _patients()
    grid = np.linspace(0.0, 15 * 365.25, 200)
    s = _curves(colon_table, pa, mech, grid)[:, :, 0]
    assert np.allclose(s[:, 0], 1.0, atol=1e-12)
    assert (np.diff(s, axis=1) <= 1e-12).all()
    assert (s >= 0).all() and (s <= 1).all()


def test_parameter_recovery_one_replicate():
    # 3000 engine patients from known multipliers; each estimate within 3 Laplace SE of the
    # truth (coverage over 20 replicates: docs/fit_recovery.txt, make verify)
    par = recover(3000, seed=0)
    assert set(par.index) == set(TRUTH)
    assert (par["z"].abs() < 3.0).all(), par
    assert (par["se"] > 0).all()
