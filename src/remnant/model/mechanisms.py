"""The mechanism's formulas, shared by the simulator and the likelihood so the two cannot drift.

Everything here is derived in docs/model.md:

* birth-death transition over a phase of constant rates (``extinction_probability``,
  ``geometric_parameter``),
* the primary's history and dissemination (``seeding``),
* the per-patient quantities the engine needs (``derive``),
* the immune trajectory's deterministic part (``dip_multiplier``).

Units: days, cells, per-day rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from remnant.model.parameters import GRADE_DOUBLING_FACTOR, Mechanism, Patient
from remnant.model.units import DAYS_PER_YEAR, diameter_to_cells

LN2 = math.log(2.0)


@njit(cache=True)
def phase_transition(b: float, d: float, tau: float) -> tuple[float, float]:
    """``(p0, beta)`` of one cell over ``tau`` days at constant birth ``b`` and death ``d``.

    ``p0 = d (e - 1) / (b e - d)`` is the chance of no descendants at ``tau`` and, given
    survival, ``N(tau)`` is geometric on {1, 2, ...}, ``P(N = n) = (1 - beta) beta**(n-1)``
    with ``beta = b (e - 1) / (b e - d)``, ``e = exp((b - d) tau)`` (Kendall 1948). Written
    with ``expm1`` so both stay exact as ``b -> d``, where they tend to ``b tau / (1 + b tau)``.
    """
    if tau <= 0.0:
        return 0.0, 0.0
    r = b - d
    if abs(r) * tau < 1e-12:
        q = b * tau / (1.0 + b * tau)
        return q, q
    em1 = math.expm1(r * tau)
    den = b * em1 + r
    return d * em1 / den, b * em1 / den


@njit(cache=True)
def extinction_probability(b: float, d: float, tau: float) -> float:
    """P(a single cell has no descendants after ``tau`` days); see :func:`phase_transition`."""
    return phase_transition(b, d, tau)[0]


@njit(cache=True)
def geometric_parameter(b: float, d: float, tau: float) -> float:
    """``beta`` of the size of a surviving single-cell clone; see :func:`phase_transition`."""
    return phase_transition(b, d, tau)[1]


@dataclass(frozen=True)
class Seeding:
    """Blood-borne seeds of one patient at the day of surgery (means of Poisson counts).

    Attributes
    ----------
    total : float
        Seeds lodged over the primary's whole history, ``mu = nu N_s**gamma / (gamma r_p)``.
    dormant : float
        Seeds still asleep at surgery.
    woken : float
        Seeds that woke before surgery (each then a one-cell clone).
    age_rate : float
        Rate (per day) of the exponential distribution of the time since waking, at surgery,
        of the seeds that woke before surgery (``gamma r_p``).
    """

    total: float
    dormant: float
    woken: float
    age_rate: float


def seeding(
    nu: float, n_surgery: float, gamma: float, r_primary: float, wake: float, death: float
) -> Seeding:
    """Seeds at surgery for exponential primary growth ``N(s) = N_s exp(r_p s)``, ``s <= 0``.

    Lodging is Poisson with intensity ``nu N(s)**gamma``; asleep, a seed wakes at ``wake`` and
    dies at ``death`` (per day, constant before surgery). See docs/model.md, "Seeds at surgery".
    """
    g = gamma * r_primary
    a = nu * n_surgery**gamma
    return Seeding(
        total=a / g,
        dormant=a / (g + wake + death),
        woken=a / g * wake / (g + wake + death),
        age_rate=g,
    )


# Column layout of the per-profile parameter matrix passed to the engine's kernel.
PROFILE_COLUMNS = (
    "immunity",  # I0
    "birth",  # b, per day
    "death0",  # d0, per day (kill excluded)
    "kill",  # k, per day at I = 1
    "seeds_dormant",  # Poisson mean of seeds asleep at surgery
    "seeds_woken",  # Poisson mean of seeds awake (one cell each when they woke) at surgery
    "woken_age_rate",  # rate of the exponential time since waking, per day
    "residual",  # Poisson mean of clonogenic cells left at the margin
    "age_years",  # age at surgery
    "wake_rate",  # eps0 at I = 1 for this cancer, per day
    "immune_spread",  # sd of log I0 between patients (0: every patient at "immunity")
    "band_lo_z",  # the immune band's bounds as standard normal quantiles (-inf, inf: whole)
    "band_hi_z",
    "growth_spread",  # sd of log a, the disease's clock after surgery (0: every patient at 1)
)
PROFILE_INDEX = {name: i for i, name in enumerate(PROFILE_COLUMNS)}


@dataclass(frozen=True)
class Derived:
    """Per-patient quantities derived from a :class:`Patient` and a :class:`Mechanism`."""

    n_surgery: float
    clone_doubling_days: float
    primary_doubling_days: float
    birth: float
    death0: float
    kill: float
    nu: float
    seeds: Seeding
    residual: float
    immunity: float

    def profile_row(self, patient: Patient, mech: Mechanism) -> np.ndarray:
        row = np.empty(len(PROFILE_COLUMNS))
        lo_z, hi_z = band_quantiles(patient.immune_band)
        row[PROFILE_INDEX["immunity"]] = self.immunity
        row[PROFILE_INDEX["birth"]] = self.birth
        row[PROFILE_INDEX["death0"]] = self.death0
        row[PROFILE_INDEX["kill"]] = self.kill
        row[PROFILE_INDEX["seeds_dormant"]] = self.seeds.dormant
        row[PROFILE_INDEX["seeds_woken"]] = self.seeds.woken
        row[PROFILE_INDEX["woken_age_rate"]] = self.seeds.age_rate
        row[PROFILE_INDEX["residual"]] = self.residual
        row[PROFILE_INDEX["age_years"]] = patient.age
        row[PROFILE_INDEX["wake_rate"]] = mech.wake_rate[patient.cancer]
        row[PROFILE_INDEX["immune_spread"]] = mech.immune_spread
        row[PROFILE_INDEX["band_lo_z"]] = lo_z
        row[PROFILE_INDEX["band_hi_z"]] = hi_z
        row[PROFILE_INDEX["growth_spread"]] = mech.growth_spread
        return row


def wake_rate(mech: Mechanism, cancer: str, immunity: float, burst: float) -> float:
    """Dormant seeds' waking rate (per day) at immunity ``I`` and surgery multiplier ``burst``."""
    return mech.wake_rate[cancer] * immunity ** (-mech.wake_immune_exponent) * burst


