"""The agent's local API: JSON over HTTP on 127.0.0.1, for the CLI (and later the console).

Every request carries `Authorization: Bearer <secret>` (the secret is in CAIRN_HOME, mode 0600),
and its Host must be the loopback address, so a web page cannot reach the agent through a
rebound DNS name; a request with an Origin other than the loopback address is refused (403), and
a body over 64 KiB (413), by its Content-Length or as it streams in.

    GET  /v1/status                  the agent: pid, version, machine, the running job
    GET  /v1/jobs?status=S&kind=K&last=N    jobs, newest first
    GET  /v1/jobs/{id}               one job (an id or a unique prefix)
    POST /v1/jobs                    {"kind": ..., "params": {...}} queues a job (on-demand)
    POST /v1/jobs/{id}/cancel        cancels a queued or running job
    POST /v1/console/token           a one-time console login token (agent/logintokens.py)

Errors are `{"error": message, "exit_code": n}` with 400 (bad input), 401, 403, 404, 413 or 500.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.agent.jobquery import JobFilter, iter_jobs
from cairn.agent.jobstore import KINDS, JobNotFound, JobStore
from cairn.agent.logintokens import LIFETIME_S, LoginTokens
from cairn.agent.runner import Runner
from cairn.core.errors import EXIT_USAGE, CairnError, UsageError
from cairn.engine.restore_target import check_target
from cairn.vault.layout import machine_name

log = logging.getLogger("cairn.agent")

CONFLICTS = ("copy", "overwrite", "skip")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class _Bearer:
    """Refuses a request without the agent's bearer secret (compared in constant time)."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.expected = f"Bearer {secret}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = JSONResponse(
                    {"error": "the agent's secret is missing or wrong", "exit_code": 1},
                    status_code=401,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


MAX_BODY_BYTES = 64 << 10  # a job request is a few hundred bytes; paths lists stay far below


