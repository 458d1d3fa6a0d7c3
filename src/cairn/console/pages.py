"""The console's pages: each module in `MODULES` exports `routes: list[BaseRoute]`
(docs/console.md). A new page is a new module and one line here."""

from __future__ import annotations

import importlib

from starlette.routing import BaseRoute

MODULES = [
    "cairn.console.login_pages",
    "cairn.console.status_pages",
    "cairn.console.dashboard_pages",
    "cairn.console.schedule_pages",
    "cairn.console.backup_pages",
    "cairn.console.recover_pages",
    "cairn.console.jobs_pages",
    "cairn.console.properties_pages",
]


def all_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in MODULES:
        module_routes = importlib.import_module(name).routes
        routes.extend(module_routes)
    return routes
