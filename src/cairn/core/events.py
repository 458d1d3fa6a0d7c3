"""Typed progress events. The engine emits them; the CLI and the console render them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cairn.core.errors import Interrupted


@dataclass(slots=True)
class Progress:
    """Where a long job stands. `total_*` are None while the walk is still counting.
    `limit_bps` is the throttle's limit in force (bits per second), None when not throttled."""

    phase: str
    files_done: int = 0
    bytes_done: int = 0
    files_total: int | None = None
    bytes_total: int | None = None
    bytes_stored: int = 0
    current: str = ""
    limit_bps: int | None = None


@dataclass(frozen=True, slots=True)
class Warning_:
    """A per-item problem that did not stop the job (an unreadable file, a changed file)."""

    path: str
    message: str


@dataclass(slots=True)
class Reporter:
    """Callbacks for progress and warnings; both optional. `cancel`, when set by another thread,
    asks the job to stop at its next safe point (`stop_if_cancelled` raises `Interrupted`)."""

    on_progress: Callable[[Progress], None] | None = None
    on_warning: Callable[[Warning_], None] | None = None
    warnings: list[Warning_] = field(default_factory=list)
    cancel: threading.Event | None = None

    def stop_if_cancelled(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Interrupted("cancelled")

    def progress(self, p: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(p)

    def warn(self, path: str, message: str) -> None:
        w = Warning_(path, message)
        self.warnings.append(w)
        if self.on_warning is not None:
            self.on_warning(w)