class _Origin:
    """Refuses a request whose Origin is not the agent's own loopback address (a page elsewhere
    that learnt the secret, or a `null` origin of a sandboxed page or a file), with 403.
    Browsers send Origin on every cross-origin request; the CLI sends none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            origin = dict(scope["headers"]).get(b"origin")
            if origin is not None and not _loopback_origin(origin):
                response = JSONResponse(
                    {"error": "requests from another origin are refused", "exit_code": 1},
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _loopback_origin(origin: bytes) -> bool:
    try:
        parsed = urlsplit(origin.decode("ascii"))
        return parsed.scheme in ("http", "https") and parsed.hostname in LOOPBACK_HOSTS
    except (UnicodeDecodeError, ValueError):
        return False


class _BodyLimit:
    """Refuses a body larger than MAX_BODY_BYTES with 413: by its Content-Length before reading
    it, and while a body without one (chunked) streams in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _too_large()(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large()(scope, receive, send)


class _TooLarge(Exception):
    pass


def _too_large() -> JSONResponse:
    return JSONResponse(
        {
            "error": f"the request body is larger than {MAX_BODY_BYTES >> 10} KiB",
            "exit_code": EXIT_USAGE,
        },
        status_code=413,
    )


def _strings(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{key} must be a list of strings")
    return list(value)


def _source(source: Any) -> dict[str, str]:
    """Another machine's store for a restore: the vault credentials file, the machine, and the
    reference of its passphrase in the agent's memory (agent/jobsecrets.py)."""
    keys = ("credentials_file", "machine", "passphrase_ref")
    if not isinstance(source, dict) or set(source) != set(keys):
        raise UsageError(f"source must be an object with {', '.join(keys)}")
    if not all(isinstance(source[k], str) and source[k] for k in keys):
        raise UsageError(f"source: {', '.join(keys)} must be non-empty strings")
    return {"credentials_file": os.path.abspath(source["credentials_file"]),
            "machine": machine_name(source["machine"]), "passphrase_ref": source["passphrase_ref"]}  # fmt: skip


def check_params(kind: str, params: Any) -> dict[str, Any]:
    """The parameters of a new job, checked now rather than when it runs."""
    if kind not in KINDS:
        raise UsageError(f"{kind!r} is not a job kind; allowed: {', '.join(KINDS)}")
    if not isinstance(params, dict):
        raise UsageError("params must be an object")
    out: dict[str, Any] = {}
    if kind == "backup":
        out["paths"] = _strings(params, "paths")
        out["excludes"] = _strings(params, "excludes")
        until = params.get("retain_until")
        if until is not None:
            try:
                date.fromisoformat(str(until))
            except ValueError:
                raise UsageError(
                    f"--retain-until {until!r} is not a date like 2027-01-31"
                ) from None
            out["retain_until"] = str(until)
    elif kind == "restore":
        out["point"] = str(params.get("point") or "latest")
        out["paths"] = _strings(params, "paths")
        target = params.get("target")
        if target is not None:
            out["target"] = check_target(str(target))
        conflict = str(params.get("conflict") or "copy")
        if conflict not in CONFLICTS:
            raise UsageError(f"--conflict must be one of {', '.join(CONFLICTS)}")
        out["conflict"] = conflict
        out["permissions"] = bool(params.get("permissions", True))
        source = params.get("source")
        if source is not None:
            out["source"] = _source(source)
    elif kind == "prune":
        out["dry_run"] = bool(params.get("dry_run"))
        grace = params.get("grace_hours")
        if grace is not None:
            if not isinstance(grace, int | float) or isinstance(grace, bool) or grace < 0:
                raise UsageError("grace_hours must be a number of hours of at least 0")
            out["grace_hours"] = float(grace)
    elif kind == "check":
        out["read_data"] = bool(params.get("read_data"))
        subset = params.get("subset")
        if subset is not None:
            if (
                not isinstance(subset, list)
                or len(subset) != 2
                or not all(isinstance(x, int) for x in subset)
                or not 1 <= subset[0] <= subset[1]
            ):
                raise UsageError("subset must be [N, M] with 1 <= N <= M")
            out["subset"] = subset
    return out


def make_app(
    runner: Runner,
    store: JobStore,
    secret: str,
    status: Callable[[], dict[str, Any]],
    tokens: LoginTokens | None = None,
) -> Starlette:
    def error(e: CairnError) -> JSONResponse:
        code = 404 if isinstance(e, JobNotFound) else 400 if e.exit_code == EXIT_USAGE else 500
        return JSONResponse({"error": str(e), "exit_code": e.exit_code}, status_code=code)

    def get_status(request: Request) -> Response:
        return JSONResponse(status())

    def list_jobs(request: Request) -> Response:
        try:
            last_text = request.query_params.get("last")
            last = int(last_text) if last_text else None
            q = request.query_params
            f = JobFilter(kind=q.get("kind") or None, state=q.get("status") or None)
            jobs = list(iter_jobs(store, f, last))
        except ValueError:
            return error(UsageError("last must be a whole number"))
        except CairnError as e:
            return error(e)
        return JSONResponse([j.to_json() for j in jobs])

    def get_job(request: Request) -> Response:
        try:
            return JSONResponse(store.find(request.path_params["job_id"]).to_json())
        except CairnError as e:
            return error(e)

    async def submit(request: Request) -> Response:
        try:
            try:
                body = json.loads(await request.body())
            except (ValueError, RecursionError):
                raise UsageError("the request body is not JSON (or is nested too deeply)") from None
            if not isinstance(body, dict):
                raise UsageError("the request body must be an object")
            kind = str(body.get("kind"))
            params = check_params(kind, body.get("params") or {})
            job = runner.submit(kind, "on-demand", params)
        except CairnError as e:
            return error(e)
        return JSONResponse(job.to_json(), status_code=202)

    def cancel(request: Request) -> Response:
        try:
            job = store.find(request.path_params["job_id"])
            return JSONResponse(runner.cancel(job.id).to_json())
        except CairnError as e:
            return error(e)

    def console_token(request: Request) -> Response:
        if tokens is None:
            return error(UsageError("this agent serves no console"))
        return JSONResponse({"token": tokens.issue(), "expires_in_s": LIFETIME_S})

    routes = [
        Route("/v1/status", get_status),
        Route("/v1/console/token", console_token, methods=["POST"]),
        Route("/v1/jobs", list_jobs, methods=["GET"]),
        Route("/v1/jobs", submit, methods=["POST"]),
        Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/v1/jobs/{job_id}/cancel", cancel, methods=["POST"]),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_HOSTS)),
        Middleware(_Origin),
        Middleware(_Bearer, secret=secret),
        Middleware(_BodyLimit),
    ]

    async def internal(request: Request, exc: Exception) -> Response:
        log.error("the API failed on %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(
            {"error": f"internal error in the agent: {type(exc).__name__}", "exit_code": 1},
            status_code=500,
        )

    return Starlette(routes=routes, middleware=middleware, exception_handlers={Exception: internal})
