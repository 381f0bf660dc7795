"""What a keyed ask does, written once as a sans-I/O flow: claim the key's lease (waiting within
the deadline), finish what a dead holder left (resume its run, never start a second), make the
key's one thread, ask, record the outcome, release.

The flow yields operations (a registry call, a transport call, an ask or a resume on the
key's thread, holding or letting go of the lease, a sleep) and receives each one's result;
the sync and async keyed sessions (:mod:`._keyed`) only perform them, so every decision lives
here, once. What happens *during* an ask (the mark and epoch written before the run starts,
the run id recorded as soon as it is known, nothing written once the lease is lost) is the
fence's (:mod:`._fence`), whose decisions are the functions at the end of this module.
"""

from __future__ import annotations

import hashlib
import logging
import random
import uuid
from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar, cast

import attrs

from assistant_bridge._values.reply import Reply
from assistant_bridge.exceptions import (
    AssistantBridgeError,
    ConfigurationError,
    RunError,
    UnsupportedOperationError,
)
from assistant_bridge.registry._errors import LeaseLostError, LeaseWaitTimeoutError
from assistant_bridge.registry._record import Answer, Lease, ThreadRecord
from assistant_bridge.transports.ops import ASK_KEY, CreateThread, FindRun

logger = logging.getLogger("assistant_bridge.registry")
T = TypeVar("T")

KEY_METADATA = "assistant_bridge_key"
"""Thread metadata naming the key a registry thread belongs to (hashed)."""

ENDED = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
"""Run statuses after which a run holds its thread no more."""


def key_hash(key: str) -> str:
    """A short, stable digest of a key: it fits any metadata value and shows no incident data."""
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def new_mark(key: str, epoch: int) -> str:
    """The pending ask's mark, which is also its run's ONE metadata entry: the key's hash, the
    epoch that started it and a nonce (``<hash>:<epoch>:<nonce>``, 46 characters at most for
    epochs below 10^12), so users keep 15 of the 16 metadata keys."""
    return f"{key_hash(key)}:{epoch}:{uuid.uuid4().hex[:12]}"


def epoch_of(mark: str) -> int | None:
    """The epoch a mark was written under, or None for a mark that is not a keyed one."""
    parts = mark.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


# -- operations ------------------------------------------------------------------------------
@attrs.frozen
class Op:
    """Work the keyed flow asks its driver to do."""


@attrs.frozen
class Reg(Op):
    """Call the registry: ``registry.<method>(*args, **kwargs)``."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Api(Op):
    """Perform a transport operation, fenced by ``holding``."""

    holding: Holding
    op: Any


@attrs.frozen
class Hold(Op):
    """Hold ``lease``: renew it every third of its TTL until :class:`LetGo`; the driver answers
    with the :class:`Holding` the fence and the renewer share."""

    lease: Lease
    idempotency_key: str | None


@attrs.frozen
class LetGo(Op):
    """Stop renewing and release the lease (a lost lease is let go of without a write)."""

    holding: Holding


@attrs.frozen
class AskOn(Op):
    """Ask on the key's thread through the fence; the driver answers with the reply."""

    holding: Holding
    thread_id: str
    prompt: str
    parser: Any
    timeout: float
    options: Mapping[str, Any]


@attrs.frozen
class ResumeOn(Op):
    """Follow an existing run of the key's thread to its reply (nothing new is started),
    fenced by ``holding`` when the lease is held."""

    holding: Holding | None
    thread_id: str
    run_id: str
    parser: Any
    timeout: float


@attrs.frozen
class Nap(Op):
    """Sleep this many seconds."""

    seconds: float


Flow = Generator[Op, Any, T]


LOCAL_MARGIN = 0.9
"""A holder stops by itself once 90% of the TTL has passed since its last renewal, by its own
clock, ahead of the registry (clocks drift; a stopped process wakes late)."""


@attrs.define
class Holding:
    """The lease an ask holds, shared by the flow, the fence and the renewer: the latest lease,
    the mark of the ask in flight and its run, and the error once the lease is lost.

    ``local_expiry`` is when the lease ends by this process's monotonic clock (set at each
    claim or renewal, from the TTL): past it the holder stops by itself, even before the
    registry says so (a process stopped and continued, a renewer starved)."""

    lease: Lease
    ttl: float
    local_expiry: float
    idempotency_key: str | None = None
    mark: str | None = None
    run_id: str | None = None
    lost: LeaseLostError | None = None
    renewer: Any = None

    @property
    def key(self) -> str:
        return self.lease.key

    def check(self, now: float) -> None:
        """Raise the lost-lease error if the lease is gone or past its time by our clock."""
        if self.lost is None and now >= self.local_expiry:
            msg = (
                f"Lease on key {self.key!r} (epoch {self.lease.epoch}) ran out before it was "
                "renewed (was this process stopped or starved?); this holder stops here and "
                "writes, starts and cancels nothing more for this key."
            )
            self.lost = LeaseLostError(msg, key=self.key, epoch=self.lease.epoch)
        if self.lost is not None:
            raise self.lost


