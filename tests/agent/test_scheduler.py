"""The scheduler driven by a fake clock: weeks of schedule in seconds, with real job history and a
real runner; only the job bodies are stand-ins (they record and complete)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cairn.agent.jobstore import Job, JobStore
from cairn.agent.runner import Outcome, Runner
from cairn.agent.scheduler import CHECK_SHARES, Scheduler
from cairn.core.clock import FixedClock
from cairn.core.events import Reporter
from cairn.policy import Policy, parse_policy
from cairn.policy.schedule import runs_between

THREE_A_DAY = """
[policy]
items = ["/srv"]
timezone = "Europe/Berlin"
start = 2026-10-12

[schedule]
frequency = "daily"
times = ["06:00", "12:00", "18:00"]

[retention.daily]
days = 7
"""


def policy(text: str = THREE_A_DAY) -> Policy:
    return parse_policy(text, default_timezone="UTC", today=date(2026, 10, 12))


class Agentless:
    """A job history, a runner whose jobs only complete, and the scheduler on a fake clock."""

    def __init__(self, tmp_path: Path, p: Policy, start: datetime, fail: bool = False) -> None:
        self.clock = FixedClock(start)
        self.store = JobStore(tmp_path / "jobs.sqlite")
        self.current = p
        self.fail = fail
        self.ran: list[Job] = []
        self.runner = Runner(self.store, self.execute, self.clock, after_job=self.after)
        self.scheduler = Scheduler(self.store, self.runner, lambda: self.current)

    def execute(self, job: Job, reporter: Reporter) -> Outcome:
        self.ran.append(job)
        if self.fail and job.kind == "backup":
            return Outcome("failed", "the vault is unreachable", 1)
        return Outcome("completed", exit_code=0)

    def after(self, job: Job) -> None:
        self.scheduler.after_job(job, self.clock.now())

    def run(
        self,
        start: datetime,
        end: datetime,
        step: timedelta,
        down: tuple[datetime, datetime] | None = None,
    ) -> None:
        t = start
        while t < end:
            if down is None or not (down[0] <= t < down[1]):
                self.clock.set(t)
                self.scheduler.tick(t)
                self.runner.run_pending()
            t += step


def test_three_weeks_three_times_a_day_with_a_shutdown(tmp_path: Path) -> None:
    p = policy()
    start = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)  # crosses the end of DST on 2026-10-25
    end = start + timedelta(days=21)
    down = (datetime(2026, 10, 17, 9, 0, tzinfo=UTC), datetime(2026, 10, 19, 13, 7, tzinfo=UTC))
    a = Agentless(tmp_path, p, start)
    a.run(start, end, timedelta(minutes=5), down)

    slots = runs_between(p, start, end)
    assert len(slots) == 63
    inside = [r for r in slots if down[0] <= r.time < down[1]]
    outside = [r for r in slots if not (down[0] <= r.time < down[1])]
    backups = [j for j in a.ran if j.kind == "backup"]
    # Every slot outside the shutdown ran on time; the newest missed one ran late; none twice.
    assert len(backups) == len(outside) + 1
    assert Counter(j.slot for j in backups).most_common(1)[0][1] == 1
    assert {j.slot for j in backups if j.trigger == "scheduled"} == {str(r.slot) for r in outside}
    late = [j for j in backups if j.trigger == "late"]
    assert [j.slot for j in late] == [str(inside[-1].slot)]
    assert late[0].created == down[1] + timedelta(minutes=3)  # the first tick after the start
    # The earlier missed slots are recorded as missed (failed, for substitution).
    records = {r.slot: r.outcome for r in a.store.slots_since(start)}
    assert {s for s, o in records.items() if o == "missed"} == {str(r.slot) for r in inside[:-1]}
    assert all(records[str(r.slot)] == "succeeded" for r in outside)
    # A scheduled run starts within one tick of its slot.
    for j in backups:
        if j.trigger == "scheduled":
            slot_time = next(r.time for r in slots if str(r.slot) == j.slot)
            assert timedelta(0) <= j.created - slot_time < timedelta(minutes=5)
    # A prune after each day's last scheduled backup: every day but the two whose 18:00 was missed.
    prunes = [j for j in a.ran if j.kind == "prune"]
    last_of_day = {r.slot.date: r for r in slots}
    ran_slots = {j.slot for j in backups}
    assert len(prunes) == sum(1 for r in last_of_day.values() if str(r.slot) in ran_slots) == 19
    # A weekly check, each on the next share of the packs.
    checks = [j for j in a.ran if j.kind == "check"]
    assert [tuple(j.params["subset"]) for j in checks] == [
        (1, CHECK_SHARES),
        (2, CHECK_SHARES),
        (3, CHECK_SHARES),
    ]


def test_every_job_runs_after_the_one_before(tmp_path: Path) -> None:
    p = policy()
    start = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)
    a = Agentless(tmp_path, p, start)
    a.run(start, start + timedelta(days=2), timedelta(minutes=10))
    jobs = sorted(a.store.jobs(), key=lambda j: j.created)
    for before, after in itertools.pairwise(jobs):
        assert before.finished is not None and after.started is not None
        assert before.finished <= after.started


def test_a_new_policy_does_not_make_its_past_slots_missed(tmp_path: Path) -> None:
    start = datetime(2026, 10, 12, 15, 0, tzinfo=UTC)
    a = Agentless(tmp_path, policy(), start)
    nxt = a.scheduler.tick(start)
    a.runner.run_pending()
    assert a.ran == []  # 06:00 and 12:00 today came before the agent knew the policy
    assert nxt == datetime(2026, 10, 12, 16, 0, tzinfo=UTC)  # 18:00 in Berlin (CEST)
    changed = THREE_A_DAY.replace('"06:00", "12:00", "18:00"', '"09:00"')
    a.current = policy(changed)
    later = datetime(2026, 10, 12, 15, 30, tzinfo=UTC)
    a.scheduler.tick(later)
    a.runner.run_pending()
    assert a.ran == []  # 09:00 today was before the change
    a.run(later, datetime(2026, 10, 13, 7, 5, tzinfo=UTC), timedelta(minutes=5))
    assert [(j.kind, j.slot, j.trigger) for j in a.ran[:1]] == [
        ("backup", "2026-10-13T09:00[Europe/Berlin]", "scheduled")
    ]


def test_failed_scheduled_backups_are_recorded_failed(tmp_path: Path) -> None:
    start = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)
    a = Agentless(tmp_path, policy(), start, fail=True)
    a.run(start, start + timedelta(days=1), timedelta(minutes=15))
    outcomes = {r.outcome for r in a.store.slots_since(start)}
    assert outcomes == {"failed"}
    assert all(j.state == "failed" for j in a.store.jobs() if j.kind == "backup")


def test_no_policy_nothing_scheduled(tmp_path: Path) -> None:
    start = datetime(2026, 10, 12, 0, 0, tzinfo=UTC)
    a = Agentless(tmp_path, policy(), start)
    a.current = None  # type: ignore[assignment]
    assert a.scheduler.tick(start) is None
    assert a.store.jobs() == []
