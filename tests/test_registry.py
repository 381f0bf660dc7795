"""The thread registry's contract, checked on every backend (SQLite, Redis, PostgreSQL) in both
flavours (sync and async): leases, fencing, answers, orphans, expiry, and several processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge.exceptions import AssistantBridgeError, InvalidArgumentError
from assistant_bridge.registry import (
    Answer,
    LeaseLostError,
    RegistryError,
    RegistryStoreError,
    RegistryURLError,
    open_async_registry,
    open_registry,
)
from tests.registry_backends import Opener


def _expire_soon(registry: Any, key: str, owner: str) -> Any:
    lease = registry.claim(key, owner, 0.3)
    assert lease is not None
    time.sleep(0.45)
    return lease


def test_claim_makes_the_record_and_bumps_the_epoch(open_store: Opener) -> None:
    registry = open_store()
    assert registry.get("inc-1") is None
    first = registry.claim("inc-1", "worker-a", 30, wire="assistants")
    assert first is not None
    assert (first.epoch, first.owner, first.record.wire) == (1, "worker-a", "assistants")
    assert first.expires > registry.clock() + 25
    assert registry.claim("inc-1", "worker-b", 30) is None  # a live lease keeps others out
    assert registry.release(first)
    second = registry.claim("inc-1", "worker-b", 30)
    assert second is not None
    assert second.epoch == 2
    assert second.record.owner == "worker-b"


def test_an_expired_lease_is_claimed_and_the_stale_commit_refused(
    open_store: Opener,
) -> None:
    registry = open_store()
    stale = _expire_soon(registry, "inc-1", "worker-a")
    fresh = registry.claim("inc-1", "worker-b", 30)
    assert fresh is not None
    assert fresh.epoch == stale.epoch + 1
    with pytest.raises(LeaseLostError) as refused:
        registry.commit(stale, run_id="run_stale", mark="m-stale")
    assert isinstance(refused.value, AssistantBridgeError)
    assert (refused.value.key, refused.value.epoch, refused.value.current_epoch) == ("inc-1", 1, 2)
    assert "claimed again" in str(refused.value)
    record = registry.get("inc-1")
    assert (record.run_id, record.mark, record.owner) == (None, None, "worker-b")
    assert registry.commit(fresh, run_id="run_fresh").record.run_id == "run_fresh"
    assert not registry.release(stale)  # a stale release frees nothing
    assert registry.get("inc-1").owner == "worker-b"


def test_an_expired_lease_nobody_took_is_lost_too(open_store: Opener) -> None:
    registry = open_store()
    lease = _expire_soon(registry, "inc-1", "worker-a")
    with pytest.raises(LeaseLostError, match="expired"):
        registry.renew(lease, 30)
    with pytest.raises(LeaseLostError):
        registry.commit(lease, run_id="run_late")
    assert registry.get("inc-1").run_id is None


def test_renew_extends_a_live_lease(open_store: Opener) -> None:
    registry = open_store()
    lease = registry.claim("inc-1", "worker-a", 0.6)
    for _ in range(3):
        time.sleep(0.3)
        lease = registry.renew(lease, 0.6)
    assert registry.claim("inc-1", "worker-b", 30) is None
    assert registry.commit(lease, run_status="completed").record.run_status == "completed"


def test_commit_writes_fields_and_the_answer_at_once(open_store: Opener) -> None:
    registry = open_store()
    lease = registry.claim("inc-1", "worker-a", 30)
    answer = Answer("inc-1", "alert-9", "pending", thread_id="thread_1", mark="m1")
    lease = registry.commit(lease, answer=answer, thread_id="thread_1", mark="m1")
    assert registry.answer("inc-1", "alert-9") == Answer(
        "inc-1",
        "alert-9",
        "pending",
        "thread_1",
        None,
        "m1",
        registry.answer("inc-1", "alert-9").updated,
    )
    done = Answer("inc-1", "alert-9", "done", thread_id="thread_1", run_id="run_1")
    lease = registry.commit(lease, answer=done, run_id="run_1", mark=None, run_status="completed")
    assert registry.answer("inc-1", "alert-9").status == "done"
    assert registry.answer("inc-1", "alert-9").run_id == "run_1"
    assert registry.answer("inc-1", "other") is None
    assert lease.record.mark is None
    assert lease.record.thread_id == "thread_1"


def test_a_refused_commit_writes_no_answer(open_store: Opener) -> None:
    registry = open_store()
    stale = _expire_soon(registry, "inc-1", "worker-a")
    registry.claim("inc-1", "worker-b", 30)
    with pytest.raises(LeaseLostError):
        registry.commit(stale, answer=Answer("inc-1", "alert-9", "pending"), mark="m")
    assert registry.answer("inc-1", "alert-9") is None


def test_commit_refuses_what_the_registry_owns(open_store: Opener) -> None:
    registry = open_store()
    lease = registry.claim("inc-1", "worker-a", 30)
    with pytest.raises(InvalidArgumentError):
        registry.commit(lease, epoch=9)
    with pytest.raises(InvalidArgumentError):
        registry.commit(lease, answer=Answer("inc-2", "alert-9", "pending"))
    with pytest.raises(InvalidArgumentError):
        registry.claim("", "worker-a", 30)
    with pytest.raises(InvalidArgumentError):
        registry.claim("inc-1", "worker-a", 0)
    assert registry.get("inc-1").epoch == 1


def test_orphans_are_pending_asks_without_a_live_lease(open_store: Opener) -> None:
    registry = open_store()
    dead = registry.claim("inc-dead", "worker-a", 0.3)
    registry.commit(dead, thread_id="thread_d", run_id="run_d", mark="m-d", run_status="queued")
    live = registry.claim("inc-live", "worker-a", 30)
    registry.commit(live, thread_id="thread_l", mark="m-l")
    done = registry.claim("inc-done", "worker-a", 30)
    registry.commit(done, thread_id="thread_x", run_id="run_x", run_status="completed")
    registry.release(done)
    time.sleep(0.45)
    orphans = registry.orphans()
    assert [(o.key, o.run_id, o.mark) for o in orphans] == [("inc-dead", "run_d", "m-d")]


def test_open_creates_once_and_joins_after(open_store: Opener) -> None:
    registry = open_store()
    made = registry.open("inc-1", wire="responses")
    assert (made.epoch, made.owner, made.wire) == (0, None, "responses")
    lease = registry.claim("inc-1", "worker-a", 30)
    registry.commit(lease, thread_id="conv_1")
    assert registry.open("inc-1", wire="assistants").thread_id == "conv_1"
    assert registry.open("inc-1").wire == "responses"


def test_records_and_answers_expire(open_store: Opener) -> None:
    registry = open_store(retention=0.5)
    lease = registry.claim("inc-old", "worker-a", 0.2)
    registry.commit(lease, answer=Answer("inc-old", "alert-1", "done"), thread_id="t")
    time.sleep(0.7)
    kept = registry.claim("inc-new", "worker-a", 30)
    registry.commit(kept, thread_id="t2")
    registry.expire()
    assert registry.get("inc-old") is None
    assert registry.answer("inc-old", "alert-1") is None
    assert registry.get("inc-new").thread_id == "t2"


def _queue_behind(registry: Any, key: str, owners: list[str], queue_ttl: float = 30) -> None:
    """Each owner is refused (the key is held) and takes a ticket, in this order."""
    for owner in owners:
        assert registry.claim(key, owner, 30, queue_ttl=queue_ttl) is None
        time.sleep(0.01)  # distinct times taken, even on a millisecond clock


def test_waiters_are_served_first_come_first_served(open_store: Opener) -> None:
    registry = open_store()
    holder = registry.claim("inc-1", "holder", 30)
    waiters = ["w1", "w2", "w3", "w4"]
    _queue_behind(registry, "inc-1", waiters)
    served = []
    lease = holder
    while len(served) < len(waiters):
        registry.release(lease)
        if registry.wakes:  # the release woke the oldest waiter, and only it
            assert registry.wait_turn("inc-1", waiters[len(served)], 2)
            assert not any(registry.wait_turn("inc-1", w, 0.05) for w in waiters[len(served) + 1 :])
        assert registry.claim("inc-1", "newcomer", 30) is None  # no ticket: behind the queue
        for owner in reversed(waiters):  # the later waiters ask first, and are refused
            if owner in served:
                continue
            claimed = registry.claim("inc-1", owner, 30, queue_ttl=30)
            if claimed is not None:
                served.append(owner)
                lease = claimed
    assert served == waiters
    assert lease.epoch == 5  # one epoch per claim: no refused claim bumped it
    registry.release(lease)
    assert registry.claim("inc-1", "newcomer", 30) is not None  # queue empty, lease free


def test_a_dead_waiters_ticket_stops_blocking_after_its_ttl(open_store: Opener) -> None:
    registry = open_store()
    holder = registry.claim("inc-1", "holder", 30)
    _queue_behind(registry, "inc-1", ["dead"], queue_ttl=0.4)  # never claims again
    _queue_behind(registry, "inc-1", ["live"])
    registry.release(holder)
    assert registry.claim("inc-1", "live", 30, queue_ttl=30) is None  # "dead" is still ahead
    time.sleep(0.5)
    lease = registry.claim("inc-1", "live", 30, queue_ttl=30)
    assert lease is not None
    assert lease.owner == "live"
    registry.release(lease)
    # The dead waiter's ticket is gone for good: coming back, it queues afresh.
    assert registry.claim("inc-1", "dead", 30) is not None


def test_a_waiter_that_leaves_blocks_no_one(open_store: Opener) -> None:
    registry = open_store()
    holder = registry.claim("inc-1", "holder", 30)
    _queue_behind(registry, "inc-1", ["gone", "next"])
    assert registry.leave("inc-1", "gone")
    assert not registry.leave("inc-1", "gone")  # nothing left to give up
    registry.release(holder)
    assert registry.claim("inc-1", "next", 30, queue_ttl=30) is not None
    with pytest.raises(InvalidArgumentError):
        registry.claim("inc-1", "x", 30, queue_ttl=0)


def test_urls() -> None:
    with pytest.raises(RegistryURLError, match="Unknown registry URL scheme"):
        open_registry("mysql://host/db")
    with pytest.raises(RegistryURLError, match="sqlite:///path"):
        open_registry("sqlite://relative.db")
    registry = open_registry("sqlite:///:memory:")
    assert repr(registry) == "<Registry sqlite:///:memory:>"
    registry.close()


def test_a_password_in_the_url_is_not_shown(tmp_path: Path) -> None:
    from assistant_bridge._redact import redact_url as _redacted

    assert _redacted("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert "s3cret" not in _redacted("postgresql://me:s3cret@db/x")


# -- several processes -------------------------------------------------------------------------
def _contend(url: str, worker: int, rounds: int, keys: int, out: Any) -> None:
    """Each round: claim a key (waiting), make its thread if it has none, count one more in
    ``run_id`` (read, add, write: a lost update shows if two holders overlap), release."""
    registry = open_registry(url)
    seen: dict[str, str] = {}
    for i in range(rounds):
        key = f"inc-{(worker + i) % keys}"
        while (lease := registry.claim(key, f"w{worker}-{i}", 10)) is None:
            time.sleep(0.001)
        record = lease.record
        thread = record.thread_id or f"thread-{worker}-{i}"
        count = int(record.run_id or "0") + 1
        lease = registry.commit(lease, thread_id=thread, run_id=str(count))
        seen.setdefault(key, thread)
        assert seen[key] == thread, "a key's thread changed"
        registry.release(lease)
    registry.close()
    out.put(seen)


def test_several_processes_one_thread_per_key_no_lost_update(registry_url: str) -> None:
    workers, rounds, keys = 4, 25, 3
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes = [
        context.Process(target=_contend, args=(registry_url, w, rounds, keys, out))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        seen = [out.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert all(p.exitcode == 0 for p in processes)
    registry = open_registry(registry_url)
    records = [registry.get(f"inc-{k}") for k in range(keys)]
    registry.close()
    assert sum(int(r.run_id) for r in records) == workers * rounds  # no lost update
    assert sum(r.epoch for r in records) == workers * rounds  # one epoch per claim
    for record in records:  # every worker saw the same, single thread for the key
        assert {s[record.key] for s in seen if record.key in s} == {record.thread_id}


def test_workers_opening_a_new_sqlite_file_at_once(tmp_path: Path) -> None:
    """Eight workers open a registry on one new SQLite file at the same moment, thirty times:
    none fails (switching a file to WAL does not wait for a busy file by itself)."""
    import threading

    failures: list[BaseException] = []
    for trial in range(30):
        url = f"sqlite:///{tmp_path / f'r{trial}.db'}"
        start = threading.Barrier(8)

        def worker(url: str = url, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                open_registry(url).close()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert failures == []


# -- a store that fails ------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_detached(error: BaseException, secret: str) -> None:
    """Nothing reachable from ``error`` (message, args, attributes, cause, context) shows
    ``secret``, and no driver exception hangs on it."""
    assert error.__cause__ is None
    assert error.__context__ is None
    seen = [str(error), repr(error), *map(repr, error.args), *map(repr, vars(error).values())]
    assert not [text for text in seen if secret in text]


UNREACHABLE = [
    pytest.param("redis://:s3cret-pw@127.0.0.1:{port}/0", "redis", id="redis"),
    pytest.param("postgresql://me:s3cret-pw@127.0.0.1:{port}/db", "psycopg", id="postgres"),
]


@pytest.mark.parametrize(("template", "driver"), UNREACHABLE)
def test_an_unreachable_store_is_a_typed_error_without_its_password(
    template: str, driver: str
) -> None:
    pytest.importorskip(driver, reason=f"{driver} is not installed")
    url = template.format(port=_free_port())

    def use() -> None:
        registry = open_registry(url)  # PostgreSQL connects here; Redis at the first call
        registry.claim("inc-1", "worker-a", 30)

    with pytest.raises(RegistryStoreError) as caught:
        use()
    error = caught.value
    assert isinstance(error, RegistryError)
    assert error.store == url.replace("s3cret-pw", "***")
    assert error.operation in ("open", "claim")
    assert error.reason  # the driver's exception type, e.g. ConnectionError
    assert error.store in str(error)
    assert error.operation in str(error)
    _assert_detached(error, "s3cret-pw")


@pytest.mark.parametrize(("template", "driver"), UNREACHABLE)
def test_an_unreachable_store_async(template: str, driver: str) -> None:
    pytest.importorskip(driver, reason=f"{driver} is not installed")
    url = template.format(port=_free_port())

    async def use() -> None:
        registry = await open_async_registry(url)
        try:
            await registry.get("inc-1")
        finally:
            await registry.aclose()

    with pytest.raises(RegistryStoreError) as caught:
        asyncio.run(use())
    _assert_detached(caught.value, "s3cret-pw")


def test_a_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'registry.db'}"
    with pytest.raises(RegistryStoreError, match="failed during open: OperationalError") as caught:
        open_registry(url)
    assert caught.value.reason == "OperationalError"
    _assert_detached(caught.value, "no password here")


def test_a_store_failing_mid_life_is_typed_and_our_errors_pass(tmp_path: Path) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    lease = registry.claim("inc-1", "worker-a", 0.05)
    assert lease is not None
    time.sleep(0.1)
    registry.claim("inc-1", "worker-b", 30)
    with pytest.raises(LeaseLostError):  # ours: not wrapped
        registry.commit(lease, thread_id="t1")
    registry.close()
    with pytest.raises(RegistryStoreError, match="during get: ProgrammingError"):
        registry.get("inc-1")  # a closed connection: the driver's error, typed


@pytest.mark.parametrize(
    ("template", "driver"),
    [
        pytest.param("postgresql://me@127.0.0.1:{port}/db?password=s3cret-pw", "psycopg", id="pg"),
        pytest.param("redis://127.0.0.1:{port}/0?password=s3cret-pw", "redis", id="redis"),
    ],
)
def test_a_password_in_the_query_is_masked_too(template: str, driver: str) -> None:
    pytest.importorskip(driver, reason=f"{driver} is not installed")
    url = template.format(port=_free_port())

    def use() -> None:
        registry = open_registry(url)
        assert "s3cret-pw" not in repr(registry)
        registry.get("inc-1")

    with pytest.raises(RegistryStoreError) as caught:
        use()
    assert caught.value.store.endswith("password=***")
    _assert_detached(caught.value, "s3cret-pw")


@pytest.mark.parametrize(
    "url", ["redis://me:s3cret-pw@host:notaport/0", "redis://me:s3cret-pw@[::1/0"]
)
def test_a_url_its_client_cannot_read_is_a_url_error(url: str) -> None:
    pytest.importorskip("redis", reason="redis-py is not installed")
    with pytest.raises(RegistryURLError) as caught:
        open_registry(url)
    assert "s3cret-pw" not in str(caught.value)