TICKET_TTL = 1.0
"""Seconds a waiter's ticket in the key's queue lives unless the waiter claims again (it does
every ``claim_poll``, or every ``WAKE_WAIT`` at most on Redis): a waiter that died stops holding
up those behind it after this long, sooner than a dead holder's lease ends (its TTL, 30 s by
default). A live waiter stalled longer only loses its place."""

WAKE_WAIT = 0.25
"""On a store that wakes waiters (Redis), the longest a waiter blocks before it claims again
anyway: how late it notices a holder that died (its lease expired) or a waiter ahead of it
that died, never how late it hears of a release."""


@attrs.frozen
class KeyedSettings:
    """What every ask of one keyed session shares.

    ``wakes`` says whether the registry wakes the key's next waiter on release (Redis); if not,
    waiters claim again every ``claim_poll`` seconds (with jitter)."""

    key: str
    owner: str
    ttl: float
    wire: str
    timeout: float
    clock: Callable[[], float]
    claim_poll: float = 0.02
    wakes: bool = False
    thread_metadata: Mapping[str, str] | None = None
    spec_hash: str | None = None
    """The content hash of the session's ``AssistantSpec`` (None with an assistant id)."""


def _owner(settings: KeyedSettings) -> str:
    return f"{settings.owner}:{uuid.uuid4().hex[:8]}"


# -- the keyed ask ---------------------------------------------------------------------------
def keyed_ask(
    settings: KeyedSettings,
    prompt: str,
    parser: Any,
    idempotency_key: str | None,
    timeout: float | None,
    options: Mapping[str, Any],
) -> Flow[Reply[Any]]:
    """Ask under the session's key: see :class:`~assistant_bridge.registry.KeyedSession`."""
    seconds = settings.timeout if timeout is None else float(timeout)
    deadline = settings.clock() + seconds
    key = settings.key

    def left() -> float:
        return max(0.0, deadline - settings.clock())

    if idempotency_key is not None:
        answered = yield from _answered(settings, idempotency_key, parser, left)
        if answered is not None:
            return answered
    lease = yield from _claim(settings, seconds, deadline)
    holding = cast(Holding, (yield Hold(lease, idempotency_key)))
    try:
        record = lease.record
        if record.wire is not None and record.wire != settings.wire:
            msg = (
                f"Key {key!r} holds a {record.wire} thread; this session speaks {settings.wire}. "
                "A thread id means nothing on the other wire: use another key or registry."
            )
            raise ConfigurationError(msg)
        if record.mark is not None:
            recovered = yield from _recover(settings, holding, record, parser, left)
            if recovered is not None and idempotency_key is not None:
                done_key, reply = recovered
                if done_key == idempotency_key:
                    return reply
        if idempotency_key is not None:
            entry = cast(Answer | None, (yield Reg("answer", (key, idempotency_key))))
            if entry is not None and entry.status == "done" and entry.run_id and entry.thread_id:
                # Another holder finished it while this one waited for the lease.
                done = ResumeOn(holding, entry.thread_id, entry.run_id, parser, left())
                return cast(Reply[Any], (yield done))
            if entry is not None and entry.status == "unstarted":
                late = yield from _late_start(settings, holding, entry, parser, left)
                if late is not None:
                    return late
        latest = yield from _latest(holding)
        thread_id = latest.thread_id
        if thread_id is None:
            metadata = {**(settings.thread_metadata or {}), KEY_METADATA: key_hash(key)}
            thread = yield Api(holding, CreateThread(metadata=metadata))
            yield from _commit(holding, thread_id=thread.id, wire=settings.wire)
            thread_id = thread.id
        yield from _note_spec(settings, holding, latest.spec_hash)
        try:
            reply = cast(
                Reply[Any], (yield AskOn(holding, thread_id, prompt, parser, left(), options))
            )
        except LeaseLostError:
            raise
        except AssistantBridgeError as exc:
            yield from _ask_failed(holding, exc)
            raise
        yield from _finish(holding, reply.run_id, "completed")
        return reply
    finally:
        yield LetGo(holding)


def keyed_recover(settings: KeyedSettings, parser: Any, timeout: float | None) -> Flow[bool]:
    """Claim the key and finish what a lost holder left (see :func:`_recover`); True when
    there was something to finish."""
    seconds = settings.timeout if timeout is None else float(timeout)
    deadline = settings.clock() + seconds
    lease = yield from _claim(settings, seconds, deadline)
    holding = cast(Holding, (yield Hold(lease, None)))
    try:
        if lease.record.mark is None:
            return False
        yield from _recover(
            settings, holding, lease.record, parser, lambda: max(0.0, deadline - settings.clock())
        )
        return True
    finally:
        yield LetGo(holding)


