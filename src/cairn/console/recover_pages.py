"""Recover Data (/recover): MARS's wizard: this machine or another one (a vault credentials file
and that machine's passphrase), a recovery point by calendar and time, the files and folders
(browse its tree, search by name), where and how to recover (original or another location,
copy / overwrite / skip, restore permissions), confirmation; then a restore job, whose live
progress is the job page (/jobs/{id}).

Every page is one form that posts all the wizard's values, so it works without JavaScript and an
error loses nothing. The engine does the work: `engine.other_machine` opens another machine's
store (`register`'s words for a file of another vault, exit 12's for a wrong passphrase),
`engine.point_days` and `engine.point_browser` read the point, `agent.api.check_params` checks
the job (a target that cannot be written is refused there, in words), and the runner queues it.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.agent.api import check_params
from cairn.console.forms import Form, read_form
from cairn.console.recover_source import SOURCES, Source
from cairn.console.render import csrf, host, page
from cairn.core.errors import CairnError, NotRegistered, UsageError, WrongPassphrase
from cairn.engine import settings
from cairn.engine.other_machine import machines_in, open_machine
from cairn.engine.point_browser import list_folder, search
from cairn.engine.point_days import month_grid, nearby_months, points_by_day
from cairn.engine.session import open_repository
from cairn.fs.timezone import machine_timezone
from cairn.vault.points import RecoveryPoint

SHOWN = 2000  # entries of one folder on the page; search finds the others

STEPS = ("source", "point", "items", "options", "confirm")
TITLES = {
    "source": "Getting started: recover from which machine",
    "point": "Select the recovery point",
    "items": "Select items to recover",
    "options": "Recovery options",
    "confirm": "Confirmation",
}
FIELDS: dict[str, tuple[str, ...]] = {
    "source": ("source", "credentials_file", "machine"),
    "point": ("month", "day", "point"),
    "items": ("at", "sel", "q"),
    "options": ("dest", "target", "conflict", "permissions"),
    "confirm": (),
}
ALL = ("src", *(name for names in FIELDS.values() for name in names))
START = {"source": ["this"], "dest": ["original"], "conflict": ["copy"], "permissions": ["on"]}


class Values:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def set(self, name: str, *values: str) -> None:
        self.fields[name] = list(values)

    def hidden(self, step: str) -> list[tuple[str, str]]:
        shown = set(FIELDS[step])
        return [(n, v) for n in ALL if n not in shown for v in self.fields.get(n, [])]

    @classmethod
    def from_form(cls, form: Form) -> Values:
        return cls({name: form.getlist(name) for name in ALL if name in form})


class Problem:
    def __init__(self, message: str, at: str = "top") -> None:
        self.message = message
        self.at = at


def _source(request: Request, v: Values) -> Source | None:
    return SOURCES.get(v.get("src"), csrf(request)) if v.get("src") else None


def _zone(request: Request, source: Source) -> str:
    if source.own:
        policy = settings.load_policy(host(request).home)
        if policy is not None:
            return policy.timezone
    return machine_timezone()


def _point(source: Source, v: Values) -> RecoveryPoint | None:
    try:
        return source.repo.find_point(v.get("point")) if v.get("point") else None
    except CairnError:
        return None


def _start_folder(point: RecoveryPoint) -> str:
    try:
        common = os.path.commonpath(point.paths) if point.paths else "/"
    except ValueError:
        return "/"
    return common if len(point.paths) > 1 else os.path.dirname(common) or "/"


def _render(
    request: Request,
    step: str,
    v: Values,
    problem: Problem | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx: dict[str, Any] = {
        "step": step,
        "steps": [(s, TITLES[s]) for s in STEPS],
        "step_index": STEPS.index(step),
        "step_title": TITLES[step],
        "v": v,
        "problem": problem,
        **extra,
    }
    source = _source(request, v)
    if step != "source" and source is None:
        step, ctx["step"], ctx["step_index"] = "source", "source", 0
        ctx["step_title"] = TITLES["source"]
        ctx["problem"] = Problem("choose the machine to recover from again (the page expired)")
    if source is not None:
        ctx["source_name"] = source.repo.machine
        ctx["own"] = source.own
    if step == "point" and source is not None:
        ctx |= _calendar(request, source, v)
    if step in ("items", "options", "confirm") and source is not None:
        ctx["chosen_point"] = _point(source, v)
    if step == "items" and source is not None and ctx["chosen_point"] is not None:
        ctx |= _tree(source, ctx["chosen_point"], v)
    ctx["hidden"] = v.hidden(step)
    if step == "items":  # the selections not shown as boxes on this page
        shown = {e.path for e in ctx.get("entries", [])} | {e.path for e in ctx.get("found", [])}
        ctx["hidden"] += [("sel", s) for s in v.getlist("sel") if s not in shown]
    return page(
        request,
        "recover/wizard.html",
        title="Recover Data",
        active="/recover",
        status_code=status_code,
        **ctx,
    )


def _calendar(request: Request, source: Source, v: Values) -> dict[str, Any]:
    zone = _zone(request, source)
    days = points_by_day(source.repo.list_points(), ZoneInfo(zone))
    if not days:
        return {"days": {}, "grid": [], "zone": zone, "no_points": True}
    latest = max(days)
    chosen = _parse_day(v.get("day")) or latest
    year, month = _parse_month(v.get("month")) or (chosen.year, chosen.month)
    before, after = nearby_months(year, month)
    return {
        "zone": zone,
        "days": days,
        "grid": month_grid(year, month),
        "month_label": date(year, month, 1).strftime("%B %Y"),
        "before": f"{before[0]:04d}-{before[1]:02d}",
        "after": f"{after[0]:04d}-{after[1]:02d}",
        "chosen_day": chosen,
        "times": days.get(chosen, []),
        "point_count": sum(len(p) for p in days.values()),
    }


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_month(text: str) -> tuple[int, int] | None:
    try:
        year, month = (int(x) for x in text.split("-"))
        date(year, month, 1)
    except ValueError:
        return None
    return year, month


def _tree(source: Source, point: RecoveryPoint, v: Values) -> dict[str, Any]:
    at = v.get("at") or _start_folder(point)
    out: dict[str, Any] = {"at": at, "parent": None if at == "/" else os.path.dirname(at)}
    try:
        entries = list_folder(source.repo, point, at)
        out["entries"], out["more"] = entries[:SHOWN], max(len(entries) - SHOWN, 0)
    except CairnError as e:
        out["entries"], out["tree_problem"] = [], str(e)
    if v.get("q").strip():
        try:
            found = search(source.repo, point, v.get("q"))
            out["found"], out["search_note"] = found.matches, found.stopped
            out["search_damaged"] = found.damaged
        except CairnError as e:
            out["found"], out["search_note"] = [], str(e)
    return out


async def recover(request: Request) -> Response:
    if request.method == "GET":
        return _render(request, "source", Values({k: list(x) for k, x in START.items()}))
    form = await read_form(request)
    v = Values.from_form(form)
    step = form.get("step") if form.get("step") in STEPS else "source"
    action = form.get("action", "next")
    index = STEPS.index(step)
    if action == "back":
        return _render(request, STEPS[max(index - 1, 0)], v)
    for prefix, name in (("month:", "month"), ("day:", "day"), ("open:", "at")):
        if action.startswith(prefix):
            v.set(name, action[len(prefix) :])
            if name == "day":
                v.set("point")
            return _render(request, step, v)
    if action == "search":
        return _render(request, step, v)
    if action == "machines":
        return await _list_machines(request, v)
    if step == "source":
        return await _open_source(request, v, form.get("passphrase"))
    source = _source(request, v)
    if source is None:
        return _render(request, "source", v)
    if step == "point" and _point(source, v) is None:
        return _render(
            request, step, v, Problem("choose a recovery point: a day, then a time"), 400
        )
    if step == "items" and not v.getlist("sel"):
        return _render(request, step, v, Problem("select at least one file or folder"), 400)
    if step in ("options", "confirm"):
        try:
            params = _params(source, v)
            await run_in_threadpool(check_params, "restore", params)
        except UsageError as e:
            return _render(request, "options", v, Problem(str(e), "target"), 400)
        if step == "confirm":
            return await _start(request, source, params)
    return _render(request, STEPS[index + 1], v)


async def _list_machines(request: Request, v: Values) -> Response:
    path = Path(v.get("credentials_file").strip() or ".")
    clock = host(request).clock
    try:
        names = await run_in_threadpool(machines_in, path, clock)
    except CairnError as e:
        return _render(request, "source", v, Problem(str(e), "credentials_file"), 400)
    return _render(request, "source", v, machines=names)


async def _open_source(request: Request, v: Values, passphrase: str) -> Response:
    h = host(request)
    try:
        if v.get("source") != "other":
            repo = await run_in_threadpool(open_repository, h.home, h.clock)
            source = Source(repo, own=True, owner=csrf(request))
        else:
            path = Path(v.get("credentials_file").strip())
            if not v.get("credentials_file").strip():
                raise UsageError("give the path of the vault credentials file")
            machine = v.get("machine").strip()
            if not machine:
                raise NotRegistered("name the machine whose backups to recover")
            repo = await run_in_threadpool(open_machine, path, machine, passphrase, h.clock)
            source = Source(repo, False, path.absolute(), passphrase, owner=csrf(request))
    except WrongPassphrase as e:
        return _render(request, "source", v, Problem(str(e), "passphrase"), 400)
    except NotRegistered as e:
        return _render(request, "source", v, Problem(str(e), "machine"), 400)
    except CairnError as e:
        at = "machine" if "machine name" in str(e) or "passphrase of machine" in str(e) else None
        return _render(request, "source", v, Problem(str(e), at or "credentials_file"), 400)
    v.set("src", SOURCES.keep(source))
    for name in ("month", "day", "point", "at", "sel", "q"):
        v.set(name)
    return _render(request, "point", v)


def _params(source: Source, v: Values) -> dict[str, Any]:
    params: dict[str, Any] = {
        "point": v.get("point"),
        "paths": v.getlist("sel"),
        "target": v.get("target").strip() if v.get("dest") == "other" else None,
        "conflict": v.get("conflict", "copy"),
        "permissions": v.get("permissions") == "on",
    }
    if v.get("dest") == "other" and not params["target"]:
        raise UsageError("name the folder to recover to, or choose the original location")
    return params


async def _start(request: Request, source: Source, params: dict[str, Any]) -> Response:
    h = host(request)
    if not source.own:
        assert source.credentials_file is not None
        params["source"] = {
            "credentials_file": str(source.credentials_file),
            "machine": source.repo.machine,
            "passphrase_ref": h.runner.secrets.put(source.passphrase),
        }
    checked = check_params("restore", params)
    job = await run_in_threadpool(h.runner.submit, "restore", "on-demand", checked)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


routes: list[BaseRoute] = [Route("/recover", recover, methods=["GET", "POST"])]
