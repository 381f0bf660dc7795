"""Keyed sessions against the emulator, on every registry backend: one thread per key however
many workers ask, idempotent asks, a dead holder's run resumed (never started twice), and a
holder that lost its lease stopping without writing or cancelling anything."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_bridge import AsyncOpenAITransport
from assistant_bridge.exceptions import InvalidArgumentError
from assistant_bridge.registry import (
    AsyncKeyedSession,
    KeyedSession,
    LeaseLostError,
    LeaseWaitTimeoutError,
    RegistryStoreError,
    open_async_registry,
    open_registry,
)
from assistant_bridge.registry._flow import key_hash
from assistant_bridge.testing import Emulator, SayText
from assistant_bridge.transports.ops import CreateThread, RunSettings, StartRun


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(default=SayText("triaged", delay=0.2)) as emulator:
        yield emulator


def _conflicts(emu: Emulator) -> int:
    """Requests the emulator refused because another run held the thread."""
    return sum(1 for r in emu.requests if r.status == 400 and r.route.startswith("runs"))


def test_one_thread_per_key_however_many_workers_ask_at_once(
    emu: Emulator, registry_url: str
) -> None:
    assistant = emu.create_assistant()
    replies: list[Any] = []
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        registry = open_registry(registry_url)
        transport = emu.transport()
        try:
            session = KeyedSession(transport, "inc-7", registry=registry, assistant_id=assistant)
            replies.append(session.ask(f"alert {i}", idempotency_key=f"alert-{i}", timeout=30))
        except BaseException as exc:
            failures.append(exc)
        finally:
            transport.close()
            registry.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len({r.thread_id for r in replies}) == 1
    runs = emu.runs_of(replies[0].thread_id)
    assert sorted(runs) == sorted(r.run_id for r in replies)  # one run per ask, no more
    assert _conflicts(emu) == 0  # the registry kept runs apart; the server refused none
    assert emu.active_runs() == []
    registry = open_registry(registry_url)
    record = registry.get("inc-7")
    registry.close()
    assert (record.thread_id, record.epoch, record.mark, record.owner) == (
        replies[0].thread_id,
        6,
        None,
        None,
    )


def test_run_metadata_carries_key_and_epoch_in_one_entry(emu: Emulator, tmp_path: Any) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    session = KeyedSession(
        emu.transport(), "inc-1", registry=registry, assistant_id=emu.create_assistant()
    )
    mine = {f"user_{i}": str(i) for i in range(15)}
    reply = session.ask("alert", metadata=mine)
    metadata = emu.store.runs[reply.run_id].metadata
    ours = {k: v for k, v in metadata.items() if k not in mine}
    assert len(metadata) == 16  # the user's 15, and ours
    ((name, value),) = ours.items()
    assert name == "assistant_bridge_ask"
    hashed, epoch, _nonce = value.split(":")
    assert (hashed, epoch) == (key_hash("inc-1"), "1")
    assert len(value) <= 512


def test_an_answered_ask_hands_back_its_recorded_reply(emu: Emulator, registry_url: str) -> None:
    registry = open_registry(registry_url)
    assistant = emu.create_assistant()
    first = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    reply = first.ask("alert: disk full", idempotency_key="alert-1")
    again = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    repeated = again.ask("alert: disk full", idempotency_key="alert-1")
    assert (repeated.run_id, repeated.text) == (reply.run_id, reply.text)
    assert emu.runs_of(reply.thread_id) == [reply.run_id]
    assert registry.get("inc-1").epoch == 1  # answered without claiming the key again
    other = again.ask("alert: cpu", idempotency_key="alert-2")
    assert other.run_id != reply.run_id
    assert other.thread_id == reply.thread_id
    registry.close()


def _dead_holder(
    emu: Emulator, registry: Any, assistant: str, *, start: bool, record_run: bool
) -> tuple[str, str | None]:
    """What a worker killed mid-ask leaves: a lease that will run out, a thread, a mark with
    the ask's idempotency key, and (``start``) a run carrying the mark, recorded or not."""
    from assistant_bridge.registry import Answer
    from assistant_bridge.registry._flow import new_mark

    transport = emu.transport()
    thread = transport.perform(CreateThread())  # before the claim: a cold start is slow
    lease = registry.claim("inc-1", "dead-worker", 0.5, wire="assistants")
    mark = new_mark("inc-1", lease.epoch)
    answer = Answer("inc-1", "alert-1", "pending", mark=mark)
    lease = registry.commit(
        lease, answer=answer, thread_id=thread.id, mark=mark, idempotency_key="alert-1"
    )
    run_id = None
    if start:
        request = RunSettings(assistant_id=assistant, metadata={"assistant_bridge_ask": mark})
        run_id = transport.perform(StartRun(thread.id, request, content="alert: disk full")).id
        if record_run:
            registry.commit(lease, run_id=run_id, run_status="queued")
    transport.close()
    return thread.id, run_id


