"""Compiled kernels: per immune trajectory, the expected number of detected clones per seed.

For one lapse schedule (so one piecewise-constant immune trajectory ``I(t)``) and one
*dynamics class* (cancer, grade, baseline immunity: the patients who share birth, death and
waking rates), :func:`schedule_kernels` returns on a sorted time grid

* ``rho(t)``: the running maximum over ``[0, t]`` of ``R(t) = Integral_0^t r(u) du`` (the log
  of the mean clone size); detection depends on time only through it when ``r >= 0``;
* ``K_D(t)``: expected detected distant clones by ``t`` per seed asleep at surgery
  (``Lambda_D = mu_D K_D``);
* ``K_W(t)``: the same per seed woken before surgery, net of the clones thinned away at
  surgery (``Lambda_W = mu_W K_W``);
* their derivatives in ``t`` and in ``rho``;
* ``q0 = 1 / X_0``: the probability that a cell present at surgery has descendants at the end
  of the grid, or at the peak of ``R`` on ``[0, t]`` when ``R`` is not monotone (used by the
  margin clone, :func:`local_detection`).

Large-size representation (docs/likelihood.md, section 3): a one-cell clone started at ``w``
reaches ``M`` cells by ``t`` with probability ``q_w exp(-M q_w exp(R(w) - R*_w(t)))``, where
``q_w = 1 / X_w`` is its survival probability (to the end of the grid when ``R`` is monotone,
to the time of the maximum otherwise) and ``R*_w(t)`` the maximum of ``R`` over ``[w, t]``.
The waking time ``w`` (or the age ``a`` before surgery) is integrated by Gauss-Legendre panels
on which ``R`` changes by at most ``dz``; the sum over nodes of ``c_i exp(-exp(key_i - rho))``
is a Gumbel-kernel sum evaluated by a sliding window over the sorted keys (:func:`gumbel_sums`).

Units: days, per-day rates, cells.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Class parameter vector (one dynamics class), built by ``classes.class_setup``.
C_I0 = 0  # baseline immunity I0
C_B = 1  # birth rate b
C_D0 = 2  # intrinsic death d0
C_K = 3  # kill rate k (per day at I = 1)
C_EPS0 = 4  # waking rate at I = 1 (per day)
C_KAPPA = 5  # waking immune exponent
C_DELTA = 6  # death of asleep seeds (per day)
C_BURST = 7  # surgery waking multiplier
C_M = 8  # detection size of distant clones (cells)
C_V = 9  # visible size at surgery (cells)
C_G = 10  # rate of the age of seeds woken before surgery (gamma r_p, per day)
C_DZ = 11  # panel size in units of R (quadrature)
N_CLASS = 12

# Schedule vector (immune trajectory, shared by all classes).
S_DIP_DAYS = 0
S_BURST_DAYS = 1
S_LAPSE_DAYS = 2
S_LAPSE_MULT = 3
N_SCHED = 4

LOW_CUT = 10.0  # below key - rho < -LOW_CUT: exp(-e^u) = 1 - e^u to 1e-9 relative
HIGH_CUT = 4.5  # above: exp(-e^u) < 1e-39


@njit(cache=True)
def _h(r: float, tau: float) -> float:
    # Integral_0^tau exp(-r u) du, exact as r -> 0.
    if abs(r) * tau < 1e-12:
        return tau
    return -math.expm1(-r * tau) / r


@njit(cache=True)
def _exp_clip(x: float) -> float:
    return math.exp(min(x, 700.0))


@njit(cache=True)
def build_phases(
    t_end: float,
    dips: np.ndarray,
    sched: np.ndarray,
    starts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phases of constant immunity on ``[0, t_end]`` for one lapse schedule.

    Boundaries: the ends of the post-operative dip steps, the end of the surgery waking burst,
    the starts and ends of the lapses (``starts``, sorted). Returns the boundaries ``T``
    (``n + 1`` values, ``T[0] = 0``, ``T[n] = t_end``), the immunity multiplier ``m`` of each
    phase (dip times lapse) and whether the burst is on (as in the engine: state taken at a
    point strictly inside the phase).
    """
    dip_days = sched[S_DIP_DAYS]
    burst_days = sched[S_BURST_DAYS]
    lapse_days = sched[S_LAPSE_DAYS]
    lapse_mult = sched[S_LAPSE_MULT]
    n_dips = dips.shape[0]
    n_l = starts.shape[0]
    cand = np.empty(n_dips + 3 + 2 * n_l)
    nc = 0
    cand[nc] = 0.0
    nc += 1
    for j in range(n_dips):
        e = (j + 1) * dip_days
        if 0.0 < e < t_end:
            cand[nc] = e
            nc += 1
    if 0.0 < burst_days < t_end:
        cand[nc] = burst_days
        nc += 1
    for i in range(n_l):
        s = starts[i]
        if 0.0 < s < t_end:
            cand[nc] = s
            nc += 1
        e = s + lapse_days
        if 0.0 < e < t_end:
            cand[nc] = e
            nc += 1
    cand[nc] = t_end
    nc += 1
    cs = np.sort(cand[:nc])
    bounds = np.empty(nc)
    nb = 0
    for i in range(nc):
        if nb == 0 or cs[i] > bounds[nb - 1]:
            bounds[nb] = cs[i]
            nb += 1
    n = nb - 1
    mult = np.ones(n)
    burst = np.zeros(n, dtype=np.bool_)
    for p in range(n):
        mid = 0.5 * (bounds[p] + bounds[p + 1])
        m = 1.0
        if dip_days > 0.0:
            j = int(math.floor(mid / dip_days))
            if j < n_dips:
                m *= dips[j]
        for i in range(n_l):
            if starts[i] <= mid < starts[i] + lapse_days:
                m *= lapse_mult
                break
        mult[p] = m
        burst[p] = mid < burst_days
    return bounds[:nb].copy(), mult, burst


