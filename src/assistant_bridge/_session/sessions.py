"""ThreadSession and AsyncThreadSession: one conversation with an assistant.

Both sessions build the same flows (:mod:`.flow`, through :class:`~.core.SessionCore`) from
the same checked input; the sync session drives them by calling (:mod:`.drivers`), the async
one by awaiting. That is the only difference between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar, overload

from typing_extensions import Unpack

from assistant_bridge._parsing.parsers import Parser
from assistant_bridge._session.arguments import (
    check_ask_options,
    check_resume,
    check_session_options,
)
from assistant_bridge._session.core import AskOptions, SessionCore, SessionOptions
from assistant_bridge._session.drivers import FlowResult, adrive, adrive_events, drive, drive_events
from assistant_bridge._session.flow import WaitSettings
from assistant_bridge._session.locks import ahold_thread, hold_thread
from assistant_bridge._session.reply_streams import AsyncReplyStream, ReplyStream
from assistant_bridge._values.events import StreamEvent
from assistant_bridge._values.models import RunStep
from assistant_bridge._values.reply import Reply
from assistant_bridge.transports._protocol import AsyncTransport, Transport
from assistant_bridge.transports.ops import DownloadFile, RunSteps

__all__ = [
    "AskOptions",
    "AsyncReplyStream",
    "AsyncThreadSession",
    "ReplyStream",
    "SessionOptions",
    "ThreadSession",
]

T = TypeVar("T")

P = TypeVar("P")
"""What the session's parser makes of a reply's text (``str`` for the default TextParser)."""


class ThreadSession(SessionCore[P]):
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
    ``wait`` ("auto": stream where the transport can), ``stall_timeout`` (20 s,
    ``DEFAULT_STALL_TIMEOUT``), ``retry`` (RetryPolicy()), ``on_active_run`` ("wait"),
    ``first_ask`` ("fast": thread and run in one request; "safe": the thread first, so a lost
    start is looked up), and ``clock``/``sleep`` for tests.
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
        to_check = {**options, "parser": parser}
        check_session_options(type(self).__name__, transport, assistant_id, sleep, to_check)
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
        return self._transport.perform(RunSteps(self._steps_thread(run_id), run_id))

    def save_files(self, reply: Reply[Any], folder: str | Path) -> list[Path]:
        """Download the files ``reply.files`` lists (code-interpreter images and files) into
        ``folder``; returns their paths."""
        saved = []
        for file_id, path in self._file_targets(reply, folder):
            path.write_bytes(self._transport.perform(DownloadFile(file_id)))
            saved.append(path)
        return saved


class AsyncThreadSession(SessionCore[P]):
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
        to_check = {**options, "parser": parser}
        check_session_options(type(self).__name__, transport, assistant_id, sleep, to_check)
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
        return await self._transport.perform(RunSteps(self._steps_thread(run_id), run_id))

    async def save_files(self, reply: Reply[Any], folder: str | Path) -> list[Path]:
        """See :meth:`ThreadSession.save_files`."""
        saved = []
        for file_id, path in self._file_targets(reply, folder):
            path.write_bytes(await self._transport.perform(DownloadFile(file_id)))
            saved.append(path)
        return saved
