"""Jobs (/jobs): the history filtered by kind, state and time, a page at a time (never the whole
history: agent/jobquery.py); a job's details with its warnings and errors and live progress
(/jobs/{id}, Server-Sent Events from /jobs/{id}/events); cancel; CSV export (agent/jobcsv.py,
the same rows as `cairn jobs export --csv`)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from cairn.agent.jobcsv import csv_lines
from cairn.agent.jobquery import JobFilter, find_jobs, iter_jobs
from cairn.agent.jobstore import KINDS, STATES, Job
from cairn.console.events import stream
from cairn.console.render import host, page
from cairn.core.errors import CairnError, UsageError
from cairn.core.units import format_bitrate, format_bytes, format_duration

PAGE = 50


def _day(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(datetime.fromisoformat(text).date(), time()).astimezone()
    except ValueError:
        raise UsageError(f"{field} {text!r} is not a date like 2027-01-31") from None


def _filter(request: Request) -> tuple[JobFilter, dict[str, str]]:
    q = request.query_params
    given = {k: q.get(k, "").strip() for k in ("kind", "state", "from", "to")}
    until = _day(given["to"], "To")
    f = JobFilter(
        kind=given["kind"] or None,
        state=given["state"] or None,
        since=_day(given["from"], "From"),
        until=until + timedelta(days=1) if until else None,  # through the end of that day
    )
    f.check()
    return f, given


def jobs(request: Request) -> Response:
    problem = None
    try:
        f, given = _filter(request)
        offset = max(int(request.query_params.get("offset") or 0), 0)
    except ValueError:
        f, given, offset, problem = JobFilter(), {}, 0, "offset must be a whole number"
    except CairnError as e:
        f, given, offset, problem = JobFilter(), dict(request.query_params), 0, str(e)
    found = find_jobs(host(request).store, f, offset, PAGE)
    query = {k: v for k, v in given.items() if v}
    return page(
        request,
        "jobs.html",
        title="Jobs",
        active="/jobs",
        found=found,
        now=host(request).clock.now(),
        given=given,
        kinds=KINDS,
        states=STATES,
        problem=problem,
        prev_url=_url(query, offset - PAGE) if offset > 0 else None,
        next_url=_url(query, offset + PAGE) if found.has_next else None,
        csv_url="/jobs.csv?" + urlencode(query) if query else "/jobs.csv",
        status_code=400 if problem else 200,
    )


def _url(query: dict[str, str], offset: int) -> str:
    return "/jobs?" + urlencode({**query, "offset": max(offset, 0)})


def export(request: Request) -> Response:
    try:
        f, _ = _filter(request)
    except CairnError as e:
        return Response(str(e), status_code=400, media_type="text/plain")
    return StreamingResponse(
        csv_lines(iter_jobs(host(request).store, f)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cairn-jobs.csv"'},
    )


def _percent(job: Job) -> int:
    p = job.progress or {}
    if job.state.startswith("completed"):
        return 100
    total = p.get("bytes_total") or 0
    return min(int(100 * (p.get("bytes_done") or 0) / total), 100) if total else 0


def view(job: Job) -> dict[str, Any]:
    """What the progress panel shows, formatted as the page renders it (job.js fills it in)."""
    p = job.progress or {}
    files = str(p.get("files_done") or 0)
    if p.get("files_total"):
        files += f" of {p['files_total']}"
    done_bytes = format_bytes(float(p.get("bytes_done") or 0))
    if p.get("bytes_total"):
        done_bytes += f" of {format_bytes(float(p['bytes_total']))}"
    eta = p.get("eta_s")
    return {
        "state": job.state,
        "done": job.done,
        "percent": _percent(job),
        "phase": p.get("phase") or "-",
        "files": files,
        "bytes": done_bytes,
        "stored": format_bytes(float(p.get("bytes_stored") or 0)),
        "rate": f"{format_bytes(float(p.get('rate_bps') or 0))}/s",
        "eta": format_duration(float(eta)) if eta and not job.done else "-",
        "limit": format_bitrate(int(p["limit_bps"])) if p.get("limit_bps") else "no limit",
        "warnings": job.warnings_total,
        "recovery_point": job.recovery_point,
        "error": job.error,
    }


def detail(request: Request) -> Response:
    try:
        job = host(request).store.find(request.path_params["job_id"])
    except CairnError as e:
        return page(
            request, "problem.html", title="Jobs", active="/jobs", problem=str(e), status_code=404
        )
    params = {k: v for k, v in job.params.items() if v not in (None, [], "")}
    return page(
        request,
        "job.html",
        title="Job details",
        active="/jobs",
        job=job,
        params=params,
        percent=_percent(job),
        started="started" in request.query_params,
    )


def events(request: Request) -> Response:
    store = host(request).store
    try:
        job_id = store.find(request.path_params["job_id"]).id
    except CairnError as e:
        return Response(str(e), status_code=404, media_type="text/plain")

    def produce() -> tuple[str, Any, bool]:
        job = store.find(job_id)
        return "job", view(job), job.done

    return stream(request, produce)


def cancel(request: Request) -> Response:
    h = host(request)
    try:
        job = h.store.find(request.path_params["job_id"])
        h.runner.cancel(job.id)
    except CairnError as e:
        return page(
            request, "problem.html", title="Jobs", active="/jobs", problem=str(e), status_code=400
        )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


routes: list[BaseRoute] = [
    Route("/jobs", jobs, methods=["GET"]),
    Route("/jobs.csv", export, methods=["GET"]),
    Route("/jobs/{job_id}", detail, methods=["GET"]),
    Route("/jobs/{job_id}/events", events, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", cancel, methods=["POST"]),
]