@pytest.mark.parametrize("record_run", [True, False], ids=["recorded", "found-by-mark"])
def test_a_dead_holders_run_is_resumed_never_started_twice(
    emu: Emulator, registry_url: str, record_run: bool
) -> None:
    registry = open_registry(registry_url)
    assistant = emu.create_assistant()
    thread_id, run_id = _dead_holder(emu, registry, assistant, start=True, record_run=record_run)
    time.sleep(0.6)
    assert [o.key for o in registry.orphans()] == ["inc-1"]
    session = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    # The job is delivered again: its ask resumes the dead worker's run.
    reply = session.ask("alert: disk full", idempotency_key="alert-1", timeout=20)
    assert (reply.run_id, reply.thread_id) == (run_id, thread_id)
    assert emu.runs_of(thread_id) == [run_id]
    assert registry.orphans() == []
    assert registry.answer("inc-1", "alert-1").status == "done"
    registry.close()


def test_a_mark_without_a_run_means_the_ask_never_started(emu: Emulator, tmp_path: Any) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    assistant = emu.create_assistant()
    thread_id, _ = _dead_holder(emu, registry, assistant, start=False, record_run=False)
    time.sleep(0.6)
    session = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    reply = session.ask("alert: disk full", idempotency_key="alert-1", timeout=20)
    assert reply.thread_id == thread_id
    assert emu.runs_of(thread_id) == [reply.run_id]  # started now, once
    registry.close()


def test_a_start_sent_after_its_holder_was_given_up_answers_its_ask_once(
    emu: Emulator, registry_url: str
) -> None:
    """A holder stopped between writing its mark and sending its start (SIGSTOP, a long pause)
    is given up as never started; when its start arrives late after all, the ask delivered
    again follows that run instead of answering the alert a second time."""
    registry = open_registry(registry_url)
    assistant = emu.create_assistant()
    thread_id, _ = _dead_holder(emu, registry, assistant, start=False, record_run=False)
    mark = registry.get("inc-1").mark
    time.sleep(0.6)
    session = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    other = session.ask("alert: cpu", idempotency_key="alert-2", timeout=20)
    given_up = registry.answer("inc-1", "alert-1")
    assert (given_up.status, given_up.mark) == ("unstarted", mark)
    # The stopped holder wakes and its start goes out after all.
    transport = emu.transport()
    request = RunSettings(assistant_id=assistant, metadata={"assistant_bridge_ask": mark})
    late = transport.perform(StartRun(thread_id, request, content="alert: disk full")).id
    transport.close()
    reply = session.ask("alert: disk full", idempotency_key="alert-1", timeout=20)
    assert reply.run_id == late
    assert emu.runs_of(thread_id) == [other.run_id, late]  # no third run
    entry = registry.answer("inc-1", "alert-1")
    assert (entry.status, entry.run_id) == ("done", late)
    assert registry.get("inc-1").mark is None
    # Asked again, it is answered from the record; an alert never started still runs afresh.
    assert session.ask("alert: disk full", idempotency_key="alert-1").run_id == late
    registry.close()


def test_recover_resumes_an_orphan_without_a_new_ask(emu: Emulator, registry_url: str) -> None:
    registry = open_registry(registry_url)
    assistant = emu.create_assistant()
    thread_id, run_id = _dead_holder(emu, registry, assistant, start=True, record_run=True)
    time.sleep(0.6)
    for orphan in registry.orphans():
        session = KeyedSession(
            emu.transport(), orphan.key, registry=registry, assistant_id=assistant
        )
        assert session.recover(timeout=10)
    assert registry.orphans() == []
    entry = registry.answer("inc-1", "alert-1")
    assert (entry.status, entry.run_id) == ("done", run_id)
    assert emu.runs_of(thread_id) == [run_id]
    registry.close()


