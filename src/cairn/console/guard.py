"""The console's gate, in front of every page (an ASGI middleware):

1. the Host header must name the loopback (127.0.0.1, localhost, [::1]), else 403: a page on a
   rebound DNS name cannot reach the console; and an Origin header, when a browser sends one,
   must be the console's own (`http://` + that Host), else 403: a page of another site (or a
   sandboxed one, Origin `null`) cannot post to it, even with a cookie the browser would send;
2. every page but /login and /static needs a session (session.py): a GET without one is sent to
   /login, anything else gets 403;
3. a state-changing request (POST, PUT, PATCH, DELETE) must carry the session's CSRF token, in the
   form field `csrf` or the `X-CSRF-Token` header, else 403;
4. a state-changing body over MAX_FORM_BYTES gets 413, read no further;
5. every answer says same-origin referrers only, no framing, no caching, and a same-origin content policy.

The session goes into `request.state.session`.
"""

from __future__ import annotations

import hmac
from http.cookies import CookieError, SimpleCookie

from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.console.forms import MAX_FORM_BYTES, parse_form
from cairn.console.session import COOKIE, Sessions

LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def is_open(path: str) -> bool:
    """The paths served without a session: the login page and the static files."""
    return path == "/login" or path.startswith("/static/")


UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
HEADERS = [
    (b"referrer-policy", b"same-origin"),  # no-referrer makes a form's Origin `null`
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        b" frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]


def same_origin(origin: str, host: str) -> bool:
    """Whether an Origin header names the console at `host` (as the browser showing it sends)."""
    return origin.lower() == f"http://{host}".lower()


def host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


class Guard:
    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(HEADERS)
                if not scope["path"].startswith("/static/"):
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        async def refuse(response: Response) -> None:
            await response(scope, receive, send_with_headers)

        if host_name(headers.get("host", "")).lower() not in LOOPBACK:
            await refuse(
                PlainTextResponse(
                    "refused: the console answers only on the loopback address (127.0.0.1)",
                    status_code=403,
                )
            )
            return
        origin = headers.get("origin")
        if origin is not None and not same_origin(origin, headers.get("host", "")):
            await refuse(
                PlainTextResponse(
                    "refused: the request comes from another site's page (Origin header);"
                    " use the console's own pages",
                    status_code=403,
                )
            )
            return
        path: str = scope["path"]
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # a malformed header: no session
            cookie = SimpleCookie()
        morsel = cookie.get(COOKIE)
        session = self.sessions.read(morsel.value if morsel else None)
        scope.setdefault("state", {})["session"] = session
        method = scope["method"]
        if session is None and not is_open(path):
            if method in ("GET", "HEAD"):
                await refuse(RedirectResponse("/login", status_code=303))
            else:
                await refuse(
                    PlainTextResponse("refused: no session; log in again", status_code=403)
                )
            return
        if method in UNSAFE and not is_open(path):
            assert session is not None
            body, receive = await _buffer(receive)
            if body is None:
                await refuse(PlainTextResponse("the request is too large", status_code=413))
                return
            given = headers.get("x-csrf-token", "")
            if not given and "form-urlencoded" in headers.get("content-type", ""):
                given = parse_form(body).get("csrf")
            if not hmac.compare_digest(given.encode(), session.csrf.encode()):
                await refuse(
                    PlainTextResponse(
                        "refused: the form's CSRF token is missing or wrong; reload the page",
                        status_code=403,
                    )
                )
                return
        await self.app(scope, receive, send_with_headers)


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (None past MAX_FORM_BYTES) and a `receive` that replays it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