@njit(cache=True)
def gumbel_sums(
    keys: np.ndarray, c: np.ndarray, rho: np.ndarray, val: np.ndarray, der: np.ndarray
) -> None:
    """``val[k] = sum_i c_i exp(-exp(keys_i - rho_k))`` and its ``rho``-derivative ``der[k]``.

    ``keys`` ascending, ``rho`` ascending. Terms with ``keys - rho < -LOW_CUT`` use
    ``exp(-e^u) = 1 - e^u`` through prefix sums (relative error below ``exp(-2 LOW_CUT)``);
    terms with ``keys - rho > HIGH_CUT`` are zero to double precision.
    """
    n = keys.shape[0]
    p0 = np.zeros(n + 1)  # p0[i] = sum_{j < i} c_j
    p1 = np.zeros(n + 1)  # p1[i] = sum_{j < i} c_j exp(keys_j - keys_{i-1})
    step = np.ones(n)  # step[i] = exp(keys_i - keys_{i-1}) (>= 1)
    for i in range(n):
        p0[i + 1] = p0[i] + c[i]
        if i == 0:
            p1[1] = c[0]
        else:
            step[i] = math.exp(keys[i] - keys[i - 1])
            p1[i + 1] = p1[i] / step[i] + c[i]
    lo = 0
    for k in range(rho.shape[0]):
        r = rho[k]
        while lo < n and keys[lo] < r - LOW_CUT:
            lo += 1
        v = p0[lo]
        dv = 0.0
        if lo > 0:
            e = p1[lo] * math.exp(keys[lo - 1] - r)
            v -= e
            dv += e
        j = lo
        if j < n and keys[j] <= r + HIGH_CUT:
            eu = math.exp(keys[j] - r)
            while True:
                ph = math.exp(-eu)
                v += c[j] * ph
                dv += c[j] * eu * ph
                j += 1
                if j >= n or keys[j] > r + HIGH_CUT:
                    break
                eu *= step[j]  # exp(keys_j - r) by recursion along the window
        val[k] = v
        der[k] = dv


