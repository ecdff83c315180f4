"""The FastAPI application of ``remnant serve``: the page, the JSON API, its schema.

Routes: ``GET /`` (the page), ``POST /api/v1/predict`` (the JSON of ``remnant predict
--json``), ``GET /api/v1/health``, ``GET /api/v1/version``, ``GET /openapi.json``. Bad input
is 422 naming the field and what is allowed (bytes that are not UTF-8 too); a body over
:data:`MAX_BODY_BYTES` is 413, a Content-Length that is not a number 400. The schema documents
every one of these answers, and what a patient needs beyond each field's range
(:class:`Calculator`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remnant.errors import RemnantInputError
from remnant.web.schema import Health, Prediction, PredictRequest, Problem, Version

# One patient's fields fit in well under a kilobyte; anything much larger is not a patient.
MAX_BODY_BYTES = 16 * 1024
API = "/api/v1"


def _problem(status: int, items: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": items})


class BodyLimit:
    """ASGI middleware: a body over :data:`MAX_BODY_BYTES`, declared or streamed, is 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = _problem(413, [{"field": "body", "message": f"at most {MAX_BODY_BYTES} bytes"}])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _problem(400, [{"field": "content-length", "message": "a number"}])(
                    scope, receive, send
                )
                return
            if int(declared) > MAX_BODY_BYTES:
                await too_big(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "body"


class Calculator(FastAPI):
    """FastAPI whose schema also says which grades each cancer's shipped model knows."""

    def openapi(self) -> dict[str, Any]:
        """The schema, with the grades of each default model in ``PredictRequest``."""
        if self.openapi_schema:
            return self.openapi_schema
        schema = super().openapi()
        from remnant.web.service import grades

        request = schema["components"]["schemas"]["PredictRequest"]
        by_cancer = [
            {
                "properties": {"cancer": {"const": cancer}, "grade": {"enum": list(seen)}},
            }
            for cancer, seen in grades().items()
        ]
        request["allOf"] = [{"anyOf": request.pop("anyOf")}, {"anyOf": by_cancer}]
        return schema


def create_app() -> FastAPI:
    """The calculator's application (nothing is computed until a patient is asked for)."""
    from remnant import __version__

    app = Calculator(
        title="remnant",
        version=__version__,
        description="Risk of cancer recurrence after surgery for one patient: a research "
        "model, not medical advice.",
    )
    app.add_middleware(BodyLimit)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        items = [
            {
                "field": "body" if e["type"] == "json_invalid" else _field(tuple(e["loc"])),
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        return _problem(422, items)

    @app.exception_handler(HTTPException)
    async def _unreadable(request: Request, exc: HTTPException) -> Response:
        # The routes raise no HTTPException: a 400 is FastAPI's "error parsing the body" (bytes
        # that are not UTF-8), a body that is not JSON like any other.
        if exc.status_code == 400:
            return _problem(422, [{"field": "body", "message": "JSON text in UTF-8"}])
        return await http_exception_handler(request, exc)

    @app.exception_handler(RemnantInputError)
    async def _refused(request: Request, exc: RemnantInputError) -> JSONResponse:
        return _problem(422, [{"field": exc.field, "message": str(exc)}])

    @app.get(f"{API}/health", response_model=Health)
    def health() -> dict[str, str]:
        """The service is up."""
        return {"status": "ok"}

    @app.get(f"{API}/version", response_model=Version)
    def version() -> dict[str, Any]:
        """The package's version and the provenance of each default model."""
        from remnant.web.service import versions

        return versions()

    @app.post(
        f"{API}/predict",
        response_model=None,
        responses={
            200: {"model": Prediction, "description": "The patient explained."},
            400: {"model": Problem, "description": "A Content-Length that is not a number."},
            413: {"model": Problem, "description": "A body over 16 kB."},
            422: {"model": Problem, "description": "A field missing, unknown or out of range."},
        },
    )
    def predict(request: PredictRequest) -> Response:
        """One patient explained: the JSON of ``remnant predict --json``, same numbers."""
        from remnant.web.service import answer_json

        return Response(answer_json(request), media_type="application/json")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request) -> HTMLResponse:
        """The calculator's page; the inputs are the query string."""
        from remnant.web.messages import choose
        from remnant.web.page import render

        params = dict(request.query_params)
        lang = choose(params.get("lang"), request.headers.get("accept-language"))
        return HTMLResponse(render(params, lang))

    return app
