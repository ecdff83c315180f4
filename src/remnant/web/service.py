"""One patient explained for the web, as ``remnant predict`` explains it (same numbers).

An explanation is a pure function of the request, so answers are kept in a bounded cache:
a shared link opened again, or the page and the API asking for the same patient, cost one
computation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from remnant.web.schema import PredictRequest

if TYPE_CHECKING:
    from remnant.explain.explain import Explanation
    from remnant.explain.fields import PatientInput

# Patients kept explained in memory (an explanation is about 60 kB).
CACHED_EXPLANATIONS = 256


def explain_request(request: PredictRequest) -> tuple[PatientInput, Explanation]:
    """The patient and their explanation (the default model of the patient's cancer)."""
    return _explain(request.model_dump_json())


@lru_cache(maxsize=CACHED_EXPLANATIONS)
def _explain(key: str) -> tuple[PatientInput, Explanation]:
    from remnant.explain.explain import explain
    from remnant.explain.fields import patient_from_fields

    request = PredictRequest.model_validate_json(key)
    given = patient_from_fields(request.patient_fields())
    e = explain(
        given.patient,
        earlier_months=request.earlier_months,
        recurrence_free_years=request.recurrence_free_years,
        seed=request.seed,
    )
    return given, e


def answer(request: PredictRequest) -> dict[str, Any]:
    """The JSON of ``remnant predict --json`` for ``request``."""
    return explain_request(request)[1].to_dict()


def versions() -> dict[str, Any]:
    """The package's version and each default model's provenance."""
    from remnant import __version__
    from remnant.explain.default_model import load_default

    models = {}
    for cancer in ("colon", "breast"):
        fit = load_default(cancer)
        models[cancer] = {"data": fit.data, "parameters": list(fit.parameters().index)}
    return {"package": __version__, "models": models}
