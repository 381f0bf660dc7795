"""ThreadSession and AsyncThreadSession: one conversation with an assistant, and the two
drivers that run an ask's flow.

Both sessions build the same flows (:mod:`.flow`) from the same checked input; the sync
session performs each operation the flow asks for by calling, the async one by awaiting.
That is the only difference between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any, Generic, Literal, TypedDict, TypeVar, cast, overload

import attrs
from typing_extensions import Unpack

from assistant_bridge._parsing.parsers import Parser, TextParser
from assistant_bridge._runstate.table import RunStateMachine
from assistant_bridge._session.arguments import (
    check_ask_options,
    check_resume,
    check_session_options,
)
from assistant_bridge._session.flow import (
    Abandoned,
    AskPlan,
    CallTools,
    CloseStream,
    Emit,
    Flow,
    NextEvent,
    Op,
    Sleep,
    ToolHandler,
    TransportOp,
    WaitSettings,
    ask_flow,
    resume_flow,
)
from assistant_bridge._session.locks import ahold_thread, hold_thread
from assistant_bridge._session.polling import AdaptivePolling, PollPolicy
from assistant_bridge._session.retry import RetryPolicy
from assistant_bridge._session.tools import ToolRegistry
from assistant_bridge._values.events import StreamEvent
from assistant_bridge._values.models import RunStep, Usage
from assistant_bridge._values.reply import Reply, conversation_markdown
from assistant_bridge._values.spec import AssistantSpec, ResponseFormat
from assistant_bridge.exceptions import (
    APIConnectionError,
    ConfigurationError,
    RunTimeoutError,
    ToolError,
)
from assistant_bridge.transports import _protocol as protocol
from assistant_bridge.transports._protocol import (
    REQUEST_BUDGET,
    AsyncTransport,
    RunRequest,
    Transport,
)

__all__ = ["AsyncReplyStream", "AsyncThreadSession", "ReplyStream", "ThreadSession"]

SHIELD_MARGIN = 1.0
"""Seconds an async request may overrun its budget before the driver stops waiting for it."""

ActiveRunPolicy = Literal["wait", "cancel", "raise"]
"""What an ask does when another run holds its thread."""

Wait = Literal["auto", "stream", "poll"]
"""How an ask follows its run: stream where the transport can ("auto"), or always poll."""

FirstAsk = Literal["fast", "safe"]
"""How the first ask of a new thread starts: "fast" creates thread and run in one request;
"safe" creates the thread first (two requests), so a start whose answer is lost can be looked
up by its mark like any follow-up."""


class SessionOptions(TypedDict, total=False):
    """How a session works; every one has a default (see :class:`ThreadSession`)."""

    assistant: AssistantSpec | None
    thread_id: str | None
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
    first_ask: FirstAsk
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
    response_format: ResponseFormat | None
    max_output_tokens: int | None


T = TypeVar("T")


P = TypeVar("P")
"""What the session's parser makes of a reply's text (``str`` for the default TextParser)."""


def _given(value: T | None, default: T) -> T:
    """``value``, or ``default`` when it was not given (None)."""
    return default if value is None else value


class _SessionCore(Generic[P]):
    """What the sync and async sessions share: configuration, state, and the flows to drive."""

    def __init__(
        self,
        transport: object,
        assistant_id: str | None,
        parser: Parser[Any] | None,
        options: SessionOptions,
    ) -> None:
        # The arguments were checked by the public method (arguments.py) before this runs;
        # an option not given (or given as None where None means "the default") gets its
        # default here, the one place defaults are set.
        assistant = options.get("assistant")
        if (assistant_id is None) == (assistant is None):
            msg = (
                f"Give {type(self).__name__} either assistant_id='asst_…' (an assistant object) "
                "or assistant=AssistantSpec(...) (the definition in code), not both or neither."
            )
            raise ConfigurationError(msg)
        self._assistant_id = assistant_id
        self._spec = assistant
        self._thread_id = options.get("thread_id")
        self._parser: Parser[Any] = parser if parser is not None else TextParser()
        self._timeout = float(options.get("timeout", 60.0))
        self._poll = _given(options.get("poll_policy"), AdaptivePolling())
        self._machine = _given(options.get("state_machine"), RunStateMachine())
        self._tool_handler = options.get("tool_handler")
        self._max_tool_rounds = options.get("max_tool_rounds", 8)
        self._cancel_grace = options.get("cancel_grace", 5.0)
        thread_metadata = options.get("thread_metadata")
        self._thread_metadata = None if thread_metadata is None else dict(thread_metadata)
        self._clock = options.get("clock", time.monotonic)
        self._can_stream = isinstance(
            transport, (protocol.StreamingTransport, protocol.AsyncStreamingTransport)
        )
        self._wait = self._check_wait(options.get("wait", "auto"))
        self._stall_timeout = float(options.get("stall_timeout", 20.0))
        self._retry = _given(options.get("retry"), RetryPolicy())
        self._on_active_run = options.get("on_active_run", "wait")
        self._first_ask = options.get("first_ask", "fast")
        self._can_find_runs = isinstance(transport, (protocol.RunFinder, protocol.AsyncRunFinder))
        self._can_name_files = isinstance(transport, (protocol.FileStore, protocol.AsyncFileStore))
        self._transport_any: object = transport
        self._usage = Usage()
        self._history: list[tuple[str | None, Reply[Any]]] = []

    def _check_wait(self, wait: Wait) -> Wait:
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
        response_format: ResponseFormat | None = None,
        max_output_tokens: int | None = None,
    ) -> tuple[Flow[Reply[Any]], WaitSettings]:
        """Check the ask's input (before anything is sent) and build its flow; the deadline
        starts now."""
        request = RunRequest(
            assistant_id=self._assistant_id,
            assistant=self._spec,
            instructions=instructions,
            additional_instructions=additional_instructions,
            model=model,
            tools=tools,
            metadata=metadata,
            response_format=response_format,
            max_output_tokens=max_output_tokens,
        )
        settings = self._settings(timeout, wait)

        def flow() -> Flow[Reply[Any]]:
            # Built when the lock is held, so it sees the thread an earlier ask created.
            plan = AskPlan(
                prompt=prompt,
                request=attrs.evolve(request, assistant_id=self._assistant_id),
                thread_id=self._thread_id,
                parser=parser if parser is not None else self._parser,
                thread_metadata=self._thread_metadata,
                ask_key=uuid.uuid4().hex,
                first_ask=self._first_ask,
            )
            reply = yield from ask_flow(plan, settings, self._adopt_thread, self._adopt_assistant)
            return self._count(reply, prompt)

        return flow(), settings

    def _resume_flow(
        self, run_id: str, parser: Parser[Any] | None, timeout: float | None
    ) -> tuple[Flow[Reply[Any]], WaitSettings]:
        if self._thread_id is None:
            msg = "resume() needs a thread: create the session with thread_id=..."
            raise ConfigurationError(msg)
        thread_id = self._thread_id
        settings = self._settings(timeout)
        request = RunRequest(assistant_id=self._assistant_id, assistant=self._spec)
        chosen = parser if parser is not None else self._parser

        def flow() -> Flow[Reply[Any]]:
            reply = yield from resume_flow(thread_id, run_id, chosen, settings, request)
            return self._count(reply)

        return flow(), settings

    def _settings(self, timeout: float | None, wait: Wait | None = None) -> WaitSettings:
        mode = self._wait if wait is None else self._check_wait(wait)
        seconds = self._timeout if timeout is None else float(timeout)
        return WaitSettings(
            machine=self._machine,
            poll=self._poll,
            clock=self._clock,
            timeout=seconds,
            deadline=self._clock() + seconds,
            cancel_grace=self._cancel_grace,
            tool_handler=self._tool_handler,
            max_tool_rounds=self._max_tool_rounds,
            streaming=mode == "stream" or (mode == "auto" and self._can_stream),
            stall_timeout=self._stall_timeout,
            retry=self._retry,
            on_active_run=self._on_active_run,
            can_find_runs=self._can_find_runs,
            can_name_files=self._can_name_files,
        )

    def _lock_timeout(self, settings: WaitSettings) -> RunTimeoutError:
        """The error for an ask whose deadline passed while it queued behind others."""
        msg = (
            f"The ask waited {settings.timeout:g}s for earlier asks on thread "
            f"{self._thread_id} to finish and never started; nothing was sent. Ask again with a "
            "longer timeout, or use one session per conversation."
        )
        return RunTimeoutError(
            msg,
            thread_id=self._thread_id or "",
            run_id="",
            status="not started",
            timeout=settings.timeout,
            cancel_confirmed=True,
        )

    def _file_targets(self, reply: Reply[Any], folder: str | Path) -> list[tuple[str, Path]]:
        """Where each file the reply lists is saved: ``folder/<name or id>``."""
        if not self._can_name_files:
            msg = f"{type(self._transport_any).__name__} cannot download files."
            raise ConfigurationError(msg)
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        return [
            (f.file_id, target / (f.filename or f.file_id + (".png" if f.kind == "image" else "")))
            for f in reply.files
        ]

    @property
    def usage(self) -> Usage:
        """Tokens used by every reply of this session so far, summed."""
        return self._usage

    def _steps_thread(self, run_id: str) -> str:
        """The thread to read a run's steps on, after checking the transport can."""
        if not isinstance(
            self._transport_any, (protocol.RunStepReader, protocol.AsyncRunStepReader)
        ):
            msg = f"{type(self._transport_any).__name__} cannot read run steps."
            raise ConfigurationError(msg)
        if self._thread_id is None:
            msg = "run_steps() needs the session's thread: ask first, or pass thread_id=..."
            raise ConfigurationError(msg)
        return self._thread_id

    @property
    def history(self) -> tuple[tuple[str | None, Reply[Any]], ...]:
        """What this session asked and was answered, in order: (prompt, reply) pairs (the
        prompt is None for a resumed run)."""
        return tuple(self._history)

    def _repr_markdown_(self) -> str:
        """Jupyter shows the conversation so far: each prompt and answer with its role."""
        return conversation_markdown(repr(self), self._history, self._usage)

    def _count(self, reply: Reply[T], prompt: str | None = None) -> Reply[T]:
        self._history.append((prompt, reply))
        if reply.usage is not None:
            u, r = self._usage, reply.usage
            self._usage = Usage(
                prompt_tokens=u.prompt_tokens + r.prompt_tokens,
                completion_tokens=u.completion_tokens + r.completion_tokens,
                total_tokens=u.total_tokens + r.total_tokens,
            )
        return reply

    def _adopt_thread(self, thread_id: str) -> None:
        self._thread_id = thread_id

    def _adopt_assistant(self, assistant_id: str) -> None:
        self._assistant_id = assistant_id


