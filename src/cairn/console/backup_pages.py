"""Back Up Now (/backup), as MARS's wizard: the retain-till date, a confirmation, then the job's
progress page (/jobs/{id}), which the user may close: the backup continues in the background.

The date is checked by `engine.ondemand.parse_retain_until` and the job's parameters by
`agent.api.check_params`, then queued with the runner: what `cairn backup` does with an agent."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.agent.api import check_params
from cairn.console.forms import read_form
from cairn.console.render import host, page
from cairn.core.errors import CairnError
from cairn.engine import settings
from cairn.engine.ondemand import parse_retain_until
from cairn.policy.wallclock import local_time


def _form(request: Request, retain_until: str = "", problem: str | None = None) -> Response:
    h = host(request)
    try:
        policy = settings.load_policy(h.home)
    except CairnError as e:
        policy, problem = None, problem or str(e)
    today = _today(request)
    return page(
        request,
        "backup.html",
        title="Back Up Now",
        active="/backup",
        policy=policy,
        retain_until=retain_until,
        earliest=today.isoformat(),
        suggested=(today + timedelta(days=30)).isoformat(),
        problem=problem,
        status_code=400 if problem else 200,
    )


def _today(request: Request) -> date:
    h = host(request)
    policy = settings.load_policy(h.home)
    now = h.clock.now()
    if policy is None:
        return now.astimezone().date()
    return local_time(now, policy.zone).date()


def _checked(request: Request, text: str) -> dict[str, Any]:
    """The job's parameters; UsageError (the CLI's words) for a bad date or no items."""
    h = host(request)
    policy = settings.load_policy(h.home)
    params: dict[str, Any] = {"paths": [], "excludes": []}
    if text:
        params["retain_until"] = parse_retain_until(text, policy, h.clock.now()).isoformat()
    if policy is None:
        raise CairnError(
            "no backup policy is set, so Back Up Now has nothing to back up: schedule a backup"
            " first (Schedule Backup)"
        )
    return check_params("backup", params)


def _words(e: CairnError) -> str:
    return str(e).replace("--retain-until ", "Retain till ", 1)


def backup(request: Request) -> Response:
    return _form(request)


async def confirm(request: Request) -> Response:
    form = await read_form(request)
    text = form.get("retain_until").strip()
    try:
        params = _checked(request, text)
    except CairnError as e:
        return _form(request, text, _words(e))
    policy = settings.load_policy(host(request).home)
    return page(
        request,
        "backup_confirm.html",
        title="Back Up Now",
        active="/backup",
        params=params,
        policy=policy,
    )


async def start(request: Request) -> Response:
    form = await read_form(request)
    text = form.get("retain_until").strip()
    try:
        params = _checked(request, text)
        job = host(request).runner.submit("backup", "on-demand", params)
    except CairnError as e:
        return _form(request, text, _words(e))
    return RedirectResponse(f"/jobs/{job.id}?started=1", status_code=303)


routes: list[BaseRoute] = [
    Route("/backup", backup, methods=["GET"]),
    Route("/backup/confirm", confirm, methods=["POST"]),
    Route("/backup/start", start, methods=["POST"]),
]
