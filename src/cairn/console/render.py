"""How a page is rendered: `page(request, "name.html", title=..., **values)` renders a template that
extends base.html, with `csrf` (the session's token), `nav` and `active` (the nav entry to mark)
filled in. `host(request)` is the agent's `ConsoleHost` (store, runner, home, clock, status)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from cairn.agent.consolehost import ConsoleHost
from cairn.console.session import Session
from cairn.core.units import format_bitrate, format_bytes, format_duration

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


TEMPLATES.env.filters.update(
    bytes=lambda n: format_bytes(float(n or 0)),
    bitrate=lambda n: format_bitrate(int(n)) if n else "no limit",
    duration=lambda s: format_duration(float(s)) if s is not None else "-",
    local=_local,
)

# (path, label): the left nav, in MARS's order of Actions.
NAV = [
    ("/", "Dashboard"),
    ("/schedule", "Schedule Backup"),
    ("/backup", "Back Up Now"),
    ("/recover", "Recover Data"),
    ("/jobs", "Jobs"),
    ("/properties", "Change Properties"),
]


def host(request: Request) -> ConsoleHost:
    value = request.app.state.host
    assert isinstance(value, ConsoleHost)
    return value


def session(request: Request) -> Session | None:
    value = request.scope.get("state", {}).get("session")
    return value if isinstance(value, Session) else None


def csrf(request: Request) -> str:
    s = session(request)
    return s.csrf if s is not None else ""


def page(
    request: Request,
    template: str,
    *,
    title: str,
    active: str = "",
    status_code: int = 200,
    **values: Any,
) -> Response:
    context = {
        "title": title,
        "active": active,
        "nav": NAV,
        "csrf": csrf(request),
        "machine": _machine(request),
        **values,
    }
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def _machine(request: Request) -> str:
    try:
        return host(request).home.registration().machine
    except Exception:
        return "not registered"
