"""The retrying wrapper: only transient failures are retried, with bounded, jittered backoff."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from cairn.core.errors import (
    BlobNotFound,
    NoSpace,
    StorageError,
    TransientStorageError,
)
from cairn.storage.blobstore import BlobInfo
from cairn.storage.faulty import FaultyBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.storage.retrying import RetryingBlobStore


class Scripted(MemoryBlobStore):
    """A memory store whose next operations fail as scripted: each entry of `script` is an
    exception raised BEFORE the operation, or ("after", exc) raised after carrying it out."""

    def __init__(self, *script: BaseException | tuple[str, BaseException]) -> None:
        super().__init__("memory://scripted")
        self.script = list(script)
        self.calls = 0

    def _next(self) -> BaseException | tuple[str, BaseException] | None:
        self.calls += 1
        return self.script.pop(0) if self.script else None

    def _do(self, op: str, *args: object) -> object:
        step = self._next()
        if isinstance(step, BaseException):
            raise step
        result = getattr(super(), op)(*args)
        if step is not None:
            raise step[1]
        return result

    def put(self, name: str, data: bytes | memoryview) -> None:
        self._do("put", name, data)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        result = self._do("get", name, offset, length)
        assert isinstance(result, bytes)
        return result

    def delete(self, name: str) -> None:
        self._do("delete", name)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        step = self._next()
        if isinstance(step, BaseException):
            raise step
        items = list(super().list(prefix))
        if step is None:
            yield from items
            return
        yield from items[:1]  # part of the listing, then the failure
        raise step[1]


class Clock:
    """A monotonic clock that only the fake sleep moves."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def now(self) -> float:
        return self.t


class Ceiling(random.Random):
    """Full jitter at its top: every delay is its ceiling, so the test can read the schedule."""

    def uniform(self, a: float, b: float) -> float:
        return b


def retrying(inner: MemoryBlobStore, clock: Clock, **kw: float) -> RetryingBlobStore:
    return RetryingBlobStore(
        inner, sleep=clock.sleep, monotonic=clock.now, rng=kw.pop("rng", Ceiling()), **kw
    )


def transient(n: int) -> list[BaseException]:
    return [TransientStorageError(f"timeout {i}") for i in range(n)]


def test_a_transient_failure_is_retried_with_exponential_backoff() -> None:
    clock = Clock()
    inner = Scripted(*transient(4))
    store = retrying(inner, clock, base_delay=0.5, max_delay=3.0)
    store.put("a", b"x")
    assert inner.calls == 5
    assert inner.get("a") == b"x"
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0]  # doubling, capped at max_delay


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    clock = Clock()
    inner = Scripted(*transient(8))
    store = retrying(inner, clock, base_delay=1.0, max_delay=10.0, rng=random.Random(7))
    store.put("a", b"x")
    ceilings = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]
    assert len(clock.sleeps) == 8
    assert all(0 <= s <= c for s, c in zip(clock.sleeps, ceilings, strict=True))
    assert len(set(clock.sleeps)) == 8  # jittered, not a fixed schedule


def test_after_the_attempts_it_names_vault_operation_attempts_and_cause() -> None:
    clock = Clock()
    inner = Scripted(*transient(10))
    store = retrying(inner, clock, attempts=4, base_delay=0.1)
    with pytest.raises(StorageError) as err:
        store.get("packs/ab/abcd")
    assert not isinstance(err.value, TransientStorageError)  # an outer wrapper must not retry it
    text = str(err.value)
    assert "memory://scripted" in text
    assert "reading packs/ab/abcd" in text
    assert "4 attempts" in text
    assert "timeout 3" in text  # the last cause
    assert isinstance(err.value.__cause__, TransientStorageError)
    assert inner.calls == 4
    assert len(clock.sleeps) == 3


def test_the_total_time_is_bounded() -> None:
    clock = Clock()
    inner = Scripted(*transient(100))
    store = retrying(inner, clock, attempts=100, base_delay=1.0, max_delay=8.0, max_elapsed=20.0)
    with pytest.raises(StorageError, match=r"writing x failed after 5 attempts over 15\.0 s"):
        store.put("x", b"")
    assert sum(clock.sleeps) <= 20.0
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]  # the next 8 s would pass 20 s: it gives up


@pytest.mark.parametrize(
    "error",
    [BlobNotFound("no blob"), StorageError("403 forbidden"), NoSpace("quota exceeded")],
    ids=["not-found", "permanent", "no-space"],
)
def test_other_errors_are_raised_at_once(error: StorageError) -> None:
    clock = Clock()
    inner = Scripted(error)
    store = retrying(inner, clock)
    with pytest.raises(type(error)) as raised:
        store.get("a")
    assert raised.value is error
    assert inner.calls == 1
    assert clock.sleeps == []


