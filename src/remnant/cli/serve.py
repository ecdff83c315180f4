"""``remnant serve``: the calculator (a page and a JSON API) on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from remnant.errors import RemnantInputError

# Ports below 1024 need privileges; 65535 is the last.
MIN_PORT, MAX_PORT = 1, 65535


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
) -> None:
    """Serve the calculator: the page at / and the JSON API under /api/v1 (docs/web.md)."""
    if not MIN_PORT <= port <= MAX_PORT:
        raise RemnantInputError("--port", f"a whole number in [{MIN_PORT}, {MAX_PORT}]", port)
    if not host.strip():
        raise RemnantInputError("--host", "an address such as 127.0.0.1", host)
    import uvicorn

    from remnant.web.app import create_app
    from remnant.web.service import preload

    preload()
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the application."""
    app.command("serve")(serve_command)
