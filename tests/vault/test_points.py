"""Recovery points: sealed JSON of kind "point", named by a random id that they repeat inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cairn.core.errors import IntegrityError
from cairn.core.ids import random_id
from cairn.vault.points import POINT_VERSION, PointStats, RecoveryPoint
from cairn.vault.repository import Repository

from .conftest import T0


def full_point(point_id: str | None = None) -> RecoveryPoint:
    return RecoveryPoint(
        id=point_id or random_id(),
        time=datetime(2025, 3, 29, 21, 0, 5, 123456, tzinfo=timezone(timedelta(hours=1))),
        machine="alpha",
        host="alpha.example",
        paths=["/home/ann", "/srv/data ü"],
        tree=bytes(range(32)),
        excludes=["*.tmp", "/srv/data/cache"],
        parent=random_id(),
        trigger="scheduled",
        slot="2025-03-29T21:00:00+01:00 Europe/Paris",
        substitutes="2025-03-29T18:00:00+01:00",
        retain_until="2026-01-31",
        status="completed-with-warnings",
        stats=PointStats(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
        program="cairn 0.1.0",
    )


def test_round_trip_through_the_repository(repo: Repository) -> None:
    point = full_point()
    repo.save_point(point)
    assert repo.load_point(point.id) == point
    assert repo.point_ids() == [point.id]


def test_a_minimal_point_round_trips(repo: Repository) -> None:
    point = RecoveryPoint(random_id(), T0, "alpha", "h", ["/x"], bytes(32))
    repo.save_point(point)
    back = repo.load_point(point.id)
    assert back == point
    assert (back.parent, back.trigger, back.status) == (None, "on-demand", "completed")


def test_json_fields() -> None:
    point = full_point()
    doc = point.to_json()
    assert set(doc) == {
        "v", "id", "time", "machine", "host", "paths", "tree", "excludes", "parent", "trigger",
        "slot", "substitutes", "retain_until", "status", "stats", "program",
    }  # fmt: skip
    assert doc["v"] == POINT_VERSION == 1
    assert doc["time"] == "2025-03-29T21:00:05.123456+01:00"
    assert doc["tree"] == bytes(range(32)).hex()
    assert doc["stats"]["bytes_added"] == 8
    assert set(doc["stats"]) == {
        "files", "dirs", "bytes", "files_new", "files_changed", "files_unchanged",
        "bytes_read", "bytes_added", "bytes_stored", "warnings",
    }  # fmt: skip


def test_the_stored_point_is_sealed(repo: Repository) -> None:
    point = full_point()
    repo.save_point(point)
    raw = repo.store.get(repo.layout.point(point.id))
    assert b"alpha.example" not in raw
    assert b"/home/ann" not in raw


def test_an_id_that_does_not_match_the_name_is_refused() -> None:
    point = full_point()
    with pytest.raises(IntegrityError, match="id"):
        RecoveryPoint.from_json(point.to_json(), random_id())


def test_a_point_renamed_to_another_id_does_not_open(repo: Repository) -> None:
    point = full_point()
    repo.save_point(point)
    other = random_id()
    repo.store.put(repo.layout.point(other), repo.store.get(repo.layout.point(point.id)))
    with pytest.raises(IntegrityError):
        repo.load_point(other)


def test_a_point_sealed_with_a_mismatched_id_inside_is_refused(repo: Repository) -> None:
    """Sealed correctly under its name, but the JSON names another id."""
    point = full_point()
    name = random_id()
    repo.store.put(
        repo.layout.point(name),
        repo.objects.seal_json(b"point", bytes.fromhex(name), point.to_json()),
    )
    with pytest.raises(IntegrityError, match="does not match"):
        repo.load_point(name)


def broken(**changes: Any) -> dict[str, Any]:
    doc = full_point("ab" * 32).to_json()
    for key, value in changes.items():
        if value is ...:
            del doc[key]
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize(
    "doc",
    [
        broken(v=2),
        broken(v=...),
        broken(id=...),
        broken(time="2025-03-29T21:00:00"),  # no zone
        broken(time="yesterday"),
        broken(time=5),
        broken(tree="not hex"),
        broken(tree=...),
        broken(paths=...),
        broken(machine=...),
        broken(stats={"files": 1, "unknown_counter": 2}),
        broken(stats=[1, 2]),
        [],
        "point",
        None,
    ],
)
def test_malformed_points_are_integrity_errors(doc: Any) -> None:
    with pytest.raises(IntegrityError):
        RecoveryPoint.from_json(doc, "ab" * 32)


def test_optional_fields_may_be_absent() -> None:
    doc = {
        "v": 1,
        "id": "ab" * 32,
        "time": "2025-01-01T00:00:00+00:00",
        "machine": "m",
        "host": "h",
        "paths": ["/"],
        "tree": "00" * 32,
    }
    point = RecoveryPoint.from_json(doc, "ab" * 32)
    assert point.time == datetime(2025, 1, 1, tzinfo=UTC)
    assert point.stats == PointStats()
    assert point.excludes == []
