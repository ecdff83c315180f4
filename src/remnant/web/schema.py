"""The fields of one patient as the API takes them: those of ``remnant predict``.

Bad input is refused before any work with 422 naming the field and what is allowed: wrong
types, NaN or infinite numbers, values out of range, unknown or missing fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Upper bounds shared with remnant.model.parameters.Patient and remnant.explain.explain.
MAX_SIZE_MM = 300.0
MAX_NODES = 100
MAX_AGE_YEARS = 120.0
MAX_EARLIER_MONTHS = 120.0
MAX_RECURRENCE_FREE_YEARS = 9.0
MAX_SEED = 2**32 - 1


class PredictRequest(BaseModel):
    """One patient and the what-if settings (the fields of ``remnant predict``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    cancer: Literal["colon", "breast"]
    stage: Literal["I", "II", "III"] | None = Field(
        None, description="Stage at diagnosis; or give size_mm (stage II is then assumed)."
    )
    size_mm: float | None = Field(None, ge=0.5, le=MAX_SIZE_MM, description="Primary (mm).")
    nodes: int | None = Field(None, ge=0, le=MAX_NODES, description="Positive lymph nodes.")
    grade: Literal[1, 2, 3] = 2
    margin: Literal["R0", "R1", "R2"]
    immune: Literal["low", "intermediate", "high"]
    age: float | None = Field(None, ge=0.0, le=MAX_AGE_YEARS, description="Age (years).")
    earlier_months: float = Field(6.0, ge=0.0, le=MAX_EARLIER_MONTHS)
    recurrence_free_years: float = Field(0.0, ge=0.0, le=MAX_RECURRENCE_FREE_YEARS)
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of the posterior draws.")

    def patient_fields(self) -> dict[str, object]:
        """The patient's fields (remnant.explain.fields.PATIENT_FIELDS)."""
        return {
            k: getattr(self, k)
            for k in ("cancer", "stage", "size_mm", "nodes", "grade", "margin", "immune", "age")
        }


class Health(BaseModel):
    status: Literal["ok"]


class Version(BaseModel):
    package: str
    models: dict[str, dict[str, object]]


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of a 413 or 422 answer."""

    detail: list[FieldError]
