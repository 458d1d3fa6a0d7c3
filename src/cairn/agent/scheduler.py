"""The scheduler: which backups, prunes and checks are due, decided from the policy, the slot history
and `now` (passed in, so tests drive weeks of schedule in seconds).

- Each slot of the schedule is handled once. At a tick, the slots that came since the last handled
  one and have no record are due: the newest runs now ("scheduled" if it is at most `ON_TIME`
  old, else "late": the agent was not running, or the machine slept), and every earlier one is
  recorded "missed", which counts as failed for the substitution rule.
- The count starts when the agent first sees a policy, and again when the policy changes, so a
  new or changed policy never makes its past slots look missed.
- While `hold()` gives a reason (an offline initial backup awaiting import), due slots are
  recorded "waiting" (neither failed nor done) and nothing is queued; the reason is kept in the
  notes (`waiting`) for the agent's status.
- After the last scheduled backup of a local day, a prune follows; after a prune, a check of the
  next share of the packs (`check --read-data-subset k/CHECK_SHARES`) if none ran for a week, so
  all the data is read every `CHECK_SHARES` weeks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from cairn.agent.jobstore import Job, JobStore, stamp, unstamp
from cairn.policy import Policy, policy_to_json
from cairn.policy.schedule import Slot, runs_after, runs_between

ON_TIME = timedelta(minutes=10)
CHECK_EVERY = timedelta(days=7)
CHECK_SHARES = 4


class Submitter(Protocol):
    def submit(
        self,
        kind: str,
        trigger: str,
        params: dict[str, Any] | None = None,
        slot: str | None = None,
    ) -> Job: ...


def fingerprint(policy: Policy) -> str:
    text = json.dumps(policy_to_json(policy), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Scheduler:
    def __init__(
        self,
        store: JobStore,
        jobs: Submitter,
        policy: Callable[[], Policy | None],
        hold: Callable[[], str | None] | None = None,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.policy = policy
        self.hold = hold

    def tick(self, now: datetime) -> datetime | None:
        """Queue what is due at `now`; return when the next slot runs (None: nothing scheduled)."""
        policy = self.policy()
        if policy is None:
            return None
        since = self._since(policy, now)
        handled = {r.slot for r in self.store.slots_since(since)}
        due = [
            run
            for run in runs_between(policy, since, now + timedelta(microseconds=1))
            if str(run.slot) not in handled
        ]
        waiting = self.hold() if due and self.hold is not None else None
        if waiting is not None:
            for run in due:
                self.store.record_slot(str(run.slot), run.time, "waiting")
            self.store.set_meta("since", stamp(due[-1].time))
            self.store.set_meta("waiting", waiting)
        elif due:
            self.store.set_meta("waiting", "")
            *missed, newest = due
            for run in missed:
                self.store.record_slot(str(run.slot), run.time, "missed")
            trigger = "scheduled" if now - newest.time <= ON_TIME else "late"
            job = self.jobs.submit("backup", trigger, slot=str(newest.slot))
            self.store.record_slot(str(newest.slot), newest.time, "queued", job.id)
            self.store.set_meta("since", stamp(newest.time))
        following = runs_after(policy, now, 1)
        return following[0].time if following else None

    def _since(self, policy: Policy, now: datetime) -> datetime:
        mark = fingerprint(policy)
        since = self.store.get_meta("since")
        if since is None or self.store.get_meta("policy") != mark:
            self.store.set_meta("policy", mark)
            self.store.set_meta("since", stamp(now))
            return now
        return unstamp(since)

    def after_job(self, job: Job, now: datetime) -> None:
        """A prune after the day's last scheduled backup; a weekly check share after a prune."""
        policy = self.policy()
        if policy is None or job.trigger == "on-demand":
            return
        if job.kind == "backup" and job.slot is not None:
            slot = Slot.parse(job.slot)
            following = runs_after(policy, slot.instant(), 1)
            if not following or following[0].slot.date != slot.date:
                self.jobs.submit("prune", "scheduled")
        elif job.kind == "prune":
            last = self.store.get_meta("last_check")
            if last is not None and now - unstamp(last) < CHECK_EVERY - timedelta(hours=1):
                return
            share = int(self.store.get_meta("check_next") or 1)
            self.jobs.submit("check", "scheduled", {"subset": [share, CHECK_SHARES]})
            self.store.set_meta("check_next", str(share % CHECK_SHARES + 1))
            self.store.set_meta("last_check", stamp(now))
