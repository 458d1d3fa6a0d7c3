"""/events/status: the agent's status as Server-Sent Events, which every page follows (console.js)
to say when the agent stopped and to see it come back."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.console.events import stream
from cairn.console.render import host


def status_events(request: Request) -> Response:
    status = host(request).status

    def produce() -> tuple[str, Any, bool]:
        doc = status()
        running = doc.get("running") or {}
        return "status", {"running": running.get("id"), "queued": doc.get("queued")}, False

    return stream(request, produce, every_s=1.0)


routes: list[BaseRoute] = [Route("/events/status", status_events)]
