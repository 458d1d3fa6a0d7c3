"""Concurrency: two backups of one machine at once, a backup during prune, two machines pruning one
vault. No data is lost, the one that must wait gets a clear "locked" (exit 11), and prune removes
the stale locks of processes that are gone."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.core.errors import EXIT_LOCKED
from cairn.core.ids import random_id
from cairn.engine.home import Home
from cairn.engine.session import open_repository
from cairn.vault.locks import STALE_AFTER, LockRecord
from cairn.vault.repository import Repository
from tests.cli.conftest import PASSPHRASE, Cli
from tests.conftest import tree_digest

pytestmark = pytest.mark.slow


def make_source(root: Path, seed: int, files: int = 30) -> Path:
    rnd = random.Random(seed)
    (root / "sub").mkdir(parents=True)
    for i in range(files):
        (root / ("sub" if i % 3 else ".") / f"f{i}.bin").write_bytes(
            rnd.randbytes(rnd.randint(1, 300_000))
        )
    return root


def repo_of(cli: Cli) -> Repository:
    return open_repository(Home(cli.home), SystemClock())


def lock_names(repo: Repository) -> set[str]:
    return {b.name.rsplit("/", 1)[1] for b in repo.store.list(repo.layout.prefix("locks"))}


def start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cairn.cli.main", *args],
        env=cli.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cairn.core.clock import SystemClock
    from cairn.engine.home import Home
    from cairn.engine.session import open_repository

    repo = open_repository(Home(Path(sys.argv[1])), SystemClock())
    with repo.locks.acquire(exclusive=sys.argv[2] == "exclusive", purpose=sys.argv[3]):
        print("held", flush=True)
        sys.stdin.read()  # until the test closes our stdin
    """
)


