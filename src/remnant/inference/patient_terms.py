"""One patient's survival, densities and log-likelihood terms from a kernel table (compiled).

For lapse schedule ``s`` (weight ``w_s``) and table row ``r``:
``S(t) = sum_r W_r sum_s w_s exp(-mu kc_rs(a t)) (1 - P_L,rs(a t))``, with the local and
distant densities by differentiating in ``t`` (docs/fit.md, section 2). :func:`_row_sums`
computes the sums over schedules for each row with their derivatives in closed form;
:func:`_one` is one patient at one time (at its own ``log I0``, or over the spread of
immunity, :mod:`remnant.inference.immune_spread`); :func:`_curves` and :func:`_log_terms`
loop over patients (releasing the GIL), the latter with the derivatives a fit needs.
Positions in the packed vectors: :mod:`remnant.inference.table_layout`. Units: days, cells.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from remnant.inference.immune_spread import _mix, _row_weight_slopes, _row_weights
from remnant.inference.table_layout import (
    D_A,
    D_MU,
    D_RES,
    G_DT,
    G_ML,
    G_STEP,
    G_SUB,
    G_X0,
    IMPOSSIBLE,
    LOG_A_MAX,
    LOG_IMPOSSIBLE,
    LOG_MU_MAX,
    LOG_RES_MAX,
    N_DERIV,
    N_GRAD,
    N_TAB,
    T_DRHO,
    T_KC,
    T_KCT,
    T_Q0,
    T_RHO,
    X_A,
    X_I0,
    X_MU,
    X_RES,
    X_SIGMA,
    X_ZHI,
    X_ZLO,
)
from remnant.inference.table_lookup import (
    _gather,
    _gather_rows,
    _interp,
    _n_points,
    _shifted,
    _time_cell,
)
from remnant.likelihood import kernels as kn

ONE_ROW = np.ones(1)  # the weight of a patient's own column (no spread of immunity)


NO_SCALES = np.empty((0, 0))  # _row_sums computes each pair's detection scale itself


@njit(cache=True, inline="always")
def _scale(m_loc: float, rho: float) -> float:
    # the margin clone's detection size in lineage units at log growth rho, before its
    # survival q0: M_L e^-rho (kn.local_detection_terms takes lam = M_L e^-rho q0)
    return m_loc * math.exp(-rho)


@njit(cache=True)
def _detection_scales(part: np.ndarray, m_loc: float, out: np.ndarray) -> None:
    # _scale of every row and schedule of part: what _row_sums needs of the rows that does not
    # depend on the patient, computed once for every patient reading them
    for r in range(part.shape[0]):
        for s in range(part.shape[1]):
            out[r, s] = _scale(m_loc, part[r, s, T_RHO])


@njit(cache=True)
def _row_sums(
    lm: float,
    lr: float,
    a: float,
    buf: np.ndarray,
    w: np.ndarray,
    m_loc: float,
    out: np.ndarray,
    dout: np.ndarray,
    dbuf: np.ndarray,
    res_slope: bool,
    clock_slope: bool,
    a_moves: bool,
    erho: np.ndarray,
) -> None:
    # per (half) row: (S_rec, local density, distant density) summed over the schedules, for
    # seeds e^lm and residual cells e^lr, in out; their derivatives in closed form in dout
    # (n, N_DERIV): columns D_MU.. in lm (mu enters through exp(-mu kc) and the distant
    # density's factor mu), with res_slope D_RES.. in lr (the margin clone's detection in its
    # mean number of lineages, kn.local_detection_terms), with clock_slope D_A.. in log a
    # (the rows move along the column's derivative dbuf, and with a_moves the densities'
    # factor a). buf holds the rows' quantities at the patient's time; erho, when given, their
    # detection scales (_detection_scales: the same for every patient at that time).
    capped = lm > LOG_MU_MAX
    mu = math.exp(min(lm, LOG_MU_MAX))
    res = math.exp(min(lr, LOG_RES_MAX))
    res_moves = res_slope and lr < LOG_RES_MAX
    da = 1.0 if a_moves else 0.0
    for r in range(buf.shape[0]):
        s_tot = 0.0
        f_loc = 0.0
        f_dis = 0.0
        ds = 0.0
        dl = 0.0
        dd = 0.0
        rs = 0.0
        rl = 0.0
        rd = 0.0
        cs = 0.0
        cl = 0.0
        cd = 0.0
        for s in range(buf.shape[1]):
            kc = buf[r, s, T_KC]
            mk = mu * max(kc, 0.0)
            e = w[s] * math.exp(-mk)
            kct = mu * max(buf[r, s, T_KCT], 0.0) * a
            de = 0.0
            dkct = 0.0
            if clock_slope:
                de = -mu * e * dbuf[r, s, T_KC] if kc > 0.0 else 0.0
                dkct = kct * da
                if buf[r, s, T_KCT] > 0.0:
                    dkct += mu * dbuf[r, s, T_KCT] * a
            dpl_a = 0.0
            if res > 0.0:
                q0 = buf[r, s, T_Q0]
                q0c = min(max(q0, 0.0), 1.0)
                m = res * q0c
                erho_rs = erho[r, s] if erho.shape[0] > 0 else _scale(m_loc, buf[r, s, T_RHO])
                lam = erho_rs * q0c
                pl, dens, at_k, below = kn.local_detection_terms(m, lam)
                plr = lam * dens
                drho = max(buf[r, s, T_DRHO], 0.0) * a
                fl = e * plr * drho
                f_loc += fl
                dl -= mk * fl
                if res_moves:
                    # d/dlr = m d/dm
                    rs -= e * m * at_k
                    rl += e * m * lam * (at_k - dens) * drho
                    rd -= e * kct * m * at_k
                if clock_slope:
                    dq = dbuf[r, s, T_Q0] if 0.0 < q0 < 1.0 else 0.0
                    dm = res * dq
                    dlam = erho_rs * (dq - q0c * dbuf[r, s, T_RHO])
                    dpl_a = at_k * dm - dens * dlam
                    dplr_a = lam * (at_k - dens) * dm + (dens + lam * (below - dens)) * dlam
                    ddrho = drho * da
                    if buf[r, s, T_DRHO] > 0.0:
                        ddrho += dbuf[r, s, T_DRHO] * a
                    cl += de * plr * drho + e * dplr_a * drho + e * plr * ddrho
            else:
                pl = 0.0
            sv = e * (1.0 - pl)
            fd = e * kct * (1.0 - pl)
            s_tot += sv
            f_dis += fd
            ds -= mk * sv
            dd += (1.0 - mk) * fd
            if clock_slope:
                cs += de * (1.0 - pl) - e * dpl_a
                cd += (de * kct + e * dkct) * (1.0 - pl) - e * kct * dpl_a
        out[r, 0] = s_tot
        out[r, 1] = f_loc
        out[r, 2] = f_dis
        # beyond the cap on seeds (e^30) nothing moves
        dout[r, D_MU] = 0.0 if capped else ds
        dout[r, D_MU + 1] = 0.0 if capped else dl
        dout[r, D_MU + 2] = 0.0 if capped else dd
        dout[r, D_RES] = rs
        dout[r, D_RES + 1] = rl
        dout[r, D_RES + 2] = rd
        dout[r, D_A] = cs
        dout[r, D_A + 1] = cl
        dout[r, D_A + 2] = cd


@njit(cache=True, inline="always")
def _weighted_span(wts: np.ndarray) -> tuple[int, int]:
    # the first and one past the last point of nonzero weight (at least one point): a zero
    # weight adds an exact zero, so the points outside change nothing
    lo = 0
    while lo < wts.shape[0] - 1 and wts[lo] == 0.0:
        lo += 1
    hi = wts.shape[0]
    while hi > lo + 1 and wts[hi - 1] == 0.0:
        hi -= 1
    return lo, hi


@njit(cache=True)
def _band_sums(
    lm: float,
    lr: float,
    a: float,
    part: np.ndarray,
    w: np.ndarray,
    m_loc: float,
    wts: np.ndarray,
) -> tuple[float, float, float]:
    # (S_rec, local density, distant density) over the spread of immunity: the points the
    # band weighs (part, with their weights wts; _row_weights), each summed over the schedules
    sums = np.empty((part.shape[0], 3))
    dsums = np.empty((part.shape[0], N_DERIV))
    _row_sums(lm, lr, a, part, w, m_loc, sums, dsums, part, False, False, False, NO_SCALES)
    return _mix(sums, wts)


@njit(cache=True)
def _weighed(
    t: float,
    x: np.ndarray,
    g: int,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
    wts: np.ndarray,
) -> tuple[float, float, float]:
    # _one over the spread of immunity with the points' weights wts given (they depend on
    # the patient, not on t): read (on rows) or use (on half rows, whose midpoints need every
    # row) only the points the band weighs
    lm = min(x[X_MU], LOG_MU_MAX)
    lr = min(x[X_RES], LOG_RES_MAX)
    k, fu, a = _time_cell(t, x[X_A], geom[G_DT], tabt.shape[1])
    n_s = tabt.shape[3]
    lo, hi = _weighted_span(wts)
    if int(geom[G_SUB]) == 1:
        part = np.empty((hi - lo, n_s, N_TAB))
        _gather_rows(tabt, g, k, fu, part, lo)
        return _band_sums(lm, lr, a, part, w, geom[G_ML], wts[lo:hi])
    full = np.empty((wts.shape[0], n_s, N_TAB))
    _gather(tabt, g, k, fu, full)
    return _band_sums(lm, lr, a, full[lo:hi], w, geom[G_ML], wts[lo:hi])


@njit(cache=True)
def _one(
    t: float,
    x: np.ndarray,
    g: int,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
) -> tuple[float, float, float]:
    # (S_rec, local density, distant density) at t for one patient whose predictors are
    # x = (log mu, log res, log I0, log a, sigma, z_lo, z_hi): the predictors and the immune
    # band's bounds as normal quantiles (X_*); geom = (log2 I0 at row 0, its step, dt, M_L)
    lm, lr, li, la, sigma = x[X_MU], x[X_RES], x[X_I0], x[X_A], x[X_SIGMA]
    dt, m_loc = geom[G_DT], geom[G_ML]
    n_i0 = tab.shape[1]
    n_s = tab.shape[2]
    n_t = tab.shape[4]
    if spread:
        # log I0 = li + sigma Z between patients, Z within the band: weigh the points first
        wts = np.empty(_n_points(n_i0, geom))
        _row_weights(li, sigma, x[X_ZLO], x[X_ZHI], geom, wts)
        return _weighed(t, x, g, tabt, w, geom, wts)
    # clamp the predictors to where the model is meaningful (and the margin-clone sum stays
    # short): clock speed within e^+-6 (_time_cell), residual cells <= e^12, seeds <= e^30
    lr = min(lr, LOG_RES_MAX)
    lm = min(lm, LOG_MU_MAX)
    k, fu, a = _time_cell(t, la, dt, n_t)
    # each patient at its own log I0: the schedules' quantities there (_point_column), summed
    # as one row of weight 1
    col = np.empty((1, n_s, N_TAB))
    _point_column(tab, g, li, k, fu, geom, col)
    return _band_sums(lm, lr, a, col, w, m_loc, ONE_ROW)


@njit(cache=True)
def _point_column(
    tab: np.ndarray, g: int, li: float, k: int, fu: float, geom: np.ndarray, col: np.ndarray
) -> None:
    # every schedule's tabulated quantities at one log I0 (cubic Hermite in log2 I0 with
    # limited slopes, _interp) and one time cell, in col of shape (1, n_schedules, N_TAB)
    x0, dx = geom[G_X0], geom[G_STEP]
    n_i0 = tab.shape[1]
    rows = np.empty(4, dtype=np.int64)
    wr = np.empty(4)
    y = (li / math.log(2.0) - x0) / dx
    y = min(max(y, 0.0), n_i0 - 1.0)
    j = min(int(math.floor(y)), n_i0 - 2)
    fy = y - j
    for r in range(4):
        rows[r] = min(max(j - 1 + r, 0), n_i0 - 1)
    f2 = fy * fy
    f3 = f2 * fy
    # cubic Hermite basis on the cell (values at rows j, j + 1; slopes there)
    wr[0] = 2.0 * f3 - 3.0 * f2 + 1.0
    wr[1] = f3 - 2.0 * f2 + fy
    wr[2] = -2.0 * f3 + 3.0 * f2
    wr[3] = f3 - f2
    for s in range(tab.shape[2]):
        for v in range(N_TAB):
            col[0, s, v] = _interp(tab, g, rows, wr, s, v, k, fu)


@njit(cache=True)
def _log_term(
    t: float,
    ev: int,
    x: np.ndarray,
    g: int,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
) -> float:
    return _log_of(ev, _one(t, x, g, spread, tab, tabt, w, geom))


@njit(cache=True, inline="always")
def _value_of(ev: int, sff: tuple[float, float, float]) -> float:
    # the likelihood of one patient: the recurrence density (ev = 1) or the survival
    return sff[1] + sff[2] if ev == 1 else sff[0]


@njit(cache=True, inline="always")
def _log_of(ev: int, sff: tuple[float, float, float]) -> float:
    v = _value_of(ev, sff)
    return math.log(v) if v > IMPOSSIBLE else LOG_IMPOSSIBLE


@njit(cache=True)
def _slope_column(
    tabt: np.ndarray,
    g: int,
    k: int,
    fu: float,
    slope: float,
    buf: np.ndarray,
    dbuf: np.ndarray,
    up: np.ndarray,
    down: np.ndarray,
) -> None:
    # the column (buf) and its derivative in log a (dbuf) on the rows; on half rows the
    # midpoints' derivative by central differences of the limited cubic (_shifted; up and
    # down are scratch of buf's shape)
    _gather(tabt, g, k, fu, buf, slope, dbuf)
    top = tabt.shape[2] - 1
    if top == 0 or buf.shape[0] - 1 == top:
        return
    sub = (buf.shape[0] - 1) // top
    h = 1e-4
    _shifted(buf, dbuf, h, sub, up)
    _shifted(buf, dbuf, -h, sub, down)
    for r in range(top):
        for s in range(buf.shape[1]):
            for v in range(buf.shape[2]):
                dbuf[2 * r + 1, s, v] = (up[2 * r + 1, s, v] - down[2 * r + 1, s, v]) / (2.0 * h)


@njit(cache=True, inline="always")
def _term(
    ev: int,
    sums: np.ndarray,
    derivs: np.ndarray,
    wts: np.ndarray,
    active: np.ndarray,
    slopes: tuple[tuple[int, int], ...],
    with_grad: bool,
    out: np.ndarray,
    grad: np.ndarray,
    i: int,
) -> float:
    # patient i's term from its points' sums and weights, in out[i]; with_grad: its row of
    # grad zeroed, then the closed-form derivatives of the predictors in slopes ((position,
    # first column of derivs)) that are active. Returns the likelihood (0 without with_grad).
    sff = _mix(sums, wts)
    out[i] = _log_of(ev, sff)
    if not with_grad:
        return 0.0
    for p in range(N_GRAD):
        grad[i, p] = 0.0
    v = _value_of(ev, sff)
    if v > IMPOSSIBLE:
        for p, c in slopes:
            if active[p]:
                grad[i, p] = _value_of(ev, _mix(derivs[:, c : c + 3], wts)) / v
    return v


@njit(cache=True, nogil=True)
def _log_terms(
    t: np.ndarray,
    ev: np.ndarray,
    eta: np.ndarray,
    sigma: float,
    gi: np.ndarray,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
    h: float,
    active: np.ndarray,
    with_grad: bool,
    out: np.ndarray,
    grad: np.ndarray,
) -> None:
    # spread of log I0: gather each patient's table column once and take the value and its
    # derivatives from it (a moved clock from the column's derivative in log a); at one
    # log I0 (no spread), central differences of the patient's term
    n_pts = _n_points(tab.shape[1], geom)
    buf = np.empty((n_pts, tab.shape[2], tab.shape[3]))
    dbuf = np.zeros((n_pts, tab.shape[2], tab.shape[3]))
    up = np.empty_like(buf)
    down = np.empty_like(buf)
    rows0 = np.empty((n_pts, 3))
    drows = np.empty((n_pts, N_DERIV))  # the rows' derivatives in log mu, log res and log a
    wts0 = np.empty(n_pts)
    wts_li = np.empty(n_pts)
    wts_sigma = np.empty(n_pts)
    own = np.empty((1, tab.shape[2], tab.shape[3]))  # at the patient's log I0 (no spread)
    own_sums = np.empty((1, 3))
    own_derivs = np.empty((1, N_DERIV))
    for i in range(t.shape[0]):
        x = np.array([eta[0, i], eta[1, i], eta[2, i], eta[3, i], sigma, -np.inf, np.inf])
        if spread:
            k, fu, a = _time_cell(t[i], x[X_A], geom[G_DT], tab.shape[4])
            clock = with_grad and active[3]
            if clock:
                # held beyond the table and outside the clamp on log a: no slope there
                held = fu >= 1.0 or abs(x[X_A]) > LOG_A_MAX
                slope = 0.0 if held else t[i] * a / geom[G_DT]
                _slope_column(tabt, gi[i], k, fu, slope, buf, dbuf, up, down)
            else:
                _gather(tabt, gi[i], k, fu, buf)
            # rows depend on (log mu, log res, log a), in closed form (log a through the
            # column's derivative); weights on (log I0, sigma), in closed form too
            _row_sums(
                x[X_MU],
                x[X_RES],
                a,
                buf,
                w,
                geom[G_ML],
                rows0,
                drows,
                dbuf,
                with_grad and active[1],
                clock,
                abs(x[X_A]) <= LOG_A_MAX,
                NO_SCALES,
            )
            grad_w = with_grad and (active[X_I0] or active[X_SIGMA])
            if grad_w:
                _row_weight_slopes(
                    x[X_I0], x[X_SIGMA], x[X_ZLO], x[X_ZHI], geom, wts0, wts_li, wts_sigma
                )
            else:
                _row_weights(x[X_I0], x[X_SIGMA], x[X_ZLO], x[X_ZHI], geom, wts0)
            rows_slopes = ((X_MU, D_MU), (X_RES, D_RES), (X_A, D_A))
            v = _term(ev[i], rows0, drows, wts0, active, rows_slopes, with_grad, out, grad, i)
            if with_grad and v > IMPOSSIBLE:
                # the weights' derivatives in closed form (_row_weight_slopes)
                if active[X_I0]:
                    grad[i, X_I0] = _value_of(ev[i], _mix(rows0, wts_li)) / v
                if active[X_SIGMA]:
                    grad[i, X_SIGMA] = _value_of(ev[i], _mix(rows0, wts_sigma)) / v
            continue
        # at the patient's own log I0: the column there, summed as one row (as _one), with the
        # derivatives in log mu and log res in closed form; log I0 and log a by central
        # differences of the term
        k, fu, a = _time_cell(t[i], x[X_A], geom[G_DT], tab.shape[4])
        _point_column(tab, gi[i], x[X_I0], k, fu, geom, own)
        _row_sums(
            x[X_MU],
            x[X_RES],
            a,
            own,
            w,
            geom[G_ML],
            own_sums,
            own_derivs,
            own,
            with_grad and active[1],
            False,
            False,
            NO_SCALES,
        )
        own_slopes = ((X_MU, D_MU), (X_RES, D_RES))
        _term(ev[i], own_sums, own_derivs, ONE_ROW, active, own_slopes, with_grad, out, grad, i)
        if not with_grad:
            continue
        for p in (X_I0, X_A):
            if not active[p]:
                continue
            xp = x.copy()
            xm = x.copy()
            xp[p] += h
            xm[p] -= h
            lp = _log_term(t[i], ev[i], xp, gi[i], spread, tab, tabt, w, geom)
            lq = _log_term(t[i], ev[i], xm, gi[i], spread, tab, tabt, w, geom)
            grad[i, p] = (lp - lq) / (2.0 * h)


@njit(cache=True, nogil=True)
def _curves(
    times: np.ndarray,
    eta: np.ndarray,
    sigma: np.ndarray,
    band_z: np.ndarray,
    gi: np.ndarray,
    spread: bool,
    tab: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
    out: np.ndarray,
) -> None:
    # (S_rec, local density, distant density) of each patient i at each time k in out[i, k];
    # sigma[i] is the patient's spread of log I0 (one fit's patients share it; a posterior's
    # points do not)
    n = eta.shape[1]
    if spread and int(geom[G_SUB]) == 1:
        _spread_curves(times, eta, sigma, band_z, gi, tabt, w, geom, out)
        return
    wts = np.empty(_n_points(tab.shape[1], geom))
    for i in range(n):
        x = np.array(
            [eta[0, i], eta[1, i], eta[2, i], eta[3, i], sigma[i], band_z[0, i], band_z[1, i]]
        )
        if spread:  # the spread's weights are the patient's, at every time
            _row_weights(x[X_I0], x[X_SIGMA], x[X_ZLO], x[X_ZHI], geom, wts)
        for k in range(times.shape[0]):
            if spread:
                s, fl, fd = _weighed(times[k], x, gi[i], tabt, w, geom, wts)
            else:
                s, fl, fd = _one(times[k], x, gi[i], spread, tab, tabt, w, geom)
            out[i, k, 0] = s
            out[i, k, 1] = fl
            out[i, k, 2] = fd


@njit(cache=True)
def _spread_curves(
    times: np.ndarray,
    eta: np.ndarray,
    sigma: np.ndarray,
    band_z: np.ndarray,
    gi: np.ndarray,
    tabt: np.ndarray,
    w: np.ndarray,
    geom: np.ndarray,
    out: np.ndarray,
) -> None:
    # _curves over the spread of immunity on the rows: _weighed's arithmetic for each patient
    # and time, with the rows read from the table once per time for every patient at the
    # same grade and time cell (the patients of one explanation share them), and each row's
    # sums over the schedules computed once for patients in a run that differ only in their
    # immunity (its level, spread or band moves the weights, not the rows: the posterior's
    # points along the immune parameters, a coalition with and without the patient's
    # immunity). Every row's sums and every patient's mix are the same arithmetic as alone.
    n = eta.shape[1]
    n_r = tabt.shape[2]
    n_s = tabt.shape[3]
    wts = np.empty((n, n_r))
    lo = np.empty(n, dtype=np.int64)
    hi = np.empty(n, dtype=np.int64)
    for i in range(n):
        _row_weights(eta[2, i], sigma[i], band_z[0, i], band_z[1, i], geom, wts[i])
        lo[i], hi[i] = _weighted_span(wts[i])
    first = lo.min()
    part = np.empty((hi.max() - first, n_s, N_TAB))
    scales = np.empty((part.shape[0], n_s))
    sums = np.empty((n_r, 3))
    dsums = np.empty((n_r, N_DERIV))
    for k in range(times.shape[0]):
        # the grade, time cell and fraction whose rows part holds (none yet), and the
        # predictors whose row sums sums holds on rows done_lo .. done_hi - 1 (none yet)
        read_g = -1
        read_cell = -1
        read_fu = -1.0
        done_lo = 0
        done_hi = 0
        lm_done = 0.0
        lr_done = 0.0
        a_done = 0.0  # no clock is 0: the first patient's rows are computed
        for i in range(n):
            cell, fu, a = _time_cell(times[k], eta[X_A, i], geom[G_DT], tabt.shape[1])
            if gi[i] != read_g or cell != read_cell or fu != read_fu:
                _gather_rows(tabt, gi[i], cell, fu, part, first)
                _detection_scales(part, geom[G_ML], scales)
                read_g = gi[i]
                read_cell = cell
                read_fu = fu
                done_hi = done_lo
            lm = min(eta[X_MU, i], LOG_MU_MAX)
            lr = min(eta[X_RES, i], LOG_RES_MAX)
            if lm != lm_done or lr != lr_done or a != a_done or hi[i] < done_lo or lo[i] > done_hi:
                done_lo = lo[i]
                done_hi = lo[i]
                lm_done = lm
                lr_done = lr
                a_done = a
            _sums_on(lm, lr, a, part, scales, first, w, geom[G_ML], sums, dsums, lo[i], done_lo)
            _sums_on(lm, lr, a, part, scales, first, w, geom[G_ML], sums, dsums, done_hi, hi[i])
            done_lo = min(done_lo, lo[i])
            done_hi = max(done_hi, hi[i])
            s, fl, fd = _mix(sums[lo[i] : hi[i]], wts[i, lo[i] : hi[i]])
            out[i, k, 0] = s
            out[i, k, 1] = fl
            out[i, k, 2] = fd


@njit(cache=True, inline="always")
def _sums_on(
    lm: float,
    lr: float,
    a: float,
    part: np.ndarray,
    scales: np.ndarray,
    first: int,
    w: np.ndarray,
    m_loc: float,
    sums: np.ndarray,
    dsums: np.ndarray,
    r0: int,
    r1: int,
) -> None:
    # the row sums of rows r0 .. r1 - 1 (none when r1 <= r0) into sums; part holds the rows
    # from row first, scales their detection scales
    if r1 <= r0:
        return
    p = part[r0 - first : r1 - first]
    e = scales[r0 - first : r1 - first]
    _row_sums(lm, lr, a, p, w, m_loc, sums[r0:r1], dsums[r0:r1], p, False, False, False, e)
