"""Server-Sent Events: `stream(request, produce)` answers `text/event-stream`, calling `produce()`
(in a thread: it may read the job history) every `every_s` and sending each new value as one
event; `produce` returns `(event name, JSON-able data, last)`; the stream ends after `last`, when
the browser goes away, or when the agent stops (the browser's EventSource then reconnects).
A `CairnError` from `produce` ends the stream with a `gone` event carrying its message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from cairn.console.render import host
from cairn.core.errors import CairnError

Produce = Callable[[], tuple[str, Any, bool]]
RETRY_MS = 2000
HEARTBEAT_S = 15.0


def stream(request: Request, produce: Produce, every_s: float = 0.5) -> StreamingResponse:
    stopping = host(request).stopping

    async def events() -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        previous: str | None = None
        quiet = 0.0
        while not stopping.is_set():
            try:
                name, data, last = await run_in_threadpool(produce)
            except CairnError as e:  # the job went (purged), the history cannot be read
                yield f"event: gone\ndata: {json.dumps(str(e))}\n\n"
                return
            text = json.dumps(data, default=str)
            if text != previous:
                previous, quiet = text, 0.0
                yield f"event: {name}\ndata: {text}\n\n"
            elif quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield ": alive\n\n"
            if last or await request.is_disconnected():
                return
            await asyncio.sleep(every_s)
            quiet += every_s

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