def _answered(
    settings: KeyedSettings, idempotency_key: str, parser: Any, left: Callable[[], float]
) -> Flow[Reply[Any] | None]:
    """The recorded reply of an ask already answered under this idempotency key, fetched
    again from its run; None when it was not (or its run is still going: then the caller
    claims the lease and resumes it)."""
    entry = cast(Answer | None, (yield Reg("answer", (settings.key, idempotency_key))))
    if entry is None or entry.status != "done" or not entry.run_id or not entry.thread_id:
        return None
    return cast(Reply[Any], (yield ResumeOn(None, entry.thread_id, entry.run_id, parser, left())))


def _claim(settings: KeyedSettings, seconds: float, deadline: float) -> Flow[Lease]:
    """Claim the key's lease, first come, first served, until the deadline: the first refusal
    takes a ticket in the key's queue and every later claim keeps it alive; between claims the
    waiter blocks until a release wakes it (where the store can) or pauses briefly. A waiter
    that gives up (deadline, error) leaves the queue."""
    key, owner = settings.key, _owner(settings)
    claim = Reg(
        "claim", (key, owner, settings.ttl), {"wire": settings.wire, "queue_ttl": TICKET_TTL}
    )
    queued = False
    try:
        while True:
            lease = yield claim
            if lease is not None:
                return cast(Lease, lease)
            queued = True
            remaining = deadline - settings.clock()
            if remaining <= 0:
                msg = (
                    f"The ask waited {seconds:g}s for the lease on key {key!r}, which "
                    "another holder kept; nothing was sent. Ask again with a longer timeout."
                )
                raise LeaseWaitTimeoutError(msg, key=key, timeout=seconds)
            if settings.wakes:
                yield Reg("wait_turn", (key, owner, min(WAKE_WAIT, remaining)))
            else:
                pause = settings.claim_poll * random.uniform(0.75, 1.25)
                yield Nap(min(pause, remaining))
    except GeneratorExit:
        raise
    except BaseException:
        if queued:
            yield from _leave(key, owner)
        raise


def _leave(key: str, owner: str) -> Flow[None]:
    """Give up a waiter's ticket; if that fails too, the ticket lapses after its TTL."""
    try:
        yield Reg("leave", (key, owner))
    except Exception as exc:
        logger.warning("key %r: leaving the queue failed (%s); the ticket lapses", key, exc)


def _note_spec(settings: KeyedSettings, holding: Holding, recorded: str | None) -> Flow[None]:
    """Record the hash of the spec the key's thread is asked with, when it is new or changed
    (one commit then, none otherwise); a change is logged, since the thread's earlier answers
    came from another definition of the assistant."""
    if settings.spec_hash is None or settings.spec_hash == recorded:
        return
    if recorded is not None:
        logger.info(
            "key %r: its thread is now asked with a changed assistant spec (%s, was %s)",
            settings.key,
            settings.spec_hash,
            recorded,
        )
    yield from _commit(holding, spec_hash=settings.spec_hash)


def _latest(holding: Holding) -> Flow[ThreadRecord]:
    return holding.lease.record
    yield  # pragma: no cover - a flow


def _commit(holding: Holding, answer: Answer | None = None, **fields: Any) -> Flow[Lease]:
    lease = cast(Lease, (yield Reg("commit", (holding.lease,), {"answer": answer, **fields})))
    holding.lease = lease
    return lease


def _recover(
    settings: KeyedSettings,
    holding: Holding,
    record: ThreadRecord,
    parser: Any,
    left: Callable[[], float],
) -> Flow[tuple[str | None, Reply[Any]] | None]:
    """A holder died (or lost its lease) mid-ask: resume the run its mark started, or find it
    by the mark; never start it again. Returns (its idempotency key, its reply) when it had a
    run that ended with one; records whatever happened either way."""
    previous = record.idempotency_key
    run_id = record.run_id
    thread_id = record.thread_id
    assert record.mark is not None
    if run_id is None and thread_id is not None:
        try:
            found = yield Api(holding, FindRun(thread_id, record.mark))
        except UnsupportedOperationError:
            # Responses cannot list a conversation's responses by metadata: a start whose
            # answer was lost is not found (docs/scaling.md). If that response is still going,
            # the next ask meets the conversation's lock and waits for it within its deadline.
            logger.warning(
                "key %r: the pending ask %s may have started a response that cannot be looked "
                "up by its mark on this wire; it is recorded as lost, and asked again it runs "
                "afresh",
                settings.key,
                record.mark,
            )
            yield from _finish(holding, None, "lost", previous=previous)
            return None
        run_id = None if found is None else found.id
    if run_id is None or thread_id is None:
        # The mark was written but no run carries it: that ask never started.
        logger.info("key %r: the pending ask %s never started", settings.key, record.mark)
        yield from _finish(holding, None, "unstarted", previous=previous)
        return None
    logger.info("key %r: resuming run %s of a lost holder", settings.key, run_id)
    yield from _commit(holding, run_id=run_id)
    try:
        reply = cast(Reply[Any], (yield ResumeOn(holding, thread_id, run_id, parser, left())))
    except LeaseLostError:
        raise
    except RunError as exc:
        yield from _finish(holding, run_id, exc.status, previous=previous)
        return None
    yield from _finish(holding, run_id, "completed", previous=previous)
    return previous, reply


