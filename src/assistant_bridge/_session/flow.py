"""What an ask does, written once as a sans-I/O flow.

:func:`ask_flow` and :func:`wait_flow` are generators: they yield operations (:mod:`._ops`),
receive results, and decide with the state table (:mod:`._state`). They never touch the
network or sleep; the sync driver (:func:`._ops.drive`), and an async one later, do that. So
every decision (when to poll, when to give up, what a status means, how to clean up) exists
in exactly one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from assistant_bridge._parsing.parsers import Parser
from assistant_bridge._runstate.table import (
    Finish,
    FinishIncomplete,
    Handler,
    HandleRequiredAction,
    KeepWaiting,
    RaiseError,
    RunStateMachine,
)
from assistant_bridge._session.ops import (
    CallTools,
    CancelRun,
    CloseStream,
    CreateThread,
    CreateThreadAndRun,
    Emit,
    FindRun,
    Flow,
    GetRun,
    ListRunMessages,
    NextEvent,
    Op,
    OpenStream,
    ResolveAssistant,
    Sleep,
    StartRun,
    SubmitToolOutputs,
    ToolHandler,
    TransportOp,
    perform,
)
from assistant_bridge._session.polling import PollPolicy
from assistant_bridge._session.retry import NO_RETRIES, RetryPolicy
from assistant_bridge._values.events import (
    MessageDone,
    ReplyReady,
    RunStatusChanged,
    StreamFailed,
    TextDelta,
    ToolCallsRequested,
)
from assistant_bridge._values.models import ACTIVE_STATUSES, Message, Run, RunStatus, ToolOutput
from assistant_bridge._values.reply import Reply
from assistant_bridge.exceptions import (
    ActionRequiredError,
    ActiveRunError,
    AssistantBridgeError,
    BadRequestError,
    ParseError,
    RunExpiredError,
    RunIncompleteError,
    RunTimeoutError,
    StreamInterruptedError,
    TransportError,
)
from assistant_bridge.transports._protocol import ASK_KEY, RunRequest

logger = logging.getLogger("assistant_bridge")
T = TypeVar("T")


@attrs.frozen
class WaitSettings:
    """How a session waits for a run: table, poll policy, clock, deadline, tool handling,
    and whether to stream (with the longest silence a stream may keep)."""

    machine: RunStateMachine
    poll: PollPolicy
    clock: Callable[[], float]
    timeout: float
    cancel_grace: float
    tool_handler: ToolHandler | None
    max_tool_rounds: int
    streaming: bool = False
    stall_timeout: float = 20.0
    retry: RetryPolicy = NO_RETRIES
    on_active_run: str = "wait"
    can_find_runs: bool = False
    deadline: float = float("inf")


@attrs.frozen
class AskPlan:
    """One question: the prompt, where it goes, how to run it and how to read the answer."""

    prompt: str
    request: RunRequest
    thread_id: str | None
    parser: Parser[Any]
    message_metadata: Mapping[str, str] | None = None
    thread_metadata: Mapping[str, str] | None = None
    ask_key: str = "ask"


def ask_flow(
    plan: AskPlan,
    settings: WaitSettings,
    on_thread: Callable[[str], None],
    on_assistant: Callable[[str], None] = lambda _: None,
) -> Flow[Reply[Any]]:
    """Post the prompt (creating the thread with the run when there is none), then wait,
    by streaming the run when ``settings.streaming`` and by polling otherwise.

    ``on_thread`` learns the thread id as soon as it exists, so a session keeps its thread
    even when the ask later fails; ``on_assistant`` learns the assistant id a spec resolved to.
    The flow emits the ask's events (see :mod:`._events`), ending with ReplyReady.
    """
    deadline = settings.clock() + settings.timeout
    settings = attrs.evolve(settings, deadline=deadline)
    request = plan.request
    if request.assistant_id is None and request.assistant is not None:
        resolved = yield from call(ResolveAssistant(request.assistant), settings)
        if resolved is not None:
            on_assistant(resolved)
            request = attrs.evolve(request, assistant_id=resolved)
    thread_id = plan.thread_id
    two_steps = request.additional_instructions is not None or plan.message_metadata is not None
    if thread_id is None and two_steps:
        # create-and-run cannot carry additional_instructions or message metadata.
        thread = yield from call(CreateThread(plan.thread_metadata), settings)
        thread_id = thread.id
        on_thread(thread_id)
    request = attrs.evolve(request, metadata={**(request.metadata or {}), ASK_KEY: plan.ask_key})
    message = {"content": plan.prompt, "message_metadata": plan.message_metadata}
    start: Op[Any]
    if settings.streaming:
        stall = {"stall_timeout": _stall(settings, deadline)}
        if thread_id is not None:
            start = OpenStream("stream_run", (thread_id, request), {**message, **stall})
        else:
            start = OpenStream(
                "stream_thread_and_run",
                (plan.prompt, request),
                {"thread_metadata": plan.thread_metadata, **stall},
            )
    elif thread_id is not None:
        start = StartRun(thread_id, request, plan.prompt, plan.message_metadata)
    else:
        start = CreateThreadAndRun(plan.prompt, request, plan.thread_metadata)
    started = yield from _start(start, thread_id, plan.ask_key, settings)
    if isinstance(started, Run):
        on_thread(started.thread_id)
        logger.debug("started run %s on thread %s", started.id, started.thread_id)
        reply = yield from wait_flow(started, plan.parser, settings, deadline, request)
    else:
        reply = yield from follow_stream(
            started, plan.parser, settings, deadline, request, on_thread
        )
    yield Emit(ReplyReady(reply))
    return reply


def _start(op: Op[Any], thread_id: str | None, key: str, settings: WaitSettings) -> Flow[Any]:
    """Start the run (or open its stream), in the face of an active run and of failures.

    An active run on the thread is waited for, cancelled, or reported, as the session's
    policy says. A failure that may have reached the server is not repeated blindly: the
    thread's runs are searched for this ask's mark first, and a run found is followed instead.
    Where that search is impossible (a new thread, or an API without run listing), the error
    is raised with a note, never repeated.
    """
    attempt = 0
    while True:
        try:
            return (yield from perform(op))
        except ActiveRunError as exc:
            yield from _clear_active_run(exc, settings)
        except TransportError as exc:
            policy = settings.retry
            if not policy.retryable(exc) or attempt + 1 >= policy.max_attempts:
                raise
            if policy.ambiguous(exc):
                if thread_id is None or not settings.can_find_runs:
                    exc.message += (
                        " The request may have reached the server, so it was not repeated "
                        "(that could start the run twice); check the thread before asking again."
                    )
                    raise
                found = yield from call(FindRun(thread_id, key), settings)
                if found is not None:
                    logger.info("run %s was started despite %s; following it", found.id, exc)
                    return found
            yield from _pause_before_retry(exc, attempt, settings, "the run's start")
            attempt += 1


def _clear_active_run(exc: ActiveRunError, settings: WaitSettings) -> Flow[None]:
    """Another run holds the thread: wait for it, cancel it, or raise, per the policy."""
    if settings.on_active_run == "raise" or exc.run_id is None or exc.thread_id is None:
        raise exc
    other = Run(id=exc.run_id, thread_id=exc.thread_id, status=RunStatus.IN_PROGRESS)
    if settings.on_active_run == "cancel":
        confirmed, _ = yield from _cancel_and_confirm(other, settings)
        if not confirmed:
            exc.message += f" Cancelling run {exc.run_id} was not confirmed in time."
            raise exc
        return
    attempt = 0
    while True:
        other = yield from call(GetRun(exc.thread_id, exc.run_id), settings)
        if other.status not in ACTIVE_STATUSES:
            return
        remaining = settings.deadline - settings.clock()
        if remaining <= 0:
            exc.message += f" Waited for run {exc.run_id} until the deadline; it is still active."
            raise exc
        delay = settings.poll.delay(attempt, other.poll_after_ms)
        yield from perform(Sleep(max(0.0, min(delay, remaining))))
        attempt += 1


def _stall(settings: WaitSettings, deadline: float) -> float:
    """How long a stream may stay silent: the stall gap, but never past the deadline."""
    remaining = deadline - settings.clock()
    return max(0.05, min(settings.stall_timeout, remaining + 0.05))


def call(op: TransportOp[T], settings: WaitSettings) -> Flow[T]:
    """Perform ``op``, retrying failures the retry policy allows, inside the deadline.

    Reads and idempotent operations are simply repeated. A write whose failure is ambiguous is
    not: the caller looks whether it took effect (see :func:`_start`), or the error is raised
    with a note that it was not repeated, so nothing is ever done twice.
    """
    attempt = 0
    while True:
        try:
            return (yield from perform(op))
        except TransportError as exc:
            policy = settings.retry
            if not policy.retryable(exc) or attempt + 1 >= policy.max_attempts:
                raise
            if not op.idempotent and policy.ambiguous(exc):
                raise
            yield from _pause_before_retry(exc, attempt, settings, type(op).__name__)
            attempt += 1


def _pause_before_retry(
    exc: TransportError, attempt: int, settings: WaitSettings, what: str
) -> Flow[None]:
    """Wait as the retry policy says before another try, or raise ``exc`` when that wait
    would run past the deadline."""
    delay = settings.retry.delay(attempt, getattr(exc, "retry_after", None))
    if settings.clock() + delay >= settings.deadline:
        raise exc
    logger.info("retrying %s in %.2fs after %s", what, delay, exc)
    yield from perform(Sleep(delay))


def follow_stream(
    stream: Any,
    parser: Parser[Any],
    settings: WaitSettings,
    deadline: float,
    request: RunRequest | None,
    on_thread: Callable[[str], None],
) -> Flow[Reply[Any]]:
    """Read a run's event stream and decide with the state table at each status.

    Tool calls are answered and the run streams on. If the stream breaks off, ends early or
    stays silent past the stall gap, the same run is polled from there: nothing is lost and
    no second run starts.
    """
    run: Run | None = None
    messages: list[Message] = []
    tool_rounds = 0
    try:
        while True:
            try:
                event = yield from perform(NextEvent(stream))
            except StreamInterruptedError as exc:
                if run is None:
                    raise
                logger.warning("the stream of run %s broke off (%s); polling it", run.id, exc)
                event = None
            if isinstance(event, StreamFailed) or event is None:
                if run is None:
                    detail = event.message if isinstance(event, StreamFailed) else "no events"
                    msg = f"The event stream ended before a run started ({detail}); ask again."
                    raise StreamInterruptedError(msg)
                yield from _close(stream)
                latest = yield from call(GetRun(run.thread_id, run.id), settings)
                return (yield from wait_flow(latest, parser, settings, deadline, request))
            if isinstance(event, TextDelta):
                yield Emit(event)
                continue
            if isinstance(event, MessageDone):
                if run is None or event.message.run_id in (None, run.id):
                    messages.append(event.message)
                continue
            run = event.run
            on_thread(run.thread_id)
            yield Emit(event)
            handler = settings.machine.decide(run.status)
            if isinstance(handler, KeepWaiting):
                if settings.clock() >= deadline:
                    yield from _close(stream)
                    return (yield from _time_out(run, parser, settings))
                continue
            yield from _close(stream)
            if isinstance(handler, HandleRequiredAction):
                if settings.tool_handler is None or tool_rounds >= settings.max_tool_rounds:
                    yield from _refuse_action(run, settings, tool_rounds)
                began = settings.clock()
                outputs = yield from _run_tools(run, settings)
                reopen = OpenStream(
                    "stream_tool_outputs",
                    (run.thread_id, run.id, outputs),
                    {"request": request, "stall_timeout": _stall(settings, deadline)},
                )
                try:
                    stream = yield from perform(reopen)
                except BadRequestError:
                    yield from _explain_refused_outputs(run, settings, began)
                    raise
                except TransportError as exc:
                    taken = yield from _outputs_taken(run, exc, settings)
                    if taken is not None:
                        return (yield from wait_flow(taken, parser, settings, deadline, request))
                    stream = yield from perform(reopen)
                tool_rounds += 1
                messages = []
                continue
            return (yield from _settle(run, handler, parser, messages, settings))
    except (AssistantBridgeError, GeneratorExit):
        raise
    except BaseException:
        if run is not None and run.status in ACTIVE_STATUSES:
            yield from _close(stream)
            yield from _cancel_quietly(run)
        raise


def _close(stream: Any) -> Flow[None]:
    try:
        yield from perform(CloseStream(stream))
    except Exception:  # the connection may already be gone
        logger.debug("closing a stream failed", exc_info=True)


def _settle(
    run: Run,
    handler: Handler,
    parser: Parser[Any],
    messages: Sequence[Message] | None,
    settings: WaitSettings,
) -> Flow[Reply[Any]]:
    """Finish, finish incomplete, or raise, as the handler says; ``messages`` are the run's
    messages when a stream delivered them (else they are listed)."""
    if isinstance(handler, Finish):
        return (yield from _collect_reply(run, parser, settings, lenient=False, messages=messages))
    if isinstance(handler, FinishIncomplete):
        partial = yield from _collect_reply(run, parser, settings, lenient=True, messages=messages)
        reason = run.incomplete_details.reason if run.incomplete_details else None
        msg = (
            f"Run {run.id} on thread {run.thread_id} ended incomplete "
            f"({reason or 'no reason given'}); the partial reply is in .partial. "
            "Raise the token limits or ask for a shorter answer."
        )
        raise RunIncompleteError(
            msg, thread_id=run.thread_id, run_id=run.id, reason=reason, partial=partial
        )
    if isinstance(handler, RaiseError):
        raise handler.factory(run)
    msg = f"no settling for handler {handler!r}"  # pragma: no cover - callers filter
    raise TypeError(msg)


def wait_flow(
    run: Run,
    parser: Parser[Any],
    settings: WaitSettings,
    deadline: float,
    request: RunRequest | None = None,
) -> Flow[Reply[Any]]:
    """Poll ``run`` until the state table finishes it or raises; cancel it on the way out."""
    attempt = 0
    tool_rounds = 0
    warned = False
    seen: RunStatus | str | None = None
    try:
        while True:
            if run.status != seen:
                seen = run.status
                yield Emit(RunStatusChanged(run))
            handler = settings.machine.decide(run.status)
            logger.debug("run %s is %s: %s", run.id, run.status, type(handler).__name__)
            if isinstance(handler, (Finish, FinishIncomplete, RaiseError)):
                return (yield from _settle(run, handler, parser, None, settings))
            if isinstance(handler, HandleRequiredAction):
                if settings.tool_handler is None or tool_rounds >= settings.max_tool_rounds:
                    yield from _refuse_action(run, settings, tool_rounds)
                run = yield from _answer_tools(run, settings, request)
                tool_rounds += 1
                attempt = 0
                continue
            if not isinstance(handler, KeepWaiting):  # pragma: no cover - Handler is closed
                msg = f"unknown handler {handler!r}"
                raise TypeError(msg)
            if not settings.machine.is_known(run.status) and not warned:
                warned = True
                logger.warning(
                    "run %s has status %r, which this version of assistant_bridge does not "
                    "know; waiting for it to change until the deadline",
                    run.id,
                    str(run.status),
                )
            remaining = deadline - settings.clock()
            if remaining <= 0:
                return (yield from _time_out(run, parser, settings))
            delay = settings.poll.delay(attempt, run.poll_after_ms)
            yield from perform(Sleep(max(0.0, min(delay, remaining))))
            attempt += 1
            run = yield from call(GetRun(run.thread_id, run.id), settings)
    except (AssistantBridgeError, GeneratorExit):
        raise
    except BaseException:
        # Interrupted (Ctrl-C, task cancelled, a bug in a tool handler, a watcher that went
        # away): do not leave the thread locked by a run nobody waits for.
        if run.status in ACTIVE_STATUSES:
            yield from _cancel_quietly(run)
        raise


def _cancel_quietly(run: Run) -> Flow[None]:
    try:
        yield from perform(CancelRun(run.thread_id, run.id))
    except Exception:  # best effort while another exception is on its way out
        logger.warning("could not cancel run %s on thread %s", run.id, run.thread_id)


def _collect_reply(
    run: Run,
    parser: Parser[Any],
    settings: WaitSettings,
    *,
    lenient: bool,
    messages: Sequence[Message] | None = None,
) -> Flow[Reply[Any]]:
    if messages:
        found = tuple(m for m in messages if m.run_id in (None, run.id))
    else:
        found = yield from _collect_messages(run, settings)
    for message in found:
        yield Emit(MessageDone(message))
    messages = found
    text = "\n\n".join(m.text for m in messages if m.text)
    reply: Reply[Any] = Reply(
        text=text,
        parsed=None,
        thread_id=run.thread_id,
        run_id=run.id,
        status=run.status,
        messages=messages,
        usage=run.usage,
        run=run,
    )
    try:
        parsed = parser.parse(text)
    except ParseError as exc:
        if lenient:
            return reply
        exc.reply = reply
        raise
    return attrs.evolve(reply, parsed=parsed)


def _collect_messages(run: Run, settings: WaitSettings) -> Flow[tuple[Message, ...]]:
    """Every message this run wrote, all pages, oldest first, and no other run's."""
    collected: list[Message] = []
    after: str | None = None
    while True:
        page = yield from call(ListRunMessages(run.thread_id, run.id, after), settings)
        collected.extend(page.messages)
        if not page.has_more or not page.messages:
            break
        after = page.last_id or page.messages[-1].id
    return tuple(m for m in collected if m.run_id == run.id)


