"""S3 Object Lock (`cairn vault create s3://... --object-lock DAYS`) on a real S3 server that
implements it: the moto server from PyPI (`.ci/services.sh` runs it; CAIRN_TEST_MOTO_ENDPOINT)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cairn.core.clock import FixedClock
from cairn.engine.home import Home
from cairn.engine.protection import prune_targets
from cairn.engine.session import open_repository
from cairn.policy import parse_policy
from tests.cli.conftest import Cli
from tests.storage.services import moto_endpoint, unique

KEYS = {"AWS_ACCESS_KEY_ID": "cairn-lock", "AWS_SECRET_ACCESS_KEY": "cairn-lock-secret"}


def client() -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint(),
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )


def kind(key: str) -> str:
    """`packs` of vault/machines/M/packs/..., else ''."""
    parts = key.split("/")
    return parts[3] if len(parts) > 4 else ""


@pytest.fixture
def s3cli(cli: Cli) -> Cli:
    cli.env.update(KEYS, AWS_ENDPOINT_URL=moto_endpoint(), AWS_DEFAULT_REGION="us-east-1")
    return cli


def test_packs_index_and_points_are_locked_and_prune_leaves_them(
    s3cli: Cli, tmp_path: Path
) -> None:
    bucket = unique("lock")
    location = f"s3://{bucket}/vault"
    assert "kept 2 days" in s3cli.run("vault", "create", location, "--object-lock", "2").stdout
    s3 = client()
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"
    }
    s3cli.run("register", location, "--machine", "lockbox")
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("locked data")
    point = json.loads(s3cli.run("backup", str(src), "--json").stdout)["recovery_point"]

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    locked = [k for k in keys if kind(k) in ("packs", "index", "points")]
    assert {kind(k) for k in locked} == {"packs", "index", "points"}
    soon = datetime.now(UTC) + timedelta(days=2)
    for key in locked:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert abs(head["ObjectLockRetainUntilDate"] - soon) < timedelta(minutes=10)
        with pytest.raises(ClientError, match="AccessDenied"):  # S3 itself refuses
            s3.delete_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])
    for key in set(keys) - set(locked):
        assert "ObjectLockMode" not in s3.head_object(Bucket=bucket, Key=key)

    # Cairn sends no delete for a locked object: it is left until its retention is over.
    home = Home(s3cli.home)
    repo = open_repository(home, FixedClock(datetime.now(UTC)))
    name = repo.layout.point(point)
    repo.store.delete(name)
    assert repo.store.stat(name).size > 0
    later = open_repository(home, FixedClock(datetime.now(UTC) + timedelta(days=3)))
    later.store.delete(name)  # its retention is over: deleted (S3 keeps the locked version)
    assert json.loads(s3cli.run("recovery-points", "--json").stdout) == []
    # Deleted behind prune's back, so check names it; repair accepts the vault as it is.
    checked, repaired = s3cli.run("check", expect=14), s3cli.run("repair")
    said = checked.stdout + checked.stderr + repaired.stdout + repaired.stderr
    assert point[:8] in said, said
    s3cli.run("check")


def test_a_bucket_without_object_lock_or_a_folder_is_refused(s3cli: Cli, tmp_path: Path) -> None:
    bucket = unique("nolock")
    client().create_bucket(Bucket=bucket)
    proc = s3cli.run("vault", "create", f"s3://{bucket}/v", "--object-lock", "7", expect=2)
    assert "has no Object Lock" in proc.stderr
    proc = s3cli.run("vault", "create", str(tmp_path / "v"), "--object-lock", "7", expect=2)
    assert "needs an S3 vault" in proc.stderr


def test_prune_keeps_an_expired_point_while_it_is_locked(s3cli: Cli, tmp_path: Path) -> None:
    location = f"s3://{unique('lockprune')}/vault"
    s3cli.run("vault", "create", location, "--object-lock", "30")
    s3cli.run("register", location, "--machine", "lockbox")
    src = tmp_path / "src"
    src.mkdir()
    ids = []
    for i in range(2):
        (src / "f.txt").write_text(f"version {i}")
        ids.append(json.loads(s3cli.run("backup", str(src), "--json").stdout)["recovery_point"])
    policy = parse_policy(
        '[policy]\nitems = ["/x"]\ntimezone = "UTC"\n[schedule]\nfrequency = "daily"\n'
        'times = ["21:00"]\n[retention.daily]\ndays = 7\n',
        default_timezone="UTC",
        today=date(2026, 1, 1),
    )
    home = Home(s3cli.home)
    for days, expected in ((10, set()), (31, {ids[0]})):  # locked 30 days, expired after 7
        now = datetime.now(UTC) + timedelta(days=days)
        repo = open_repository(home, FixedClock(now))
        assert prune_targets(repo, repo.list_points(), policy, now) == expected
    s3cli.run("check", "--read-data")
