"""kill -9 of a real backup process at any moment leaves a vault that checks clean, and the next
backup completes, reusing the packs the killed one wrote; and issue 16's 100 kills across backup,
prune, passphrase change and the agent (below), each followed by check, a completing run and
restores against the copy of the source each point was taken from."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.agent.client import AgentClient
from cairn.codec.kdf import KdfParams
from cairn.core.clock import SystemClock
from cairn.core.errors import CairnError
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.crashpoint import ENV
from cairn.engine.home import Home
from cairn.engine.passphrase import change_passphrase
from cairn.engine.prune import prune
from cairn.engine.restore import RestoreOptions, restore
from cairn.engine.session import open_repository
from cairn.storage.local import LocalBlobStore
from cairn.vault.vault import Vault
from tests.cli.conftest import Cli
from tests.conftest import PASSPHRASE as MACHINE_PASSPHRASE
from tests.conftest import Machine, tree_digest
from tests.reliability import record, scale

pytestmark = pytest.mark.slow


def make_source(src: Path, files: int, size: int) -> int:
    src.mkdir()
    rnd = random.Random(7)
    for i in range(files):
        (src / f"f{i:02d}.bin").write_bytes(rnd.randbytes(size))
    (src / "small").mkdir()
    for i in range(200):
        (src / "small" / f"s{i}.txt").write_text(f"small file {i}\n" * 20)
    return files * size


def start_backup(cli: Cli, src: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cairn.cli.main", "backup", str(src), "--json"],
        env=cli.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_tree(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def packs(vault: Path) -> list[Path]:
    """Complete packs (a pack being written is a hidden temp file until it is renamed)."""
    return [p for p in vault.glob("machines/*/packs/*/*") if not p.name.startswith(".")]


def test_kill_after_packs_were_written_then_next_backup_reuses_them(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    total = make_source(src, files=10, size=8 << 20)
    vault = tmp_path / "vault"
    proc = start_backup(registered, src)
    deadline = time.monotonic() + 60
    while len(packs(vault)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, (
        "the backup finished before it could be killed: make the source larger"
    )
    kill_tree(proc)
    assert len(packs(vault)) >= 2
    stored = sum(p.stat().st_size for p in packs(vault))
    assert stored >= 4 << 20
    assert json.loads(registered.run("recovery-points", "--json").stdout) == []
    registered.run("check", "--read-data")
    out = json.loads(registered.run("backup", str(src), "--json").stdout)
    assert out["status"] == "completed"
    # The packs the killed backup wrote were indexed, not uploaded again (their bytes are the
    # random chunks they hold, plus a little framing; the small files may come on top).
    assert out["stats"]["bytes_added"] <= total - stored + (1 << 20)
    registered.run("check", "--read-data")
    restored = tmp_path / "r"
    registered.run("restore", "latest", "--target", str(restored))
    for f in sorted(src.glob("*.bin")):
        assert (restored / str(f).lstrip("/")).read_bytes() == f.read_bytes()


@pytest.mark.parametrize("seed", range(4))
def test_kill_at_random_moments_leaves_a_consistent_vault(
    registered: Cli, tmp_path: Path, seed: int
) -> None:
    src = tmp_path / "src"
    make_source(src, files=6, size=6 << 20)
    rnd = random.Random(seed)
    for _ in range(3):
        proc = start_backup(registered, src)
        time.sleep(rnd.uniform(0.05, 1.5))
        if proc.poll() is None:
            kill_tree(proc)
        else:
            proc.communicate()
        registered.run("check", "--read-data")
    out = json.loads(registered.run("backup", str(src), "--json").stdout)
    assert out["status"] == "completed"
    registered.run("check", "--read-data")


# --- kill -9 at 100 points (issue 16): backup, prune, passphrase change and the agent --------
#
# Half of the kills come at a random moment, half right after the k-th write to the vault or to
# CAIRN_HOME (engine/crashpoint.py), k taking every value in turn until a run completes, so every
# write of each command is a place it dies at. The command runs in a forked child (the engine, as
# the CLI's own process runs it; the agent as a real `cairn agent run`), killed with its whole
# process group. After each kill: `check --read-data` is clean, the next run completes, and every
# recovery point restores bit-identical to the copy of the source taken when it was made.

Digest = dict[str, tuple[str, str]]
EVERY_POINT = bool(scale("restore_every_point", 0))  # the soak restores every point every time


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 loses no written byte (the page cache survives the process): fsync only costs time
    here (the forked children inherit the patch)."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@dataclass
class Kills:
    timed: int = 0
    at_write: int = 0
    finished: int = 0
    restores: int = 0

    @property
    def total(self) -> int:
        return self.timed + self.at_write


def run_child(op: Callable[[], object], *, after_writes: int = 0, delay: float = -1.0) -> bool:
    """Run `op` in a forked child; kill it (and its workers) after `delay` seconds, or let the
    test hook kill it after its `after_writes`-th write. Whether it died of SIGKILL."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.setpgid(0, 0)
            if after_writes:
                os.environ[ENV] = str(after_writes)
            op()
            code = 0
        finally:
            os._exit(code)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    deadline = time.monotonic() + (delay if delay >= 0 else 120)
    # Until it is reaped, the child's pid (its process group's id) cannot be reused, so the group
    # it leads (its backup workers) is killed before the child is reaped, never after.
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
        time.sleep(0.002)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0 and not after_writes:
        raise AssertionError(f"the child failed without being killed ({status})")
    # Killed by the hook in a worker process, the parent fails: a crash of the command as well.
    return os.WIFSIGNALED(status) or (after_writes > 0 and os.WEXITSTATUS(status) != 0)