@njit(cache=True)
def _gl_count(rate: float, tau: float, dz: float) -> int:
    return max(1, int(math.ceil(rate * tau / dz - 1e-12)))


@njit(cache=True)
def schedule_kernels(
    times: np.ndarray,
    bounds: np.ndarray,
    mult: np.ndarray,
    burst: np.ndarray,
    cls: np.ndarray,
    gl_x: np.ndarray,
    gl_w: np.ndarray,
    out: np.ndarray,
) -> bool:
    """Distant-clone kernels of one dynamics class under one immune trajectory.

    Parameters
    ----------
    times : ndarray
        Sorted times (days), all in ``[0, bounds[-1]]``.
    bounds, mult, burst : ndarray
        The phases from :func:`build_phases`.
    cls : ndarray
        Class vector (``C_*`` indices).
    gl_x, gl_w : ndarray
        Gauss-Legendre nodes and weights on [-1, 1].
    out : ndarray, shape (9, n_times)
        Filled with rows ``rho, drho/dt, K_D, dK_D/dt, dK_D/drho, K_W, dK_W/dt, dK_W/drho,
        q0``; ``q0`` is the survival probability, to the time ``s*`` at which ``R`` peaks on
        ``[0, t]``, of a cell present at surgery (used by the margin clone).

    Returns
    -------
    bool
        True when ``r >= 0`` in every phase: then ``R`` is its own running maximum, every
        kernel is a function of ``rho`` and survival is taken to ``bounds[-1]`` (equivalent
        up to ``exp(-R)``); otherwise the first passage is evaluated at ``s*`` exactly.
    """
    i0 = cls[C_I0]
    b = cls[C_B]
    d0 = cls[C_D0]
    kk = cls[C_K]
    eps0 = cls[C_EPS0]
    kappa = cls[C_KAPPA]
    delta = cls[C_DELTA]
    burst_mult = cls[C_BURST]
    big_m = cls[C_M]
    vis = cls[C_V]
    g = cls[C_G]
    dz = cls[C_DZ]
    log_m = math.log(big_m)
    n = mult.shape[0]
    ng = gl_x.shape[0]

    # --- per-phase rates and cumulative quantities ---
    r = np.empty(n)
    d = np.empty(n)
    eps = np.empty(n)
    big_r = np.zeros(n + 1)  # R at phase starts
    umax = np.zeros(n + 1)  # running max of R over the boundaries 0..p
    amax = np.zeros(n + 1, dtype=np.int64)  # where it is attained
    log_sd = np.zeros(n + 1)  # log P(still asleep) at phase starts
    monotone = True
    for p in range(n):
        imm = i0 * mult[p]
        d[p] = d0 + kk * imm
        r[p] = b - d[p]
        eps[p] = eps0 * imm ** (-kappa) * (burst_mult if burst[p] else 1.0)
        tau = bounds[p + 1] - bounds[p]
        big_r[p + 1] = big_r[p] + r[p] * tau
        if big_r[p + 1] >= umax[p]:
            umax[p + 1] = big_r[p + 1]
            amax[p + 1] = p + 1
        else:
            umax[p + 1] = umax[p]
            amax[p + 1] = amax[p]
        log_sd[p + 1] = log_sd[p] - (eps[p] + delta) * tau
        if r[p] < 0.0:
            monotone = False
    # X_{T_p} = 1 + Integral_{T_p}^{t_end} d e^{-(R(u) - R(T_p))} du, backwards
    xe = np.ones(n + 1)
    for p in range(n - 1, -1, -1):
        tau = bounds[p + 1] - bounds[p]
        xe[p] = 1.0 + d[p] * _h(r[p], tau) + _exp_clip(-r[p] * tau) * (xe[p + 1] - 1.0)
    # xb[j, m] = X_{T_j}(T_m), m >= j (general path only)
    nb = n + 1 if not monotone else 1
    xb = np.ones((nb, nb))
    if not monotone:
        for j in range(n + 1):
            for m in range(j, n):
                tau = bounds[m + 1] - bounds[m]
                xb[j, m + 1] = xb[j, m] + _exp_clip(big_r[j] - big_r[m]) * d[m] * _h(r[m], tau)

    # --- rho(t), drho/dt, and where R peaks on [0, t] ---
    nt = times.shape[0]
    rho = out[0]
    drho = out[1]
    q0 = out[8]
    tphase = np.empty(nt, dtype=np.int64)
    p = 0
    for k in range(nt):
        t = times[k]
        while p < n - 1 and t >= bounds[p + 1]:
            p += 1
        tphase[k] = p
        rt = big_r[p] + r[p] * (t - bounds[p])
        at_t = rt >= umax[p]
        if at_t:
            rho[k] = rt
            drho[k] = r[p] if r[p] > 0.0 else 0.0
        else:
            rho[k] = umax[p]
            drho[k] = 0.0
        if monotone:
            q0[k] = 1.0 / xe[0]
        elif at_t:
            q0[k] = 1.0 / (xb[0, p] + _exp_clip(-big_r[p]) * d[p] * _h(r[p], t - bounds[p]))
        else:
            q0[k] = 1.0 / xb[0, amax[p]]

    # --- dormant seeds: nodes in the waking time w ---
    nn = 0
    for p in range(n):
        tau = bounds[p + 1] - bounds[p]
        rate = max(abs(r[p]), eps[p] + delta, 2e-3)
        nn += _gl_count(rate, tau, dz) * ng
    w_nodes = np.empty(nn)
    w_phase = np.empty(nn, dtype=np.int64)
    w_rw = np.empty(nn)
    keys = np.empty(nn)
    cw = np.empty(nn)  # weight x waking density (x survival q in the monotone path)
    i = 0
    for p in range(n):
        tau = bounds[p + 1] - bounds[p]
        rate = max(abs(r[p]), eps[p] + delta, 2e-3)
        npan = _gl_count(rate, tau, dz)
        plen = tau / npan
        for j in range(npan):
            for gi in range(ng):
                u = (j + 0.5 * (gl_x[gi] + 1.0)) * plen
                rw = big_r[p] + r[p] * u
                w_nodes[i] = bounds[p] + u
                w_phase[i] = p
                w_rw[i] = rw
                dens = eps[p] * math.exp(log_sd[p] - (eps[p] + delta) * u)
                cw[i] = 0.5 * plen * gl_w[gi] * dens
                if monotone:
                    v = tau - u
                    xw = 1.0 + d[p] * _h(r[p], v) + _exp_clip(-r[p] * v) * (xe[p + 1] - 1.0)
                    keys[i] = rw + log_m - math.log(xw)
                    cw[i] /= xw
                i += 1
    kd = out[2]
    kd_t = out[3]
    kd_rho = out[4]
    if monotone:
        order = np.argsort(keys)
        gumbel_sums(keys[order], cw[order], rho, kd, kd_rho)
        for k in range(nt):
            kd_t[k] = kd_rho[k] * drho[k]
    else:
        _dormant_direct(
            times, tphase, bounds, big_r, r, d, xb, log_m, w_nodes, w_phase, w_rw, cw, kd, kd_t
        )
        for k in range(nt):
            kd_rho[k] = kd_t[k] / drho[k] if drho[k] > 0.0 else 0.0

    # --- seeds woken before surgery: nodes in the age a at surgery ---
    d_pre = d0 + kk * i0
    r_pre = b - d_pre
    a_hi = 40.0 / g
    if r_pre > 0.0:
        a_hi = min(a_hi, (math.log(vis) + 25.0) / r_pre)
    rate = max(abs(r_pre), g)
    npan = _gl_count(rate, a_hi, dz)
    plen = a_hi / npan
    na = npan * ng
    a_nodes = np.empty(na)
    ca = np.empty(na)  # weight x age density
    i = 0
    for j in range(npan):
        for gi in range(ng):
            a = (j + 0.5 * (gl_x[gi] + 1.0)) * plen
            a_nodes[i] = a
            ca[i] = 0.5 * plen * gl_w[gi] * g * math.exp(-g * a)
            i += 1
    kw = out[5]
    kw_t = out[6]
    kw_rho = out[7]
    if monotone and r_pre > 0.0:
        # keys log(M q) - r_pre a; not thinned: sum c q (exp(-q x1) - exp(-q x2)), x1 <= x2
        akeys = np.empty(na)
        cq = np.empty(na)
        thin = 0.0
        for j in range(na):
            a = a_nodes[j]
            xa = 1.0 + d_pre * _h(r_pre, a) + _exp_clip(-r_pre * a) * (xe[0] - 1.0)
            q = 1.0 / xa
            akeys[j] = log_m + math.log(q) - r_pre * a
            cq[j] = ca[j] * q
            thin += cq[j] * math.exp(-q * vis * math.exp(-r_pre * a))
        order = np.argsort(akeys)
        gumbel_sums(akeys[order], cq[order], rho, kw, kw_rho)
        rho_min = math.log(big_m / vis)
        for k in range(nt):
            if rho[k] < rho_min:
                kw[k] = 0.0
                kw_rho[k] = 0.0
            else:
                kw[k] = max(kw[k] - thin, 0.0)
            kw_t[k] = kw_rho[k] * drho[k]
    else:
        for k in range(nt):
            x0s = 1.0 / q0[k]
            v = 0.0
            dv = 0.0
            for j in range(na):
                a = a_nodes[j]
                xa = 1.0 + d_pre * _h(r_pre, a) + _exp_clip(-r_pre * a) * (x0s - 1.0)
                q = 1.0 / xa
                qx1 = q * big_m * _exp_clip(-(r_pre * a + rho[k]))
                qx2 = q * vis * _exp_clip(-max(0.0, r_pre * a))
                if qx1 < qx2:
                    e1 = math.exp(-qx1)
                    v += ca[j] * q * (e1 - math.exp(-qx2))
                    dv += ca[j] * q * qx1 * e1
            kw[k] = v
            kw_rho[k] = dv
            kw_t[k] = dv * drho[k]
    return monotone


