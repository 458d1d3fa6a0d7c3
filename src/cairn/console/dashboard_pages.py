"""The Dashboard (/): the last and the next backup, the last job of each kind, the health problems
(the stale-backup warning among them: engine/health.py, as `cairn status` shows them), the vault
usage, a chart of stored bytes and recovery points over time and a calendar of the days with
recovery points (engine/overview.py)."""

from __future__ import annotations

from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.agent.jobquery import last_of_each_kind
from cairn.agent.jobstore import KINDS
from cairn.console.calendar_view import month_view, parse_month
from cairn.console.chart import history_chart
from cairn.console.render import host, page
from cairn.core.errors import CairnError
from cairn.engine import settings
from cairn.engine.health import Health, machine_health
from cairn.engine.overview import VaultOverview, vault_overview
from cairn.engine.protection import local_state
from cairn.engine.session import open_repository
from cairn.policy import next_runs


async def dashboard(request: Request) -> Response:
    h = host(request)
    status = h.status()
    last = last_of_each_kind(h.store)
    overview: VaultOverview | None = None
    health: Health | None = None
    problem = None

    def gather() -> tuple[VaultOverview, Health]:
        repo = open_repository(h.home, h.clock)
        seen = machine_health(
            h.home,
            repo,
            settings.load_policy(h.home),
            h.clock.now(),
            protection=local_state(h.home).describe(),
            usage=False,
        )
        return vault_overview(repo), seen

    try:
        overview, health = await run_in_threadpool(gather)
    except CairnError as e:
        problem = str(e)
    newest = overview.newest if overview else None
    month = parse_month(
        request.query_params.get("month"),
        (newest.time if newest else h.clock.now()).astimezone().date(),
    )
    next_run = _next_run(request, status.get("next_run"))
    return page(
        request,
        "dashboard.html",
        title="Dashboard",
        active="/",
        status=status,
        health=health,
        next_run=next_run,
        last=last,
        kinds=KINDS,
        overview=overview,
        newest=newest,
        problem=problem,
        chart=history_chart(overview.history if overview else []),
        month=month_view(month, overview.days if overview else {}),
        month_url="/?month=",
    )


def _next_run(request: Request, agent_says: str | None) -> datetime | None:
    """The agent's next slot; just after a policy change (before its scheduler looked again), the
    policy's next run, as `cairn policy next-runs` computes it."""
    if agent_says:
        return datetime.fromisoformat(agent_says)
    h = host(request)
    try:
        policy = settings.load_policy(h.home)
    except CairnError:
        return None
    if policy is None:
        return None
    runs = next_runs(policy, h.clock.now(), 1)
    return runs[0] if runs else None


routes: list[BaseRoute] = [Route("/", dashboard)]
