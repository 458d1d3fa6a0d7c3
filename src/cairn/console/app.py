"""`create_app(host)`: the console's Starlette app, which the agent serves at `/` beside its API
(`cairn agent run` passes this factory to the agent: agent/consolehost.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from cairn.agent.consolehost import ConsoleHost
from cairn.console.guard import Guard
from cairn.console.pages import all_routes
from cairn.console.session import Sessions

log = logging.getLogger("cairn.console")
STATIC = Path(__file__).parent / "static"


def create_app(host: ConsoleHost) -> Starlette:
    sessions = Sessions.in_home(host.home.path)
    routes = [*all_routes(), Mount("/static", StaticFiles(directory=STATIC), name="static")]

    async def internal(request: Request, exc: Exception) -> Response:
        log.error("the console failed on %s %s: %r", request.method, request.url.path, exc)
        return PlainTextResponse(
            f"internal error in the console: {type(exc).__name__}; the agent's log has more",
            status_code=500,
        )

    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, sessions=sessions)],
        exception_handlers={Exception: internal},
    )
    app.state.host = host
    app.state.sessions = sessions
    return app
