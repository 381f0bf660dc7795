"""What an ask does, as a sans-I/O flow: resolve the assistant, post the prompt (creating
the thread with the run when there is none), keep the thread whatever happens, and follow
the run to its reply (:mod:`.follow`). Also the resume of a run that already exists."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from assistant_bridge._parsing.parsers import Parser
from assistant_bridge._session.flow import (
    AskPlan,
    Emit,
    Flow,
    RunStream,
    Sleep,
    WaitSettings,
    do,
)
from assistant_bridge._session.follow import follow, stop_lost_run
from assistant_bridge._session.sending import Lookup, not_repeated, retried, streamed
from assistant_bridge._values.events import (
    ReplyReady,
    RunEvent,
)
from assistant_bridge._values.models import Run
from assistant_bridge._values.reply import Reply
from assistant_bridge.exceptions import (
    TransportError,
)
from assistant_bridge.transports.ops import (
    ASK_KEY,
    CreateThread,
    CreateThreadAndRun,
    FindRun,
    GetRun,
    Op,
    ResolveAssistant,
    RunSettings,
    StartRun,
)

__all__ = ["ask_flow", "resume_flow"]


def ask_flow(
    plan: AskPlan,
    settings: WaitSettings,
    on_thread: Callable[[str], None],
    on_assistant: Callable[[str], None] = lambda _: None,
) -> Flow[Reply[Any]]:
    """Post the prompt (creating the thread with the run when there is none), then follow the
    run to its reply, streaming where ``settings.streaming`` and polling otherwise.

    ``on_thread`` learns the thread id as soon as it exists, so a session keeps its thread
    even when the ask later fails; ``on_assistant`` learns the assistant id a spec resolved to.
    The flow emits the ask's events (:mod:`assistant_bridge._values.events`), ending with
    ReplyReady. ``settings.deadline`` bounds all of it.
    """
    request = plan.request
    if request.assistant_id is None and request.assistant is not None:
        resolved = yield from retried(ResolveAssistant(request.assistant), settings)
        if resolved is not None:
            on_assistant(resolved)
            request = attrs.evolve(request, assistant_id=resolved)
    thread_id = plan.thread_id
    two_steps = (
        request.additional_instructions is not None
        or plan.message_metadata is not None
        or plan.first_ask == "safe"
    )
    if thread_id is None and two_steps:
        # create-and-run cannot carry additional_instructions or message metadata, and a
        # "safe" first ask wants a thread to look a lost start up on.
        thread = yield from retried(CreateThread(metadata=plan.thread_metadata), settings)
        thread_id = thread.id
        on_thread(thread_id)
    request = attrs.evolve(request, metadata={**(request.metadata or {}), ASK_KEY: plan.ask_key})
    start: Op[Run | Iterator[RunEvent]] = (
        streamed(
            StartRun(
                thread_id, request, content=plan.prompt, message_metadata=plan.message_metadata
            ),
            settings,
        )
        if thread_id is not None
        else streamed(
            CreateThreadAndRun(plan.prompt, request, thread_metadata=plan.thread_metadata),
            settings,
        )
    )
    lookup: Lookup | None = None
    find: FindRun | None = None
    if thread_id is not None and settings.can_find_runs:
        find = FindRun(thread_id, plan.ask_key)
        finding = find

        def find_started() -> Flow[Run | None]:
            return (yield from retried(finding, settings))

        lookup = find_started

    try:
        started: Run | RunStream = yield from retried(start, settings, lookup=lookup)
    except TransportError as exc:
        made = getattr(exc, "thread_id", None)
        if thread_id is not None:
            yield from stop_lost_run(exc, thread_id, settings, find)
            raise
        if made is None:
            raise
        # The thread was made, then starting the run failed: keep the thread (none is left
        # behind), and start on it if that surely did not happen yet.
        on_thread(made)
        policy = settings.retry
        delay = policy.delay(0, getattr(exc, "retry_after", None))
        if (
            policy.max_attempts <= 1
            or policy.ambiguous(exc)
            or not policy.retryable(exc)
            or settings.clock() + delay >= settings.deadline
        ):
            exc.message += (
                not_repeated(StartRun(made, request))
                if policy.ambiguous(exc)
                else f" Thread {made} was created; the session keeps it for the next ask."
            )
            yield from stop_lost_run(exc, made, settings, None)
            raise
        yield from do(Sleep(delay))
        retry = streamed(StartRun(made, request, content=plan.prompt), settings)
        started = yield from retried(retry, settings)
    reply = yield from follow(
        started, plan.parser, settings, request, on_thread, lost=(thread_id, find)
    )
    yield Emit(ReplyReady(reply))
    return reply


def resume_flow(
    thread_id: str, run_id: str, parser: Parser[Any], settings: WaitSettings, request: RunSettings
) -> Flow[Reply[Any]]:
    """Follow a run that already exists to its reply; nothing new is posted."""
    run = yield from retried(GetRun(thread_id, run_id), settings)
    reply = yield from follow(run, parser, settings, request, lambda _: None)
    yield Emit(ReplyReady(reply))
    return reply