class ThreadSession(_SessionCore[P]):
    """One conversation with an assistant: ask, wait, get a parsed :class:`Reply`.

    The thread is created with the first run (one request), or adopted from ``thread_id``, and
    reused by every later ask so the assistant keeps the context. Asks on one session queue up
    behind each other; sessions share nothing mutable, so use one per conversation.

    Give ``assistant_id`` (an assistant object) or ``assistant`` (an AssistantSpec), and a
    ``parser`` (TextParser by default): the session is typed by it, so with
    ``parser=SchemaParser(Verdict)`` it is a ``ThreadSession[Verdict]`` and ``reply.parsed`` is a
    ``Verdict``. Options (:class:`SessionOptions`, all keyword): ``thread_id`` to adopt,
    ``timeout`` per ask (60 s), ``poll_policy`` (AdaptivePolling), ``state_machine``,
    ``tool_handler`` and ``max_tool_rounds`` (8), ``cancel_grace`` (5 s), ``thread_metadata``,
    ``wait`` ("auto": stream where the transport can), ``stall_timeout`` (20 s), ``retry``
    (RetryPolicy()), ``on_active_run`` ("wait"), and ``clock``/``sleep`` for tests.
    """

    @overload
    def __init__(
        self: ThreadSession[str],
        transport: Transport,
        assistant_id: str | None = None,
        *,
        parser: None = None,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    @overload
    def __init__(
        self: ThreadSession[P],
        transport: Transport,
        assistant_id: str | None = None,
        *,
        parser: Parser[P],
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    def __init__(
        self,
        transport: Transport,
        assistant_id: str | None = None,
        *,
        parser: Parser[Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[SessionOptions],
    ) -> None:
        given = {**options, "parser": parser}
        check_session_options(type(self).__name__, transport, assistant_id, sleep, given)
        super().__init__(transport, assistant_id, parser, options)
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
    ) -> Reply[P]: ...

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
        flow, settings = self._ask_flow(prompt, parser, **options)
        with self._held(settings):
            return drive(flow, self._transport, self._sleep)

    @contextlib.contextmanager
    def _held(self, settings: WaitSettings) -> Iterator[None]:
        """Hold the session's and the thread's locks, waiting no longer than the deadline."""
        if not self._lock.acquire(timeout=settings.remaining()):
            raise self._lock_timeout(settings)
        try:
            with hold_thread(self._thread_id, settings.remaining()) as held:
                if not held:
                    raise self._lock_timeout(settings)
                yield
        finally:
            self._lock.release()

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
        flow, settings = self._ask_flow(prompt, parser, **options)

        def events() -> Generator[StreamEvent, None, Reply[Any]]:
            with self._held(settings):
                return (yield from drive_events(flow, self._transport, self._sleep))

        return ReplyStream(events())

    @overload
    def resume(
        self, run_id: str, *, parser: None = None, timeout: float | None = None
    ) -> Reply[P]: ...

    @overload
    def resume(
        self, run_id: str, *, parser: Parser[T], timeout: float | None = None
    ) -> Reply[T]: ...

    def resume(
        self, run_id: str, *, parser: Parser[Any] | None = None, timeout: float | None = None
    ) -> Reply[Any]:
        """Wait for a run that already exists on this session's thread and return its reply.

        Use it after a crash or a timeout: nothing new is posted or started.
        """
        check_resume(run_id, parser, timeout)
        flow, settings = self._resume_flow(run_id, parser, timeout)
        with self._held(settings):
            return drive(flow, self._transport, self._sleep)

    def run_steps(self, run_id: str) -> tuple[RunStep, ...]:
        """The steps of a run on this session's thread (e.g. ``reply.run_id``): its messages and
        tool calls, with the code code-interpreter ran and its logs. Fetched on demand."""
        reader = cast(protocol.RunStepReader, self._transport)
        return reader.run_steps(self._steps_thread(run_id), run_id)

    def save_files(self, reply: Reply[Any], folder: str | Path) -> list[Path]:
        """Download the files ``reply.files`` lists (code-interpreter images and files) into
        ``folder``; returns their paths."""
        saved = []
        for file_id, path in self._file_targets(reply, folder):
            path.write_bytes(cast(protocol.FileStore, self._transport).download_file(file_id))
            saved.append(path)
        return saved


class AsyncThreadSession(_SessionCore[P]):
    """The async twin of :class:`ThreadSession`: ``await session.ask(...)``.

    Driven by the same flows and state table; only the I/O is awaited. Cancelling the task
    that awaits an ask cancels the run on the server before the cancellation goes on.
    """

    @overload
    def __init__(
        self: AsyncThreadSession[str],
        transport: AsyncTransport,
        assistant_id: str | None = None,
        *,
        parser: None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    @overload
    def __init__(
        self: AsyncThreadSession[P],
        transport: AsyncTransport,
        assistant_id: str | None = None,
        *,
        parser: Parser[P],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    def __init__(
        self,
        transport: AsyncTransport,
        assistant_id: str | None = None,
        *,
        parser: Parser[Any] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Unpack[SessionOptions],
    ) -> None:
        given = {**options, "parser": parser}
        check_session_options(type(self).__name__, transport, assistant_id, sleep, given)
        super().__init__(transport, assistant_id, parser, options)
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
    ) -> Reply[P]: ...

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
        flow, settings = self._ask_flow(prompt, parser, **options)
        async with self._held(settings):
            return await adrive(flow, self._transport, self._sleep)

    @contextlib.asynccontextmanager
    async def _held(self, settings: WaitSettings) -> AsyncIterator[None]:
        """Hold the session's and the thread's locks, waiting no longer than the deadline."""
        try:
            async with asyncio.timeout(settings.remaining()):
                await self._lock.acquire()
        except TimeoutError:
            raise self._lock_timeout(settings) from None
        try:
            async with ahold_thread(self._thread_id, settings.remaining()) as held:
                if not held:
                    raise self._lock_timeout(settings)
                yield
        finally:
            self._lock.release()

    def stream(
        self,
        prompt: str,
        *,
        parser: Parser[Any] | None = None,
        **options: Unpack[AskOptions],
    ) -> AsyncReplyStream:
        """See :meth:`ThreadSession.stream`: ``async for event in session.stream(...)``."""
        check_ask_options(f"{type(self).__name__}.stream", prompt, parser, options)
        flow, settings = self._ask_flow(prompt, parser, **options)
        outcome: FlowResult[Reply[Any]] = FlowResult()

        async def events() -> AsyncGenerator[StreamEvent, None]:
            inner = adrive_events(flow, self._transport, self._sleep, outcome)
            async with self._held(settings):
                try:
                    async for event in inner:
                        yield event
                finally:
                    # Closing early must reach the driver now, so the flow cancels its run.
                    await inner.aclose()

        return AsyncReplyStream(events(), outcome)

    @overload
    async def resume(
        self, run_id: str, *, parser: None = None, timeout: float | None = None
    ) -> Reply[P]: ...

    @overload
    async def resume(
        self, run_id: str, *, parser: Parser[T], timeout: float | None = None
    ) -> Reply[T]: ...

    async def resume(
        self, run_id: str, *, parser: Parser[Any] | None = None, timeout: float | None = None
    ) -> Reply[Any]:
        """See :meth:`ThreadSession.resume`."""
        check_resume(run_id, parser, timeout)
        flow, settings = self._resume_flow(run_id, parser, timeout)
        async with self._held(settings):
            return await adrive(flow, self._transport, self._sleep)

    async def run_steps(self, run_id: str) -> tuple[RunStep, ...]:
        """See :meth:`ThreadSession.run_steps`."""
        reader = cast(protocol.AsyncRunStepReader, self._transport)
        return await reader.run_steps(self._steps_thread(run_id), run_id)

    async def save_files(self, reply: Reply[Any], folder: str | Path) -> list[Path]:
        """See :meth:`ThreadSession.save_files`."""
        saved = []
        for file_id, path in self._file_targets(reply, folder):
            path.write_bytes(
                await cast(protocol.AsyncFileStore, self._transport).download_file(file_id)
            )
            saved.append(path)
        return saved


def _not_finished() -> ConfigurationError:
    msg = "The stream has not finished: iterate it to the end before reading .reply."
    return ConfigurationError(msg)


class ReplyStream(contextlib.AbstractContextManager["ReplyStream"]):
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

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncReplyStream(contextlib.AbstractAsyncContextManager["AsyncReplyStream"]):
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

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# -- the drivers -------------------------------------------------------------------------------
def drive_events(
    flow: Flow[T], transport: Transport, sleep: Callable[[float], None]
) -> Generator[Any, None, T]:
    """Run a flow synchronously, yielding what it emits; returns the flow's result.

    An exception raised by an operation is thrown back into the flow, so the flow's own
    cleanup (cancel the run) sees it as if it were local. When the consumer stops early, the
    flow gets :class:`Abandoned` and still cleans up.
    """
    try:
        op = next(flow)
        while True:
            if isinstance(op, Emit):
                try:
                    yield op.event
                except GeneratorExit:
                    _abandon(flow, transport, sleep)
                    raise
                op = flow.send(None)
                continue
            try:
                result = _perform(op, transport, sleep)
            except BaseException as exc:  # handed to the flow, which decides
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except StopIteration as stop:
        return cast(T, stop.value)


def _abandon(flow: Flow[Any], transport: Transport, sleep: Callable[[float], None]) -> None:
    """Let the flow clean up (cancel its run) after its watcher went away."""
    try:
        op = flow.throw(Abandoned())
        while True:
            if isinstance(op, Emit):
                op = flow.send(None)
                continue
            try:
                result = _perform(op, transport, sleep)
            except Exception as exc:  # the flow's cleanup decides (a refused cancel, say)
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except (StopIteration, Abandoned):
        return


def drive(flow: Flow[T], transport: Transport, sleep: Callable[[float], None]) -> T:
    """Run a flow to its end synchronously, ignoring what it emits."""
    events = drive_events(flow, transport, sleep)
    while True:
        try:
            next(events)
        except StopIteration as stop:
            return cast(T, stop.value)


def _perform(op: Op[Any], transport: Transport, sleep: Callable[[float], None]) -> Any:
    if isinstance(op, TransportOp):
        token = REQUEST_BUDGET.set(op.budget)
        try:
            return op.on(transport)
        finally:
            REQUEST_BUDGET.reset(token)
    if isinstance(op, Sleep):
        sleep(op.seconds)
        return None
    if isinstance(op, CallTools):
        if isinstance(op.handler, ToolRegistry):
            return tuple(op.handler(op.calls, within=op.budget))
        return tuple(op.handler(op.calls))
    if isinstance(op, NextEvent):
        return next(op.stream, None)
    if isinstance(op, CloseStream):
        op.stream.close()
        return None
    msg = f"the sync driver cannot perform {op!r}"
    raise TypeError(msg)


class FlowResult(Generic[T]):
    """Where an async driver leaves a flow's result (an async generator cannot return it)."""

    value: T


async def adrive_events(
    flow: Flow[T],
    transport: AsyncTransport,
    sleep: Callable[[float], Awaitable[None]],
    outcome: FlowResult[T],
) -> AsyncGenerator[Any, None]:
    """The async twin of :func:`drive_events`; the result lands in ``outcome.value``.

    When the task is cancelled, the CancelledError is thrown into the flow like any other
    exception, so the flow cancels its run; that cleanup is shielded from further
    cancellations (it is bounded by ``cancel_grace``) before the cancellation goes on.
    """
    cleaning = False
    try:
        op = next(flow)
        while True:
            if isinstance(op, Emit):
                try:
                    yield op.event
                except GeneratorExit:
                    await _aabandon(flow, transport, sleep)
                    raise
                op = flow.send(None)
                continue
            try:
                work = _aperform(op, transport, sleep)
                result = await (_shielded(work) if cleaning else work)
            except BaseException as exc:  # handed to the flow, which decides
                cleaning = cleaning or isinstance(exc, asyncio.CancelledError)
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except StopIteration as stop:
        outcome.value = cast(T, stop.value)


async def _shielded(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the task is cancelled again meanwhile."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            continue


async def _aabandon(
    flow: Flow[Any], transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> None:
    try:
        op = flow.throw(Abandoned())
        while True:
            if isinstance(op, Emit):
                op = flow.send(None)
                continue
            try:
                result = await _shielded(_aperform(op, transport, sleep))
            except Exception as exc:  # the flow's cleanup decides (a refused cancel, say)
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except (StopIteration, Abandoned):
        return


async def adrive(
    flow: Flow[T], transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> T:
    """Run a flow to its end, awaiting every operation and ignoring what it emits."""
    outcome: FlowResult[T] = FlowResult()
    async for _ in adrive_events(flow, transport, sleep, outcome):
        pass
    return outcome.value


async def _aperform(
    op: Op[Any], transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> Any:
    if isinstance(op, TransportOp):
        token = REQUEST_BUDGET.set(op.budget)
        try:
            limit = None if op.budget is None else op.budget + SHIELD_MARGIN
            async with asyncio.timeout(limit):
                return await op.on(transport)
        except TimeoutError:
            msg = (
                f"The request took longer than the {op.budget:.1f}s the ask had left; "
                "it was abandoned."
            )
            raise APIConnectionError(msg) from None
        finally:
            REQUEST_BUDGET.reset(token)
    if isinstance(op, Sleep):
        await sleep(op.seconds)
        return None
    if isinstance(op, CallTools):
        return tuple(await _acall_tools(op))
    if isinstance(op, NextEvent):
        return await anext(op.stream, None)
    if isinstance(op, CloseStream):
        await op.stream.aclose()
        return None
    msg = f"the async driver cannot perform {op!r}"
    raise TypeError(msg)


async def _acall_tools(op: CallTools) -> Sequence[Any]:
    """Run the tool handler, awaiting it where it can be awaited, within the ask's time."""
    handler = op.handler
    if isinstance(handler, ToolRegistry):
        return await handler.acall(op.calls, within=op.budget)
    try:
        async with asyncio.timeout(op.budget):
            if inspect.iscoroutinefunction(handler):
                return cast(Sequence[Any], await handler(op.calls))
            return await asyncio.to_thread(handler, op.calls)
    except TimeoutError:
        msg = f"The tool handler did not finish within the {op.budget:.1f}s the ask had left."
        raise ToolError(msg, tool=getattr(handler, "__name__", "handler"), call_id="") from None