def _run_tools(run: Run, settings: WaitSettings) -> Flow[tuple[ToolOutput, ...]]:
    """Call the tool handler on the run's tool calls; one output per call, checked."""
    handler = settings.tool_handler
    assert handler is not None
    calls = run.required_action.tool_calls if run.required_action else ()
    yield Emit(ToolCallsRequested(tuple(calls), run))
    outputs = yield from perform(CallTools(handler, calls))
    ids = {c.id for c in calls}
    answered = {o.tool_call_id for o in outputs}
    if answered != ids:
        # Sending a partial set is refused by the server; say which ids are off instead.
        missing = sorted(ids - answered)
        unknown = sorted(answered - ids)
        msg = (
            f"The tool handler must return one output per tool call of run {run.id}; "
            f"missing: {missing}, not asked for: {unknown}."
        )
        raise TypeError(msg)
    return tuple(outputs)


def _answer_tools(run: Run, settings: WaitSettings, request: RunRequest | None) -> Flow[Run]:
    began = settings.clock()
    outputs = yield from _run_tools(run, settings)
    submit = SubmitToolOutputs(run.thread_id, run.id, outputs, request)
    try:
        return (yield from call(submit, settings))
    except BadRequestError:
        yield from _explain_refused_outputs(run, settings, began)
        raise
    except TransportError as exc:
        latest = yield from _outputs_taken(run, exc, settings)
        if latest is not None:
            return latest
        return (yield from call(submit, settings))


