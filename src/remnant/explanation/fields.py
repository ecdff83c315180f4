"""One patient from the fields a person gives (the command line's flags, a patient file, the
web form): what is required, what the stage fills in, and a sentence saying which is which.

The command line (``remnant predict``) and the web calculator (``remnant serve``) both turn
their inputs into a :class:`PatientInput` here, so the same fields give the same patient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remnant.errors import RemnantInputError

if TYPE_CHECKING:
    from remnant.model.parameters import Patient

# The model is imported when a patient is built: the command line reads the field names for
# its --help.

PATIENT_FIELDS = ("cancer", "stage", "size_mm", "nodes", "grade", "margin", "immune", "age")
# The command line's flag for each field (remnant predict and remnant simulate).
FIELD_FLAGS = {k: "--" + k.replace("_", "-") for k in PATIENT_FIELDS}
REQUIRED_FIELDS = ("cancer", "margin", "immune")
# Fields a stage fills in when they are not given.
FILLED_FROM_STAGE = ("size_mm", "nodes")
# The stage assumed when only the primary's size is given.
STAGE_FOR_SIZE_ONLY = "II"


@dataclass(frozen=True)
class PatientInput:
    """The patient explained, with what was given and what was filled in.

    Attributes
    ----------
    patient : Patient
    stage : str
        The stage given, or :data:`STAGE_FOR_SIZE_ONLY` when only a size was.
    immune : str or float
        The immune input given: an Immunoscore category (``low``, ``intermediate``,
        ``high``, ``IS0``-``IS4``), a mean percentile (``"40%"``) or ``unknown``.
    filled : tuple of str
        Fields the stage filled in (of :data:`FILLED_FROM_STAGE`).
    stage_assumed : bool
        No stage was given (a size was).
    age_default : bool
        No age was given: the cancer's default age at surgery.
    """

    patient: Patient
    stage: str
    immune: str | float
    filled: tuple[str, ...]
    stage_assumed: bool
    age_default: bool

    def immune_name(self) -> str:
        """The immune category given (its name, percentile or ``unknown``)."""
        from remnant.model.parameters import immune_category

        return immune_category(self.patient.immune_band)

    def immune_words(self) -> str:
        """The immune input in a pathology report's terms: its Immunoscore band."""
        lo, hi = self.patient.immune_band
        if (lo, hi) == (0.0, 1.0):
            return "immunity unknown (any Immunoscore)"
        return (
            f"Immunoscore {self.immune_name()} (mean percentile "
            f"{100 * lo:g}-{100 * hi:g}% of CD3+/CD8+ densities)"
        )

    def sentence(self, flags: Mapping[str, str] | None = None) -> str:
        """One line on the patient: every field, and which ones the stage or defaults gave.

        ``flags`` names the input that sets each field (``{"size_mm": "--size-mm"}``).
        """
        p = self.patient
        text = (
            f"patient: {p.cancer} stage {self.stage}"
            + (" (assumed: no stage given)" if self.stage_assumed else "")
            + f", {p.size_mm:g} mm, {p.nodes} positive nodes, grade {p.grade}, "
            f"margin {p.margin}, {self.immune_words()}, "
            f"age {p.age:g}" + (" (the cancer's default)" if self.age_default else "")
        )
        if self.filled:
            shown = ", ".join(k.replace("_mm", "") for k in self.filled)
            text += f"; filled in from stage {self.stage}: {shown}"
            if flags:
                text += " (set them with " + "/".join(flags[k] for k in self.filled) + ")"
        return text


def patient_from_fields(fields: Mapping[str, Any]) -> PatientInput:
    """The patient described by ``fields`` (keys of :data:`PATIENT_FIELDS`; None = not given).

    Raises
    ------
    RemnantInputError
        A required field missing, an unknown field, or a value :class:`Patient` refuses; the
        error names the field by its key.
    """
    from remnant.model.parameters import Patient

    unknown = sorted(set(fields) - set(PATIENT_FIELDS))
    if unknown:
        raise RemnantInputError(unknown[0], "one of the fields " + ", ".join(PATIENT_FIELDS))
    given = {k: v for k, v in fields.items() if v is not None}
    for name in REQUIRED_FIELDS:
        if name not in given:
            raise RemnantInputError(name, "a value", None)
    stage_assumed = "stage" not in given
    if stage_assumed and "size_mm" not in given:
        raise RemnantInputError("stage", "I, II or III (or a size in mm)", None)
    stage = given.pop("stage", STAGE_FOR_SIZE_ONLY)
    cancer = given.pop("cancer")
    immune = given.pop("immune")
    try:
        patient = Patient.from_stage(cancer, stage, immune=immune, spread=True, **given)
    except RemnantInputError as exc:
        raise exc.with_field("immune") if exc.field == "immunity" else exc from None
    return PatientInput(
        patient=patient,
        stage=stage,
        immune=immune,
        filled=tuple(k for k in FILLED_FROM_STAGE if k not in given),
        stage_assumed=stage_assumed,
        age_default="age" not in given,
    )
