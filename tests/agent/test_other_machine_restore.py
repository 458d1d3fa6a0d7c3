"""A restore job of another machine's point: its passphrase only in the agent's memory, taken
once; an agent that forgot it fails the job saying to start again; the job's parameters are
checked when it is asked for."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cairn.agent.api import check_params
from cairn.agent.execute import EngineExecutor
from cairn.agent.jobsecrets import JobSecrets
from cairn.agent.jobstore import JobStore
from cairn.agent.runner import Runner
from cairn.core.clock import SystemClock
from cairn.core.errors import UsageError
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.credentials import VaultCredentials, write_file
from cairn.engine.home import Home
from cairn.engine.restore_plan import current_umask
from cairn.engine.session import open_repository, register
from tests.conftest import Machine

LAPTOP = "the laptop's own passphrase"


def _laptop_point(machine: Machine, tmp_path: Path) -> tuple[Path, Path]:
    creds = tmp_path / "creds.json"
    vault_id = machine.home.registration().vault_id
    write_file(creds, VaultCredentials(str(machine.vault), vault_id, "t", {}))
    laptop = Home(tmp_path / "laptop")
    register(laptop, None, SystemClock(), credentials_file=creds, machine="laptop",
             passphrase=LAPTOP)  # fmt: skip
    src = tmp_path / "laptop-files"
    src.mkdir()
    (src / "thesis.txt").write_text("thesis")
    (src / "thesis.txt").chmod(0o600)
    backup(open_repository(laptop, SystemClock()), BackupOptions([str(src)]))
    return creds, src


def test_the_passphrase_is_taken_once_from_memory(machine: Machine, tmp_path: Path) -> None:
    creds, src = _laptop_point(machine, tmp_path)
    clock = SystemClock()
    store = JobStore.in_home(machine.home.path)
    secrets = JobSecrets()
    runner = Runner(store, EngineExecutor(machine.home, clock, store, secrets=secrets), clock)
    target = tmp_path / "out"
    source = {"credentials_file": str(creds), "machine": "Laptop",
              "passphrase_ref": secrets.put(LAPTOP)}  # fmt: skip
    params = check_params(
        "restore", {"target": str(target), "source": source, "permissions": False}
    )
    assert params["source"]["machine"] == "laptop" and LAPTOP not in repr(params)
    job = runner.submit("restore", "on-demand", params)
    runner.run_pending()
    assert store.get(job.id).state == "completed", store.get(job.id).error
    restored = target / str(src).lstrip("/") / "thesis.txt"
    assert restored.read_text() == "thesis"
    assert stat.S_IMODE(restored.stat().st_mode) == 0o666 & ~current_umask()
    again = runner.submit("restore", "on-demand", params)  # the same reference: already taken
    runner.run_pending()
    failed = store.get(again.id)
    assert failed.state == "failed"
    assert failed.error is not None and "no longer in the agent's memory" in failed.error
    assert LAPTOP.encode() not in (machine.home.path / "jobs.sqlite").read_bytes()
    store.close()
    machine.check_clean()


@pytest.mark.parametrize(
    "source",
    [
        "laptop",
        {"credentials_file": "/x", "machine": "laptop"},
        {"credentials_file": "/x", "machine": "", "passphrase_ref": "r"},
        {"credentials_file": "/x", "machine": "no spaces allowed", "passphrase_ref": "r"},
    ],
)
def test_a_bad_source_is_refused_when_asked_for(source: object) -> None:
    with pytest.raises(UsageError):
        check_params("restore", {"source": source})
