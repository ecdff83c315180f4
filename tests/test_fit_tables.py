"""The kernel tables against the likelihood they tabulate, and parameter recovery."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from remnant.inference.recovery import TRUTH, recover
from remnant.inference.tables import build_table
from remnant.likelihood import PatientArrays, survival_matrix
from remnant.likelihood.survival import dormant_seeds
from remnant.model.parameters import Mechanism, Patient

TIMES = np.array([180.0, 365.25, 1000.0, 1826.25, 3652.5])


@pytest.fixture(scope="module")
def colon_table():
    return build_table(Mechanism(), "colon", (2,))


def _patient_list() -> list[Patient]:
    return [
        Patient.from_stage("colon", st, margin=m, immune=im)
        for st in ("I", "III")
        for m in ("R0", "R1")
        for im in ("low", "intermediate", "high")
    ]


def _patients() -> PatientArrays:
    return PatientArrays.from_patients(_patient_list())


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


@pytest.mark.parametrize(("m", "sd"), [(5.3, 2.1), (-3.0, 1.0), (27.5, 0.7), (14.0, 0.01), (40, 3)])
@pytest.mark.parametrize("band", [(0.0, 1.0), (0.0, 0.25), (0.25, 0.70), (0.70, 1.0), (0.4, 0.41)])
def test_row_weights_are_the_gaussian_expectation_of_the_hat_functions(m, sd, band):
    from scipy import integrate, stats

    from remnant.inference.immune_spread import _row_weights

    # rows 1 apart from 0 (geometry in log2 units), m and sd in rows; Y = m + sd Z with Z
    # standard normal within the band's quantiles
    top = 28
    geom = np.array([0.0, 1.0, 7.0, 1e9, 1.0])
    w = np.empty(top + 1)
    z_lo, z_hi = stats.norm.ppf(band[0]), stats.norm.ppf(band[1])
    _row_weights(m * np.log(2.0), sd * np.log(2.0), z_lo, z_hi, geom, w)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0, abs=1e-12)
    # hat functions reproduce linear functions: sum_r r W_r = E[clip(Y, 0, top)]
    y_lo, y_hi = m + sd * z_lo, m + sd * z_hi
    mass = band[1] - band[0]
    a, b = max(y_lo, 0.0), min(y_hi, float(top))
    inside = 0.0
    if a < b:
        inside, _ = integrate.quad(
            lambda y: y * stats.norm.pdf(y, m, sd), a, b, points=[min(max(m, a), b)]
        )
    above = stats.norm.cdf(y_hi, m, sd) - stats.norm.cdf(max(y_lo, top), m, sd)
    expected = (inside + top * max(above, 0.0)) / mass
    assert (np.arange(top + 1) * w).sum() == pytest.approx(expected, abs=1e-7 * max(1, m))


def _eta(pa, mech):
    lr = np.log([mech.residual_cells[m] for m in pa.margin])
    return np.vstack([np.log(dormant_seeds(pa, mech)), lr, np.log(pa.immunity), np.zeros(len(pa))])


@pytest.fixture(scope="module")
def between_rows_error(colon_table):
    # how far the one-patient (cubic) interpolation is from the likelihood midway between
    # table rows, for the patients of _patients() at every mid-cell immunity
    mech = Mechanism()
    mids = 2.0 ** (colon_table.log2_i0[:-1] + 0.125)
    pts = [p.replace(immunity=float(i0)) for i0 in mids for p in _patient_list()]
    pa = PatientArrays.from_patients(pts)
    exact = survival_matrix(pa, mech, TIMES, n_lapse_draws=16, seed=0)
    point = colon_table.curves(TIMES, _eta(pa, mech), 0.0, np.zeros(len(pa), dtype=np.int64), False)
    return float(np.abs(point[:, :, 0] - exact).max())


@pytest.mark.parametrize("sub_rows", [1, 2])
@pytest.mark.parametrize("sigma", [0.3, 0.7, 1.2])
def test_spread_integral_matches_the_point_curves_over_a_fine_grid(
    colon_table, between_rows_error, sigma, sub_rows
):
    # reference: the one-patient curves at log I0 + sigma z on a grid of z (step 0.02,
    # |z| <= 6) weighted by the normal density. The spread path is exact for its integrand,
    # which follows the rows and the cubic's midpoints, straight in between: it may depart
    # from the reference by no more than the cubic departs from the likelihood between rows.
    mech = Mechanism()
    pa = _patients()
    n = len(pa)
    eta = _eta(pa, mech)
    gi = np.zeros(n, dtype=np.int64)
    table = dataclasses.replace(colon_table, sub_rows=sub_rows)
    got = table.curves(TIMES, eta, sigma, gi, True)[:, :, 0]
    z = np.arange(-6.0, 6.0 + 1e-9, 0.02)
    wz = np.exp(-0.5 * z**2)
    wz /= wz.sum()
    ref = np.zeros_like(got)
    for zz, w in zip(z, wz, strict=True):
        shifted = eta.copy()
        shifted[2] += sigma * zz
        ref += w * colon_table.curves(TIMES, shifted, 0.0, gi, False)[:, :, 0]
    # the table's step of 1/8 in log2 I0 keeps the cubic within 0.01 of the likelihood midway
    # between rows (0.019 with a step of 1/4, near the clearing level)
    assert 0 < between_rows_error < 0.01
    assert np.abs(got - ref).max() <= between_rows_error


def test_log_terms_do_not_depend_on_the_number_of_threads(colon_table, monkeypatch):
    import remnant.inference.tables as tables

    rng = np.random.default_rng(3)
    n = 1200
    eta = np.vstack([rng.normal(0, 1, n), np.full(n, -np.inf), rng.normal(0, 0.7, n), np.zeros(n)])
    t = rng.uniform(30, 4000, n)
    ev = rng.integers(0, 2, n)
    gi = np.zeros(n, dtype=np.int64)
    active = np.array([True, False, True, False, True])
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(tables, "_threads", lambda n, k=threads: k)
        runs.append(
            colon_table.log_terms(t, ev, eta, 0.6, gi, True, active, with_grad=True, step=1e-4)
        )
    for out, grad in runs[1:]:
        assert np.array_equal(out, runs[0][0]) and np.array_equal(grad, runs[0][1])


@pytest.mark.parametrize("spread", [True, False])
def test_curves_do_not_depend_on_how_the_patients_are_split(colon_table, monkeypatch, spread):
    import remnant.inference.tables as tables

    rng = np.random.default_rng(5)
    n = 300
    eta = np.vstack(
        [rng.normal(0, 1, n), rng.normal(-2, 2, n), rng.normal(0, 0.7, n), rng.normal(0, 0.2, n)]
    )
    sigma = rng.uniform(0.3, 1.0, n)  # one spread per patient
    band = np.sort(rng.normal(0, 1.5, (2, n)), axis=0)
    times = np.linspace(0.0, 3000.0, 40)
    gi = np.zeros(n, dtype=np.int64)
    runs = []
    for cores, block in ((1, 10**9), (2, 1), (3, 1000)):
        monkeypatch.setattr(tables, "available_cores", lambda k=cores: k)
        monkeypatch.setattr(tables, "MIN_CURVE_BLOCK", block)
        runs.append(colon_table.curves(times, eta, sigma, gi, spread, band))
    for other in runs[1:]:
        assert other.tobytes() == runs[0].tobytes()
    # and each patient's curve is its own: the patients alone give the same numbers
    alone = colon_table.curves(times, eta[:, 7:8], sigma[7], gi[7:8], spread, band[:, 7:8])
    assert alone.tobytes() == runs[0][7:8].tobytes()


def test_patients_differing_only_in_immunity_give_their_own_curves(colon_table):
    # patients with the same seeds, residual cells and clock share the rows' sums over the
    # schedules (their immunity moves only the weights): each must still get exactly the
    # numbers it gets alone, whatever its band overlaps with its neighbours'
    rng = np.random.default_rng(9)
    n = 40
    eta = np.vstack(
        [
            rng.choice([-0.5, 0.3], n),
            rng.choice([-4.6, 0.9, 5.5], n),
            rng.normal(-0.7, 0.4, n),
            rng.choice([0.0, 0.1], n),
        ]
    )
    sigma = rng.choice([0.6, 1.07], n)
    lower = rng.choice([-np.inf, -0.67, 0.52, -3.0], n)
    narrow = np.isfinite(lower) & (lower < 0.0)  # a band of finite width, or open above
    band = np.vstack([lower, np.where(narrow, lower + rng.uniform(0.2, 2.0, n), np.inf)])
    times = np.array([0.0, 30.0, 365.25, 1000.0, 3000.0])
    gi = np.zeros(n, dtype=np.int64)
    together = colon_table.curves(times, eta, sigma, gi, True, band)
    for i in range(n):
        alone = colon_table.curves(
            times, eta[:, i : i + 1], sigma[i], gi[:1], True, band[:, i : i + 1]
        )
        assert alone.tobytes() == together[i : i + 1].tobytes(), i


def test_build_table_rejects_other_sub_rows():
    from remnant.errors import RemnantInputError

    with pytest.raises(RemnantInputError, match="sub_rows"):
        build_table(Mechanism(), "colon", (2,), sub_rows=3)


def test_log_likelihood_has_a_continuous_derivative_in_the_clock(colon_table):
    # Each patient's term as a function of log a, sampled 16 times per table cell across
    # five cells: its derivative (the gradient the fit uses) must move by small steps. With
    # linear interpolation in time it jumped at every grid time (a step as large as the
    # derivative's whole movement over the cell: the largest step was 35-200 times the
    # median one for most of these patients), which made the Hessian spike.
    mech = Mechanism()
    pa = _patients()
    n = len(pa)
    lr = np.log([mech.residual_cells[m] for m in pa.margin])
    base = np.vstack([np.log(dormant_seeds(pa, mech)), lr, np.log(pa.immunity), np.zeros(n)])
    t = np.full(n, 1000.0)
    per_cell = 16
    la = np.log(1.0 + np.arange(5 * per_cell) * colon_table.dt / per_cell / t[0])
    active = np.array([False, False, False, True, False])
    for event in (0, 1):
        grads = []
        for shift in la:
            eta = base.copy()
            eta[3] = shift
            _, g = colon_table.log_terms(
                t,
                np.full(n, event),
                eta,
                0.3,
                np.zeros(n, dtype=np.int64),
                True,
                active,
                with_grad=True,
                step=1e-4,
            )
            grads.append(g[:, 3])
        jumps = np.abs(np.diff(np.array(grads), axis=0))  # (points - 1, patients)
        typical = np.median(jumps, axis=0)
        # a C1 curve sampled finely: no step much larger than the typical one (the curvature
        # itself varies along five cells: up to 6 times here)
        assert (jumps.max(axis=0) <= 10.0 * typical + 1e-9).all(), jumps.max(axis=0) / typical


@pytest.mark.parametrize("sub_rows", [1, 2])
def test_closed_form_derivatives_match_differences_of_the_value(colon_table, sub_rows):
    # log mu, log res and log a in closed form (the rows' derivatives, with the column's
    # derivative in log a; on half rows the midpoints' by differences): against central
    # differences of each patient's value, with the clock moved away from 0 and residual
    # cells at the margin (R1), where the margin clone's detection matters
    table = dataclasses.replace(colon_table, sub_rows=sub_rows)
    mech = Mechanism()
    pa = _patients()
    n = len(pa)
    lr = np.log([mech.residual_cells[m] for m in pa.margin])
    rng = np.random.default_rng(5)
    eta = np.vstack(
        [np.log(dormant_seeds(pa, mech)), lr, np.log(pa.immunity), rng.normal(0.0, 0.4, n)]
    )
    t = rng.uniform(200.0, 3000.0, n)
    gi = np.zeros(n, dtype=np.int64)
    active = np.ones(5, dtype=bool)
    h = 1e-5
    for event in (0, 1):
        ev = np.full(n, event)
        _, grad = table.log_terms(t, ev, eta, 0.5, gi, True, active, with_grad=True, step=1e-4)
        for p in (0, 1, 3):
            up, down = eta.copy(), eta.copy()
            up[p] += h
            down[p] -= h
            ref = (
                table.log_terms(t, ev, up, 0.5, gi, True, active, with_grad=False, step=1e-4)[0]
                - table.log_terms(t, ev, down, 0.5, gi, True, active, with_grad=False, step=1e-4)[0]
            ) / (2 * h)
            # the differences' own error: O(h^2) and rounding 1e-16 / h
            np.testing.assert_allclose(grad[:, p], ref, rtol=1e-5, atol=1e-7, err_msg=f"{p}")