def band_quantiles(band: tuple[float, float]) -> tuple[float, float]:
    """An immune band's bounds as standard normal quantiles (``-inf``/``inf`` at 0 and 1)."""
    from scipy.special import ndtri

    return float(ndtri(band[0])), float(ndtri(band[1]))


def scaled_seeding(seeds: Seeding, mech: Mechanism, cancer: str, immunity: float) -> Seeding:
    """Seeds at surgery when immunity acts at ``immunity`` (the recorded immunity times the
    mechanism's ``immune_scale``, and for one patient its draw from the spread) on seeds
    counted at the recorded immunity: the seeds asleep stay, the woken ones follow the
    waking rate (``mu_W = mu_D eps(I) / (gamma r_p)``, docs/model.md 1.9)."""
    eps = wake_rate(mech, cancer, immunity, 1.0)
    return Seeding(seeds.total, seeds.dormant, seeds.dormant * eps / seeds.age_rate, seeds.age_rate)


def derive(patient: Patient, mech: Mechanism) -> Derived:
    """The engine's and the likelihood's per-patient quantities (docs/model.md)."""
    g = GRADE_DOUBLING_FACTOR[patient.grade]
    td_c = mech.clone_doubling_days[patient.cancer] * g
    td_p = mech.primary_doubling_days[patient.cancer] * g
    r_c = LN2 / td_c
    n_s = diameter_to_cells(patient.size_mm)
    nu = mech.seeding_coefficient[patient.cancer] * (1.0 + patient.nodes) ** mech.nodes_effect
    seeds = seeding(
        nu,
        n_s,
        mech.seeding_exponent,
        LN2 / td_p,
        wake_rate(mech, patient.cancer, patient.immunity, 1.0),
        mech.dormant_death_rate,
    )
    immunity = patient.immunity * mech.immune_scale
    if mech.immune_scale != 1.0:
        seeds = scaled_seeding(seeds, mech, patient.cancer, immunity)
    return Derived(
        n_surgery=n_s,
        clone_doubling_days=td_c,
        primary_doubling_days=td_p,
        birth=mech.birth_rate,
        death0=mech.birth_rate - r_c - mech.kill_rate,
        kill=mech.kill_rate,
        nu=nu,
        seeds=seeds,
        residual=mech.residual_cells[patient.margin],
        immunity=immunity,
    )


def dip_multiplier(mech: Mechanism, step: int) -> float:
    """Immunity multiplier ``m`` during post-operative step ``step`` (0-based).

    The dip's depth ``s_op exp(-t / tau)`` is held at its value at the step's midpoint, so the
    trajectory stays piecewise constant (exact per-phase sampling needs constant rates).
    """
    mid = (step + 0.5) * mech.dip_step_days
    return 1.0 - mech.dip_depth * math.exp(-mid / mech.dip_recovery_days)


# Column layout of the mechanism vector passed to the kernel.
MECH_COLUMNS = (
    "wake_exponent",  # kappa
    "dormant_death",  # delta
    "burst",  # A_s
    "burst_days",  # tau_s
    "dip_step_days",
    "dip_steps",
    "lapse_rate",  # per day
    "lapse_multiplier",  # 1 - s_lapse
    "lapse_days",
    "detect_local",
    "detect_distant",
    "visible",
    "switch",
    "mort_a",  # per year
    "mort_b",  # per year
    "mort_c",  # per year of age
)
MECH_INDEX = {name: i for i, name in enumerate(MECH_COLUMNS)}


def mechanism_vector(mech: Mechanism) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's mechanism vector and the dip multipliers per post-operative step."""
    vec = np.array(
        [
            mech.wake_immune_exponent,
            mech.dormant_death_rate,
            mech.surgery_wake_multiplier,
            mech.surgery_wake_days,
            mech.dip_step_days,
            float(mech.dip_steps),
            mech.lapse_rate_per_year / DAYS_PER_YEAR,
            1.0 - mech.lapse_depth,
            mech.lapse_days,
            mech.detection_cells_local,
            mech.detection_cells_distant,
            mech.visible_cells_at_surgery,
            mech.switch_cells,
            mech.mortality_a,
            mech.mortality_b,
            mech.mortality_c,
        ],
        dtype=np.float64,
    )
    dips = np.array([dip_multiplier(mech, j) for j in range(mech.dip_steps)], dtype=np.float64)
    return vec, dips
