"""Huge or malformed input from the user gets a clear error (exit 2) naming what is wrong, and
fast: a policy file, a passphrase file, job ids, job filters. Before, each of these failed with a
traceback (exit 1), hung, or echoed a 100 KB id back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cairn.core.errors import EXIT_USAGE
from tests.cli.conftest import Cli

HUGE = "f" * 100_000


def refused(cli: Cli, *args: str) -> str:
    start = time.monotonic()
    proc = cli.run(*args, expect=EXIT_USAGE)
    assert time.monotonic() - start < 30
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr) < 1000, proc.stderr[:300]
    return proc.stderr


def test_a_huge_policy_file_is_refused_without_reading_it_all(
    registered: Cli, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("# padding\n" * 300_000)  # 3 MB of valid TOML

    message = refused(registered, "policy", "set", "--file", str(policy))

    assert str(policy) in message and "larger than 1 MiB" in message


def test_an_endless_policy_file_is_refused(registered: Cli) -> None:
    message = refused(registered, "policy", "set", "--file", "/dev/zero")

    assert "/dev/zero" in message and "larger than 1 MiB" in message


def test_a_policy_file_that_is_not_utf8_is_refused(registered: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_bytes(b'[policy]\nitems = ["/srv/\xff"]\n')

    message = refused(registered, "policy", "set", "--file", str(policy))

    assert str(policy) in message and "not UTF-8" in message


def test_a_deeply_nested_policy_file_is_refused(registered: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")

    message = refused(registered, "policy", "set", "--file", str(policy))

    assert "nested too deeply" in message


def test_a_huge_passphrase_file_is_refused(registered: Cli, tmp_path: Path) -> None:
    message = refused(registered, "check", "--passphrase-file", "/dev/zero")

    assert "--passphrase-file" in message and "larger than" in message


def test_a_passphrase_file_that_is_not_utf8_is_refused(registered: Cli, tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_bytes(b"\xff" * 20)

    message = refused(registered, "check", "--passphrase-file", str(secret))

    assert "not UTF-8" in message


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("jobs", "show", HUGE), "is not a job id"),
        (("jobs", "show", "../" * 30_000), "is not a job id"),
        (("jobs", "cancel", HUGE), "is not a job id"),
    ],
)
def test_a_huge_or_malformed_job_argument_is_named_briefly(
    registered: Cli, args: tuple[str, ...], problem: str
) -> None:
    message = refused(registered, *args)

    assert problem in message
    assert "…" in message  # shortened, not echoed whole


def test_a_huge_last_count_lists_every_job(registered: Cli) -> None:
    proc = registered.run("jobs", "--last", "9" * 40, "--json")

    assert "Traceback" not in proc.stderr