def verify(
    machine: Machine, digests: dict[str, Digest], src: Path, kills: Kills, every: bool
) -> None:
    """check --read-data clean, and recovery points restore to their copies of the source: every
    one when `every`, else the newest and two others (check has read every blob all the same;
    points are never rewritten)."""
    machine.check_clean()
    repo = machine.repo()
    points = repo.list_points()
    if not every and len(points) > 3:
        points = [points[-1], *random.Random(len(digests)).sample(points[:-1], 2)]
    for point in points:
        target = machine.tmp / "verify"
        out = restore(repo, point, RestoreOptions(target=str(target), workers=1))
        assert out.damaged == []
        assert tree_digest(target / str(src).lstrip("/")) == digests[point.id], point.id
        shutil.rmtree(target)
        kills.restores += 1


def note_points(machine: Machine, digests: dict[str, Digest], digest: Digest) -> None:
    for pid in machine.repo().point_ids():
        digests.setdefault(pid, digest)


def change_small(src: Path, rng: random.Random) -> None:
    src.mkdir(exist_ok=True)
    for _ in range(2):
        name = src / f"f{rng.randrange(6)}.bin"
        name.write_bytes(rng.randbytes(rng.choice([10, 2_000, 300_000])))
    (src / "note.txt").write_text(f"note {rng.random()}\n")


def kill_loop(
    machine: Machine,
    kills: Kills,
    count: int,
    prepare: Callable[[], Digest],
    op: Callable[[], object],
    rng: random.Random,
    after: Callable[[bool], None],
    digests: dict[str, Digest],
    src: Path,
) -> None:
    """`count` kills of `op`, alternating timed and at-a-write; `prepare` sets up each run and
    gives the source's digest for the points it may make; `after(killed)` completes the run."""
    k = 1
    digest = prepare()
    t0 = time.monotonic()
    assert not run_child(op)  # a whole run first: how long one takes, for the timed kills
    op_time = time.monotonic() - t0
    note_points(machine, digests, digest)
    while kills.total < count:
        digest = prepare()
        if kills.total % 2 == 0:
            t0 = time.monotonic()
            killed = run_child(op, delay=rng.uniform(0, op_time * 1.2))
            if not killed:
                op_time = max(op_time, time.monotonic() - t0)
            kills.timed += killed
        else:
            killed = run_child(op, after_writes=k)
            k = k + 1 if killed else 1
            kills.at_write += killed
        kills.finished += not killed
        note_points(machine, digests, digest)
        after(killed)
        note_points(machine, digests, digest)
        verify(machine, digests, src, kills, every=kills.total >= count or EVERY_POINT)