@pytest.fixture
def holder(registered: Cli) -> Iterator[object]:
    """Start a process that holds a lock on the registered machine's store until the test ends,
    as a long backup (shared) or prune (exclusive) would."""
    procs: list[subprocess.Popen[str]] = []

    def hold(kind: str, purpose: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(registered.home), kind, purpose],
            env=registered.environ(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        return proc

    yield hold
    for proc in procs:
        proc.communicate(timeout=30)  # closes stdin: the lock is released


def test_two_backups_of_one_machine_at_once_both_complete_and_restore(
    registered: Cli, tmp_path: Path
) -> None:
    a = make_source(tmp_path / "a", seed=1)
    b = make_source(tmp_path / "b", seed=2)
    procs = [start(registered, "backup", str(a), "--json"), start(registered, "backup", str(b))]
    results = [finish(p) for p in procs]

    assert [r[0] for r in results] == [0, 0], results
    points = json.loads(registered.run("recovery-points", "--json").stdout)
    assert len(points) == 2
    registered.run("check", "--read-data")
    for point in points:
        target = tmp_path / f"r-{point['id'][:8]}"
        registered.run("restore", point["id"], "--target", str(target))
        source = a if (target / a.relative_to("/")).exists() else b
        assert tree_digest(target / source.relative_to("/")) == tree_digest(source)
    assert lock_names(repo_of(registered)) == set()


def test_a_backup_while_prune_holds_its_lock_is_refused_as_locked(
    registered: Cli, tmp_path: Path, holder: object
) -> None:
    src = make_source(tmp_path / "src", seed=3, files=3)
    holder("exclusive", "prune")  # type: ignore[operator]

    proc = registered.run("backup", str(src), expect=EXIT_LOCKED)

    assert "locked by prune" in proc.stderr
    assert "wait for it to finish" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_prune_while_a_backup_runs_is_refused_as_locked_and_deletes_nothing(
    registered: Cli, tmp_path: Path, holder: object
) -> None:
    src = make_source(tmp_path / "src", seed=4, files=5)
    registered.run("backup", str(src))
    vault = tmp_path / "vault"
    before = sorted(p.name for p in vault.rglob("*") if p.is_file())
    holder("shared", "backup")  # type: ignore[operator]

    proc = registered.run("prune", "--grace-hours", "0", expect=EXIT_LOCKED)

    assert "locked by backup" in proc.stderr
    after = sorted(p.name for p in vault.rglob("*") if p.is_file())
    assert set(before) <= set(after)  # the holder's lock came on top; nothing went


def test_a_backup_during_a_real_prune_never_loses_data(registered: Cli, tmp_path: Path) -> None:
    # The two race for real: whichever takes its lock second must wait (exit 11) or, if the
    # other was done by then, succeed. Either way every point that exists restores whole.
    src = make_source(tmp_path / "src", seed=5)
    registered.run("backup", str(src))
    (src / "new.bin").write_bytes(random.Random(6).randbytes(500_000))
    for _ in range(3):
        procs = [
            start(registered, "prune", "--grace-hours", "0"),
            start(registered, "backup", str(src)),
        ]
        codes = [finish(p)[0] for p in procs]
        assert set(codes) <= {0, EXIT_LOCKED}, codes
    registered.run("backup", str(src))
    registered.run("check", "--read-data")
    target = tmp_path / "r"
    registered.run("restore", "latest", "--target", str(target))
    assert tree_digest(target / src.relative_to("/")) == tree_digest(src)


def test_two_machines_pruning_one_vault_at_once_both_complete(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    machines = [Cli(tmp_path / f"home-{name}") for name in ("m1", "m2")]
    machines[0].run("vault", "create", str(vault))
    sources = []
    for i, (cli, name) in enumerate(zip(machines, ("m1", "m2"), strict=True)):
        cli.run("register", str(vault), "--machine", name)
        src = make_source(tmp_path / f"src-{name}", seed=10 + i)
        cli.run("backup", str(src))
        (src / "f0.bin").unlink()  # so the second point leaves data unreferenced to prune
        cli.run("backup", str(src))
        sources.append(src)

    for _ in range(2):  # the first run marks the unreferenced packs, the second deletes them
        procs = [start(cli, "prune", "--grace-hours", "0") for cli in machines]
        results = [finish(p) for p in procs]
        assert [r[0] for r in results] == [0, 0], results

    for cli, src in zip(machines, sources, strict=True):
        cli.run("check", "--read-data")
        target = tmp_path / f"r-{cli.home.name}"
        cli.run("restore", "latest", "--target", str(target))
        assert tree_digest(target / src.relative_to("/")) == tree_digest(src)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_prune_removes_stale_locks_and_keeps_none_of_its_own(registered: Cli) -> None:
    repo = repo_of(registered)
    now = repo.clock.now()
    here = repo.locks.host
    stale = [
        LockRecord(random_id(), here, dead_pid(), False, "backup", now),  # its process is gone
        LockRecord(random_id(), "other-host.example", 4242, True, "prune", now - STALE_AFTER * 2),
        LockRecord(random_id(), here, os.getpid(), False, "restore", now - timedelta(days=2)),
    ]
    for record in stale:
        repo.locks.write(record, record.time)
    assert lock_names(repo) == {r.lock_id for r in stale}

    out = json.loads(registered.run("prune", "--json").stdout)

    assert lock_names(repo) == set()
    assert out["stale_locks_removed"] == 3
    registered.run("check")


def test_prune_keeps_a_lock_that_is_not_stale_and_says_it_is_locked(registered: Cli) -> None:
    repo = repo_of(registered)
    now = repo.clock.now()
    live = LockRecord(random_id(), "other-host.example", 4242, False, "backup", now)
    repo.locks.write(live, now)
    stale = LockRecord(
        random_id(), "other-host.example", 4243, False, "backup", now - 2 * STALE_AFTER
    )
    repo.locks.write(stale, stale.time)

    proc = registered.run("prune", expect=EXIT_LOCKED)

    assert "other-host.example" in proc.stderr
    assert lock_names(repo) == {live.lock_id, stale.lock_id}  # prune without its lock touches none


def test_a_dry_run_prune_removes_no_lock(registered: Cli) -> None:
    repo = repo_of(registered)
    record = LockRecord(random_id(), repo.locks.host, dead_pid(), False, "backup", repo.clock.now())
    repo.locks.write(record, record.time)

    registered.run("prune", "--dry-run")

    assert lock_names(repo) == {record.lock_id}


def test_a_locked_backup_names_the_holder_and_no_secret(registered: Cli, tmp_path: Path) -> None:
    src = make_source(tmp_path / "src", seed=7, files=2)
    repo = repo_of(registered)
    live = LockRecord(random_id(), "other-host.example", 4242, True, "prune", repo.clock.now())
    repo.locks.write(live, live.time)

    proc = registered.run("backup", str(src), expect=EXIT_LOCKED)

    assert PASSPHRASE not in proc.stderr + proc.stdout
    assert live.lock_id[:8] in proc.stderr
