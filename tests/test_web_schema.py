"""The JSON API against its own OpenAPI schema (schemathesis): every operation, generated
requests valid and invalid, no server error, and every answer documented and conforming
(status code, content type, headers, body).

The generated requests run in-process (ASGI) with the door suite's fast stand-in for the
kernel table (tests/doors.py), a bounded number of examples per operation; one request goes
to a real ``remnant serve`` with the real model (the session's ``calculator``, shared with
tests/test_web_browser.py, so its patient is then answered from memory).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from remnant.web import service
from remnant.web.app import create_app

SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", create_app())
EXAMPLES = 25  # per operation and phase: about 8 s for the three operations here


@pytest.fixture()
def fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import doors

    service._explain.cache_clear()  # answers of another kernel table must not leak in or out
    doors.install_fast_predict(monkeypatch)
    yield
    service._explain.cache_clear()


# Every operation of the schema, by name (one test each, so that parallel runners see three
# distinct tests; test_every_operation_is_tested keeps the list whole).
OPERATIONS = {
    (path, method.upper())
    for path, methods in create_app().openapi()["paths"].items()
    for method in methods
}


@pytest.mark.parametrize(("path", "method"), sorted(OPERATIONS), ids=lambda v: str(v))
def test_every_operation_answers_as_its_schema_says(path: str, method: str, fast: None) -> None:
    @given(case=SCHEMA[path][method].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    check()


def test_every_operation_is_tested() -> None:
    assert {("/api/v1/health", "GET"), ("/api/v1/version", "GET")} <= OPERATIONS
    assert ("/api/v1/predict", "POST") in OPERATIONS


def test_the_schema_says_what_a_patient_needs() -> None:
    request = create_app().openapi()["components"]["schemas"]["PredictRequest"]
    needs, by_cancer = request["allOf"]
    assert [alt["required"] for alt in needs["anyOf"]] == [["stage"], ["size_mm"]]
    grades = {alt["properties"]["cancer"]["const"]: alt for alt in by_cancer["anyOf"]}
    assert set(grades) == {"colon", "breast"}
    assert set(grades["breast"]["properties"]["grade"]["enum"]) == set(service.grades()["breast"])


def test_bytes_that_are_not_utf8_are_422_naming_the_body() -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        r = client.post(
            "/api/v1/predict", content=b"\xff\xfe{", headers={"content-type": "application/json"}
        )
    assert r.status_code == 422
    assert r.json() == {"detail": [{"field": "body", "message": "JSON text in UTF-8"}]}


def test_a_real_answer_conforms_to_the_schema(calculator: str) -> None:
    from browser import PATIENT

    # the session's server may still be compiling a first explanation for another test
    # (numba holds the interpreter while it compiles): give the schema time to arrive
    live = schemathesis.openapi.from_url(f"{calculator}/openapi.json", timeout=240)
    case = live["/api/v1/predict"]["POST"].Case(body=PATIENT, media_type="application/json")
    response = case.call_and_validate(timeout=240)
    assert response.status_code == 200
    assert set(response.json()["risk"]) == {"1", "3", "5", "10"}