def test_a_holder_that_lost_its_lease_stops_and_cancels_nothing(
    emu: Emulator, registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.script(SayText("slow", delay=2.0), times=1)
    registry = open_registry(registry_url)
    assistant = emu.create_assistant()
    stalled = KeyedSession(
        emu.transport(), "inc-1", registry=registry, assistant_id=assistant, ttl=0.6
    )
    # This holder's renewals never arrive (a stopped process, a partition).
    monkeypatch.setattr(KeyedSession, "_renew", lambda self, holding, stop: None)
    with pytest.raises(LeaseLostError) as lost:
        stalled.ask("alert: slow", idempotency_key="alert-1", timeout=20)
    assert lost.value.key == "inc-1"
    assert "nothing more" in str(lost.value)
    monkeypatch.undo()
    run_id = registry.get("inc-1").run_id
    assert run_id is not None
    assert emu.run_status(run_id) in ("queued", "in_progress")  # not cancelled
    # The next holder resumes that run and answers the redelivered job with it.
    fresh = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    reply = fresh.ask("alert: slow", idempotency_key="alert-1", timeout=20)
    assert reply.run_id == run_id
    assert reply.text == "slow"
    assert emu.runs_of(reply.thread_id) == [run_id]
    registry.close()


def test_a_stale_holder_is_refused_before_it_starts_a_run(emu: Emulator, tmp_path: Any) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    assistant = emu.create_assistant()
    session = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    session.ask("first")  # the key has its thread now
    original = registry.claim

    def claim_then_lose(*args: Any, **kwargs: Any) -> Any:
        lease = original(*args, **kwargs)
        time.sleep(1.1)  # the lease runs out while this worker is paused...
        original("inc-1", "someone-else", 30)  # ...and another worker takes the key
        return lease

    session_short = KeyedSession(
        emu.transport(), "inc-1", registry=registry, assistant_id=assistant, ttl=1.0
    )
    registry.claim = claim_then_lose  # type: ignore[method-assign]
    runs_before = len(emu.store.runs)
    with pytest.raises(LeaseLostError):
        session_short.ask("second", timeout=10)
    assert len(emu.store.runs) == runs_before  # nothing was started
    assert registry.get("inc-1").owner == "someone-else"
    registry.close()


def test_a_holder_stopped_while_writing_its_mark_sends_no_start(
    emu: Emulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    assistant = emu.create_assistant()
    session = KeyedSession(
        emu.transport(), "inc-1", registry=registry, assistant_id=assistant, ttl=1.0
    )
    session.ask("first")  # the key has its thread now
    original = registry.commit

    def commit_then_pause(lease: Any, **fields: Any) -> Any:
        done = original(lease, **fields)
        if fields.get("mark"):
            time.sleep(1.1)  # stopped as the commit's answer came back, past the lease
        return done

    registry.commit = commit_then_pause  # type: ignore[method-assign]
    # The whole process is stopped: its renewals stop too.
    monkeypatch.setattr(KeyedSession, "_renew", lambda self, holding, stop: None)
    runs_before = len(emu.store.runs)
    with pytest.raises(LeaseLostError):
        session.ask("second", timeout=10)
    assert len(emu.store.runs) == runs_before  # the start was never sent
    registry.commit = original  # type: ignore[method-assign]
    monkeypatch.undo()
    # The next holder finds the mark without a run: the ask never started.
    assert session.ask("third", timeout=10).text == "triaged"
    registry.close()


def test_waiting_for_the_lease_is_bounded_by_the_deadline(emu: Emulator, registry_url: str) -> None:
    registry = open_registry(registry_url)
    holder = registry.claim("inc-1", "someone-else", 30)
    session = KeyedSession(
        emu.transport(), "inc-1", registry=registry, assistant_id=emu.create_assistant()
    )
    began = time.monotonic()
    with pytest.raises(LeaseWaitTimeoutError, match="nothing was sent"):
        session.ask("alert", timeout=0.5)
    assert time.monotonic() - began < 3
    assert emu.store.runs == {}
    # The ask that gave up left the queue: it holds up no one behind it.
    registry.release(holder)
    assert registry.claim("inc-1", "next", 30) is not None
    registry.close()


def test_waiters_get_the_lease_in_the_order_they_came(emu: Emulator, registry_url: str) -> None:
    registry = open_registry(registry_url)
    holder = registry.claim("inc-1", "someone-else", 30)
    assistant = emu.create_assistant()
    served: list[int] = []
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        own = open_registry(registry_url)
        session = KeyedSession(emu.transport(), "inc-1", registry=own, assistant_id=assistant)
        try:
            session.ask(f"alert {i}", timeout=30)
            served.append(i)  # runs of one key never overlap: replies end in lease order
        except BaseException as exc:
            failures.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
        time.sleep(0.15)  # each takes its ticket before the next one comes
    registry.release(holder)
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert served == [0, 1, 2, 3, 4]
    registry.close()


def test_async_waiters_get_the_lease_in_the_order_they_came(
    emu: Emulator, registry_url: str
) -> None:
    assistant = emu.create_assistant()

    async def main() -> list[int]:
        registry = await open_async_registry(registry_url)
        transport = AsyncOpenAITransport(emu.api_key, base_url=emu.base_url)
        holder = await registry.claim("inc-1", "someone-else", 30)
        served: list[int] = []

        async def ask(i: int) -> None:
            session = AsyncKeyedSession(
                transport, "inc-1", registry=registry, assistant_id=assistant
            )
            await session.ask(f"alert {i}", timeout=30)
            served.append(i)

        try:
            asks = []
            for i in range(4):
                asks.append(asyncio.create_task(ask(i)))
                await asyncio.sleep(0.15)  # each takes its ticket before the next one comes
            await registry.release(holder)
            await asyncio.gather(*asks)
        finally:
            await transport.aclose()
            await registry.aclose()
        return served

    assert asyncio.run(main()) == [0, 1, 2, 3]


def test_a_dead_waiter_holds_up_an_ask_no_longer_than_its_ticket(
    emu: Emulator, registry_url: str
) -> None:
    registry = open_registry(registry_url)
    holder = registry.claim("inc-1", "someone-else", 30)
    assert registry.claim("inc-1", "dead-waiter", 30, queue_ttl=0.6) is None  # never again
    registry.release(holder)
    session = KeyedSession(
        emu.transport(), "inc-1", registry=registry, assistant_id=emu.create_assistant()
    )
    began = time.monotonic()
    session.ask("alert", timeout=10)
    waited = time.monotonic() - began
    assert 0.3 < waited < 3
    registry.close()


def test_bad_input_is_refused_before_anything_is_sent(emu: Emulator, tmp_path: Any) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    assistant = emu.create_assistant()
    with pytest.raises(InvalidArgumentError):
        KeyedSession(emu.transport(), "", registry=registry, assistant_id=assistant)
    with pytest.raises(InvalidArgumentError):
        KeyedSession(
            emu.transport(), "k", registry=registry, assistant_id=assistant, thread_id="thread_x"
        )
    session = KeyedSession(emu.transport(), "k", registry=registry, assistant_id=assistant)
    with pytest.raises(InvalidArgumentError):
        session.ask("alert", idempotency_key="")
    assert registry.get("k") is None
    registry.close()


def test_async_sessions_share_one_thread_per_key(emu: Emulator, registry_url: str) -> None:
    assistant = emu.create_assistant()

    async def main() -> list[Any]:
        registry = await open_async_registry(registry_url)
        transport = AsyncOpenAITransport(emu.api_key, base_url=emu.base_url)
        try:
            asks = [
                AsyncKeyedSession(
                    transport, f"inc-{i % 2}", registry=registry, assistant_id=assistant
                ).ask(f"alert {i}", idempotency_key=f"alert-{i}", timeout=30)
                for i in range(6)
            ]
            replies = await asyncio.gather(*asks)
            again = await AsyncKeyedSession(
                transport, "inc-0", registry=registry, assistant_id=assistant
            ).ask("alert 0", idempotency_key="alert-0")
            assert again.run_id == replies[0].run_id
            return list(replies)
        finally:
            await transport.aclose()
            await registry.aclose()

    replies = asyncio.run(main())
    threads = {r.thread_id for r in replies}
    assert len(threads) == 2
    assert sum(len(emu.runs_of(t)) for t in threads) == 6
    assert _conflicts(emu) == 0


def test_an_unreachable_registry_fails_the_ask_typed_before_anything_is_sent(
    emu: Emulator,
) -> None:
    pytest.importorskip("redis", reason="redis-py is not installed ([redis] extra)")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    registry = open_registry(f"redis://:pw-s3cret@127.0.0.1:{port}/0")
    transport = emu.transport()
    session = KeyedSession(transport, "inc-1", registry=registry, assistant_id="asst_x")
    with pytest.raises(RegistryStoreError) as caught:
        session.ask("CPU at 100%", idempotency_key="alert-1", timeout=5)
    transport.close()
    assert caught.value.operation == "answer"  # the first thing an ask asks of the store
    assert "pw-s3cret" not in str(caught.value)
    assert emu.requests == []  # nothing reached the API


def test_a_keyed_ask_streams_and_records_its_run_id_from_the_first_event(
    emu: Emulator, tmp_path: Any
) -> None:
    emu.script(SayText("streamed", delay=1.0), times=1)
    registry = open_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    assistant = emu.create_assistant()
    session = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id=assistant)
    replies: list[Any] = []
    asking = threading.Thread(target=lambda: replies.append(session.ask("q", timeout=20)))
    asking.start()
    recorded = None
    while asking.is_alive() and recorded is None:
        recorded = registry.get("inc-1").run_id if registry.get("inc-1") else None
        time.sleep(0.02)
    assert asking.is_alive()  # the run id was in the registry while the run was going
    asking.join(20)
    assert replies[0].text == "streamed"
    assert replies[0].run_id == recorded
    counts = emu.counts()
    assert counts["runs.create"] == 1
    assert counts["runs.retrieve"] == 0  # one streamed request, no polls
    # Asked to poll, a keyed ask polls.
    polled = session.ask("again", wait="poll", timeout=20)
    assert polled.thread_id == replies[0].thread_id
    assert emu.counts()["runs.retrieve"] > 0
    registry.close()


def test_an_async_keyed_ask_streams_too(emu: Emulator, tmp_path: Any) -> None:
    async def main() -> Any:
        registry = await open_async_registry(f"sqlite:///{tmp_path / 'registry.db'}")
        transport = AsyncOpenAITransport(emu.api_key, base_url=emu.base_url)
        try:
            session = AsyncKeyedSession(
                transport, "inc-1", registry=registry, assistant_id=emu.create_assistant()
            )
            reply = await session.ask("q", idempotency_key="alert-1", timeout=20)
            entry = await registry.answer("inc-1", "alert-1")
            return reply, entry
        finally:
            await transport.aclose()
            await registry.aclose()

    reply, entry = asyncio.run(main())
    assert reply.text == "triaged"
    assert (entry.status, entry.run_id) == ("done", reply.run_id)
    assert emu.counts()["runs.retrieve"] == 0


def test_responses_keys_record_their_wire_and_the_spec_hash(
    emu: Emulator, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from assistant_bridge import AssistantSpec, ResponsesTransport
    from assistant_bridge.exceptions import ConfigurationError

    registry = open_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    transport = ResponsesTransport(emu.api_key, base_url=emu.base_url)
    spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="Triage alerts.")
    session = KeyedSession(transport, "inc-1", registry=registry, assistant=spec)
    first = session.ask("CPU at 100%", idempotency_key="alert-1", timeout=20)
    record = registry.get("inc-1")
    assert (record.wire, record.thread_id) == ("responses", first.thread_id)
    assert first.thread_id.startswith("conv_")
    assert record.spec_hash == spec.content_hash()
    # The assistant changes in code: the record says so, and the change is logged.
    changed = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="Be brief.")
    again = KeyedSession(transport, "inc-1", registry=registry, assistant=changed)
    with caplog.at_level("INFO", logger="assistant_bridge.registry"):
        follow_up = again.ask("Still at 100%", timeout=20)
    assert follow_up.thread_id == first.thread_id
    assert registry.get("inc-1").spec_hash == changed.content_hash()
    assert "changed assistant spec" in caplog.text
    # A conversation id means nothing on the Assistants wire: refused before anything is sent.
    before = len(emu.requests)
    other = KeyedSession(emu.transport(), "inc-1", registry=registry, assistant_id="asst_x")
    with pytest.raises(ConfigurationError, match="holds a responses thread"):
        other.ask("q", timeout=5)
    assert len(emu.requests) == before
    transport.close()
    registry.close()


