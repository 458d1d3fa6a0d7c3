"""Change Properties (/properties): the Throttling tab (work hours, work days, a rate for work
hours and one for other times, 512 Kbps to 1023 Mbps), set with `engine.throttle.set_throttle`
exactly as `cairn throttle set` does (the same refusals, in the same words, beside the field);
and the Machine tab: the machine-wide facts (machine, vault, CAIRN_HOME, the policy's zone)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn import __version__
from cairn.console.forms import Form, read_form
from cairn.console.render import host, page
from cairn.core.errors import CairnError
from cairn.core.units import format_bitrate
from cairn.engine import settings
from cairn.engine.throttle import load_throttle, set_throttle, throttle_show
from cairn.fs.timezone import machine_timezone
from cairn.policy import WEEKDAYS, Throttle

UNITS = ("Kbps", "Mbps")
FIELDS = {  # the CLI flag a message starts with -> the form field it is shown beside
    "--work-hours": "work_hours",
    "--work-days": "work_days",
    "--work-rate": "work_rate",
    "--other-rate": "other_rate",
    "--timezone": "timezone",
}


def _rate(bps: int) -> tuple[str, str]:
    if bps % 1_000_000 == 0:
        return str(bps // 1_000_000), "Mbps"
    return f"{bps / 1000:g}", "Kbps"


def _values(t: Throttle | None) -> dict[str, Any]:
    if t is None:
        return {
            "enabled": False,
            "work_start": "09:00",
            "work_end": "18:00",
            "work_days": [0, 1, 2, 3, 4],
            "work_rate": "4",
            "work_rate_unit": "Mbps",
            "other_rate": "100",
            "other_rate_unit": "Mbps",
            "timezone": machine_timezone(),
        }
    work_rate, work_unit = _rate(t.work_rate_bps)
    other_rate, other_unit = _rate(t.other_rate_bps)
    return {
        "enabled": True,
        "work_start": t.work_start.strftime("%H:%M"),
        "work_end": t.work_end.strftime("%H:%M"),
        "work_days": list(t.work_days),
        "work_rate": work_rate,
        "work_rate_unit": work_unit,
        "other_rate": other_rate,
        "other_rate_unit": other_unit,
        "timezone": t.timezone,
    }


def _from_form(form: Form) -> dict[str, Any]:
    return {
        "enabled": form.get("enabled") == "on",
        "work_start": form.get("work_start"),
        "work_end": form.get("work_end"),
        "work_days": [int(d) for d in form.getlist("work_days") if d.isdigit()],
        "work_rate": form.get("work_rate").strip(),
        "work_rate_unit": form.get("work_rate_unit", "Mbps"),
        "other_rate": form.get("other_rate").strip(),
        "other_rate_unit": form.get("other_rate_unit", "Mbps"),
        "timezone": form.get("timezone").strip(),
    }


def _throttling(
    request: Request,
    values: dict[str, Any] | None = None,
    problem: str | None = None,
    saved: bool = False,
) -> Response:
    h = host(request)
    try:
        status = throttle_show(h.home, h.clock)
        current = values or _values(status.throttle)
    except CairnError as e:
        status, current, problem = None, values or _values(None), problem or str(e)
    field = next((f for flag, f in FIELDS.items() if problem and problem.startswith(flag)), "")
    limit = None
    if status is not None and status.limit_now_bps is not None:
        period = "work hours" if status.work_hours_now else "outside work hours"
        limit = f"{format_bitrate(status.limit_now_bps)} now ({period})"
    return page(
        request,
        "properties_throttling.html",
        title="Change Properties",
        active="/properties",
        tab="throttling",
        v=current,
        weekdays=WEEKDAYS,
        units=UNITS,
        problem=problem,
        problem_field=field,
        saved=saved,
        status=status,
        limit=limit,
        status_code=400 if problem else 200,
    )


def properties(request: Request) -> Response:
    if request.query_params.get("tab") == "machine":
        return _machine(request)
    return _throttling(request, saved="saved" in request.query_params)


async def save_throttling(request: Request) -> Response:
    values = _from_form(await read_form(request))
    home = host(request).home
    try:
        if not values["enabled"]:
            if load_throttle(home) is not None:
                set_throttle(home, off=True)
        else:
            days = ",".join(WEEKDAYS[d] for d in values["work_days"] if 0 <= d < len(WEEKDAYS))
            set_throttle(
                home,
                work_hours=f"{values['work_start']}-{values['work_end']}",
                work_days=days,
                work_rate=f"{values['work_rate']}{values['work_rate_unit']}",
                other_rate=f"{values['other_rate']}{values['other_rate_unit']}",
                timezone=values["timezone"] or None,
            )
    except CairnError as e:
        return _throttling(request, values, str(e))
    return RedirectResponse("/properties?saved=1", status_code=303)


def _machine(request: Request) -> Response:
    h = host(request)
    facts: list[tuple[str, str]] = []
    try:
        reg = h.home.registration()
        facts += [("Machine", reg.machine), ("Vault", reg.vault)]
    except CairnError as e:
        facts.append(("Machine", str(e)))
    facts.append(("CAIRN_HOME", str(h.home.path)))
    try:
        policy = settings.load_policy(h.home)
    except CairnError as e:
        policy = None
        facts.append(("Backup policy", str(e)))
    if policy is not None:
        facts += [
            ("Policy time zone", policy.timezone),
            ("Initial backup type", policy.initial_backup),
            ("Exclusions", ", ".join(policy.exclude) or "none"),
        ]
    else:
        facts.append(("Backup policy", "none yet: Schedule Backup sets one"))
    facts += [("Machine time zone", machine_timezone()), ("Cairn version", __version__)]
    return page(
        request,
        "properties_machine.html",
        title="Change Properties",
        active="/properties",
        tab="machine",
        facts=facts,
    )


routes: list[BaseRoute] = [
    Route("/properties", properties, methods=["GET"]),
    Route("/properties/throttling", save_throttling, methods=["POST"]),
]
