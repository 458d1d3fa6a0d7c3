"""/login: exchanges the one-time token of `cairn console`'s URL for a session cookie and redirects
to the dashboard, so the token leaves the address bar (and no logged URL keeps a usable secret)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cairn.console.render import host, page
from cairn.console.session import COOKIE, LIFETIME_S, Sessions


def login(request: Request) -> Response:
    token = request.query_params.get("token")
    if token is None:
        return page(request, "login.html", title="Log in", problem=None)
    if not host(request).tokens.redeem(token):
        return page(
            request,
            "login.html",
            title="Log in",
            problem="This login link is wrong, was used already, or is over 5 minutes old.",
            status_code=403,
        )
    sessions = request.app.state.sessions
    assert isinstance(sessions, Sessions)
    _, cookie = sessions.new()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, cookie, max_age=LIFETIME_S, path="/", httponly=True, samesite="strict"
    )
    return response


routes: list[BaseRoute] = [Route("/login", login, methods=["GET"])]