def test_a_lost_responses_start_does_not_lock_the_key(
    emu: Emulator, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """On Responses a dead holder's start cannot be looked up by its mark: the key must not
    stay locked on it. The next ask records it as lost (a warning) and asks; the dead job's
    redelivery runs afresh, as docs/scaling.md says."""
    from assistant_bridge import AssistantSpec, ResponsesTransport
    from assistant_bridge.registry import Answer
    from assistant_bridge.registry._flow import new_mark

    registry = open_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    transport = ResponsesTransport(emu.api_key, base_url=emu.base_url)
    spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="Triage alerts.")
    session = KeyedSession(transport, "inc-1", registry=registry, assistant=spec)
    first = session.ask("CPU at 100%", timeout=20)
    # A worker claims the key, writes its mark, sends its start and dies before the answer.
    lease = registry.claim("inc-1", "dead-worker", 0.3, wire="responses")
    mark = new_mark("inc-1", lease.epoch)
    registry.commit(
        lease,
        answer=Answer("inc-1", "alert-dead", "pending", mark=mark),
        mark=mark,
        idempotency_key="alert-dead",
        run_id=None,
        run_status="starting",
    )
    time.sleep(0.4)
    with caplog.at_level("WARNING", logger="assistant_bridge.registry"):
        reply = session.ask("disk full", idempotency_key="alert-2", timeout=20)
    assert reply.thread_id == first.thread_id
    assert "cannot be looked up by its mark" in caplog.text
    record = registry.get("inc-1")
    assert (record.mark, record.owner) == (None, None)
    assert registry.answer("inc-1", "alert-dead").status == "unstarted"
    assert registry.orphans() == []
    redelivered = session.ask("disk full (again)", idempotency_key="alert-dead", timeout=20)
    assert redelivered.thread_id == first.thread_id
    transport.close()
    registry.close()