def _outputs_taken(run: Run, exc: TransportError, settings: WaitSettings) -> Flow[Run | None]:
    """After a failed submission: the run, if the outputs were taken after all; None if they
    surely were not (so sending them again is safe); else the error is raised."""
    if not (settings.retry.retryable(exc) and settings.retry.max_attempts > 1):
        raise exc
    if not settings.retry.ambiguous(exc):
        return None
    if not settings.can_find_runs:
        exc.message += " The outputs may have been taken, so they were not sent again."
        raise exc
    latest = yield from call(GetRun(run.thread_id, run.id), settings)
    return latest if latest.status != RunStatus.REQUIRES_ACTION else None


def _explain_refused_outputs(run: Run, settings: WaitSettings, began: float) -> Flow[None]:
    """Outputs were refused: if the run expired while the tools ran, say so plainly."""
    latest = yield from call(GetRun(run.thread_id, run.id), settings)
    if latest.status == RunStatus.EXPIRED:
        took = settings.clock() - began
        msg = (
            f"Run {run.id} on thread {run.thread_id} expired while the tools ran: they took "
            f"{took:.1f}s, longer than the run allows. Make the tools faster, or give them a "
            "timeout (ToolRegistry(timeout=...)) so their errors reach the model in time."
        )
        raise RunExpiredError(
            msg, thread_id=run.thread_id, run_id=run.id, status="expired"
        ) from None


