"""Schedule Backup (/schedule): MARS's wizard, one page after another: items (a folder browser of
this machine), exclusions, schedule, retention, initial backup type, confirmation with a preview
chart, Finish.

Every page is one form that posts all the wizard's values (schedule_form.py), so it works without
JavaScript and nothing is lost going back or on an error. "Next" checks the whole policy with
`engine.settings.validate_policy` (what `cairn policy set` runs): a refusal about this page or an
earlier one is shown in place, on the page of its field, with `policy set`'s words; Finish saves
the policy with `engine.settings.save_policy`, as `policy set` does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from cairn.agent.firststart import default_policy
from cairn.console import schedule_form as sf
from cairn.console.forms import read_form
from cairn.console.render import host, page
from cairn.console.retention_chart import draw
from cairn.core.errors import CairnError, UsageError
from cairn.engine import settings
from cairn.engine.folders import FolderListing, list_folder
from cairn.engine.session import open_repository
from cairn.policy import LAST, MONTHS, WEEKDAYS, Policy, policy_to_toml, retention_preview
from cairn.policy.problems import PolicyProblem, problem_of

# Where on a page a refusal about a field is shown: the most specific group naming it.
GROUPS = {
    "items": ("policy.items",),
    "exclusions": ("policy.exclude",),
    "schedule": ("schedule.frequency", "schedule.times", "schedule.days", "schedule.every_weeks",
                 "policy.timezone", "schedule"),
    "retention": ("retention.daily", "retention.weekly", "retention.monthly", "retention.yearly"),
    "initial": ("policy.initial_backup", "offline"),
    "confirm": (),
}  # fmt: skip
_ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def _placed(problem: PolicyProblem | None, step: str) -> str:
    if problem is None or problem.field is None:
        return "top"
    field = problem.field
    naming = [g for g in GROUPS[step] if field == g or field.startswith(g + ".")]
    return max(naming, key=len, default="top")


def _validate(values: sf.Values, now: datetime) -> tuple[Policy | None, PolicyProblem | None]:
    """What `policy set` would set (its `today` too: the machine's local date, from the agent's
    clock), or the refusal and its field."""
    try:
        policy = settings.validate_policy(
            sf.to_tables(values), now.astimezone().date(), allow_missing=values.on("allow_missing")
        )
    except UsageError as e:
        return None, problem_of(str(e))
    return policy, None


def _browse(values: sf.Values) -> tuple[FolderListing | None, str]:
    try:
        return list_folder(values.get("browse") or "/", limit=500), ""
    except UsageError as e:  # said above the listing of the root, so the browser goes on
        try:
            return list_folder("/", limit=500), str(e)
        except UsageError:
            return None, str(e)


def _render(
    request: Request,
    step: str,
    values: sf.Values,
    problem: PolicyProblem | None = None,
    *,
    policy: Policy | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "step": step,
        "steps": [(s, sf.STEP_TITLES[s]) for s in sf.STEPS],
        "step_index": sf.STEPS.index(step),
        "step_title": sf.STEP_TITLES[step],
        "v": values,
        "hidden": values.hidden(step),
        "problem": problem,
        "problem_at": _placed(problem, step),
        "weekdays": WEEKDAYS,
        "months": MONTHS,
        "weeks": sf.WEEKS,
        "days_of_month": sf.DAYS_OF_MONTH,
    }
    if step == "items":
        context["listing"], context["browse_error"] = _browse(values)
    if step == "schedule":
        context["zones"] = _ZONES
    if step == "confirm" and policy is not None:
        preview = retention_preview(policy, host(request).clock.now().astimezone(policy.zone))
        context["chart"] = draw(preview)
        context["toml"] = policy_to_toml(policy)
        context["policy"] = policy
        context["last"] = LAST
    return page(
        request,
        "schedule/wizard.html",
        title="Schedule Backup",
        active="/schedule",
        status_code=status_code,
        **context,
    )


def _start_values(request: Request) -> sf.Values:
    h = host(request)
    try:
        current = settings.load_policy(h.home)
    except CairnError:
        current = None
    if current is None:
        current = default_policy(Path.home(), h.home.path, h.clock)
    return sf.from_policy(current)


async def schedule(request: Request) -> Response:
    if request.method == "GET":
        values = await run_in_threadpool(_start_values, request)
        return _render(request, "items", values)
    form = await read_form(request)
    values = sf.Values.from_form(form)
    step = form.get("step")
    if step not in sf.STEPS:
        step = "items"
    action = form.get("action", "next")
    index = sf.STEPS.index(step)
    if action.startswith("open:") or action == "open_typed":
        folder = action[5:] if action.startswith("open:") else form.get("go_to").strip()
        values.fields["browse"] = [folder]
        return _render(request, step, values)
    if action.startswith("add:") or action == "add_typed":
        path = action[4:] if action.startswith("add:") else form.get("typed_item").strip()
        items = values.getlist("item")
        if path and path not in items:
            values.fields["item"] = [*items, path]
        return _render(request, step, values)
    if action.startswith("remove:"):
        values.fields["item"] = [i for i in values.getlist("item") if i != action[7:]]
        return _render(request, step, values)
    if action == "back":
        return _render(request, sf.STEPS[max(index - 1, 0)], values)
    policy, problem = await run_in_threadpool(_validate, values, host(request).clock.now())
    if problem is not None:
        where = sf.step_of(problem.field, step)
        if action == "finish" or sf.STEPS.index(where) <= index:
            return _render(request, where, values, problem, status_code=400)
    if action == "finish" and policy is not None:
        return await _finish(request, values, policy)
    following = sf.STEPS[min(index + 1, len(sf.STEPS) - 1)]
    if following == "confirm" and policy is None:
        assert problem is not None
        where = sf.step_of(problem.field, step)
        return _render(request, where, values, problem, status_code=400)
    return _render(request, following, values, policy=policy)


async def _finish(request: Request, values: sf.Values, policy: Policy) -> Response:
    h = host(request)

    def save() -> str:
        repo = open_repository(h.home, h.clock)
        settings.save_policy(h.home, repo, policy, h.clock.now())
        return repo.machine

    try:
        machine = await run_in_threadpool(save)
    except CairnError as e:
        return _render(
            request, "confirm", values, PolicyProblem(None, str(e)), policy=policy, status_code=400
        )
    return page(
        request,
        "schedule/done.html",
        title="Schedule Backup",
        active="/schedule",
        machine_name=machine,
        toml=policy_to_toml(policy),
    )


routes: list[BaseRoute] = [Route("/schedule", schedule, methods=["GET", "POST"])]