def test_bad_numbers_and_keys_are_refused_before_anything_is_claimed_or_sent(
    emu: Emulator, tmp_path: Any
) -> None:
    from assistant_bridge.exceptions import ArgumentTypeError, ConfigurationError

    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    assistant = emu.create_assistant()

    def keyed(**kwargs: Any) -> KeyedSession[str]:
        return KeyedSession(emu.transport(), "k", registry=registry, **kwargs)

    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(InvalidArgumentError, match="timeout"):
            keyed(assistant_id=assistant).ask("alert", timeout=bad)
        with pytest.raises(InvalidArgumentError, match="timeout"):
            keyed(assistant_id=assistant, timeout=bad)
        with pytest.raises(InvalidArgumentError, match="timeout"):
            keyed(assistant_id=assistant).recover(timeout=bad)
        with pytest.raises(InvalidArgumentError, match="claim_poll"):
            keyed(assistant_id=assistant, claim_poll=bad)
        with pytest.raises(InvalidArgumentError, match="ttl"):
            keyed(assistant_id=assistant, ttl=bad)
        with pytest.raises(InvalidArgumentError, match="retention"):
            open_registry(f"sqlite:///{tmp_path / 'r2.db'}", retention=bad)
    with pytest.raises(ArgumentTypeError, match="timeout"):
        keyed(assistant_id=assistant).ask("alert", timeout="5")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="idempotency_key"):
        keyed(assistant_id=assistant).ask("alert", idempotency_key=42)  # type: ignore[arg-type]
    for key in ("inc\x00-1", "inc-\ud800"):
        with pytest.raises(InvalidArgumentError, match="NUL character or a lone surrogate"):
            KeyedSession(emu.transport(), key, registry=registry, assistant_id=assistant)
    with pytest.raises(ConfigurationError, match="one of them"):
        keyed()
    assert registry.get("k") is None
    assert emu.requests == [r for r in emu.requests if r.route == "assistants.create"]
    registry.close()


