"""ThreadSession and AsyncThreadSession: one conversation with an assistant.

Both build the same flows (:mod:`._flow`) from the same checked input; the sync session drives
them with :func:`._ops.drive`, the async one with :func:`._ops.adrive`.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, Literal, TypedDict, TypeVar, overload

import attrs
from typing_extensions import Unpack

from assistant_bridge._parsing.parsers import Parser, TextParser
from assistant_bridge._runstate.table import RunStateMachine
from assistant_bridge._session.arguments import (
    check_ask_options,
    check_resume,
    check_session_options,
)
from assistant_bridge._session.flow import AskPlan, WaitSettings, ask_flow, wait_flow
from assistant_bridge._session.locks import ahold_thread, hold_thread
from assistant_bridge._session.ops import (
    Emit,
    Flow,
    FlowResult,
    GetRun,
    ToolHandler,
    adrive,
    adrive_events,
    drive,
    drive_events,
    perform,
)
from assistant_bridge._session.polling import AdaptivePolling, PollPolicy
from assistant_bridge._session.retry import RetryPolicy
from assistant_bridge._values.events import ReplyReady, StreamEvent
from assistant_bridge._values.reply import Reply
from assistant_bridge._values.spec import AssistantSpec
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.transports._protocol import AsyncTransport, RunRequest, Transport

__all__ = ["AsyncReplyStream", "AsyncThreadSession", "ReplyStream", "ThreadSession"]

ActiveRunPolicy = Literal["wait", "cancel", "raise"]
"""What an ask does when another run holds its thread."""

Wait = Literal["auto", "stream", "poll"]
"""How an ask follows its run: stream where the transport can ("auto"), or always poll."""


class SessionOptions(TypedDict, total=False):
    """How a session works; every one has a default (see :class:`ThreadSession`)."""

    assistant: AssistantSpec | None
    thread_id: str | None
    parser: Parser[Any] | None
    timeout: float
    poll_policy: PollPolicy | None
    state_machine: RunStateMachine | None
    tool_handler: ToolHandler | None
    max_tool_rounds: int
    cancel_grace: float
    thread_metadata: Mapping[str, str] | None
    wait: Wait
    stall_timeout: float
    retry: RetryPolicy | None
    on_active_run: ActiveRunPolicy
    clock: Callable[[], float]


class AskOptions(TypedDict, total=False):
    """Per-ask settings, for this run only (see :meth:`ThreadSession.ask`)."""

    timeout: float | None
    instructions: str | None
    additional_instructions: str | None
    model: str | None
    tools: Sequence[Mapping[str, Any]] | None
    metadata: Mapping[str, str] | None
    wait: Wait | None


T = TypeVar("T")

_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,256}$")
MAX_PROMPT_CHARS = 256_000
"""The Assistants API refuses message content longer than this."""


def check_id(value: object, what: str, prefix: str) -> str:
    """Refuse an id that cannot be sent safely, naming what is wrong."""
    if not isinstance(value, str) or not _ID.match(value):
        msg = (
            f"{what} must be a non-empty id of letters, digits, '_', '-', '.' or ':' "
            f"(like '{prefix}abc123'), got {value!r}."
        )
        raise ConfigurationError(msg)
    return value


def check_prompt(prompt: object) -> str:
    """Refuse an empty or oversized prompt before anything is sent."""
    if not isinstance(prompt, str):
        msg = f"prompt must be a str, got {type(prompt).__name__}."
        raise ConfigurationError(msg)
    if not prompt.strip():
        msg = "prompt is empty; the assistant needs a question or an alert to work on."
        raise ConfigurationError(msg)
    if len(prompt) > MAX_PROMPT_CHARS:
        msg = (
            f"prompt is {len(prompt)} characters, over the API's limit of {MAX_PROMPT_CHARS}; "
            "attach long material as a file (file_search) instead."
        )
        raise ConfigurationError(msg)
    return prompt


def check_metadata(
    metadata: Mapping[str, str] | None, max_pairs: int = 16
) -> Mapping[str, str] | None:
    """Refuse metadata the API would reject: 16 pairs, keys <= 64, values <= 512 characters.

    Run metadata may hold 15 pairs: the library uses one to mark the ask (see reliability).
    """
    if metadata is None:
        return None
    problems = []
    if len(metadata) > max_pairs:
        problems.append(f"{len(metadata)} pairs (at most {max_pairs})")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(f"{key!r}: keys and values must be str")
        elif len(key) > 64:
            problems.append(f"key {key[:20]!r}… is {len(key)} characters (at most 64)")
        elif len(value) > 512:
            problems.append(f"value of {key!r} is {len(value)} characters (at most 512)")
    if problems:
        msg = f"metadata is beyond the API's limits: {'; '.join(problems)}."
        raise ConfigurationError(msg)
    return dict(metadata)


class _SessionCore:
    """What the sync and async sessions share: configuration, state, and the flows to drive."""

    def __init__(
        self,
        transport: object,
        assistant_id: str | None = None,
        *,
        assistant: AssistantSpec | None = None,
        thread_id: str | None = None,
        parser: Parser[Any] | None = None,
        timeout: float = 60.0,
        poll_policy: PollPolicy | None = None,
        state_machine: RunStateMachine | None = None,
        tool_handler: ToolHandler | None = None,
        max_tool_rounds: int = 8,
        cancel_grace: float = 5.0,
        thread_metadata: Mapping[str, str] | None = None,
        wait: Wait = "auto",
        stall_timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        on_active_run: ActiveRunPolicy = "wait",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (assistant_id is None) == (assistant is None):
            msg = (
                f"Give {type(self).__name__} either assistant_id='asst_…' (an assistant object) "
                "or assistant=AssistantSpec(...) (the definition in code), not both or neither."
            )
            raise ConfigurationError(msg)
        if assistant is not None and not isinstance(assistant, AssistantSpec):
            msg = f"assistant must be an AssistantSpec, got {type(assistant).__name__}."
            raise ConfigurationError(msg)
        self._assistant_id = (
            None if assistant_id is None else check_id(assistant_id, "assistant_id", "asst_")
        )
        self._spec = assistant
        self._thread_id = None if thread_id is None else check_id(thread_id, "thread_id", "thread_")
        self._parser: Parser[Any] = parser if parser is not None else TextParser()
        self._timeout = _check_timeout(timeout)
        self._poll = poll_policy if poll_policy is not None else AdaptivePolling()
        self._machine = state_machine if state_machine is not None else RunStateMachine()
        self._tool_handler = tool_handler
        self._max_tool_rounds = max_tool_rounds
        self._cancel_grace = cancel_grace
        self._thread_metadata = check_metadata(thread_metadata)
        self._clock = clock
        self._can_stream = hasattr(transport, "stream_run")
        self._wait = self._check_wait(wait)
        self._stall_timeout = _check_timeout(stall_timeout, "stall_timeout")
        self._retry = retry if retry is not None else RetryPolicy()
        if on_active_run not in ("wait", "cancel", "raise"):
            msg = f"on_active_run must be 'wait', 'cancel' or 'raise', got {on_active_run!r}."
            raise ConfigurationError(msg)
        self._on_active_run = on_active_run
        self._can_find_runs = hasattr(transport, "find_run")

    def _check_wait(self, wait: Wait) -> Wait:
        if wait not in ("auto", "stream", "poll"):
            msg = f"wait must be 'auto', 'stream' or 'poll', got {wait!r}."
            raise ConfigurationError(msg)
        if wait == "stream" and not self._can_stream:
            msg = "wait='stream' needs a transport that can stream (OpenAITransport, ...)."
            raise ConfigurationError(msg)
        return wait

    def __repr__(self) -> str:
        who = (
            f"assistant={self._spec.name!r}"
            if self._spec is not None and self._assistant_id is None
            else f"assistant_id={self._assistant_id!r}"
        )
        return f"<{type(self).__name__}({who}, thread_id={self._thread_id!r})>"

    @property
    def thread_id(self) -> str | None:
        """The thread this session talks on; None until the first ask creates it."""
        return self._thread_id

    @property
    def assistant_id(self) -> str | None:
        """The assistant object every ask runs; for a spec, known after the first ask (and
        None on transports without assistant objects)."""
        return self._assistant_id

    @property
    def assistant(self) -> AssistantSpec | None:
        """The assistant's definition, when the session was given one."""
        return self._spec

    def _ask_flow(
        self,
        prompt: str,
        parser: Parser[Any] | None,
        *,
        timeout: float | None = None,
        instructions: str | None = None,
        additional_instructions: str | None = None,
        model: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        metadata: Mapping[str, str] | None = None,
        wait: Wait | None = None,
    ) -> Flow[Reply[Any]]:
        """Check the ask's input (before anything is sent) and build its flow."""
        request = RunRequest(
            assistant_id=self._assistant_id,
            assistant=self._spec,
            instructions=instructions,
            additional_instructions=additional_instructions,
            model=model,
            tools=tools,
            metadata=check_metadata(metadata, max_pairs=15),
        )
        settings = self._settings(timeout, wait)
        checked = check_prompt(prompt)

        def flow() -> Flow[Reply[Any]]:
            # Built when the lock is held, so it sees the thread an earlier ask created.
            plan = AskPlan(
                prompt=checked,
                request=attrs.evolve(request, assistant_id=self._assistant_id),
                thread_id=self._thread_id,
                parser=parser if parser is not None else self._parser,
                thread_metadata=self._thread_metadata,
                ask_key=uuid.uuid4().hex,
            )
            return (yield from ask_flow(plan, settings, self._adopt_thread, self._adopt_assistant))

        return flow()

    def _resume_flow(
        self, run_id: str, parser: Parser[Any] | None, timeout: float | None
    ) -> Flow[Reply[Any]]:
        if self._thread_id is None:
            msg = "resume() needs a thread: create the session with thread_id=..."
            raise ConfigurationError(msg)
        thread_id = self._thread_id
        run_id = check_id(run_id, "run_id", "run_")
        settings = self._settings(timeout)
        request = RunRequest(assistant_id=self._assistant_id, assistant=self._spec)
        chosen = parser if parser is not None else self._parser

        def flow() -> Flow[Reply[Any]]:
            deadline = settings.clock() + settings.timeout
            run = yield from perform(GetRun(thread_id, run_id))
            reply = yield from wait_flow(run, chosen, settings, deadline, request)
            yield Emit(ReplyReady(reply))
            return reply

        return flow()

    def _settings(self, timeout: float | None, wait: Wait | None = None) -> WaitSettings:
        mode = self._wait if wait is None else self._check_wait(wait)
        return WaitSettings(
            machine=self._machine,
            poll=self._poll,
            clock=self._clock,
            timeout=self._timeout if timeout is None else _check_timeout(timeout),
            cancel_grace=self._cancel_grace,
            tool_handler=self._tool_handler,
            max_tool_rounds=self._max_tool_rounds,
            streaming=mode == "stream" or (mode == "auto" and self._can_stream),
            stall_timeout=self._stall_timeout,
            retry=self._retry,
            on_active_run=self._on_active_run,
            can_find_runs=self._can_find_runs,
        )

    def _adopt_thread(self, thread_id: str) -> None:
        self._thread_id = thread_id

    def _adopt_assistant(self, assistant_id: str) -> None:
        self._assistant_id = assistant_id


