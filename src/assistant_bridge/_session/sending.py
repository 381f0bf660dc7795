"""Operations sent within the deadline: retried as the retry policy allows (a write whose
failure is ambiguous is looked up, never repeated blindly), another run on the thread waited
for or cancelled, the one poll loop, and a run cancelled and its end confirmed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

import attrs

from assistant_bridge._session.flow import (
    Flow,
    Sleep,
    WaitSettings,
    do,
)
from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.models import Run
from assistant_bridge.exceptions import (
    ActiveRunError,
    TransportError,
)
from assistant_bridge.transports.ops import (
    CancelRun,
    CreateThreadAndRun,
    GetRun,
    Op,
    StartRun,
    StreamThreadAndRun,
    SubmitToolOutputs,
    as_stream,
)

__all__ = ["Lookup", "cancel_and_confirm", "not_repeated", "poll_until", "retried", "streamed"]

logger = logging.getLogger("assistant_bridge")
T = TypeVar("T")

MIN_REQUEST_SECONDS = 0.1
"""The least time a request is given, even once the ask's time is spent (the last look at a
run, a cancel's confirmation): short, so it never stretches the ask past its bound. While
time is left, a request is given all of it, measured across its whole answer."""

Lookup = Callable[[], Flow[object]]
"""After an ambiguous failure of a write: what it did (a value), or None if surely nothing."""


def retried(
    op: Op[T],
    settings: WaitSettings,
    *,
    lookup: Lookup | None = None,
    until: float | None = None,
    per_try: float | None = None,
) -> Flow[T]:
    """Perform ``op``, retrying failures the retry policy allows, before ``until`` (the ask's
    deadline unless given), each request bounded by the time left (and by ``per_try``, so a
    hanging request leaves time to try again).

    Reads and idempotent operations are simply repeated. A write whose failure is ambiguous
    (it may have reached the server) is not: ``lookup`` finds out what it did (the run a start
    began, the round a submission moved on) and that is returned instead; without a lookup the
    error is raised with a note, so nothing is ever done twice. Another run holding the thread
    is waited for, cancelled or reported, as the session's policy says.
    """
    end = settings.deadline if until is None else until
    attempt = locked = 0
    while True:
        budget = max(MIN_REQUEST_SECONDS, end - settings.clock())
        if per_try is not None:
            budget = min(budget, per_try)
        try:
            answer = yield attrs.evolve(op, budget=budget)  # the op as it is, to perform
            return cast(T, answer)
        except ActiveRunError as exc:
            if op.idempotent:
                raise
            yield from _clear_active_run(exc, settings, locked)
            locked += 1
            continue
        except TransportError as exc:
            policy = settings.retry
            if not policy.retryable(exc) or attempt + 1 >= policy.max_attempts:
                raise
            if getattr(exc, "thread_id", None) is not None and _makes_thread(op):
                raise  # the thread exists now: the caller goes on from it
            if not op.idempotent and policy.ambiguous(exc):
                if lookup is None:
                    exc.message += not_repeated(op)
                    raise
                found = yield from lookup()
                if found is not None:
                    logger.info("%s took effect despite %s; going on", type(op).__name__, exc)
                    return cast(T, found)
            delay = policy.delay(attempt, getattr(exc, "retry_after", None))
            if settings.clock() + delay >= end:
                raise
            logger.info("retrying %s in %.2fs after %s", type(op).__name__, delay, exc)
            yield from do(Sleep(delay))
            attempt += 1


def _makes_thread(op: Op[object]) -> bool:
    return isinstance(op, (CreateThreadAndRun, StreamThreadAndRun))


def not_repeated(op: Op[object]) -> str:
    if _makes_thread(op):
        return (
            " The request may have reached the server, so it was not repeated (that could "
            "start the run twice). It was the first ask, so there is no thread to look it up "
            "on yet: ask again, or create the session with first_ask='safe' (the thread is "
            "created first, so a lost start is looked up instead of failing)."
        )
    thread_id = getattr(op, "thread_id", None)
    if thread_id is not None:
        return (
            " The request may have reached the server, so it was not repeated; check thread "
            f"{thread_id} before asking again."
        )
    return " The request may have reached the server, so it was not repeated."


def _clear_active_run(exc: ActiveRunError, settings: WaitSettings, tries: int) -> Flow[None]:
    """Another run holds the thread: wait for it, cancel it, or raise, per the policy. When
    the server does not name it (Responses' ``conversation_locked``), it cannot be looked at
    or cancelled: "wait" and "cancel" both wait (``tries`` waits so far) and try again."""
    if settings.on_active_run == "raise" or exc.thread_id is None:
        raise exc
    if exc.run_id is None:
        delay = settings.poll.delay(tries, None)
        if settings.clock() + delay >= settings.deadline:
            exc.message += (
                " Waited for the response in progress until the deadline; it is still going."
            )
            raise exc
        logger.info("%s is busy; asking again in %.2fs", exc.thread_id, delay)
        yield from do(Sleep(delay))
        return
    other = yield from retried(GetRun(exc.thread_id, exc.run_id), settings)
    if settings.on_active_run == "cancel":
        confirmed, _ = yield from cancel_and_confirm(other, settings)
        if not confirmed:
            exc.message += f" Cancelling run {exc.run_id} was not confirmed in time."
            raise exc
        return
    try:
        other = yield from poll_until(other, settings, settings.deadline, _active(settings))
    except TransportError:
        if settings.clock() < settings.deadline:
            raise
        # A look at the other run failed at the deadline: the conflict is still the story.
    if settings.machine.is_active(other.status):
        exc.message += f" Waited for run {exc.run_id} until the deadline; it is still active."
        raise exc


def poll_until(
    run: Run, settings: WaitSettings, until: float, waiting: Callable[[Run], bool]
) -> Flow[Run]:
    """The one poll loop: while ``waiting(run)`` and time is left before ``until``, sleep as
    the poll policy says and fetch the run again."""
    attempt = 0
    while waiting(run):
        remaining = until - settings.clock()
        if remaining <= 0:
            break
        delay = settings.poll.delay(attempt, run.poll_after_ms)
        yield from do(Sleep(max(0.0, min(delay, remaining))))
        attempt += 1
        run = yield from retried(GetRun(run.thread_id, run.id), settings, until=until)
    return run


def _active(settings: WaitSettings) -> Callable[[Run], bool]:
    return lambda run: settings.machine.is_active(run.status)


def cancel_and_confirm(
    run: Run, settings: WaitSettings, grace_end: float | None = None
) -> Flow[tuple[bool, Run]]:
    """Cancel ``run`` and poll until it leaves the active states, all within ``cancel_grace``
    (from now, or until ``grace_end`` when the grace began earlier; the cancel is retried
    inside it); True when it was seen stopped."""
    if grace_end is None:
        grace_end = settings.clock() + settings.cancel_grace
    try:
        try:
            cancel = CancelRun(run.thread_id, run.id)
            # Each try gets a third of the grace: a cancel that hangs is tried again in time.
            per_try = max(0.25, settings.cancel_grace / 3)
            run = yield from retried(cancel, settings, until=grace_end, per_try=per_try)
        except TransportError as exc:
            # Usually "Cannot cancel run with status 'completed'": it ended meanwhile. Look.
            logger.debug("cancel of run %s refused: %s", run.id, exc)
            run = yield from retried(GetRun(run.thread_id, run.id), settings, until=grace_end)
        run = yield from poll_until(run, settings, grace_end, _active(settings))
    except TransportError:
        return False, run
    return not settings.machine.is_active(run.status), run


def streamed(
    op: StartRun | CreateThreadAndRun | SubmitToolOutputs, settings: WaitSettings
) -> Op[Run | Iterator[RunEvent]]:
    """``op``, or its stream twin where the session streams (silent no longer than the time
    left allows)."""
    return as_stream(op, settings.stall()) if settings.streaming else op
