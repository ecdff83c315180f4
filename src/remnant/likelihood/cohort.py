"""Patients as parallel arrays, and their grouping into dynamics classes.

A *dynamics class* is a set of patients sharing cancer, grade and baseline immunity: they have
the same birth, death and waking rates, so the same per-seed kernels. Within a class two
numbers remain per patient: the mean number of seeds asleep at surgery ``mu_D`` (the number
woken before surgery is ``mu_W = mu_D eps / (gamma r_p)``, the same ratio for the whole class)
and the margin's residual cells ``rho``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from remnant.errors import RemnantInputError
from remnant.model.parameters import CANCERS, GRADES, MARGINS, MIN_BAND_WIDTH, Mechanism, Patient
from remnant.model.units import CELLS_PER_MM3

FIELDS = ("cancer", "size_mm", "nodes", "grade", "margin", "immunity", "age")


@dataclass(frozen=True)
class PatientArrays:
    """Patients as parallel arrays (the fields of :class:`remnant.model.Patient`).

    Attributes
    ----------
    cancer, margin : ndarray of str
    size_mm, immunity, age : ndarray of float
        Primary diameter (mm), baseline immunity ``I0``, age at surgery (years).
    nodes, grade : ndarray of int
    immune_lo, immune_hi : ndarray of float, optional
        Each patient's immune band (``Patient.immune_band``; default the whole population).
    """

    cancer: np.ndarray
    size_mm: np.ndarray
    nodes: np.ndarray
    grade: np.ndarray
    margin: np.ndarray
    immunity: np.ndarray
    age: np.ndarray
    immune_lo: np.ndarray | None = None
    immune_hi: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.cancer)
        conv: dict[str, Any] = {
            "cancer": np.asarray(self.cancer, dtype=object).astype(str),
            "size_mm": np.asarray(self.size_mm, dtype=np.float64),
            "nodes": np.asarray(self.nodes, dtype=np.int64),
            "grade": np.asarray(self.grade, dtype=np.int64),
            "margin": np.asarray(self.margin, dtype=object).astype(str),
            "immunity": np.asarray(self.immunity, dtype=np.float64),
            "age": np.asarray(self.age, dtype=np.float64),
            "immune_lo": np.zeros(n) if self.immune_lo is None else self.immune_lo,
            "immune_hi": np.ones(n) if self.immune_hi is None else self.immune_hi,
        }
        for name in ("immune_lo", "immune_hi"):
            conv[name] = np.asarray(conv[name], dtype=np.float64)
        for name, arr in conv.items():
            if arr.shape != (n,):
                raise RemnantInputError(name, f"a 1-d array of {n} values", arr.shape)
            object.__setattr__(self, name, arr)
        _check_in("cancer", conv["cancer"], CANCERS)
        _check_in("margin", conv["margin"], MARGINS)
        _check_in("grade", conv["grade"], GRADES)
        _check_range("size_mm", conv["size_mm"], 0.5, 300.0)
        _check_range("nodes", conv["nodes"], 0, 100)
        _check_range("immunity", conv["immunity"], 0.01, 100.0)
        _check_range("age", conv["age"], 0.0, 120.0)
        _check_range("immune_band", conv["immune_lo"], 0.0, 1.0)
        _check_range("immune_band", conv["immune_hi"], 0.0, 1.0)
        if (conv["immune_hi"] - conv["immune_lo"] < MIN_BAND_WIDTH - 1e-12).any():
            raise RemnantInputError(
                "immune_band", f"bands (lo, hi) with hi >= lo + {MIN_BAND_WIDTH}", "narrower"
            )

    def __len__(self) -> int:
        return len(self.cancer)

    @classmethod
    def from_patients(cls, patients: Sequence[Patient]) -> PatientArrays:
        """Arrays from a sequence of :class:`Patient`."""
        arrays = {f: np.array([getattr(p, f) for p in patients]) for f in FIELDS}
        bands = np.array([p.immune_band for p in patients], dtype=np.float64).reshape(-1, 2)
        return cls(**arrays, immune_lo=bands[:, 0], immune_hi=bands[:, 1])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> PatientArrays:
        """Arrays from a DataFrame with columns ``cancer, size_mm, nodes, grade, margin,
        immunity, age`` and optionally ``immune_band`` (pairs of quantiles)."""
        missing = [f for f in FIELDS if f not in frame.columns]
        if missing:
            raise RemnantInputError("patients", "columns " + ", ".join(FIELDS), missing[0])
        arrays = {f: frame[f].to_numpy() for f in FIELDS}
        if "immune_band" not in frame.columns:
            return cls(**arrays)
        try:
            bands = np.array([tuple(b) for b in frame["immune_band"]], dtype=np.float64)
        except (TypeError, ValueError):
            raise RemnantInputError(
                "immune_band", "pairs of quantiles (lo, hi)", frame["immune_band"].iloc[0]
            ) from None
        if bands.shape != (len(frame), 2):
            raise RemnantInputError("immune_band", "pairs of quantiles (lo, hi)", bands.shape)
        return cls(**arrays, immune_lo=bands[:, 0], immune_hi=bands[:, 1])

    def patient(self, i: int) -> Patient:
        """Patient ``i`` as a :class:`Patient`."""
        band = (float(np.asarray(self.immune_lo)[i]), float(np.asarray(self.immune_hi)[i]))
        return Patient(**{f: getattr(self, f)[i].item() for f in FIELDS}, immune_band=band)


def as_patient_arrays(patients: Any) -> PatientArrays:
    """Accept a :class:`PatientArrays`, a DataFrame, a sequence of :class:`Patient` or one."""
    if isinstance(patients, PatientArrays):
        return patients
    if isinstance(patients, Patient):
        return PatientArrays.from_patients([patients])
    if isinstance(patients, pd.DataFrame):
        return PatientArrays.from_frame(patients)
    if isinstance(patients, Sequence) and all(isinstance(p, Patient) for p in patients):
        if not patients:
            raise RemnantInputError("patients", "at least one patient")
        return PatientArrays.from_patients(patients)
    raise RemnantInputError(
        "patients", "PatientArrays, a DataFrame or Patient objects", type(patients).__name__
    )


def _check_in(name: str, arr: np.ndarray, allowed: Sequence[Any]) -> None:
    bad = ~np.isin(arr, np.asarray(allowed))
    if bad.any():
        raise RemnantInputError(name, "one of " + ", ".join(map(str, allowed)), arr[bad][0])


def _check_range(name: str, arr: np.ndarray, lo: float, hi: float) -> None:
    bad = ~((arr >= lo) & (arr <= hi))
    if bad.any():
        raise RemnantInputError(name, f"a number in [{lo}, {hi}]", arr[bad][0])


def seeds_dormant(
    pa: PatientArrays, mech: Mechanism, age_rate: np.ndarray, eps: np.ndarray
) -> np.ndarray:
    """``mu_D = nu N_s**gamma / (gamma r_p + eps + delta)`` per patient (docs/model.md, 1.2).

    ``age_rate`` (``gamma r_p``) and ``eps`` (waking rate before surgery) per patient.
    """
    coef = np.zeros(len(pa))
    for c in CANCERS:
        coef[pa.cancer == c] = mech.seeding_coefficient[c]
    nu = coef * (1.0 + pa.nodes) ** mech.nodes_effect
    n_s = math.pi / 6.0 * pa.size_mm**3 * CELLS_PER_MM3
    return np.asarray(nu * n_s**mech.seeding_exponent / (age_rate + eps + mech.dormant_death_rate))
