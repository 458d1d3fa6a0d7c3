"""Schedule Backup (/schedule): a placeholder until the page is built (docs/console.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.console.render import page


def schedule(request: Request) -> Response:
    return page(request, "placeholder.html", title="Schedule Backup", active="/schedule")


routes: list[BaseRoute] = [Route("/schedule", schedule)]