@njit(cache=True)
def _dormant_direct(
    times: np.ndarray,
    tphase: np.ndarray,
    bounds: np.ndarray,
    big_r: np.ndarray,
    r: np.ndarray,
    d: np.ndarray,
    xb: np.ndarray,
    log_m: float,
    w_nodes: np.ndarray,
    w_phase: np.ndarray,
    w_rw: np.ndarray,
    cw: np.ndarray,
    kd: np.ndarray,
    kd_t: np.ndarray,
) -> None:
    # R not monotone: the clone woken at w is detected by t iff it had M cells when R peaked
    # on [w, t], at s* (t itself or a phase boundary): P(N(s*) >= M), zero-modified geometric
    # with 1 - P0 = 1 / X_w(s*), 1 - xi = exp(-(R(s*) - R(w))) / X_w(s*).
    nw = w_nodes.shape[0]
    for k in range(times.shape[0]):
        t = times[k]
        pt = tphase[k]
        rt = big_r[pt] + r[pt] * (t - bounds[pt])
        best = rt
        best_m = -1  # -1: the peak is at t; else the boundary index
        cur = pt
        v = 0.0
        dv = 0.0
        i = nw - 1
        while i >= 0 and w_nodes[i] > t:
            i -= 1
        while i >= 0:
            pi = w_phase[i]
            while cur > pi:
                if big_r[cur] > best:
                    best = big_r[cur]
                    best_m = cur
                cur -= 1
            rw = w_rw[i]
            if rw < best:
                w = w_nodes[i]
                if best_m < 0 and pi == pt:
                    xw = 1.0 + d[pi] * _h(r[pi], t - w)
                else:
                    if best_m < 0:
                        xnext = xb[pi + 1, pt] + _exp_clip(big_r[pi + 1] - big_r[pt]) * d[pt] * _h(
                            r[pt], t - bounds[pt]
                        )
                    else:
                        xnext = xb[pi + 1, best_m]
                    vv = bounds[pi + 1] - w
                    xw = 1.0 + d[pi] * _h(r[pi], vv) + _exp_clip(-r[pi] * vv) * (xnext - 1.0)
                u = log_m - math.log(xw) + rw - best
                if u <= HIGH_CUT:
                    eu = math.exp(u)
                    ph = math.exp(-eu) / xw
                    v += cw[i] * ph
                    if best_m < 0 and r[pt] > 0.0:
                        dv += cw[i] * eu * ph * r[pt]
            i -= 1
        kd[k] = v
        kd_t[k] = dv


