"""One patient explained for the web, as ``remnant predict`` explains it (same numbers).

An explanation is a pure function of the request, so answers (the explanation and its JSON)
are kept in a bounded cache: a shared link opened again, or the page and the API asking for
the same patient, cost one computation. An explanation is about 0.06-0.07 s of CPU, so at
most one per core is computed at a time and the others wait their turn: twenty at once on two
cores would all finish together, at the end, and none early.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from remnant.web.schema import PredictRequest

if TYPE_CHECKING:
    from remnant.explanation.explain import Explanation
    from remnant.explanation.fields import PatientInput

# Patients kept explained in memory (an explanation is about 60 kB, its JSON about 27 kB).
CACHED_EXPLANATIONS = 256
# Explanations computed at once (the others wait; an answer from memory never does).
COMPUTING = threading.BoundedSemaphore(os.cpu_count() or 1)


def explain_request(request: PredictRequest) -> tuple[PatientInput, Explanation]:
    """The patient and their explanation (the default model of the patient's cancer)."""
    given, e, _ = _explain(request.model_dump_json())
    return given, e


def answer_json(request: PredictRequest) -> bytes:
    """The JSON of ``remnant predict --json`` for ``request``, as the API sends it."""
    return _explain(request.model_dump_json())[2]


@lru_cache(maxsize=CACHED_EXPLANATIONS)
def _explain(key: str) -> tuple[PatientInput, Explanation, bytes]:
    from remnant.explanation.explain import explain
    from remnant.explanation.fields import patient_from_fields

    request = PredictRequest.model_validate_json(key)
    given = patient_from_fields(request.patient_fields())
    with COMPUTING:
        e = explain(
            given.patient,
            earlier_months=request.earlier_months,
            recurrence_free_years=request.recurrence_free_years,
        )
    # serialised once: a repeated patient costs no encoding (FastAPI's encoder walks the
    # curve's lists on every answer otherwise); NaN is refused as FastAPI's JSONResponse does
    body = json.dumps(e.to_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return given, e, body.encode("utf-8")


def preload() -> None:
    """Import the code an answer runs and read both default models (no kernel table is built):
    ``remnant serve`` pays this when it starts (about 1.5 s), not its first patient."""
    import remnant.web.page  # noqa: F401
    from remnant.explanation.default_model import load_default
    from remnant.explanation.explain import explain  # noqa: F401

    for cancer in ("colon", "breast"):
        load_default(cancer)


def grades() -> dict[str, tuple[int, ...]]:
    """The grades each cancer's default model knows (a patient of another grade is 422)."""
    from remnant.explanation.default_model import load_default

    return {cancer: load_default(cancer).links.grades() for cancer in ("colon", "breast")}


def versions() -> dict[str, Any]:
    """The package's version and each default model's provenance."""
    from remnant import __version__
    from remnant.explanation.default_model import load_default

    models = {}
    for cancer in ("colon", "breast"):
        fit = load_default(cancer)
        models[cancer] = {"data": fit.data, "parameters": list(fit.parameters().index)}
    return {"package": __version__, "models": models}
