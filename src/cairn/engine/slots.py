"""What became of each scheduled slot, as the agent recorded it: read for the substitution rule.

The agent's job history, CAIRN_HOME/jobs.sqlite (`agent.jobstore` writes it), has a `slots` table:
slot (`Slot` text), instant (UTC, fixed width), outcome (queued / succeeded / failed / missed) and
the job that fills it. This module reads it, read-only, for whichever process runs Back Up Now.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from cairn.core.errors import CairnError
from cairn.engine.home import Home
from cairn.policy import Slot, SlotOutcome
from cairn.policy.substitution import OUTCOMES

JOBS_DB = "jobs.sqlite"
"""The agent's job history in CAIRN_HOME; its `slots` table is read here."""

SUBSTITUTION_LOOKBACK = timedelta(days=40)
"""How far back the slot history is read: beyond the longest gap between two slots a weekly,
monthly or yearly rule keeps (a weekly schedule runs at least every 4 weeks)."""


def recorded_slots(home: Home, since: datetime) -> list[SlotOutcome]:
    """The slot outcomes the agent recorded since `since` (none if it never ran)."""
    path = home.path / JOBS_DB
    if not path.exists():
        return []
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            "SELECT slot, outcome FROM slots WHERE instant >= ? ORDER BY instant",
            (since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),),
        ).fetchall()
    except sqlite3.Error as e:
        raise CairnError(f"cannot read the agent's slot history in {path}: {e}") from None
    finally:
        db.close()
    history = []
    for slot, outcome in rows:
        if outcome not in OUTCOMES:
            continue  # still queued or running: neither failed nor done
        try:
            history.append(SlotOutcome(Slot.parse(slot), outcome))
        except ValueError:
            continue
    return history
