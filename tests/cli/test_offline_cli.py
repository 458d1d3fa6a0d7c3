"""The offline initial backup through the real command line: policy, staged first backup, disk
preparation, import, and the incremental backup after it (docs/offline.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, snapshot

MiB = 1 << 20


def offline_policy(tmp_path: Path, items: list[Path], staging: Path, job: str = "seed-1") -> Path:
    listed = ", ".join(json.dumps(str(i)) for i in items)
    text = f"""
[policy]
items = [{listed}]
timezone = "Europe/Berlin"
initial_backup = "offline"

[offline]
staging = {json.dumps(str(staging))}
import_job = "{job}"

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = 30
"""
    path = tmp_path / f"policy-{job}.toml"
    path.write_text(text)
    return path


def make_data(src: Path, files: int = 6, size: int = 3 * MiB) -> None:
    (src / "sub").mkdir(parents=True)
    for i in range(files):
        (src / "sub" / f"f{i}.bin").write_bytes(os.urandom(size))
    (src / "notes.txt").write_text("the secret plaintext marker 7f3a9c\n" * 100)
    hour_ago = os.stat(src).st_mtime - 3600  # older than the backup's racy window
    for path in [*src.rglob("*"), src]:
        os.utime(path, (hour_ago, hour_ago))


def disks(tmp_path: Path, n: int, tag: str = "d") -> list[Path]:
    out = []
    for i in range(1, n + 1):
        d = tmp_path / f"{tag}{i}"
        d.mkdir()
        out.append(d)
    return out


def disk_args(ds: list[Path]) -> list[str]:
    return [a for d in ds for a in ("--disk", str(d))]


def stage(cli: Cli, tmp_path: Path, job: str = "seed-1") -> tuple[Path, Path]:
    src = tmp_path / f"src-{job}"
    make_data(src)
    staging = tmp_path / f"staging-{job}"
    cli.run("policy", "set", "--file", str(offline_policy(tmp_path, [src], staging, job)))
    return src, staging


def test_first_backup_is_staged_then_prepped_imported_and_the_next_backup_is_incremental(
    registered: Cli, tmp_path: Path
) -> None:
    src, staging = stage(registered, tmp_path)
    before = json.loads(registered.run("offline", "status", "--json").stdout)
    assert before["state"] == "not-staged" and before["staging"] == str(staging)
    proc = registered.run("backup")
    assert "awaiting import" in proc.stdout and "cairn offline prep" in proc.stdout
    # Nothing in the vault yet; the staging holds a store in the vault format.
    assert json.loads(registered.run("recovery-points", "--json").stdout) == []
    assert list((staging / "machines" / "clibox" / "points").iterdir())
    assert (staging / "machines" / "clibox" / "keys").is_dir()
    # Nothing in staging is readable without the passphrase: no plaintext in any of its files.
    for name, data in snapshot(staging).items():
        if "/packs/" in name or "/points/" in name or "/index/" in name:
            assert b"secret plaintext marker" not in data, name

    status = json.loads(registered.run("offline", "status", "--json").stdout)
    assert status["state"] == "awaiting-import" and status["import_job"] == "seed-1"
    assert status["staging_size"] > 18 * MiB
    shown = json.loads(registered.run("policy", "show", "--json").stdout)
    assert shown["seeding"]["state"] == "awaiting-import"
    assert "awaiting import" in registered.run("policy", "show").stdout
    # Backups wait until the import, and say why.
    waiting = registered.run("backup", expect=1)
    assert "awaiting import" in waiting.stderr and "cairn offline import" in waiting.stderr

    ds = disks(tmp_path, 2)
    prepped = json.loads(
        registered.run(
            "offline", "prep", "--staging", str(staging), *disk_args(ds),
            "--disk-size", str(12 * MiB), "--json",
        ).stdout
    )  # fmt: skip
    assert [d["files"] > 0 for d in prepped["disks"]] == [True, True]  # split over both
    assert prepped["copied_files"] == prepped["files"]
    manifest = json.loads((ds[1] / "cairn-offline" / "manifest.json").read_text())
    assert manifest["import_job"] == "seed-1" and manifest["disk"] == 2
    assert manifest["disks"] == 2 and manifest["machine"] == "clibox"
    assert all(len(f["sha256"]) == 64 and f["size"] >= 0 for f in manifest["files"])

    imported = json.loads(registered.run("offline", "import", *disk_args(ds), "--json").stdout)
    assert imported["uploaded_files"] > 0 and imported["check_errors"] == []
    points = json.loads(registered.run("recovery-points", "--json").stdout)
    assert [p["id"] for p in points] == [status["point"]]
    assert json.loads(registered.run("offline", "status", "--json").stdout)["state"] == "imported"
    jobs = json.loads(registered.run("jobs", "--json").stdout)
    assert any(j["kind"] == "import" and j["state"] == "completed" for j in jobs)

    # Run twice: nothing more is uploaded.
    again = json.loads(registered.run("offline", "import", *disk_args(ds), "--json").stdout)
    assert again["uploaded_files"] == 0 and again["already_imported"] is True

    # The next backup is incremental against the imported point: measured, it uploads only
    # what changed since the staged backup.
    (src / "changed.txt").write_text("new since the staged backup\n")
    proc = registered.run("backup", "--json")
    result = json.loads(proc.stdout)
    stats = result["stats"]
    print("bytes uploaded by the backup after the import:", stats["bytes_stored"])
    assert stats["files_unchanged"] == 7 and stats["files_new"] == 1
    assert stats["bytes_stored"] < 64 * 1024  # the staged 18 MiB are not sent again
    assert result["offline"] is None
    registered.run("check", "--read-data")


def test_an_interrupted_prep_resumes_without_copying_verified_files_again(
    registered: Cli, tmp_path: Path
) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 2)
    args = ["offline", "prep", "--staging", str(staging), *disk_args(ds), "--json"]
    args += ["--disk-size", str(14 * MiB)]
    killed = registered.run(
        *args, expect=None, env=registered.environ(CAIRN_TEST_KILL_AFTER_WRITES="4")
    )
    assert killed.returncode == -9  # SIGKILL, as kill -9, after the 4th file
    assert not (ds[0] / "cairn-offline" / "manifest.json").exists()
    registered.run("offline", "import", *disk_args(ds), expect=2)  # not finished: refused
    # Run again, the disks named in the other order: each is known by its plan.
    again = ["offline", "prep", "--staging", str(staging), *disk_args(ds[::-1]), "--json"]
    resumed = json.loads(registered.run(*again, "--disk-size", str(14 * MiB)).stdout)
    assert resumed["resumed"] is True
    assert resumed["reused_files"] == 4
    assert resumed["copied_files"] == resumed["files"] - 4
    registered.run("offline", "import", *disk_args(ds))
    registered.run("check", "--read-data")


def test_a_damaged_disk_file_is_named_and_nothing_is_imported(
    registered: Cli, tmp_path: Path
) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 1)
    registered.run("offline", "prep", "--staging", str(staging), *disk_args(ds))
    packs = sorted((ds[0] / "cairn-offline" / "data").rglob("packs/*/*"))
    victim = max(packs, key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    before = snapshot(tmp_path / "vault")
    proc = registered.run("offline", "import", *disk_args(ds), expect=14)
    assert victim.name in proc.stderr and "pack" in proc.stderr and "damaged" in proc.stderr
    assert "disk 1 of 1" in proc.stderr
    assert snapshot(tmp_path / "vault") == before  # nothing was uploaded
    assert json.loads(registered.run("recovery-points", "--json").stdout) == []
    assert json.loads(registered.run("offline", "status", "--json").stdout)["state"] == (
        "awaiting-import"
    )


def test_a_missing_disk_is_named_with_what_it_held(registered: Cli, tmp_path: Path) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 3)
    registered.run(
        "offline", "prep", "--staging", str(staging), *disk_args(ds), "--disk-size", str(8 * MiB)
    )
    before = snapshot(tmp_path / "vault")
    proc = registered.run("offline", "import", *disk_args([ds[0], ds[2]]), expect=2)
    held = json.loads((ds[0] / "cairn-offline" / "manifest.json").read_text())["contents"][1]
    assert "disk 2 of 3" in proc.stderr and "is missing" in proc.stderr
    assert f"{held['packs']} packs" in proc.stderr and f"{held['files']} files" in proc.stderr
    assert snapshot(tmp_path / "vault") == before


def test_a_disk_of_another_import_job_is_named(registered: Cli, tmp_path: Path) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 1)
    registered.run("offline", "prep", "--staging", str(staging), *disk_args(ds))
    other = Cli(tmp_path / "home-other")
    other.run("register", str(tmp_path / "vault"), "--machine", "otherbox")
    _, other_staging = stage(other, tmp_path, job="seed-other")
    other.run("backup")
    od = disks(tmp_path, 1, tag="other")
    other.run("offline", "prep", "--staging", str(other_staging), *disk_args(od))
    proc = registered.run("offline", "import", *disk_args([ds[0], od[0]]), expect=2)
    assert str(od[0]) in proc.stderr and "seed-other" in proc.stderr
    assert "not of import job 'seed-1'" in proc.stderr and "holding" in proc.stderr


def test_disks_too_small_are_refused_before_anything_is_written(
    registered: Cli, tmp_path: Path
) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 2)
    proc = registered.run(
        "offline", "prep", "--staging", str(staging), *disk_args(ds),
        "--disk-size", str(6 * MiB), expect=13,
    )  # fmt: skip
    assert "too small" in proc.stderr and "is missing" in proc.stderr
    assert "MiB is missing" in proc.stderr
    assert all(list(d.iterdir()) == [] for d in ds)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("inside-item", "overlaps the item"),
        ("no-parent", "its parent folder does not exist"),
        ("a-file", "cannot create"),
        ("not-empty", "is not empty"),
    ],
)
def test_a_bad_staging_folder_is_refused_at_policy_set(
    registered: Cli, tmp_path: Path, where: str, message: str
) -> None:
    src = tmp_path / "src"
    make_data(src, files=1, size=10)
    staging = {
        "inside-item": src / "staging",
        "no-parent": tmp_path / "nowhere" / "staging",
        "a-file": tmp_path / "a-file",
        "not-empty": tmp_path / "full",
    }[where]
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    proc = registered.run(
        "policy", "set", "--file", str(offline_policy(tmp_path, [src], staging)), expect=2
    )
    assert "offline.staging" in proc.stderr and message in proc.stderr
    registered.run("policy", "show", expect=2)  # nothing was set


@pytest.mark.parametrize("writes", [2, 5])
def test_an_import_killed_half_way_leaves_no_recovery_point_and_runs_again(
    registered: Cli, tmp_path: Path, writes: int
) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 1)
    registered.run("offline", "prep", "--staging", str(staging), *disk_args(ds))
    env = registered.environ(CAIRN_TEST_KILL_AFTER_WRITES=str(writes))
    killed = registered.run("offline", "import", *disk_args(ds), expect=None, env=env)
    assert killed.returncode == -9  # SIGKILL after the k-th write to the vault
    packs = list((tmp_path / "vault" / "machines" / "clibox" / "packs").rglob("*/*"))
    assert packs  # some packs went in, and no point names them yet
    assert json.loads(registered.run("recovery-points", "--json").stdout) == []
    registered.run("check")
    done = json.loads(registered.run("offline", "import", *disk_args(ds), "--json").stdout)
    assert done["present_files"] > 0 and done["check_errors"] == []
    assert len(json.loads(registered.run("recovery-points", "--json").stdout)) == 1
    registered.run("check", "--read-data")


def test_a_damaged_manifest_is_named(registered: Cli, tmp_path: Path) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 1)
    registered.run("offline", "prep", "--staging", str(staging), *disk_args(ds))
    manifest = ds[0] / "cairn-offline" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"disks": 1', '"disks": 2'))
    proc = registered.run("offline", "import", *disk_args(ds), expect=14)
    assert str(manifest) in proc.stderr and "manifest" in proc.stderr and "damaged" in proc.stderr


def test_a_manifest_naming_a_file_outside_the_disk_is_refused(
    registered: Cli, tmp_path: Path
) -> None:
    from cairn.engine.offline_manifest import sealed_json

    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 1)
    registered.run("offline", "prep", "--staging", str(staging), *disk_args(ds))
    manifest = ds[0] / "cairn-offline" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"][0]["name"] = "../../../etc/passwd"
    manifest.write_bytes(sealed_json(doc))  # a consistent checksum: only the name is wrong
    proc = registered.run("offline", "import", *disk_args(ds), expect=14)
    assert "malformed" in proc.stderr


def test_import_on_another_machine_registered_with_the_vault(
    registered: Cli, tmp_path: Path
) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    ds = disks(tmp_path, 1)
    registered.run("offline", "prep", "--staging", str(staging), *disk_args(ds))
    datacenter = Cli(tmp_path / "home-dc")
    datacenter.run("register", str(tmp_path / "vault"), "--machine", "dcbox")
    wrong = datacenter.environ(CAIRN_PASSPHRASE="not the passphrase of clibox")
    datacenter.run("offline", "import", *disk_args(ds), expect=12, env=wrong)
    out = json.loads(datacenter.run("offline", "import", *disk_args(ds), "--json").stdout)
    assert out["machine"] == "clibox" and out["uploaded_files"] > 0
    assert json.loads(datacenter.run("jobs", "--json").stdout)[0]["kind"] == "import"
    # The seeded machine sees its point in the vault and is no longer awaiting import.
    assert json.loads(registered.run("offline", "status", "--json").stdout)["state"] == "imported"
    registered.run("backup")
    registered.run("check", "--read-data")
