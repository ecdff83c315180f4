"""The calculator: the JSON API and the page, as a browser or a script uses them.

The tests replace the kernel table by the door suite's stand-in (tests/doors.py), so that an
explanation costs well under a second: what is tested here is the web's own code, the same
path from fields to numbers as ``remnant predict`` (whose model is tested in
tests/test_explain.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remnant.cli import main
from remnant.web import service
from remnant.web.app import MAX_BODY_BYTES, create_app
from remnant.web.messages import LANGUAGES, catalogue, choose

PATIENT = {"cancer": "colon", "stage": "III", "margin": "R1", "immune": "low"}


@pytest.fixture()
def client() -> Iterator[TestClient]:
    service._explain.cache_clear()  # answers of another kernel table must not leak in
    with TestClient(create_app()) as c:
        yield c
    service._explain.cache_clear()


@pytest.fixture()
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    import doors

    doors.install_fast_predict(monkeypatch)


def test_health_version_and_schema(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    version = client.get("/api/v1/version").json()
    assert set(version["models"]) == {"colon", "breast"}
    assert version["models"]["colon"]["data"]["rows"] > 0
    schema = client.get("/openapi.json").json()
    assert "/api/v1/predict" in schema["paths"]
    fields = schema["components"]["schemas"]["PredictRequest"]["properties"]
    assert {"cancer", "stage", "size_mm", "nodes", "margin", "immune"} <= set(fields)


BAD_BODIES: dict[str, tuple[str, str]] = {
    "NaN": (
        '{"cancer":"colon","stage":"II","margin":"R0","immune":"low","size_mm":NaN}',
        "size_mm",
    ),
    "inf": ('{"cancer":"colon","stage":"II","margin":"R0","immune":"low","age":Infinity}', "age"),
    "text for a number": (
        '{"cancer":"colon","stage":"II","margin":"R0","immune":"low","nodes":"3"}',
        "nodes",
    ),
    "out of range": (
        '{"cancer":"colon","stage":"II","margin":"R0","immune":"low","nodes":-1}',
        "nodes",
    ),
    "unknown choice": ('{"cancer":"lung","stage":"II","margin":"R0","immune":"low"}', "cancer"),
    "missing": ('{"cancer":"colon","stage":"II","immune":"low"}', "margin"),
    "unknown field": (
        '{"cancer":"colon","stage":"II","margin":"R0","immune":"low","colour":"red"}',
        "colour",
    ),
    "no stage and no size": ('{"cancer":"colon","margin":"R0","immune":"low"}', "stage"),
    "not an object": ("[1, 2, 3]", "body"),
    "not JSON": ("{cancer: colon", "body"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_input_is_422_naming_the_field(client: TestClient, case: str) -> None:
    body, field = BAD_BODIES[case]
    r = client.post("/api/v1/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["detail"]]


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    big = json.dumps({**PATIENT, "pad": "x" * MAX_BODY_BYTES})
    r = client.post("/api/v1/predict", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"][0]["field"] == "body"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "cancer",
                "stage",
                "size_mm",
                "nodes",
                "grade",
                "margin",
                "immune",
                "age",
                "earlier_months",
                "recurrence_free_years",
                "x",
            ]
        ),
        st.none()
        | st.booleans()
        | st.integers(-(10**12), 10**12)
        | st.text(max_size=8)
        | st.floats(allow_nan=False, allow_infinity=False),
        max_size=8,
    )
)
def test_any_body_is_answered_without_a_server_error(
    client: TestClient, fast: None, body: dict[str, Any]
) -> None:
    r = client.post("/api/v1/predict", json=body)
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert all(d["field"] and d["message"] for d in r.json()["detail"])


def test_api_and_page_show_the_same_numbers_in_both_languages(
    client: TestClient, fast: None
) -> None:
    answer = client.post("/api/v1/predict", json=PATIENT).json()
    people = {h: round(100 * answer["risk"][h]) for h in ("1", "3", "5", "10")}
    for lang in LANGUAGES:
        page = client.get("/", params={**PATIENT, "lang": lang}).text
        for h, n in people.items():
            assert f'data-risk="{h}">{n}<' in page
        assert catalogue(lang)["disclaimer"] in page
        assert f'lang="{"zh-Hans" if lang == "zh" else "en"}"' in page
    zh = client.get("/", params=PATIENT, headers={"accept-language": "zh-CN,zh;q=0.9"}).text
    assert catalogue("zh")["submit"] in zh


def test_the_page_keeps_its_inputs_in_the_url_and_loads_nothing_from_elsewhere(
    client: TestClient, fast: None
) -> None:
    page = client.get("/", params={**PATIENT, "size_mm": "41", "lang": "en"}).text
    assert '<form method="get" action="/"' in page
    assert 'name="size_mm" type="number" step="any" inputmode="decimal" value="41"' in page
    assert re.search(r'<option value="III" selected>', page)
    # every label names its field; no asset from another host
    for name in ("cancer", "stage", "size_mm", "nodes", "margin", "immune", "age"):
        assert f'<label for="{name}">' in page and f'id="{name}"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert '<svg id="curve"' in page and '<svg id="icons"' in page


def test_a_bad_form_value_is_shown_beside_its_field(client: TestClient) -> None:
    page = client.get("/", params={**PATIENT, "size_mm": "big"}).text
    assert 'id="err-size_mm"' in page and 'aria-invalid="true"' in page
    assert 'id="answer"' not in page


def test_language_choice() -> None:
    assert choose("zh", "en") == "zh"
    assert choose(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert choose(None, "fr-FR,en;q=0.5,zh;q=0.4") == "en"
    assert choose(None, "fr, de") == "en"
    assert choose("xx", None) == "en"
    assert set(catalogue("en")) == set(catalogue("zh"))


def test_api_answers_as_remnant_predict_does(
    client: TestClient, fast: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.json"
    flags = ["--cancer", "colon", "--stage", "III", "--margin", "R1", "--immune", "low"]
    assert main(["predict", *flags, "--json", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    cli = json.loads(out.read_text())
    api = client.post("/api/v1/predict", json=PATIENT).json()
    assert api == cli


def test_serve_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