def _late_start(
    settings: KeyedSettings,
    holding: Holding,
    entry: Answer,
    parser: Any,
    left: Callable[[], float],
) -> Flow[Reply[Any] | None]:
    """An ask given up as never started is asked again: look its old mark up once more before
    starting afresh. A holder stopped between writing its mark and sending its start (SIGSTOP,
    a long GC pause) may have sent it after the next holder looked; that run answers this ask,
    and a second run would answer it twice. None when no run carries the mark."""
    thread_id = holding.lease.record.thread_id
    if thread_id is None or entry.mark is None:
        return None
    try:
        found = yield Api(holding, FindRun(thread_id, entry.mark))
    except UnsupportedOperationError:
        return None  # Responses: not found by mark (docs/scaling.md)
    if found is None:
        return None
    logger.warning(
        "key %r: the ask %r given up as never started did start late (run %s); it is "
        "followed, not asked again",
        settings.key,
        entry.idempotency_key,
        found.id,
    )
    # The ask is pending again, as its holder left it; then recovered like any other.
    yield from _commit(holding, mark=entry.mark, idempotency_key=entry.idempotency_key)
    pending = attrs.evolve(holding.lease.record, run_id=found.id)
    recovered = yield from _recover(settings, holding, pending, parser, left)
    return None if recovered is None else recovered[1]


def _finish(
    holding: Holding, run_id: str | None, status: str, *, previous: str | None = None
) -> Flow[None]:
    """Record how the pending ask ended and clear its mark: its answer is ``done`` when its run
    completed, ``unstarted`` otherwise (asked again, it runs afresh). An ask whose run was never
    seen keeps its mark in the answer: asked again, it is looked up once more first."""
    record = holding.lease.record
    idem = previous if previous is not None else holding.idempotency_key
    answer = None
    if idem is not None:
        answer = Answer(
            holding.key,
            idem,
            "done" if status == "completed" else "unstarted",
            thread_id=record.thread_id,
            run_id=run_id,
            mark=record.mark if run_id is None else None,
        )
    fields: dict[str, Any] = {"mark": None, "idempotency_key": None, "run_status": status}
    if run_id is not None:
        fields["run_id"] = run_id
    yield from _commit(holding, answer, **fields)
    holding.mark = None
    holding.run_id = None


def _ask_failed(holding: Holding, exc: AssistantBridgeError) -> Flow[None]:
    """The ask failed with the lease still held: clear the mark when its run surely ended (or
    never started); keep it when the run may still be going, so the next holder resumes it."""
    cancelled = getattr(exc, "cancel_confirmed", None)
    status = getattr(exc, "status", None)
    if holding.run_id is not None and cancelled is False and status not in ENDED:
        return  # the run may still be active: leave the mark for the next holder
    yield from _finish(holding, holding.run_id, str(status or "failed"))


# -- the fence's decisions (used by both fenced transports) ----------------------------------
def mark_start(holding: Holding, metadata: Mapping[str, str] | None) -> Any:
    """Before a run starts: the commit that writes the mark and epoch (and the answer entry),
    and the run metadata to send: the session's mark (``ASK_KEY``) replaced by the keyed one,
    which names key and epoch in that one entry."""
    mark = new_mark(holding.key, holding.lease.epoch)
    holding.mark = mark
    holding.run_id = None
    answer = (
        None
        if holding.idempotency_key is None
        else Answer(holding.key, holding.idempotency_key, "pending", mark=mark)
    )
    fields = {
        "mark": mark,
        "run_id": None,
        "run_status": "starting",
        "idempotency_key": holding.idempotency_key,
    }
    return fields, answer, {**(metadata or {}), ASK_KEY: mark}


def mark_started(holding: Holding, run_id: str, status: str, thread_id: str) -> Any:
    """Once the run id is known: the commit that records it."""
    holding.run_id = run_id
    answer = (
        None
        if holding.idempotency_key is None
        else Answer(
            holding.key,
            holding.idempotency_key,
            "running",
            thread_id=thread_id,
            run_id=run_id,
            mark=holding.mark,
        )
    )
    return {"run_id": run_id, "run_status": status}, answer
