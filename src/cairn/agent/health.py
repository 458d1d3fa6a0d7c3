"""The stale-backup warning: scheduled backups that failed or were missed (the agent's record of
every slot) since the last one that succeeded. `cairn agent status` and the console's dashboard
show it; None when all is well."""

from __future__ import annotations

from datetime import datetime, timedelta

from cairn.agent.jobstore import JobStore

LOOKBACK = timedelta(days=400)


def stale_warning(store: JobStore, now: datetime) -> str | None:
    slots = store.slots_since(now - LOOKBACK)
    succeeded = [s for s in slots if s.outcome == "succeeded"]
    since = succeeded[-1].instant if succeeded else None
    bad = [
        s
        for s in slots
        if s.outcome in ("failed", "missed") and (since is None or s.instant > since)
    ]
    if not bad:
        return None
    count = f"{len(bad)} scheduled backup{'s' if len(bad) > 1 else ''}"
    newest = bad[-1].instant.astimezone().strftime("%Y-%m-%d %H:%M")
    if since is None:
        return (
            f"no scheduled backup has succeeded yet: {count} failed or missed, the last at {newest}"
        )
    last = since.astimezone().strftime("%Y-%m-%d %H:%M")
    return (
        f"the backups are stale: the last scheduled backup that succeeded ran at {last};"
        f" {count} since then failed or were missed, the last at {newest}"
    )