def test_kill_9_at_every_moment_of_backup_and_prune(machine: Machine, no_fsync: None) -> None:
    rng = random.Random(16)
    src = machine.tmp / "src"
    digests: dict[str, Digest] = {}
    kills = Kills()
    home = machine.home

    def prepare_backup() -> Digest:
        change_small(src, rng)
        return tree_digest(src)

    def run_backup() -> object:
        return backup(open_repository(home, SystemClock()), BackupOptions([str(src)], workers=1))

    def next_backup(killed: bool) -> None:
        if killed:  # the next run completes
            run_backup()

    kill_loop(
        machine,
        kills,
        scale("kills_backup", 40),  # of the 100 kills: 40 + 40 here, 10 + 10 below
        prepare_backup,
        run_backup,
        rng,
        next_backup,
        digests,
        src,
    )
    backups = kills.total

    def prepare_prune() -> Digest:
        change_small(src, rng)
        digest = tree_digest(src)
        run_backup()
        note_points(machine, digests, digest)
        return digest

    def run_prune() -> object:
        repo = open_repository(home, SystemClock())
        expired = {p.id for p in repo.list_points()[:-3]}
        return prune(repo, expired, now=datetime.now(UTC), grace=timedelta(0))

    def next_prune(killed: bool) -> None:
        if killed:
            run_prune()
        assert len(machine.repo().list_points()) <= 3

    kill_loop(
        machine,
        kills,
        backups + scale("kills_prune", 40),
        prepare_prune,
        run_prune,
        rng,
        next_prune,
        digests,
        src,
    )
    record("kill9-backup-prune", kills=kills.total, timed=kills.timed, at_write=kills.at_write)
    record("kill9-restores", restores=kills.restores, completed_runs=kills.finished)
    assert kills.timed >= kills.total // 2 - 1 and kills.at_write >= kills.total // 2 - 1