class ThreadSession(_SessionCore):
    """One conversation with an assistant: ask, wait, get a parsed :class:`Reply`.

    The thread is created with the first run (one request), or adopted from ``thread_id``, and
    reused by every later ask so the assistant keeps the context. Asks on one session queue up
    behind each other; sessions share nothing mutable, so use one per conversation.

    Give ``assistant_id`` (an assistant object) or ``assistant`` (an AssistantSpec). Options
    (:class:`SessionOptions`, all keyword): ``thread_id`` to adopt, ``parser`` (TextParser),
    ``timeout`` per ask (60 s), ``poll_policy`` (AdaptivePolling), ``state_machine``,
    ``tool_handler`` and ``max_tool_rounds`` (8), ``cancel_grace`` (5 s), ``thread_metadata``,
    ``wait`` ("auto": stream where the transport can), ``stall_timeout`` (20 s), ``retry``
    (RetryPolicy()), ``on_active_run`` ("wait"), and ``clock``/``sleep`` for tests.
    """

    def __init__(
        self,
        transport: Transport,
        assistant_id: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[SessionOptions],
    ) -> None:
        check_session_options(type(self).__name__, transport, assistant_id, sleep, options)
        super().__init__(transport, assistant_id, **options)
        self._transport = transport
        self._sleep = sleep
        self._lock = threading.Lock()

    @overload
    def ask(
        self,
        prompt: str,
        *,
        parser: None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[Any]: ...

    @overload
    def ask(
        self,
        prompt: str,
        *,
        parser: Parser[T],
        **options: Unpack[AskOptions],
    ) -> Reply[T]: ...

    def ask(
        self,
        prompt: str,
        *,
        parser: Parser[Any] | None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[Any]:
        """Post ``prompt``, wait for the run and return its parsed reply.

        Keyword arguments override the assistant's settings for this run only. Raises a
        :class:`~assistant_bridge.exceptions.RunError` when the run ends without a reply,
        :class:`~assistant_bridge.exceptions.RunTimeoutError` after ``timeout`` seconds (the
        run is cancelled), and :class:`~assistant_bridge.exceptions.ParseError` when the
        parser refuses the text (the reply is on the error). ``wait`` picks how to follow the
        run for this ask: "stream" (the default where the transport can), or "poll".
        """
        check_ask_options(f"{type(self).__name__}.ask", prompt, parser, options)
        flow = self._ask_flow(prompt, parser, **options)
        with self._lock, hold_thread(self._thread_id):
            return drive(flow, self._transport, self._sleep)

    def stream(
        self,
        prompt: str,
        *,
        parser: Parser[Any] | None = None,
        **options: Unpack[AskOptions],
    ) -> ReplyStream:
        """Ask like :meth:`ask`, yielding events as they happen (text deltas, messages, tool
        calls, run statuses) and ending with ReplyReady; ``.reply`` holds the reply after.

        Closing the stream before its end (``break`` in a ``with`` block) cancels the run.
        """
        check_ask_options(f"{type(self).__name__}.stream", prompt, parser, options)
        flow = self._ask_flow(prompt, parser, **options)

        def events() -> Generator[StreamEvent, None, Reply[Any]]:
            with self._lock, hold_thread(self._thread_id):
                return (yield from drive_events(flow, self._transport, self._sleep))

        return ReplyStream(events())

    def resume(
        self, run_id: str, *, parser: Parser[Any] | None = None, timeout: float | None = None
    ) -> Reply[Any]:
        """Wait for a run that already exists on this session's thread and return its reply.

        Use it after a crash or a timeout: nothing new is posted or started.
        """
        check_resume(run_id, parser, timeout)
        flow = self._resume_flow(run_id, parser, timeout)
        with self._lock, hold_thread(self._thread_id):
            return drive(flow, self._transport, self._sleep)


class AsyncThreadSession(_SessionCore):
    """The async twin of :class:`ThreadSession`: ``await session.ask(...)``.

    Driven by the same flows and state table; only the I/O is awaited. Cancelling the task
    that awaits an ask cancels the run on the server before the cancellation goes on.
    """

    def __init__(
        self,
        transport: AsyncTransport,
        assistant_id: str | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Unpack[SessionOptions],
    ) -> None:
        check_session_options(type(self).__name__, transport, assistant_id, sleep, options)
        super().__init__(transport, assistant_id, **options)
        self._transport = transport
        self._sleep = sleep
        self._lock = asyncio.Lock()

    @overload
    async def ask(
        self,
        prompt: str,
        *,
        parser: None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[Any]: ...

    @overload
    async def ask(
        self,
        prompt: str,
        *,
        parser: Parser[T],
        **options: Unpack[AskOptions],
    ) -> Reply[T]: ...

    async def ask(
        self,
        prompt: str,
        *,
        parser: Parser[Any] | None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[Any]:
        """See :meth:`ThreadSession.ask`."""
        check_ask_options(f"{type(self).__name__}.ask", prompt, parser, options)
        flow = self._ask_flow(prompt, parser, **options)
        async with self._lock, ahold_thread(self._thread_id):
            return await adrive(flow, self._transport, self._sleep)

    def stream(
        self,
        prompt: str,
        *,
        parser: Parser[Any] | None = None,
        **options: Unpack[AskOptions],
    ) -> AsyncReplyStream:
        """See :meth:`ThreadSession.stream`: ``async for event in session.stream(...)``."""
        check_ask_options(f"{type(self).__name__}.stream", prompt, parser, options)
        flow = self._ask_flow(prompt, parser, **options)
        outcome: FlowResult[Reply[Any]] = FlowResult()

        async def events() -> AsyncGenerator[StreamEvent, None]:
            inner = adrive_events(flow, self._transport, self._sleep, outcome)
            async with self._lock, ahold_thread(self._thread_id):
                try:
                    async for event in inner:
                        yield event
                finally:
                    # Closing early must reach the driver now, so the flow cancels its run.
                    await inner.aclose()

        return AsyncReplyStream(events(), outcome)

    async def resume(
        self, run_id: str, *, parser: Parser[Any] | None = None, timeout: float | None = None
    ) -> Reply[Any]:
        """See :meth:`ThreadSession.resume`."""
        check_resume(run_id, parser, timeout)
        flow = self._resume_flow(run_id, parser, timeout)
        async with self._lock, ahold_thread(self._thread_id):
            return await adrive(flow, self._transport, self._sleep)


def _check_timeout(timeout: float, name: str = "timeout") -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        msg = f"{name} must be a number of seconds > 0, got {timeout!r}."
        raise ConfigurationError(msg)
    return float(timeout)


def _not_finished() -> ConfigurationError:
    msg = "The stream has not finished: iterate it to the end before reading .reply."
    return ConfigurationError(msg)


class ReplyStream:
    """The events of one ask, as they happen; ``.reply`` once it is over.

    Iterate it; use it as a context manager so that leaving early closes it (which cancels
    the run).
    """

    def __init__(self, events: Generator[StreamEvent, None, Reply[Any]]) -> None:
        self._events = events
        self._reply: Reply[Any] | None = None

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> StreamEvent:
        try:
            return next(self._events)
        except StopIteration as stop:
            self._reply = stop.value
            raise StopIteration from None

    @property
    def reply(self) -> Reply[Any]:
        """The reply, exactly as ``ask`` returns it; available after the last event."""
        if self._reply is None:
            raise _not_finished()
        return self._reply

    def close(self) -> None:
        """Stop early; the run is cancelled."""
        self._events.close()

    def __enter__(self) -> ReplyStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncReplyStream:
    """The async twin of :class:`ReplyStream`: ``async for``, ``async with``, ``.reply``."""

    def __init__(
        self, events: AsyncGenerator[StreamEvent, None], outcome: FlowResult[Reply[Any]]
    ) -> None:
        self._events = events
        self._outcome = outcome

    def __aiter__(self) -> AsyncReplyStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await anext(self._events)

    @property
    def reply(self) -> Reply[Any]:
        """The reply, exactly as ``ask`` returns it; available after the last event."""
        if not hasattr(self._outcome, "value"):
            raise _not_finished()
        return self._outcome.value

    async def aclose(self) -> None:
        """Stop early; the run is cancelled."""
        await self._events.aclose()

    async def __aenter__(self) -> AsyncReplyStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
