"""Typed, validated, immutable parameters: the patient and the shared mechanism.

A :class:`Patient` describes one person at surgery (primary size, nodes, grade, margin,
baseline immunity, age). A :class:`Mechanism` holds the parameters every patient shares
(seeding, dormancy, growth, immune kill, post-operative dip, lapses, detection, mortality).
Defaults and their sources are listed in docs/parameters.md; the figures come from
shared anchors (Iwata 2000, Angka 2018, Zhang 2017, Gately 2021, Pages 2018, ...).

Units: days for times and rates (per day), cells for sizes, millimetres for diameters,
years for age.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remnant import arguments as v
from remnant.errors import RemnantInputError
from remnant.model.units import DAYS_PER_YEAR

CANCERS = ("colon", "breast")
STAGES = ("I", "II", "III")
MARGINS = ("R0", "R1", "R2")
GRADES = (1, 2, 3)

# Baseline immunity I0 by level for a mechanism without a spread of immunity between patients
# (``immune_spread = 0``); 1 = typical (intermediate). Ordered as in Pages 2018 (Lancet
# 391:2128).
IMMUNE_LEVELS: dict[str, float] = {"low": 0.5, "intermediate": 1.0, "high": 2.0}

# The Immunoscore (Pages 2018, Lancet 391:2128; Galon 2006, Science 313:1960) is the mean of
# four percentiles of CD3+ and CD8+ T-cell densities, in the tumour's core and at its invasive
# margin, among the patients of a reference cohort; its categories are ranges of that mean
# percentile: low 0-25%, intermediate 25-70%, high 70-100% (IS 0-4: 0-10, 10-25, 25-70,
# 70-95, 95-100%). With a spread of baseline immunity between patients (``immune_spread``),
# a category is the patient's place in that spread: the same range of quantiles.
IMMUNOSCORE_BANDS: dict[str, tuple[float, float]] = {
    "low": (0.0, 0.25),
    "intermediate": (0.25, 0.70),
    "high": (0.70, 1.0),
    "IS0": (0.0, 0.10),
    "IS1": (0.10, 0.25),
    "IS2": (0.25, 0.70),
    "IS3": (0.70, 0.95),
    "IS4": (0.95, 1.0),
}
# Unknown immunity: anywhere in the population's spread.
WHOLE_BAND = (0.0, 1.0)
UNKNOWN_IMMUNE = "unknown"
# The narrowest band: rejection sampling in the engine draws 1 / width normals on average.
MIN_BAND_WIDTH = 0.01
# The weakest baseline immunity of a patient drawn from the spread: 1/32 of typical. The
# model holds I0 there (both faces: the kernel table's lowest row is this level), where the
# kill k I0 (< 4e-4 per day) is small beside any clone's growth.
IMMUNITY_FLOOR = 2.0**-5
# Most spread of log I0 between patients: e^3 either way per standard deviation.
MAX_IMMUNE_SPREAD = 3.0
# Between-patient spread of the disease's clock (growth_spread): the sd of log a is at most
# this (an e-fold per sd), and Z is held within +-GROWTH_Z_MAX sd (1.2% of patients beyond),
# so that a patient's disease runs at most e^(2.5 sd) times its typical speed, and a model's
# table reaches that much further than its answers (docs/model.md 1.10).
MAX_GROWTH_SPREAD = 1.0
GROWTH_Z_MAX = 2.5
# The calibrated models' growth spread: breast volume doubling times have median 164 and mean
# 185 days (Zhang 2017, ../shared/design/anchors.md, kinetics); a lognormal with these has sd
# sqrt(2 ln(mean / median)) = 0.491 in log doubling time. No colon figure of the spread is at
# hand (colorectal liver metastases double in 71-155 days, a range of medians), so colon takes
# the same.
PUBLISHED_GROWTH_SPREAD = math.sqrt(2.0 * math.log(185.0 / 164.0))

# Doubling time multipliers by grade (well, moderately, poorly differentiated): higher grade,
# faster growth. Grade 2 is the reference.
GRADE_DOUBLING_FACTOR: dict[int, float] = {1: 1.4, 2: 1.0, 3: 0.7}

# Default primary size (mm) and involved nodes per stage at diagnosis. Colon: T2N0 / T3N0 /
# T3N1 (1-3 nodes); breast: T1N0 / T2N0 / T2N2 (4-9 nodes), cf. Pan 2017 NEJM 377:1836.
STAGE_DEFAULTS: dict[str, dict[str, dict[str, float]]] = {
    "colon": {
        "I": {"size_mm": 25.0, "nodes": 0},
        "II": {"size_mm": 45.0, "nodes": 0},
        "III": {"size_mm": 50.0, "nodes": 3},
    },
    "breast": {
        "I": {"size_mm": 15.0, "nodes": 0},
        "II": {"size_mm": 30.0, "nodes": 1},
        "III": {"size_mm": 45.0, "nodes": 5},
    },
}

# Most post-operative dip steps: the dip is over within weeks, so thousands of steps are a
# typo (and a huge count would overflow the kernel's integers).
MAX_DIP_STEPS = 10_000
MAX_LAPSES_PER_YEAR = DAYS_PER_YEAR  # one lapse a day at most

# Default ages at surgery (years): median age at colon / breast cancer diagnosis.
DEFAULT_AGE = {"colon": 68.0, "breast": 60.0}


@dataclass(frozen=True)
class Patient:
    """One patient at the day of surgery.

    Parameters
    ----------
    cancer : {"colon", "breast"}
        Cancer type; selects cancer-specific mechanism defaults.
    size_mm : float
        Diameter of the primary at surgery (mm); sets the cells at surgery ``N_s``.
    nodes : int
        Involved regional lymph nodes; raises the seeding rate.
    grade : {1, 2, 3}
        Histological grade; scales the doubling times.
    margin : {"R0", "R1", "R2"}
        Resection margin; sets the mean number of clonogenic residual cells.
    immunity : float
        Recorded baseline immunity ``I0`` (1 = typical). ``Patient.from_stage(...,
        immune="high")`` maps a level name to a number.
    age : float
        Age at surgery (years), for other-cause mortality.
    immune_band : tuple of float
        The patient's place in the population's spread of baseline immunity, as a range of
        quantiles ``(lo, hi)`` (an Immunoscore category, :data:`IMMUNOSCORE_BANDS`; default
        the whole population). Used only when the mechanism spreads immunity between
        patients (``Mechanism.immune_spread > 0``): then ``I0 = immunity * immune_scale *
        exp(immune_spread * Z)`` with ``Z`` standard normal restricted to the band.
    """

    cancer: str = "colon"
    size_mm: float = 45.0
    nodes: int = 0
    grade: int = 2
    margin: str = "R0"
    immunity: float = 1.0
    age: float = 68.0
    immune_band: tuple[float, float] = WHOLE_BAND

    def __post_init__(self) -> None:
        v.choice("cancer", self.cancer, CANCERS)
        size = v.in_range("size_mm", self.size_mm, 0.5, 300.0)
        nodes = v.non_negative_int("nodes", self.nodes)
        if nodes > 100:
            raise RemnantInputError("nodes", "a whole number in [0, 100]", self.nodes)
        if (
            isinstance(self.grade, bool | np.bool_)
            or not isinstance(self.grade, int | float | np.integer | np.floating)
            or self.grade not in GRADES
        ):
            raise RemnantInputError("grade", "one of 1, 2, 3", self.grade)
        v.choice("margin", self.margin, MARGINS)
        immunity = v.in_range("immunity", self.immunity, 0.01, 100.0)
        age = v.in_range("age", self.age, 0.0, 120.0)
        object.__setattr__(self, "size_mm", size)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "grade", int(self.grade))
        object.__setattr__(self, "immunity", immunity)
        object.__setattr__(self, "age", age)
        object.__setattr__(self, "immune_band", immune_band(self.immune_band))

    @classmethod
    def from_stage(
        cls,
        cancer: str = "colon",
        stage: str = "II",
        *,
        margin: str = "R0",
        immune: str | float = "intermediate",
        size_mm: float | None = None,
        nodes: int | None = None,
        grade: int = 2,
        age: float | None = None,
        spread: bool = False,
    ) -> Patient:
        """A patient with the stage's default size and nodes, overridable one by one.

        ``immune`` is a level name or a number. With ``spread`` (a mechanism that spreads
        immunity between patients) a name is an Immunoscore category: a band of the spread
        at the typical recorded immunity 1 (:func:`immune_input`).
        """
        v.choice("cancer", cancer, CANCERS)
        v.choice("stage", stage, STAGES)
        d = STAGE_DEFAULTS[cancer][stage]
        immunity, band = immune_input(immune, spread=spread)
        return cls(
            cancer=cancer,
            size_mm=d["size_mm"] if size_mm is None else size_mm,
            nodes=int(d["nodes"]) if nodes is None else nodes,
            grade=grade,
            margin=margin,
            immunity=immunity,
            age=DEFAULT_AGE[cancer] if age is None else age,
            immune_band=band,
        )

    def replace(self, **changes: Any) -> Patient:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise RemnantInputError(
                "patient",
                "known patient fields: " + ", ".join(f.name for f in dataclasses.fields(self)),
                sorted(unknown)[0],
            )
        return dataclasses.replace(self, **changes)


def immune_level(value: str | float) -> float:
    """Baseline immunity ``I0`` from a level name or a positive number."""
    if isinstance(value, str):
        return IMMUNE_LEVELS[v.choice("immune", value, tuple(IMMUNE_LEVELS))]
    return v.in_range("immune", value, 0.01, 100.0)


def immune_input(value: str | float, *, spread: bool) -> tuple[float, tuple[float, float]]:
    """``(immunity, immune_band)`` of a patient from an immune input.

    Without ``spread`` a name is a level of :data:`IMMUNE_LEVELS` (the whole band). With
    ``spread`` the input is a measurement at the typical recorded immunity 1: an Immunoscore
    category of :data:`IMMUNOSCORE_BANDS`, a mean percentile such as ``"40%"`` (a band of
    :data:`MIN_BAND_WIDTH` around it) or ``"unknown"`` (the whole population). A number is
    the recorded immunity in either case (the whole band).
    """
    if not (isinstance(value, str) and spread):
        return immune_level(value), WHOLE_BAND
    if value == UNKNOWN_IMMUNE:
        return 1.0, WHOLE_BAND
    if value in IMMUNOSCORE_BANDS:
        return 1.0, IMMUNOSCORE_BANDS[value]
    allowed = (
        ", ".join((*IMMUNOSCORE_BANDS, UNKNOWN_IMMUNE))
        + " or an Immunoscore mean percentile such as 40%"
    )
    if not value.endswith("%"):
        raise RemnantInputError("immune", allowed, value)
    try:
        pct = float(value[:-1])
    except ValueError:
        raise RemnantInputError("immune", allowed, value) from None
    if not 0.0 <= pct <= 100.0:
        raise RemnantInputError("immune", "a percentile in [0%, 100%]", value)
    lo = min(max(pct / 100.0 - MIN_BAND_WIDTH / 2.0, 0.0), 1.0 - MIN_BAND_WIDTH)
    return 1.0, (lo, lo + MIN_BAND_WIDTH)


def immune_category(band: tuple[float, float]) -> str:
    """The name of an immune band: an Immunoscore category, ``unknown``, or its percentile."""
    if tuple(band) == WHOLE_BAND:
        return UNKNOWN_IMMUNE
    for name in ("low", "intermediate", "high", *IMMUNOSCORE_BANDS):
        if IMMUNOSCORE_BANDS[name] == tuple(band):
            return name
    return f"{50.0 * (band[0] + band[1]):g}%"


def immune_band(value: Any) -> tuple[float, float]:
    """A validated band of quantiles ``(lo, hi)``, ``0 <= lo``, ``lo + 0.01 <= hi <= 1``."""
    allowed = f"two quantiles (lo, hi) with 0 <= lo, lo + {MIN_BAND_WIDTH} <= hi <= 1"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise RemnantInputError("immune_band", allowed, value)
    if len(value) != 2:
        raise RemnantInputError("immune_band", allowed, value)
    lo = v.in_range("immune_band", value[0], 0.0, 1.0)
    hi = v.in_range("immune_band", value[1], 0.0, 1.0)
    if hi - lo < MIN_BAND_WIDTH - 1e-12:
        raise RemnantInputError("immune_band", allowed, (lo, hi))
    return (lo, hi)


@dataclass(frozen=True)
class Mechanism:
    """Parameters shared by all patients (per day unless stated).

    Growth: an awake clone is a linear birth-death process with birth ``birth_rate`` and death
    ``d0 + kill_rate * I(t)``, where ``d0`` is set so that at typical immunity (I = 1) the
    net rate is ``ln 2 / Td`` with ``Td`` the clone doubling time of the patient's grade.
    Seeding: rate ``nu * N(t)**seeding_exponent`` while the primary grew, with
    ``nu = seeding_coefficient * (1 + nodes)**nodes_effect``.
    Dormancy: wake rate ``wake_rate * I(t)**-wake_immune_exponent`` (times
    ``surgery_wake_multiplier`` for ``surgery_wake_days`` after surgery), death asleep at
    ``dormant_death_rate``.
    Immunity: ``I(t) = I0 * m(t)``; the post-operative dip has depth
    ``dip_depth * exp(-t / dip_recovery_days)``, held constant over steps of ``dip_step_days``
    for ``dip_steps`` steps; lapses arrive at ``lapse_rate_per_year``, each multiplies
    immunity by ``1 - lapse_depth`` for ``lapse_days``.
    """

    # --- growth and immune kill ---
    # Clone doubling time at typical immunity, grade 2 (days). Micrometastases grow faster
    # than visible tumours (Gompertzian slowing; Iwata 2000 a*ln(b/x) gives ~10 days at one
    # cell); colorectal liver metastases double in 71-155 days once visible (anchors.md).
    clone_doubling_days: dict[str, float] = field(
        default_factory=lambda: {"colon": 25.0, "breast": 45.0}
    )
    # Primary volume doubling time, grade 2 (days): breast median 164 (Zhang 2017); colon
    # primaries grow slowly (volume doubling of the order of 100-500 days), calibrated at 260.
    primary_doubling_days: dict[str, float] = field(
        default_factory=lambda: {"colon": 260.0, "breast": 164.0}
    )
    birth_rate: float = 0.12
    # Immune kill per day at I = 1: comparable with the net growth rate, so that strong
    # immunity (I0 = 2) nearly holds clones in check and lapses let them escape.
    kill_rate: float = 0.012
    # --- dissemination (Iwata 2000: seeding m x^alpha, alpha = 2/3) ---
    # Calibrated so colon stage I/II/III 5-year recurrence is near 3.8/12/28% (Gately 2021).
    seeding_coefficient: dict[str, float] = field(
        default_factory=lambda: {"colon": 2.3e-10, "breast": 2.0e-9}
    )
    seeding_exponent: float = 2.0 / 3.0
    nodes_effect: float = 0.55
    # --- dormancy ---
    # Waking rate at I = 1: colon recurrences mostly come within 3 years, breast (ER+) ones
    # keep coming for 20 years (Pan 2017), so breast seeds sleep longer.
    wake_rate: dict[str, float] = field(default_factory=lambda: {"colon": 6.0e-4, "breast": 2.5e-4})
    dormant_death_rate: float = 1.0e-3
    wake_immune_exponent: float = 0.5
    # Surgery-triggered waking (Retsky 2010; Demicheli 2004 early peak at 8-10 months).
    surgery_wake_multiplier: float = 2.0
    surgery_wake_days: float = 90.0
    # --- local residual: mean clonogenic cells left at the margin ---
    residual_cells: dict[str, float] = field(
        default_factory=lambda: {"R0": 0.02, "R1": 5.0, "R2": 500.0}
    )
    # --- post-operative immune dip (Angka 2018: NK IFN-gamma -83% on day 1, <75% of
    # baseline at day 28 in 65.5%, at day 56 in 33%) ---
    dip_depth: float = 0.83
    dip_recovery_days: float = 25.0
    dip_step_days: float = 7.0
    dip_steps: int = 8
    # --- later immune lapses (infection, stress, therapy) ---
    lapse_rate_per_year: float = 0.2
    lapse_depth: float = 0.5
    lapse_days: float = 60.0
    # --- detection ---
    detection_cells_local: float = 1.0e9
    detection_cells_distant: float = 1.0e9
    # A clone this large at surgery would have been visible: condition on none (M0).
    visible_cells_at_surgery: float = 1.0e9
    # Above this size a clone is followed deterministically (relative error ~ n**-0.5).
    switch_cells: float = 1.0e5
    # --- other-cause death, Gompertz-Makeham hazard A + B exp(C * age), per year ---
    mortality_a: float = 5.0e-4
    mortality_b: float = 2.6e-5
    mortality_c: float = 0.094
    # --- between-patient spread of baseline immunity (a calibrated model's; none here) ---
    # Every patient's recorded immunity is multiplied by immune_scale * exp(immune_spread Z),
    # Z standard normal within the patient's immune_band; the seeds asleep at surgery are
    # those of the recorded immunity (docs/model.md, 1.9).
    immune_scale: float = 1.0
    immune_spread: float = 0.0
    # --- between-patient spread of the disease's clock (a calibrated model's; none here) ---
    # After surgery every rate of a patient's residual disease runs at a = exp(growth_spread Z),
    # Z standard normal within +-GROWTH_Z_MAX: the doubling times of patients with the same
    # fields differ (Zhang 2017: breast doubling times median 164, mean 185 days, a lognormal
    # sd of 0.49; docs/model.md 1.10).
    growth_spread: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "clone_doubling_days",
            "primary_doubling_days",
            "seeding_coefficient",
            "wake_rate",
        ):
            d = _table(name, getattr(self, name), CANCERS)
            for cancer in CANCERS:
                if cancer not in d:
                    raise RemnantInputError(name, f"a value for each of {', '.join(CANCERS)}")
                check = v.non_negative if name == "wake_rate" else v.positive
                check(f"{name}.{cancer}", d[cancer])
            object.__setattr__(self, name, {c: float(d[c]) for c in CANCERS})
        res = _table("residual_cells", self.residual_cells, MARGINS)
        for m in MARGINS:
            if m not in res:
                raise RemnantInputError(
                    "residual_cells", f"a value for each of {', '.join(MARGINS)}"
                )
            v.non_negative(f"residual_cells.{m}", res[m])
        object.__setattr__(self, "residual_cells", {m: float(res[m]) for m in MARGINS})
        for name in (
            "birth_rate",
            "seeding_exponent",
            "detection_cells_local",
            "detection_cells_distant",
            "visible_cells_at_surgery",
            "switch_cells",
            "dip_step_days",
            "dip_recovery_days",
            "lapse_days",
            "mortality_c",
        ):
            object.__setattr__(self, name, v.positive(name, getattr(self, name)))
        for name in (
            "kill_rate",
            "dormant_death_rate",
            "wake_immune_exponent",
            "nodes_effect",
            "surgery_wake_days",
            "mortality_a",
            "mortality_b",
        ):
            object.__setattr__(self, name, v.non_negative(name, getattr(self, name)))
        object.__setattr__(
            self,
            "surgery_wake_multiplier",
            v.positive("surgery_wake_multiplier", self.surgery_wake_multiplier),
        )
        # At most one lapse a day: a lapse lasts lapse_days, so a faster rate has no meaning.
        object.__setattr__(
            self,
            "lapse_rate_per_year",
            v.in_range("lapse_rate_per_year", self.lapse_rate_per_year, 0.0, MAX_LAPSES_PER_YEAR),
        )
        object.__setattr__(
            self, "immune_scale", v.in_range("immune_scale", self.immune_scale, 0.01, 100.0)
        )
        object.__setattr__(
            self,
            "immune_spread",
            v.in_range("immune_spread", self.immune_spread, 0.0, MAX_IMMUNE_SPREAD),
        )
        object.__setattr__(
            self,
            "growth_spread",
            v.in_range("growth_spread", self.growth_spread, 0.0, MAX_GROWTH_SPREAD),
        )
        for name in ("dip_depth", "lapse_depth"):
            object.__setattr__(self, name, v.in_range(name, getattr(self, name), 0.0, 0.99))
        object.__setattr__(
            self, "dip_steps", v.whole_number("dip_steps", self.dip_steps, 0, MAX_DIP_STEPS)
        )
        v.in_range("seeding_exponent", self.seeding_exponent, 0.3, 1.0)
        if self.switch_cells < 10:
            raise RemnantInputError("switch_cells", "a number >= 10", self.switch_cells)
        # b must cover the fastest net growth plus the kill at I = 1, so that d0 >= 0.
        fastest = math.log(2.0) / (
            min(self.clone_doubling_days.values()) * min(GRADE_DOUBLING_FACTOR.values())
        )
        if self.birth_rate < fastest + self.kill_rate:
            raise RemnantInputError(
                "birth_rate",
                f"a rate >= ln2/Td + kill_rate = {fastest + self.kill_rate:.4g} per day",
                self.birth_rate,
                detail="the intrinsic death rate d0 would be negative",
            )

    def replace(self, **changes: Any) -> Mechanism:
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise RemnantInputError("mechanism", "known mechanism parameters", sorted(unknown)[0])
        return dataclasses.replace(self, **changes)


def _table(name: str, value: Any, keys: tuple[str, ...]) -> dict[Any, Any]:
    """A mechanism parameter given per cancer or per margin: a mapping keyed by ``keys``."""
    if not isinstance(value, Mapping):
        raise RemnantInputError(name, "a table keyed by " + ", ".join(keys), value)
    return dict(value)


def mechanism_fields() -> tuple[str, ...]:
    """Names of the mechanism parameters (for scenario files and overrides)."""
    return tuple(f.name for f in dataclasses.fields(Mechanism))
