"""Type-checked, not run: the public API's types as a user sees them (mypy --strict)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar, assert_type

import attrs

from assistant_bridge import JsonParser, Reply, SchemaParser, TextParser, ThreadSession
from assistant_bridge.testing import FakeTransport, ScriptedBackend
from assistant_bridge.transports import AsyncTransport, Transport
from assistant_bridge.transports._wire import Built
from assistant_bridge.transports.ops import Op


@attrs.frozen
class Verdict:
    action: Literal["escalate", "ignore"]


def check(session: ThreadSession[Any]) -> None:
    assert_type(session.ask("q"), Reply[Any])
    assert_type(session.ask("q", parser=SchemaParser(Verdict)), Reply[Verdict])
    assert_type(session.ask("q", parser=TextParser()), Reply[str])
    assert_type(session.ask("q", parser=JsonParser()).parsed, Any)
    assert_type(session.thread_id, str | None)
    assert_type(session.ask("q", timeout=5, wait="poll", metadata={"k": "v"}), Reply[Any])
    assert_type(session.stream("q").reply, Reply[Any])


ThreadSession(FakeTransport(ScriptedBackend()), "asst_x")


def typed_by_its_parser() -> None:
    """A session is typed by its parser: no per-ask parser is needed for a typed reply."""
    fake = FakeTransport(ScriptedBackend())
    verdicts = ThreadSession(fake, "asst_x", parser=SchemaParser(Verdict))
    assert_type(verdicts, ThreadSession[Verdict])
    assert_type(verdicts.ask("q").parsed, Verdict)
    assert_type(verdicts.ask("q", parser=TextParser()).parsed, str)
    assert_type(verdicts.resume("run_1").parsed, Verdict)
    plain = ThreadSession(fake, "asst_x")
    assert_type(plain.ask("q").parsed, str)


def errors(exc: Exception) -> None:
    from assistant_bridge.exceptions import (
        ArgumentTypeError,
        InvalidArgumentError,
        UnsentRequestError,
    )

    if isinstance(exc, InvalidArgumentError | ArgumentTypeError):
        assert_type(exc.argument, str)
    if isinstance(exc, UnsentRequestError):
        assert_type(exc.unsent, bool)
        assert_type(exc.request_id, str | None)


async def transports_meet_the_contract() -> None:
    """The transports' operations (bound from one statement each) meet the protocols."""
    from collections.abc import AsyncIterator, Iterator

    from assistant_bridge import (
        AsyncOpenAITransport,
        AsyncResponsesTransport,
        OpenAITransport,
        ResponsesTransport,
        Run,
    )
    from assistant_bridge._values.events import RunEvent
    from assistant_bridge.testing import StreamingFakeTransport
    from assistant_bridge.transports import (
        AsyncFileStore,
        AsyncRunFinder,
        AsyncRunStepReader,
        AsyncStreamingTransport,
        FileStore,
        RunFinder,
        RunSettings,
        RunStepReader,
        StreamingTransport,
    )

    sync: StreamingTransport = OpenAITransport("sk")
    finder: RunFinder = OpenAITransport("sk")
    files: FileStore = ResponsesTransport("sk")
    steps: RunStepReader = ResponsesTransport("sk")
    fake: StreamingTransport = StreamingFakeTransport(ScriptedBackend())
    asynchronous: AsyncStreamingTransport = AsyncResponsesTransport("sk")
    afinder: AsyncRunFinder = AsyncOpenAITransport("sk")
    afiles: AsyncFileStore = AsyncOpenAITransport("sk")
    asteps: AsyncRunStepReader = AsyncResponsesTransport("sk")
    assert_type(OpenAITransport("sk").start_run("t", RunSettings(), content="q"), Run)
    OpenAITransport("sk").start_run("t", RunSettings(), content=1)  # type: ignore[arg-type]
    assert_type(
        OpenAITransport("sk").stream_run("t", RunSettings(), stall_timeout=5), Iterator[RunEvent]
    )
    assert_type(OpenAITransport("sk").get_run("t", "r"), Run)
    assert_type(await AsyncOpenAITransport("sk").get_run("t", "r"), Run)
    stream = await AsyncOpenAITransport("sk").stream_run("t", RunSettings())
    assert_type(stream, AsyncIterator[RunEvent])
    print(sync, finder, files, steps, fake, asynchronous, afinder, afiles, asteps, stream)


R = TypeVar("R")
T = TypeVar("T")
OpT = TypeVar("OpT")


def answers(op_type: Callable[..., OpT]) -> Callable[[Callable[[Any, OpT], Built[Any]]], None]:
    """Takes an operation class, then a builder, which must take that operation."""
    return lambda builder: None


def decodes(op_type: Callable[..., Op[R]]) -> Callable[[Callable[[Any, Any], Built[R]]], None]:
    """Takes an operation class, then a builder, which must answer with (a request for)
    what the operation promises."""
    return lambda builder: None


