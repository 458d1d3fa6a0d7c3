"""`initial_backup = "offline"` with its `[offline]` table: parsed, validated, round-tripped."""

from __future__ import annotations

from datetime import date

import pytest

from cairn.core.errors import UsageError
from cairn.policy import parse_policy, policy_from_json, policy_to_json, policy_to_toml
from tests.policy.conftest import SEED_POLICY

OFFLINE = (
    SEED_POLICY.replace('initial_backup = "online"', 'initial_backup = "offline"')
    + '\n[offline]\nstaging = "/mnt/usb/staging"\nimport_job = "seed-2026.12_a"\n'
)


def parse(text: str) -> object:
    return parse_policy(text, default_timezone="UTC", today=date(2026, 12, 1))


def test_an_offline_policy_round_trips_through_toml_and_json() -> None:
    policy = parse_policy(OFFLINE, default_timezone="UTC", today=date(2026, 12, 1))
    assert policy.offline is not None
    assert policy.offline.staging == "/mnt/usb/staging"
    assert policy.offline.import_job == "seed-2026.12_a"
    text = policy_to_toml(policy)
    assert '[offline]\nstaging = "/mnt/usb/staging"' in text
    assert parse_policy(text, default_timezone="UTC", today=date(2000, 1, 1)) == policy
    doc = policy_to_json(policy)
    assert doc["offline"] == {"staging": "/mnt/usb/staging", "import_job": "seed-2026.12_a"}
    assert policy_from_json(doc) == policy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            SEED_POLICY.replace('"online"', '"offline"'),
            r'"offline" needs an \[offline\] table with staging',
        ),
        (
            SEED_POLICY + '\n[offline]\nstaging = "/s"\nimport_job = "j"\n',
            r'\[offline\]: only with initial_backup = "offline"',
        ),
        (OFFLINE.replace('"seed-2026.12_a"', '"bad name"'), "offline.import_job: 'bad name'"),
        (OFFLINE.replace('"seed-2026.12_a"', '""'), "offline.import_job: ''"),
        (OFFLINE.replace('"seed-2026.12_a"', '"' + "j" * 65 + '"'), "1 to 64 characters"),
        (OFFLINE.replace('"seed-2026.12_a"', '"-job"'), "starting with a letter or digit"),
        (OFFLINE.replace('"/mnt/usb/staging"', '"staging"'), "not an absolute path"),
        (
            OFFLINE.replace('"/mnt/usb/staging"', '"s3://bucket/stage"'),
            "offline.staging: 's3://bucket/stage' is not a local folder",
        ),
        (OFFLINE.replace('import_job = "seed-2026.12_a"\n', ""), "offline.import_job: required"),
        (OFFLINE + "disk = 1\n", r"unknown key offline\.disk"),
    ],
)
def test_a_bad_offline_table_is_refused_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(text)


def test_a_64_character_import_job_name_is_accepted() -> None:
    policy = parse_policy(
        OFFLINE.replace('"seed-2026.12_a"', '"' + "J" * 64 + '"'),
        default_timezone="UTC",
        today=date(2026, 12, 1),
    )
    assert policy.offline is not None and policy.offline.import_job == "J" * 64
