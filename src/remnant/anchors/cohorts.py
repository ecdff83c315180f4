"""The simulated cohorts the anchors are measured on: one per setting, shared between anchors.

A :class:`Setting` names a patient mix (profiles with weights) and, for a counterfactual, a
few mechanism overrides. Its cohort's seed is derived from the run's seed and the setting's
key alone, so a cohort is the same whichever anchors are run (``only=``) and in what order:
the table is a pure function of (number of patients, seed).

The engine is used as it is: the calibrated model of each cancer
(``remnant.model.calibrated``: the mechanism ``remnant predict`` explains, with immunity spread
between patients), ``Patient.from_stage`` with immune inputs read as Immunoscore bands (no
immune input: the whole spread) and the simulator. Every cohort is followed for
:data:`HORIZON_YEARS` (the longest anchor horizon, Pan 2017's 20 years); each anchor cuts
follow-up at its own horizon.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from remnant.model.outcomes import EVENTS
from remnant.model.units import DAYS_PER_YEAR

HORIZON_YEARS = 20.0

NONE, LOCAL, DISTANT, DEATH = (EVENTS.index(e) for e in ("none", "local", "distant", "death"))

# ---------------------------------------------------------------------------- stage mixes
# Colon stage I / II / III weights for the anchors measured over "all stages" (Colorectal Dis
# 2015;17:943, 1110 resections; Pages 2018, 2681 stage I-III). anchors.md gives neither
# cohort's stage mix. Stated approximation: Brenner 2016 (Oncotarget 7:44695) finds 50% of
# colorectal cancers found by symptoms at stage I-II; that half is split equally between I and
# II (no source for the split), and the other half (stage III-IV) is all given to stage III,
# because the model has no stage IV (a curative, M0 resection).
COLON_ALL_STAGES = (("I", 0.25), ("II", 0.25), ("III", 0.50))
# Breast stage I / II / III, for the registry and trial cohorts of stage I-III (Geurts 2017,
# Saphner 1996, Jatoi 2005, Demicheli 2008, Retsky 2010): anchors.md gives no mix; stated
# approximation: equal weights.
BREAST_ALL_STAGES = (("I", 1 / 3), ("II", 1 / 3), ("III", 1 / 3))
# Breast-conserving surgery is for early breast cancer (Houssami 2014): stage I and II, equal
# weights (stated approximation; no mix in anchors.md).
BREAST_CONSERVING = (("I", 0.5), ("II", 0.5))
# Node-positive breast (Demicheli 2004): the model's node-positive stages II (1 node) and III
# (5 nodes), equal weights (stated approximation).
BREAST_NODE_POSITIVE = (("II", 0.5), ("III", 0.5))
# Pan 2017 (NEJM 377:1836) nodal categories N1-3 and N4-9: each node count of the category
# with equal weight (stated approximation: the distribution inside a category is not in
# anchors.md); T1 is the model's stage I size, 15 mm.
PAN_NODES = {"N0": (0,), "N1-3": (1, 2, 3), "N4-9": (4, 5, 6, 7, 8, 9)}
PAN_T1_SIZE_MM = 15.0
# Menopause is not in the model; age is (other-cause death only). Premenopausal is taken as
# age 45, postmenopausal as age 60 (the model's default breast age).
PREMENOPAUSAL_AGE = 45.0
POSTMENOPAUSAL_AGE = 60.0


@dataclass(frozen=True)
class Setting:
    """A patient mix of one cancer under its calibrated mechanism (or a counterfactual of it).

    Attributes
    ----------
    key : str
        Stable name; with the run's seed it fixes the cohort's seed.
    label : str
        What it is, in words (for the table and the page).
    profiles : tuple of (dict, float)
        ``Patient.from_stage`` keyword arguments and the profile's weight.
    mechanism : tuple of (str, Any)
        Overrides of the calibrated mechanism's fields (a counterfactual), usually empty.
    """

    key: str
    label: str
    profiles: tuple[tuple[tuple[tuple[str, Any], ...], float], ...]
    mechanism: tuple[tuple[str, Any], ...] = ()

    def scenario(self) -> Any:
        """The :class:`remnant.Scenario` of this setting."""
        from remnant.model import calibrated
        from remnant.model.scenario import Scenario

        patients = tuple(calibrated.patient(**dict(kw)) for kw, _ in self.profiles)
        cancers = {p.cancer for p in patients}
        if len(cancers) != 1:
            raise ValueError(f"setting {self.key}: one cancer per setting, got {sorted(cancers)}")
        weights = tuple(w for _, w in self.profiles)
        mechanism = calibrated.mechanism(cancers.pop()).replace(**dict(self.mechanism))
        return Scenario(patients, weights, mechanism, name=self.key)

    def seed(self, run_seed: int) -> int:
        """This setting's cohort seed: a function of the run's seed and the key only."""
        seq = np.random.SeedSequence([run_seed, zlib.crc32(self.key.encode("utf-8"))])
        return int(seq.generate_state(1, dtype=np.uint32)[0])


def patient(**kwargs: Any) -> tuple[tuple[str, Any], ...]:
    """``Patient.from_stage`` keyword arguments as a hashable tuple."""
    return tuple(sorted(kwargs.items()))


def stage_mix(
    cancer: str, mix: tuple[tuple[str, float], ...], **common: Any
) -> tuple[tuple[tuple[tuple[str, Any], ...], float], ...]:
    """Profiles of a stage mix with the same other fields (margin, immune, age)."""
    return tuple((patient(cancer=cancer, stage=s, **common), w) for s, w in mix)


@dataclass
class Cohort:
    """The outcome columns of a simulated cohort.

    Attributes
    ----------
    time : array of float
        Years from surgery to the first event or the end of follow-up.
    event : array of int8
        ``remnant.model.outcomes.EVENTS`` code of the first event (none, local, distant, death).
    """

    time: np.ndarray
    event: np.ndarray

    @property
    def n(self) -> int:
        return len(self.time)

    @property
    def recurrence(self) -> np.ndarray:
        """The first event is a recurrence, local or distant."""
        return (self.event == LOCAL) | (self.event == DISTANT)


def simulate_setting(setting: Setting, n_patients: int, run_seed: int) -> Cohort:
    """Simulate ``n_patients`` of a setting with its derived seed (engine as it is)."""
    from remnant.engine.simulate import simulate

    result = simulate(
        setting.scenario(), n_patients, seed=setting.seed(run_seed), horizon_years=HORIZON_YEARS
    )
    table = result.table
    assert table is not None
    cats = list(table["event"].cat.categories)
    lut = np.array([EVENTS.index(c) for c in cats], dtype=np.int8)
    event = lut[table["event"].cat.codes.to_numpy()]
    time = table["time_days"].to_numpy(dtype=np.float64) / DAYS_PER_YEAR
    return Cohort(time=time, event=event)


@dataclass
class CohortCache:
    """Cohorts simulated on demand, once per setting key."""

    n_patients: int
    seed: int
    on_simulated: Callable[[Setting], None] | None = None
    cohorts: dict[str, Cohort] = field(default_factory=dict)

    def get(self, setting: Setting) -> Cohort:
        if setting.key not in self.cohorts:
            self.cohorts[setting.key] = simulate_setting(setting, self.n_patients, self.seed)
            if self.on_simulated is not None:
                self.on_simulated(setting)
        return self.cohorts[setting.key]

    def many(self, settings: Mapping[str, Setting]) -> dict[str, Cohort]:
        return {name: self.get(s) for name, s in settings.items()}