def _refuse_action(run: Run, settings: WaitSettings, rounds: int) -> Flow[None]:
    calls = run.required_action.tool_calls if run.required_action else ()
    confirmed, final = yield from _cancel_and_confirm(run, settings)
    listing = ", ".join(f"{c.name}({c.arguments})" for c in calls) or "none listed"
    why = (
        "no tool handler is set; pass tool_handler= to ThreadSession to answer them"
        if settings.tool_handler is None
        else f"the tool handler already answered {rounds} rounds (max_tool_rounds)"
    )
    msg = (
        f"Run {run.id} on thread {run.thread_id} asked for tool calls [{listing}] but {why}. "
        f"The run was cancelled ({'confirmed' if confirmed else 'not yet confirmed'})."
    )
    raise ActionRequiredError(
        msg,
        thread_id=run.thread_id,
        run_id=run.id,
        status=str(final.status),
        tool_calls=calls,
        cancel_confirmed=confirmed,
    )


def _time_out(run: Run, parser: Parser[Any], settings: WaitSettings) -> Flow[Reply[Any]]:
    confirmed, final = yield from _cancel_and_confirm(run, settings)
    if final.status == RunStatus.COMPLETED:
        # It finished while we were cancelling: the answer is worth more than the deadline.
        return (yield from _collect_reply(final, parser, settings, lenient=False))
    state = "confirmed" if confirmed else f"not confirmed, the run is still {final.status}"
    msg = (
        f"Run {run.id} on thread {run.thread_id} did not finish within {settings.timeout:g}s. "
        f"It was cancelled ({state}). Resume with thread_id={run.thread_id!r} or ask again "
        "with a longer timeout."
    )
    raise RunTimeoutError(
        msg,
        thread_id=run.thread_id,
        run_id=run.id,
        status=str(final.status),
        timeout=settings.timeout,
        cancel_confirmed=confirmed,
    )


def _cancel_and_confirm(run: Run, settings: WaitSettings) -> Flow[tuple[bool, Run]]:
    """Cancel ``run`` and poll briefly until it leaves the active states."""
    try:
        run = yield from perform(CancelRun(run.thread_id, run.id))
    except TransportError as exc:
        # Usually "Cannot cancel run with status 'completed'": it ended meanwhile. Look.
        logger.debug("cancel of run %s refused: %s", run.id, exc)
        try:
            run = yield from perform(GetRun(run.thread_id, run.id))
        except TransportError:
            return False, run
    grace_end = settings.clock() + settings.cancel_grace
    attempt = 0
    while run.status in ACTIVE_STATUSES:
        remaining = grace_end - settings.clock()
        if remaining <= 0:
            return False, run
        delay = settings.poll.delay(attempt, run.poll_after_ms)
        yield from perform(Sleep(max(0.0, min(delay, remaining))))
        attempt += 1
        try:
            run = yield from perform(GetRun(run.thread_id, run.id))
        except TransportError:
            return False, run
    return True, run