def test_an_assistant_id_on_the_responses_wire_is_refused_before_a_conversation_is_made(
    emu: Emulator, tmp_path: Any
) -> None:
    from assistant_bridge import ResponsesTransport
    from assistant_bridge.exceptions import ConfigurationError

    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    transport = ResponsesTransport(emu.api_key, base_url=emu.base_url)
    session = KeyedSession(transport, "inc-1", registry=registry, assistant_id="asst_x")
    with pytest.raises(ConfigurationError, match="no assistant objects"):
        session.ask("alert", timeout=10)
    assert emu.requests == []
    assert registry.get("inc-1") is None
    transport.close()
    registry.close()


def test_a_transport_of_the_other_flavour_is_refused_at_once(emu: Emulator, tmp_path: Any) -> None:
    from assistant_bridge.exceptions import ConfigurationError

    async def build_async() -> None:
        registry = await open_async_registry(f"sqlite:///{tmp_path / 'a.db'}")
        try:
            with pytest.raises(ConfigurationError, match="needs an async transport"):
                AsyncKeyedSession(emu.transport(), "k", registry=registry, assistant_id="asst_x")
        finally:
            await registry.aclose()

    asyncio.run(build_async())
    registry = open_registry(f"sqlite:///{tmp_path / 's.db'}")
    transport = AsyncOpenAITransport(emu.api_key, base_url=emu.base_url)
    with pytest.raises(ConfigurationError, match="needs a sync transport"):
        KeyedSession(transport, "k", registry=registry, assistant_id="asst_x")
    registry.close()
    asyncio.run(transport.aclose())