@njit(cache=True)
def _log_pois(k: int, log_m: float, m: float) -> float:
    return -m + k * log_m - math.lgamma(k + 1.0)


FEW_J = 1.0  # below this lam, J ~ Poisson(lam) takes few values: sum over J, not over K


@njit(cache=True)
def _few_j_terms(mu: float, lam: float) -> tuple[float, float, float, float]:
    # local_detection_terms summed over J instead of K: P(J < K) = sum_j P(J = j) P(K > j),
    # E P(J = K - c) = sum_j P(J = j) P(K = j + c) for c = 1, 0, 2; for lam < FEW_J the
    # terms fall below 1e-17 within a few j (two for lam ~ 1e-10), where the sum over K's
    # bulk takes tens of steps. P(K > j) by subtraction from P(K > 0): absolute error ~1e-17.
    pj = math.exp(-lam)  # P(J = j)
    pk = math.exp(-mu)  # P(K = j)
    pk1 = pk * mu  # P(K = j + 1)
    pk2 = pk1 * mu * 0.5  # P(K = j + 2)
    tail = -math.expm1(-mu)  # P(K > j)
    prob = pj * tail
    at_k = pj * pk
    dens = pj * pk1
    below = pj * pk2
    j_max = int(math.ceil(lam + 12.0 * math.sqrt(lam) + 30.0))
    for j in range(1, j_max + 1):
        pj *= lam / j
        if pj < 1e-17:  # j > lam: the terms only fall from here
            break
        tail = max(tail - pk1, 0.0)  # P(K > j) = P(K > j - 1) - P(K = j)
        pk = pk1
        pk1 = pk2
        pk2 = pk2 * mu / (j + 2.0)
        prob += pj * tail
        at_k += pj * pk
        dens += pj * pk1
        below += pj * pk2
    return min(prob, 1.0), dens, at_k, below