def test_a_bad_name_is_not_retried() -> None:
    clock = Clock()
    inner = Scripted()
    with pytest.raises(StorageError, match="invalid blob name"):
        retrying(inner, clock).put("../escape", b"x")
    assert clock.sleeps == []


def test_a_retried_delete_that_finds_the_blob_gone_succeeded() -> None:
    clock = Clock()
    inner = Scripted(("after", TransientStorageError("connection reset")))
    inner._blobs["locks/l1"] = b"x"
    retrying(inner, clock).delete("locks/l1")  # the first attempt deleted it; the reply was lost
    assert inner.calls == 2
    assert list(inner.list("locks/")) == []


def test_deleting_a_missing_blob_still_raises_not_found() -> None:
    store = retrying(Scripted(), Clock())
    with pytest.raises(BlobNotFound):
        store.delete("nope")


def test_a_put_whose_reply_was_lost_is_repeated_harmlessly() -> None:
    clock = Clock()
    inner = Scripted(("after", TransientStorageError("timeout")))
    retrying(inner, clock).put("points/p1", b"point")
    assert inner.get("points/p1") == b"point"
    assert inner.calls == 3  # put, put again, and our get


def test_a_listing_that_fails_half_way_is_retried_without_duplicates() -> None:
    clock = Clock()
    inner = Scripted()
    for name in ["index/a", "index/b", "index/c"]:
        inner._blobs[name] = b"x"
    inner.script = [("after", TransientStorageError("reset")), TransientStorageError("503")]
    names = [b.name for b in retrying(inner, clock).list("index/")]
    assert sorted(names) == ["index/a", "index/b", "index/c"]
    assert len(clock.sleeps) == 2


def test_it_passes_through_the_location_and_hides_nothing_else() -> None:
    store = RetryingBlobStore(MemoryBlobStore("memory://here"))
    assert store.location == "memory://here"
    store.put("a", b"1")
    assert store.stat("a").size == 1
    assert store.get("a", 0, 1) == b"1"


def test_a_random_workload_through_faults_ends_in_the_state_asked_for() -> None:
    """30% of operations fail, half of them after taking effect; with retries every operation
    the caller saw succeed took effect, once, and nothing else changed."""
    inner = MemoryBlobStore()
    faulty = FaultyBlobStore(inner, rate=0.3, seed=42)
    store = RetryingBlobStore(faulty, attempts=40, sleep=lambda s: None)
    model: dict[str, bytes] = {}
    rng = random.Random(1)
    for step in range(2000):
        name = f"b/{rng.randrange(50)}"
        op = rng.choice(["put", "put", "get", "delete", "list"])
        if op == "put":
            store.put(name, f"{step}".encode())
            model[name] = f"{step}".encode()
        elif op == "get":
            if name in model:
                assert store.get(name) == model[name]
            else:
                with pytest.raises(BlobNotFound):
                    store.get(name)
        elif op == "delete" and name in model:
            store.delete(name)
            del model[name]
        elif op == "list":
            listed = [b.name for b in store.list("b/")]
            assert sorted(listed) == sorted(model)
    assert {b.name: inner.get(b.name) for b in inner.list("")} == model
    assert faulty.faults["before"] > 100
    assert faulty.faults["after"] > 100


def test_put_if_absent_after_an_unknown_outcome_is_ours() -> None:
    """The create landed but the caller saw a timeout: the retry finds the name taken by our own
    bytes and reports the blob created; another writer's bytes are not ours."""
    from cairn.core.errors import TransientStorageError
    from cairn.storage.memory import MemoryBlobStore
    from cairn.storage.retrying import RetryingBlobStore

    class LandsThenTimesOut(MemoryBlobStore):
        failed = False

        def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
            created = super().put_if_absent(name, data)
            if not self.failed:
                self.failed = True
                raise TransientStorageError("timed out")
            return created

    inner = LandsThenTimesOut()
    store = RetryingBlobStore(inner, sleep=lambda s: None)
    assert store.put_if_absent("vault.json", b"ours") is True
    assert store.put_if_absent("vault.json", b"ours") is False  # a second create is refused
    inner.put("other", b"theirs")
    inner.failed = False
    assert RetryingBlobStore(inner, sleep=lambda s: None).put_if_absent("other", b"ours") is False