def wires_build_what_the_operations_promise() -> None:
    """A transport sends what a wire's builder makes of an operation and returns what it
    decodes, so each builder takes its operation and decodes into the operation's result."""
    from assistant_bridge.transports import ops
    from assistant_bridge.transports._assistants import AssistantsWire as A
    from assistant_bridge.transports._responses import ResponsesWire as R
    from assistant_bridge.transports._wire import Stream

    for wire in (A, R):
        decodes(ops.CreateThread)(wire.create_thread)
        decodes(ops.StartRun)(wire.start_run)
        decodes(ops.CreateThreadAndRun)(wire.create_thread_and_run)
        decodes(ops.GetRun)(wire.get_run)
        decodes(ops.CancelRun)(wire.cancel_run)
        decodes(ops.SubmitToolOutputs)(wire.submit_tool_outputs)
        decodes(ops.ListRunMessages)(wire.list_run_messages)
        decodes(ops.ResolveAssistant)(wire.resolve_assistant)
        decodes(ops.RunSteps)(wire.run_steps)
        decodes(ops.FileName)(wire.file_name)
        decodes(ops.DownloadFile)(wire.download_file)
        answers(ops.GetRun)(wire.get_run)
        answers(ops.StreamToolOutputs)(wire.stream_tool_outputs)
        stream: Callable[[Any, ops.StreamRun], Stream] = wire.stream_run
        print(stream)
    decodes(ops.FindRun)(A.find_run)
    decodes(ops.GetAssistant)(A.get_assistant)
    decodes(ops.GetRun)(A.file_name)  # type: ignore[arg-type]
    answers(ops.GetRun)(A.cancel_run)  # type: ignore[arg-type]


async def perform_is_typed_by_the_operation() -> None:
    """``perform(op)`` answers with what ``op`` promises, on every transport."""
    from collections.abc import AsyncIterator, Iterator

    from assistant_bridge import AsyncOpenAITransport, MessagePage, OpenAITransport, Run
    from assistant_bridge._values.events import RunEvent
    from assistant_bridge.testing import AsyncFakeTransport, StreamingFakeTransport
    from assistant_bridge.transports import (
        GetRun,
        ListRunMessages,
        RunSettings,
        StreamRun,
    )

    transport: Transport = OpenAITransport("sk")
    assert_type(transport.perform(GetRun("t", "r")), Run)
    assert_type(OpenAITransport("sk").perform(GetRun("t", "r")), Run)
    assert_type(transport.perform(ListRunMessages("t", "r")), MessagePage)
    assert_type(transport.perform(StreamRun("t", RunSettings())), Iterator[RunEvent])
    fake = StreamingFakeTransport(ScriptedBackend())
    assert_type(fake.perform(GetRun("t", "r")), Run)
    atransport: AsyncTransport = AsyncOpenAITransport("sk")
    assert_type(await atransport.perform(GetRun("t", "r")), Run)
    assert_type(await AsyncOpenAITransport("sk").perform(GetRun("t", "r")), Run)
    events = await atransport.perform(StreamRun("t", RunSettings()))
    assert_type(events, AsyncIterator[RunEvent])
    assert_type(await AsyncFakeTransport(ScriptedBackend()).perform(GetRun("t", "r")), Run)
    GetRun("t")  # type: ignore[call-arg]
    run: str = transport.perform(GetRun("t", "r"))  # type: ignore[assignment]
    print(run)


class SyncWrapper:
    """A wrapper: one generic perform, supports delegated."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def perform(self, op: Op[T]) -> T:
        return self.inner.perform(op)

    def supports(self, op_type: type[Op[Any]]) -> bool:
        return self.inner.supports(op_type)

    def close(self) -> None:
        self.inner.close()


class AsyncWrapper:
    """The async twin: the same one generic perform, awaited."""

    def __init__(self, inner: AsyncTransport) -> None:
        self.inner = inner

    async def perform(self, op: Op[T]) -> T:
        return await self.inner.perform(op)

    def supports(self, op_type: type[Op[Any]]) -> bool:
        return self.inner.supports(op_type)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def wrappers_are_transports() -> None:
    """A wrapper with one generic perform is a Transport (or AsyncTransport): sessions take
    it, and perform through the protocol keeps each operation's type, streams included."""
    from collections.abc import AsyncIterator, Iterator

    from assistant_bridge import AsyncOpenAITransport, AsyncThreadSession, OpenAITransport, Run
    from assistant_bridge._values.events import RunEvent
    from assistant_bridge.transports import GetRun, RunSettings, StreamRun

    sync: Transport = SyncWrapper(OpenAITransport("sk"))
    ThreadSession(SyncWrapper(OpenAITransport("sk")), "asst_1")
    assert_type(sync.perform(GetRun("t", "r")), Run)
    assert_type(sync.perform(StreamRun("t", RunSettings())), Iterator[RunEvent])
    asynchronous: AsyncTransport = AsyncWrapper(AsyncOpenAITransport("sk"))
    AsyncThreadSession(AsyncWrapper(AsyncOpenAITransport("sk")), "asst_1")
    assert_type(await asynchronous.perform(GetRun("t", "r")), Run)
    events = await asynchronous.perform(StreamRun("t", RunSettings()))
    assert_type(events, AsyncIterator[RunEvent])
