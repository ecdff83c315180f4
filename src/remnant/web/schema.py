"""The fields of one patient as the API takes them: those of ``remnant predict``.

Bad input is refused before any work with 422 naming the field and what is allowed: wrong
types, NaN or infinite numbers, values out of range, unknown or missing fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# Upper bounds shared with remnant.model.parameters.Patient and remnant.explanation.explain.
MAX_SIZE_MM = 300.0
MAX_NODES = 100
MAX_AGE_YEARS = 120.0
MAX_EARLIER_MONTHS = 120.0
MAX_RECURRENCE_FREE_YEARS = 9.0


def _whole(value: object) -> object:
    """A JSON number with no fraction (``3.0``) is the integer it equals, as JSON Schema says;
    anything else is left to the strict check (so ``"3"``, ``true`` and ``3.5`` are refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer field: strict, except that 3.0 is 3 (JSON Schema's "integer").
Whole = BeforeValidator(_whole)


class PredictRequest(BaseModel):
    """One patient and the what-if settings (the fields of ``remnant predict``)."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        strict=True,
        # A patient needs a stage or a size (remnant.explanation.fields.patient_from_fields).
        json_schema_extra={
            "anyOf": [
                {"required": ["stage"], "properties": {"stage": {"type": "string"}}},
                {"required": ["size_mm"], "properties": {"size_mm": {"type": "number"}}},
            ]
        },
    )

    cancer: Literal["colon", "breast"]
    stage: Literal["I", "II", "III"] | None = Field(
        None, description="Stage at diagnosis; or give size_mm (stage II is then assumed)."
    )
    size_mm: float | None = Field(None, ge=0.5, le=MAX_SIZE_MM, description="Primary (mm).")
    nodes: Annotated[int | None, Whole] = Field(
        None, ge=0, le=MAX_NODES, description="Positive lymph nodes."
    )
    grade: Annotated[Literal[1, 2, 3], Whole] = 2
    margin: Literal["R0", "R1", "R2"]
    immune: Literal["low", "intermediate", "high"]
    age: float | None = Field(None, ge=0.0, le=MAX_AGE_YEARS, description="Age (years).")
    earlier_months: float = Field(6.0, ge=0.0, le=MAX_EARLIER_MONTHS)
    recurrence_free_years: float = Field(0.0, ge=0.0, le=MAX_RECURRENCE_FREE_YEARS)

    def patient_fields(self) -> dict[str, object]:
        """The patient's fields (remnant.explanation.fields.PATIENT_FIELDS)."""
        return {
            k: getattr(self, k)
            for k in ("cancer", "stage", "size_mm", "nodes", "grade", "margin", "immune", "age")
        }


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Horizons = Field(description='By horizon in years: "1", "3", "5", "10".')


class Prediction(BaseModel):
    """The answer of ``POST /api/v1/predict``: the JSON of ``remnant predict --json``.

    Documented, not enforced: the answer is the explanation's own ``to_dict()``, and keys it
    gains later are allowed.
    """

    model_config = ConfigDict(extra="allow")

    patient: dict[str, object] = Field(description="The patient the fields describe.")
    reference: dict[str, object] = Field(description="The reference patient of the shares.")
    risk: dict[str, Probability] = Horizons
    risk_interval: dict[str, list[Probability]] = Field(
        description="The 95% range of each horizon's risk: [lower, upper]."
    )
    local_5y: Probability
    distant_5y: Probability
    excess_risk: float = Field(description="5-year risk above the reference patient's.")
    reference_risk: Probability
    shares: dict[str, float] = Field(description="Each cause's share of the excess risk.")
    share_intervals: dict[str, list[float]]
    counterfactuals: dict[str, dict[str, object]] = Field(description="The what-ifs.")
    earlier_months: float
    recurrence_free_years: float
    conditional_risk: dict[str, Probability] | None
    curve: dict[str, list[float]] = Field(description="Risk over time: time_days and columns.")
    model: dict[str, object] = Field(description="The model's provenance.")
    disclaimer: str


class Health(BaseModel):
    status: Literal["ok"]


class Version(BaseModel):
    package: str
    models: dict[str, dict[str, object]]


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of a 400, 413 or 422 answer: each field at fault and what is allowed."""

    detail: list[FieldError]
