"""What the agent hands to a console it serves (the console layer sits above the agent; the
command that starts the agent passes a factory taking a `ConsoleHost`, so no import runs upward).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp

from cairn.agent.jobstore import JobStore
from cairn.agent.logintokens import LoginTokens
from cairn.agent.runner import Runner
from cairn.core.clock import Clock
from cairn.engine.home import Home


@dataclass(frozen=True)
class ConsoleHost:
    home: Home
    clock: Clock
    store: JobStore
    runner: Runner
    tokens: LoginTokens
    status: Callable[[], dict[str, Any]]  # what GET /v1/status answers
    stopping: threading.Event  # set when the agent stops: long-lived streams end


ConsoleFactory = Callable[[ConsoleHost], ASGIApp]
