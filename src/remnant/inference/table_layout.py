"""The kernel table's axes, and the positions in the packed vectors its compiled loops share.

Positions are named here once: a patient's vector ``x`` (``X_*``), the tabulated quantities
(``T_*``), the table's geometry vector (``G_*``) and the derivative columns of a row's sums
(``D_*``); and the clamps that keep the loops' arithmetic finite, each with its reason.
"""

from __future__ import annotations

import math

from remnant.model.parameters import IMMUNITY_FLOOR

LOG2_I0_MIN = math.log2(IMMUNITY_FLOOR)  # I0 = 1/32: the model's weakest baseline immunity
# 1/8: midway between rows the limited cubic departs from the likelihood by at most 0.005
# (0.037 with a step of 1/4, where immunity clears every clone; docs/fit.md, section 2)
LOG2_I0_STEP = 0.125
SPREAD_SUB_ROWS = 1  # the spread path integrates over the rows (2: also the cubic's midpoints)
# Positions in a patient's vector of the compiled loops: the predictors, the spread and the
# immune band's bounds (standard normal quantiles).
X_MU, X_RES, X_I0, X_A, X_SIGMA, X_ZLO, X_ZHI = range(7)
LOG2_I0_MAX = 4.0  # never reached: the table stops above the immunity that clears every clone
TABLE_YEARS = 80.0  # kernels beyond (a t > 80 years) are held at their last value
TABLE_STEP_DAYS = 7.0
FIT_DRAWS = 16  # lapse schedules (randomised QMC) while fitting
# Immune changes (dip steps, lapse onsets) switch growth rates instantly, so each schedule's
# detection rate jumps; a finite set of schedules then makes the likelihood step-wise in the
# clock speed. The tabulated rates are smoothed with a Gaussian of this sd (days), i.e. every
# immune change takes about a month, and the cumulative kernels re-integrated from them.
SMOOTH_DAYS = 14.0
LOG_A_MAX = 6.0  # the clock speed is clamped to e^+-6: beyond, nothing moves with log a
N_TAB = 5  # tabulated quantities: kc, d kc/dt, rho, d rho/dt, q0
T_KC, T_KCT, T_RHO, T_DRHO, T_Q0 = range(N_TAB)
# Positions in the geometry vector (KernelTable.geometry): log2 I0 of row 0, its step, the
# time step dt (days), the margin clone's detection size M_L (cells), points per row step.
G_X0, G_STEP, G_DT, G_ML, G_SUB = range(5)
# Derivative columns of a row's sums (_row_sums' dout): (S_rec, f_local, f_distant) in log mu
# from D_MU, in log res from D_RES, in log a from D_A.
D_MU, D_RES, D_A = 0, 3, 6
N_DERIV = 9
N_GRAD = X_SIGMA + 1  # a log-likelihood term's derivatives: the four predictors and sigma
# Clamps: seeds beyond e^30 (1e13) are more than any tumour sheds, and exp(-mu kc) underflows
# long before; residual cells beyond e^12 (1.6e5) keep the margin clone's sum over lineages
# short (24 sqrt(cells) terms) and are detected within days anyway.
LOG_MU_MAX = 30.0
LOG_RES_MAX = 12.0
# log(1e-300): the log-likelihood of an event the model gives no chance, finite so that an
# optimiser can climb out of it
LOG_IMPOSSIBLE = -690.8
IMPOSSIBLE = 1e-300