@njit(cache=True)
def local_detection_terms(mu: float, lam: float) -> tuple[float, float, float, float]:
    """``P(J < K)``, ``E P(J = K - 1)``, ``E P(J = K)`` and ``E P(J = K - 2)`` (expectations
    over ``K``), ``K ~ Poisson(mu)``, ``J ~ Poisson(lam)`` independent.

    With ``K`` the margin cells' lineages alive at the end of the grid and ``lam = M q0 e^-rho``,
    the first is the probability that the margin clone (a sum of ``K`` exponential lineage
    sizes, i.e. ``Gamma(K)``) has reached ``M`` cells: ``P(Gamma(K) >= lam) = P(J <= K - 1)``.
    The others give its derivatives: ``d/dlam P(J <= K - 1) = -E P(J = K - 1)`` (so the
    derivative in ``rho`` is ``lam E P(J = K - 1)``), ``d/dmu = E P(J = K)`` (for Poisson
    ``K``, ``d/dmu E g(K) = E[g(K + 1) - g(K)]``), and ``d/dlam P(J = j) = P(J = j - 1) -
    P(J = j)``. Terms are summed by recursion over ``k`` within ``mu +- 12 sqrt(mu) + 30`` and
    ``j`` within ``lam +- 12 sqrt(lam) + 30`` (over ``j`` alone when ``lam < FEW_J``); the
    probabilities are accurate to about 1e-15 absolute for ``mu`` up to 1e3, 1e-10 at the
    clamp of residual cells (e^12).
    """
    if mu <= 0.0:
        return 0.0, 0.0, math.exp(-lam), 0.0
    sk = math.sqrt(mu)
    kmax = int(math.ceil(mu + 12.0 * sk + 30.0))
    if lam > kmax and lam - 12.0 * math.sqrt(lam) > kmax:
        return 0.0, 0.0, 0.0, 0.0
    if lam < 1e-17:
        # J = 0 up to 1e-17: P(K >= 1), and the terms of K = 1, 0 and 2
        e = math.exp(-mu - lam)
        return -math.expm1(-mu), mu * e, e, 0.5 * mu * mu * e
    kmin = max(1, int(mu - 12.0 * sk - 30.0))
    if lam + 12.0 * math.sqrt(lam) + 30.0 < kmin:
        # J below K's bulk up to 1e-17 (the mirror of the case above): detected for sure
        return 1.0, 0.0, 0.0, 0.0
    if lam < FEW_J:
        return _few_j_terms(mu, lam)
    log_mu = math.log(mu)
    # F = P(J <= kmin - 1), pj = P(J = kmin - 1) and pj2 = P(J = kmin - 2), summed over J's
    # bulk only (lam +- 12 sqrt(lam) + 30; the terms outside are below 1e-17)
    log_lam = math.log(lam)
    last = kmin - 1
    sl = math.sqrt(lam)
    jlo = max(0, int(lam - 12.0 * sl - 30.0))
    stop = min(last, int(math.ceil(lam + 12.0 * sl + 30.0)))
    f = 0.0
    pj = 0.0
    pj2 = 0.0
    if stop >= jlo:
        pj = math.exp(_log_pois(jlo, log_lam, lam))
        f = pj
        for j in range(jlo + 1, stop + 1):
            pj2 = pj
            pj *= lam / j
            f += pj
    if stop != last or stop == jlo:  # the last terms, if the recursion did not end on them
        pj = math.exp(_log_pois(last, log_lam, lam))
        pj2 = math.exp(_log_pois(last - 1, log_lam, lam)) if last >= 1 else 0.0
    pk = math.exp(_log_pois(kmin, log_mu, mu))
    prob = 0.0
    dens = 0.0
    below = 0.0
    # E P(J = K): the k = 0 term when the sum starts at 1 (P(K = 0) P(J = 0))
    at_k = math.exp(-mu - lam) if kmin == 1 else 0.0
    for k in range(kmin, kmax + 1):
        prob += pk * f
        dens += pk * pj
        below += pk * pj2
        if k > mu and pk < 1e-17:
            break
        # advance k -> k + 1: P(J = k) joins F
        pj2 = pj
        if pj > 0.0 or k > lam:
            pj = pj * lam / k  # once it underflows past the mode it stays below 1e-308
        else:
            pj = math.exp(_log_pois(k, log_lam, lam))
        at_k += pk * pj
        f += pj
        pk *= mu / (k + 1.0)
    return min(prob, 1.0), dens, at_k, below


@njit(cache=True)
def local_detection(mu: float, lam: float) -> tuple[float, float]:
    """``P(J < K)`` and ``lam P(J = K - 1)``, ``K ~ Poisson(mu)``, ``J ~ Poisson(lam)`` independent
    (:func:`local_detection_terms`).

    With ``K`` the margin cells' lineages alive at the end of the grid and ``lam = M q0 e^-rho``,
    this is the probability that the margin clone (a sum of ``K`` exponential lineage sizes,
    i.e. ``Gamma(K)``) has reached ``M`` cells: ``P(Gamma(K) >= lam) = P(J <= K - 1)``.
    The second value is its derivative with respect to ``rho`` (``d lam / d rho = -lam``).
    """
    prob, dens, _, _ = local_detection_terms(mu, lam)
    return prob, lam * dens
