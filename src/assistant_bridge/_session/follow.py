"""Following a run to its reply: read its stream while there is one, poll it otherwise, at
each status do what the state table says, answer its tool calls, collect its messages into
a :class:`~assistant_bridge.Reply`, and cancel it when the ask ends without one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from assistant_bridge._parsing.parsers import Parser, TextParser
from assistant_bridge._runstate import table
from assistant_bridge._session.flow import (
    CallTools,
    CloseStream,
    Emit,
    Flow,
    NextEvent,
    RunStream,
    WaitSettings,
    do,
)
from assistant_bridge._session.sending import cancel_and_confirm, poll_until, retried, streamed
from assistant_bridge._values.events import (
    MessageDone,
    RunStatusChanged,
    StreamFailed,
    TextDelta,
    ToolCallsRequested,
)
from assistant_bridge._values.models import Message, Run, ToolOutput
from assistant_bridge._values.reply import Reply, citations_of, files_of
from assistant_bridge.exceptions import (
    ActionRequiredError,
    APIConnectionError,
    AssistantBridgeError,
    BadRequestError,
    ParseError,
    RunExpiredError,
    RunIncompleteError,
    RunTimeoutError,
    ServerError,
    StreamInterruptedError,
    TransportError,
)
from assistant_bridge.transports.ops import (
    FileName,
    FindRun,
    GetRun,
    ListRunMessages,
    RunSettings,
    SubmitToolOutputs,
)

__all__ = ["follow"]

logger = logging.getLogger("assistant_bridge")


def _unchanged(run: Run) -> Callable[[Run], bool]:
    return lambda latest: latest.status == run.status


@attrs.define
class _Follow:
    """Where a followed run stands: the run, its open stream, what it wrote, tool rounds."""

    run: Run | None
    stream: RunStream | None = None
    messages: list[Message] = attrs.field(factory=list)
    rounds: int = 0
    seen: object = None
    warned: bool = False
    thread_id: str | None = None


def follow(
    started: Run | RunStream,
    parser: Parser[Any],
    settings: WaitSettings,
    request: RunSettings | None,
    on_thread: Callable[[str], None],
    lost: tuple[str | None, FindRun | None] = (None, None),
) -> Flow[Reply[Any]]:
    """Follow a run to its reply: read its stream while there is one, poll it otherwise, and
    at each status do what the table says. A stream that breaks off, ends early or stays
    silent past the stall gap falls back to polling the same run: nothing is lost and no
    second run starts. Whenever the ask ends without the reply while the run is active, the
    run is cancelled (within ``cancel_grace``) and the error says so; a stream that fails
    before naming its run finds it first (``lost``: its thread, and how to find the ask's run
    on it), see :func:`stop_lost_run`.
    """
    state = _Follow(run=started if isinstance(started, Run) else None)
    if not isinstance(started, Run):
        state.stream = started
    try:
        while True:
            if state.stream is not None:
                event = yield from _next_status(state)
                if event is None:  # the stream is over or broken: poll from here
                    yield from _close(state)
                    assert state.run is not None
                    state.run = yield from retried(
                        GetRun(state.run.thread_id, state.run.id), settings
                    )
            run = state.run
            assert run is not None
            state.thread_id = run.thread_id
            on_thread(run.thread_id)
            if run.status != state.seen:
                state.seen = run.status
                yield Emit(RunStatusChanged(run))
            handler = settings.machine.decide(run.status)
            if isinstance(handler, table.KeepWaiting):
                _warn_unknown(run, settings, state)
                if settings.remaining() <= 0:
                    yield from _close(state)
                    return (yield from _time_out(run, parser, settings))
                if state.stream is None:
                    state.run = yield from poll_until(
                        run, settings, settings.deadline, _unchanged(run)
                    )
                continue
            yield from _close(state, drain=True)
            if isinstance(handler, table.HandleRequiredAction):
                yield from _answer_tools(state, settings, request)
                continue
            return (yield from _settle(run, handler, parser, state.messages, settings))
    except GeneratorExit:
        raise
    except BaseException as exc:
        # Interrupted (a library error, Ctrl-C, a cancelled task, a tool that raised, a
        # watcher that went away): do not leave the thread locked by a run nobody waits for.
        yield from _close(state)
        if state.run is not None and _still_running(exc, state.run, settings):
            confirmed, _ = yield from cancel_and_confirm(state.run, settings)
            _note_cancel(exc, state.run, confirmed)
        elif state.run is None and (lost[0] or state.thread_id) is not None:
            # The stream was opened, so the run was started: it must not be left running.
            thread = lost[0] or state.thread_id
            assert thread is not None
            yield from stop_lost_run(exc, thread, settings, lost[1], sent=True)
        raise


def stop_lost_run(
    exc: BaseException,
    thread_id: str,
    settings: WaitSettings,
    find: FindRun | None,
    *,
    sent: bool = False,
) -> Flow[None]:
    """The answer that would have named a started run was lost, silent or unreadable: find the
    run (by the id read from the start of the answer, else by the ask's mark), cancel it within
    ``cancel_grace``, and let the error name it and say whether the cancel was confirmed.

    Where nothing can find it (the Responses API cannot list a conversation's responses, and
    no id arrived), the error names the conversation, with ``run_id`` None and
    ``cancel_confirmed`` False. ``sent``: the start surely reached the server (its stream
    opened); otherwise only a failure that may have reached it (a lost or unreadable answer, a
    5xx) is looked into.
    """
    maybe = isinstance(exc, ServerError) or (isinstance(exc, APIConnectionError) and not exc.unsent)
    if not (sent or maybe) or getattr(exc, "cancel_confirmed", None) is not None:
        return
    grace_end = settings.clock() + settings.cancel_grace
    salvaged = getattr(exc, "run_id", None)
    run: Run | None = None
    try:
        if salvaged is not None:
            run = yield from retried(GetRun(thread_id, salvaged), settings, until=grace_end)
        elif find is not None:
            run = yield from retried(find, settings, until=grace_end)
            if run is None:
                _note(exc, f" No run of this ask was found on thread {thread_id}.")
                return
    except TransportError as error:
        logger.debug("could not find the run the ask started on %s: %s", thread_id, error)
    if run is None:
        if isinstance(exc, AssistantBridgeError):
            if getattr(exc, "thread_id", None) is None:
                exc.thread_id = thread_id  # type: ignore[attr-defined]
            exc.cancel_confirmed = False  # type: ignore[attr-defined]
        _note(
            exc,
            f" The run it may have started on {thread_id} could not be found (no id arrived"
            f"{'' if find is None else ' and its lookup failed'}), so it was not cancelled; it "
            "may still be going, and the next ask there waits for it.",
        )
        return
    confirmed = True  # a run that already ended is not left running
    if settings.machine.is_active(run.status):
        confirmed, _ = yield from cancel_and_confirm(run, settings, grace_end)
    _note_cancel(exc, run, confirmed)


def _note(exc: BaseException, note: str) -> None:
    """Add ``note`` to a library error's message (and first argument)."""
    if not isinstance(exc, AssistantBridgeError):
        logger.warning("%s", note.strip())
        return
    if isinstance(getattr(exc, "message", None), str):
        exc.message += note  # type: ignore[attr-defined]
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (exc.args[0] + note, *exc.args[1:])


def _still_running(exc: BaseException, run: Run, settings: WaitSettings) -> bool:
    """True when the ask is failing while its run may still be going (and nobody cancelled it
    already on the way to this error)."""
    if getattr(exc, "cancel_confirmed", None) is not None:
        return False
    return settings.machine.is_active(run.status)


def _note_cancel(exc: BaseException, run: Run, confirmed: bool) -> None:
    """Tell the error which run it left behind and whether that run was cancelled."""
    if not isinstance(exc, AssistantBridgeError):
        logger.warning(
            "run %s on thread %s was cancelled (%s) after %s",
            run.id,
            run.thread_id,
            "confirmed" if confirmed else "not confirmed",
            type(exc).__name__,
        )
        return
    for name, value in (("thread_id", run.thread_id), ("run_id", run.id)):
        if getattr(exc, name, None) is None:
            setattr(exc, name, value)
    exc.cancel_confirmed = confirmed  # type: ignore[attr-defined]
    note = (
        f" Run {run.id} on thread {run.thread_id} was cancelled "
        f"({'confirmed' if confirmed else 'not confirmed within cancel_grace'})."
    )
    if isinstance(getattr(exc, "message", None), str):
        exc.message += note  # type: ignore[attr-defined]
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (exc.args[0] + note, *exc.args[1:])


def _next_status(state: _Follow) -> Flow[RunStatusChanged | None]:
    """Read the stream up to its next run status, keeping messages and passing text on.
    None when the stream is over: ended, broken, stalled, or failed by the server."""
    stream = state.stream
    assert stream is not None
    while True:
        try:
            event = yield from do(NextEvent(stream))
        except StreamInterruptedError as exc:
            if state.run is None:
                raise
            logger.warning("the stream of run %s broke off (%s); polling it", state.run.id, exc)
            return None
        if event is None or isinstance(event, StreamFailed):
            if state.run is None:
                detail = event.message if isinstance(event, StreamFailed) else "no events"
                msg = f"The event stream ended before a run started ({detail}); ask again."
                raise StreamInterruptedError(msg)
            return None
        if isinstance(event, TextDelta):
            yield Emit(event)
        elif isinstance(event, MessageDone):
            if state.run is None or event.message.run_id in (None, state.run.id):
                state.messages.append(event.message)
        else:
            state.run = event.run
            return event


def _warn_unknown(run: Run, settings: WaitSettings, state: _Follow) -> None:
    if not settings.machine.is_known(run.status) and not state.warned:
        state.warned = True
        logger.warning(
            "run %s has status %r, which this version of assistant_bridge does not know; "
            "waiting for it to change until the deadline",
            run.id,
            str(run.status),
        )


def _close(state: _Follow, *, drain: bool = False) -> Flow[None]:
    """Stop reading the run's stream. With ``drain`` (the run has settled, so the server is
    ending the stream) read it to its end first, so its connection can serve the next ask."""
    if state.stream is None:
        return
    stream, state.stream = state.stream, None
    try:
        while drain and (yield from do(NextEvent(stream))) is not None:
            pass
    except Exception:  # a stream that breaks at its very end costs only its connection
        logger.debug("reading the end of a stream failed", exc_info=True)
    try:
        yield from do(CloseStream(stream))
    except Exception:  # the connection may already be gone
        logger.debug("closing a stream failed", exc_info=True)


def _settle(
    run: Run,
    handler: table.Handler,
    parser: Parser[Any],
    messages: Sequence[Message],
    settings: WaitSettings,
) -> Flow[Reply[Any]]:
    """Finish, finish incomplete, or raise, as the handler says; ``messages`` are the run's
    messages when a stream delivered them (else they are listed)."""
    if isinstance(handler, table.Finish):
        return (yield from _collect_reply(run, parser, settings, lenient=False, messages=messages))
    if isinstance(handler, table.FinishIncomplete):
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
    if isinstance(handler, table.RaiseError):
        raise handler.factory(run)
    msg = f"no settling for handler {handler!r}"  # pragma: no cover - Handler is closed
    raise TypeError(msg)


def _collect_reply(
    run: Run,
    parser: Parser[Any],
    settings: WaitSettings,
    *,
    lenient: bool,
    messages: Sequence[Message] = (),
) -> Flow[Reply[Any]]:
    found = tuple(m for m in messages if m.run_id in (None, run.id))
    if not found:
        found = yield from _collect_messages(run, settings)
    for message in found:
        yield Emit(MessageDone(message))
    text = "\n\n".join(m.text for m in found if m.text)
    citations = citations_of(found)
    if settings.can_name_files and any(c.filename is None and c.file_id for c in citations):
        names = {}
        for file_id in {c.file_id for c in citations if c.filename is None and c.file_id}:
            try:
                names[file_id] = yield from retried(FileName(file_id), settings)
            except TransportError as exc:  # a name is a nicety: keep the id
                logger.debug("could not name file %s: %s", file_id, exc)
        citations = citations_of(found, names)
    reply: Reply[Any] = Reply(
        text=text,
        parsed=None,
        thread_id=run.thread_id,
        run_id=run.id,
        status=run.status,
        messages=found,
        usage=run.usage,
        run=run,
        citations=citations,
        files=files_of(found),
    )
    try:
        # Structured parsers read the text without citation markers; text stays as written.
        parsed = parser.parse(text if isinstance(parser, TextParser) else reply.clean_text)
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
        page = yield from retried(ListRunMessages(run.thread_id, run.id, after=after), settings)
        collected.extend(page.messages)
        if not page.has_more or not page.messages:
            break
        after = page.last_id or page.messages[-1].id
    return tuple(m for m in collected if m.run_id == run.id)


# -- tools ------------------------------------------------------------------------------------
def _pending(run: Run) -> frozenset[str]:
    """The ids of the tool calls the run waits for (empty unless it requires action)."""
    return (
        frozenset(c.id for c in run.required_action.tool_calls)
        if run.required_action
        else frozenset()
    )


def _answer_tools(
    state: _Follow, settings: WaitSettings, request: RunSettings | None
) -> Flow[None]:
    """Run the tools the run asks for and send their outputs; the run goes on (as a stream
    again when streaming). A round is known by its call ids: after an ambiguous failure the
    outputs are sent again only if the run still waits for those very calls."""
    run = state.run
    assert run is not None
    if settings.tool_handler is None or state.rounds >= settings.max_tool_rounds:
        yield from _refuse_action(run, settings, state.rounds)
    began = settings.clock()
    outputs = yield from _run_tools(run, settings)
    submit = streamed(SubmitToolOutputs(run.thread_id, run.id, outputs, request=request), settings)
    sent = _pending(run)

    def taken() -> Flow[Run | None]:
        latest = yield from retried(GetRun(run.thread_id, run.id), settings)
        return None if _pending(latest) == sent else latest

    # Where runs cannot be found (Responses), outputs start a new run that the old one never
    # shows: a lost submission cannot be looked up, so it is never sent twice.
    same_run = settings.can_find_runs
    try:
        result = yield from retried(submit, settings, lookup=taken if same_run else None)
    except BadRequestError:
        yield from _explain_refused_outputs(run, settings, began)
        raise
    except TransportError as exc:
        if not same_run:
            yield from stop_lost_run(exc, run.thread_id, settings, None)
        raise
    state.rounds += 1
    state.messages = []
    if isinstance(result, Run):
        state.run = result
    else:
        state.stream = result
        if not same_run:
            state.run = None  # the stream names the new run in its first event


def _run_tools(run: Run, settings: WaitSettings) -> Flow[tuple[ToolOutput, ...]]:
    """Call the tool handler on the run's tool calls; one output per call, checked."""
    handler = settings.tool_handler
    assert handler is not None
    calls = run.required_action.tool_calls if run.required_action else ()
    yield Emit(ToolCallsRequested(tuple(calls), run))
    outputs = yield from do(CallTools(handler, tuple(calls), settings.remaining()))
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


def _explain_refused_outputs(run: Run, settings: WaitSettings, began: float) -> Flow[None]:
    """Outputs were refused: if the run expired while the tools ran, say so plainly."""
    latest = yield from retried(GetRun(run.thread_id, run.id), settings)
    handler = settings.machine.decide(latest.status)
    if not settings.machine.is_active(latest.status) and isinstance(handler, table.RaiseError):
        error = handler.factory(latest)
        if isinstance(error, RunExpiredError):
            took = settings.clock() - began
            msg = (
                f"Run {run.id} on thread {run.thread_id} expired while the tools ran: they took "
                f"{took:.1f}s, longer than the run allows. Make the tools faster, or give them "
                "a timeout (ToolRegistry(timeout=...)) so their errors reach the model in time."
            )
            raise RunExpiredError(
                msg, thread_id=run.thread_id, run_id=run.id, status=str(latest.status)
            ) from None
        raise error from None


def _refuse_action(run: Run, settings: WaitSettings, rounds: int) -> Flow[None]:
    calls = run.required_action.tool_calls if run.required_action else ()
    confirmed, final = yield from cancel_and_confirm(run, settings)
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


# -- the end of a run that must stop ------------------------------------------------------------
def _time_out(run: Run, parser: Parser[Any], settings: WaitSettings) -> Flow[Reply[Any]]:
    confirmed, final = yield from cancel_and_confirm(run, settings)
    if isinstance(settings.machine.decide(final.status), table.Finish):
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
