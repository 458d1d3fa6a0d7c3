"""The scheduler with the real engine on a fake clock: recovery points record their slot and
trigger, a late run fills the newest missed slot, Back Up Now substitutes for a failed Saturday,
the daily prune and the weekly check run, and every job's summary is sealed into the vault."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cairn.agent.execute import EngineExecutor
from cairn.agent.jobstore import Job, JobStore
from cairn.agent.runner import Outcome, Runner
from cairn.agent.scheduler import Scheduler
from cairn.core.clock import FixedClock
from cairn.core.errors import StorageError
from cairn.core.events import Reporter
from cairn.engine import settings
from cairn.engine.session import open_repository
from cairn.policy import parse_policy
from tests.conftest import Machine

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
start = 2026-11-26

[schedule]
frequency = "daily"
times = ["06:00", "18:00"]

[retention.daily]
days = 7

[retention.weekly]
days_of_week = ["sat"]
weeks = 4
"""

FAILING_SLOT = "2026-11-28T18:00[UTC]"  # a Saturday: the weekly rule would keep it


class FailOneSlot:
    """The real engine, except that the Saturday 18:00 backup meets a stand-in storage failure."""

    def __init__(self, real: EngineExecutor) -> None:
        self.real = real

    def __call__(self, job: Job, reporter: Reporter) -> Outcome:
        if job.slot == FAILING_SLOT:
            raise StorageError("the vault did not answer (a stand-in failure)")
        return self.real(job, reporter)


def test_scheduled_late_and_substituting_points(machine: Machine, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one\n")
    start = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)  # a Thursday
    clock = FixedClock(start)
    policy = parse_policy(POLICY.format(src=src), default_timezone="UTC", today=date(2026, 11, 26))
    settings.save_policy(machine.home, open_repository(machine.home, clock), policy, start)
    store = JobStore.in_home(machine.home.path)
    executor = FailOneSlot(EngineExecutor(machine.home, clock, store))
    scheduler: Scheduler
    runner = Runner(store, executor, clock, after_job=lambda j: scheduler.after_job(j, clock.now()))
    scheduler = Scheduler(store, runner, lambda: settings.load_policy(machine.home))

    def drive(until: datetime, down: tuple[datetime, datetime] | None = None) -> None:
        t = clock.now()
        while t < until:
            if down is None or not down[0] <= t < down[1]:
                clock.set(t)
                (src / "a.txt").write_text(f"changed at {t}\n")
                scheduler.tick(t)
                runner.run_pending()
            t += timedelta(minutes=30)
        clock.set(until)

    # Thursday 06:00 and 18:00 on time; the agent is down from Friday 05:00 to Saturday 09:00
    # (Friday 06:00 and 18:00, Saturday 06:00 missed: Saturday 06:00 runs late at 09:00).
    drive(
        datetime(2026, 11, 28, 19, 0, tzinfo=UTC),
        down=(datetime(2026, 11, 27, 5, 0, tzinfo=UTC), datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),
    )
    # Saturday 18:00 failed; a Back Up Now at 20:00 takes its place.
    clock.set(datetime(2026, 11, 28, 20, 0, tzinfo=UTC))
    on_demand = runner.submit("backup", "on-demand", {"retain_until": None})
    runner.run_pending()
    assert store.get(on_demand.id).state == "completed", store.get(on_demand.id).error

    repo = open_repository(machine.home, clock)
    points = repo.list_points()
    facts = [(p.trigger, p.slot, p.substitutes) for p in points]
    assert facts == [
        ("scheduled", "2026-11-26T06:00[UTC]", None),
        ("scheduled", "2026-11-26T18:00[UTC]", None),
        ("late", "2026-11-28T06:00[UTC]", None),
        ("on-demand", None, FAILING_SLOT),
    ]
    records = {r.slot: r.outcome for r in store.slots_since(start)}
    assert records == {
        "2026-11-26T06:00[UTC]": "succeeded",
        "2026-11-26T18:00[UTC]": "succeeded",
        "2026-11-27T06:00[UTC]": "missed",
        "2026-11-27T18:00[UTC]": "missed",
        "2026-11-28T06:00[UTC]": "succeeded",
        FAILING_SLOT: "failed",
    }
    failed = [j for j in store.jobs(status="failed")]
    assert [j.slot for j in failed] == [FAILING_SLOT]
    assert "stand-in failure" in (failed[0].error or "")
    kinds = [j.kind for j in sorted(store.jobs(), key=lambda j: j.created)]
    # A prune after Thursday's last backup (then the first weekly check share), and after
    # Saturday's (whose last slot failed, but time passed all the same).
    assert kinds.count("prune") == 2 and kinds.count("check") == 1
    assert all(j.state == "completed" for j in store.jobs() if j.kind in ("prune", "check"))
    # Every job that opened the vault left its summary there.
    sealed = set(repo.job_ids())
    ran = {j.id for j in store.jobs() if j.slot != FAILING_SLOT}
    assert ran <= sealed
    assert repo.load_job(on_demand.id)["recovery_point"] == points[-1].id
    machine.check_clean()