def test_kill_9_at_every_moment_of_a_passphrase_change(
    machine: Machine, no_fsync: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cheapest key derivation a reader accepts: what is tested is the order of the writes.
    cheap = KdfParams("argon2id", b"", iterations=1, memory_kib=8 * 1024, lanes=1)
    monkeypatch.setattr(
        KdfParams, "default", classmethod(lambda cls: replace(cheap, salt=os.urandom(16)))
    )
    rng = random.Random(17)
    src = machine.tmp / "src"
    change_small(src, rng)
    first = backup(machine.repo(), BackupOptions([str(src)], workers=1)).point
    digests = {first.id: tree_digest(src)}
    kills = Kills()
    phrases = [MACHINE_PASSPHRASE]

    def prepare() -> Digest:
        phrases.append(f"passphrase number {len(phrases)} of this test")
        return digests[first.id]

    def run_change() -> object:
        return change_passphrase(
            machine.home, SystemClock(), passphrase=phrases[-2], new_passphrase=phrases[-1]
        )

    def after(killed: bool) -> None:
        new = unlocks(machine, phrases[-1])
        assert new or unlocks(machine, phrases[-2]), "neither passphrase opens the store"
        if not killed:
            assert new
        else:  # the next change completes, from whichever opens it
            current = phrases[-1] if new else phrases[-2]
            phrases.append(f"passphrase number {len(phrases)} of this test")
            change_passphrase(
                machine.home, SystemClock(), passphrase=current, new_passphrase=phrases[-1]
            )

    kill_loop(
        machine, kills, scale("kills_passphrase", 10), prepare, run_change, rng, after, digests, src
    )
    record("kill9-passphrase", kills=kills.total, timed=kills.timed, at_write=kills.at_write)


def unlocks(machine: Machine, passphrase: str) -> bool:
    """Whether the vault alone (CAIRN_HOME lost) opens with this passphrase."""
    try:
        Vault(LocalBlobStore(str(machine.vault)), SystemClock()).unlock("testbox", passphrase)
    except CairnError:
        return False
    return True


def start_agent(cli: Cli, after_writes: int = 0) -> subprocess.Popen[str]:
    """An agent whose output goes to CAIRN_HOME's sibling `agent.log` (a pipe nobody reads could
    fill and stop it), so a test that waits for it in vain can say what it did."""
    extra = {ENV: str(after_writes)} if after_writes else {}
    with (cli.home.parent / "agent.log").open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cairn.cli.main", "agent", "run", "--no-setup"],
            env=cli.environ(**extra),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def stop_agent(cli: Cli, proc: subprocess.Popen[str], sig: int) -> None:
    """Send `sig` to the agent's process group and wait for it, at most a minute."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        tail = (cli.home.parent / "agent.log").read_text(errors="replace")[-4000:]
        raise AssertionError(
            f"the agent did not stop within 60 s of signal {sig}:\n{tail}"
        ) from None


def exited(proc: subprocess.Popen[str]) -> bool:
    """Whether it has exited, without reaping it: its process group is killed only while its pid
    cannot have been given to another process."""
    return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def agent_client(cli: Cli, proc: subprocess.Popen[str]) -> AgentClient | None:
    """The running agent's client, or None if the agent died first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if exited(proc):
            return None
        client = AgentClient.find(cli.home)
        if client is not None:
            with contextlib.suppress(Exception):
                client.jobs()
                return client
        time.sleep(0.02)
    raise AssertionError("the agent did not start")


def test_kill_9_at_every_moment_of_the_agent_running_a_backup(
    registered: Cli, tmp_path: Path
) -> None:
    rng = random.Random(18)
    src = tmp_path / "src"
    home = Home(registered.home)
    machine = Machine(home, tmp_path / "vault", tmp_path)
    digests: dict[str, Digest] = {}
    kills = Kills()
    count = scale("kills_agent", 10)
    k, job_time = 1, 0.5
    while kills.total < count:
        change_small(src, rng)
        digest = tree_digest(src)
        timed = kills.total % 2 == 0
        proc = start_agent(registered, 0 if timed else k)
        client = agent_client(registered, proc)
        job_id = None
        if client is not None:
            with contextlib.suppress(Exception):  # the agent may die under the request
                job_id = client.submit("backup", {"paths": [str(src)]}).id
            t0 = time.monotonic()
            deadline = t0 + (rng.uniform(0, job_time * 1.2) if timed else 120)
            while not exited(proc) and time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    if job_id and client.job(job_id).done:
                        job_time = max(job_time, time.monotonic() - t0)
                        break
                time.sleep(0.01)
        killed = exited(proc) or (timed and not (job_id and client_done(client, job_id)))
        stop_agent(registered, proc, signal.SIGKILL if killed else signal.SIGTERM)
        if killed:
            kills.timed += timed
            kills.at_write += not timed
            k += 1
        else:
            kills.finished += 1
            k = 1
        note_points(machine, digests, digest)
        # The next agent marks a killed job failed, and its backup completes.
        proc = start_agent(registered)
        client = agent_client(registered, proc)
        assert client is not None
        if job_id is not None and killed:
            job = client.job(job_id)
            assert job.done and (job.state != "completed" or job.recovery_point), job
        again = client.submit("backup", {"paths": [str(src)]})
        deadline = time.monotonic() + 120
        while not (job := client.job(again.id)).done:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert job.state == "completed", job.error
        stop_agent(registered, proc, signal.SIGTERM)
        note_points(machine, digests, digest)
        verify(machine, digests, src, kills, every=kills.total >= count or EVERY_POINT)
    record("kill9-agent", kills=kills.total, timed=kills.timed, at_write=kills.at_write)


def client_done(client: AgentClient | None, job_id: str) -> bool:
    try:
        return client is not None and client.job(job_id).done
    except Exception:
        return False
