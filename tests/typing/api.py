"""Type-checked, not run: the public API's types as a user sees them (mypy --strict)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar, assert_type

import attrs

from assistant_bridge import JsonParser, Reply, SchemaParser, TextParser, ThreadSession
from assistant_bridge.testing import FakeTransport, ScriptedBackend
from assistant_bridge.transports._wire import Step


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
        RunRequest,
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
    assert_type(sync.start_run("t", RunRequest(), content="q"), Run)
    sync.start_run("t", RunRequest(), content=1)  # type: ignore[arg-type]
    assert_type(sync.stream_run("t", RunRequest(), stall_timeout=5), Iterator[RunEvent])
    assert_type(OpenAITransport("sk").get_run("t", "r"), Run)
    assert_type(await AsyncOpenAITransport("sk").get_run("t", "r"), Run)
    stream = await AsyncOpenAITransport("sk").stream_run("t", RunRequest())
    assert_type(stream, AsyncIterator[RunEvent])
    print(finder, files, steps, fake, asynchronous, afinder, afiles, asteps, stream)


R = TypeVar("R")


def answers(method: Callable[..., R]) -> Callable[[Callable[..., Step[R]]], None]:
    """Takes a protocol method, then the wire method of the same name, which must answer
    with (a request for) what the protocol method returns."""
    return lambda request: None


def wires_answer_what_the_protocol_promises() -> None:
    """A transport sends the wire's request of an operation's name and returns what it
    decodes, so each wire method must decode into the protocol method's result type."""
    from assistant_bridge.transports import (
        AssistantReader,
        FileStore,
        RunFinder,
        RunStepReader,
        Transport,
    )
    from assistant_bridge.transports._assistants import AssistantsWire
    from assistant_bridge.transports._wire import Wire

    answers(Transport.create_thread)(Wire.create_thread)
    answers(Transport.start_run)(Wire.start_run)
    answers(Transport.create_thread_and_run)(Wire.create_thread_and_run)
    answers(Transport.get_run)(Wire.get_run)
    answers(Transport.cancel_run)(Wire.cancel_run)
    answers(Transport.submit_tool_outputs)(Wire.submit_tool_outputs)
    answers(Transport.list_run_messages)(Wire.list_run_messages)
    answers(Transport.resolve_assistant)(Wire.resolve_assistant)
    answers(RunStepReader.run_steps)(Wire.run_steps)
    answers(FileStore.file_name)(Wire.file_name)
    answers(FileStore.download_file)(Wire.download_file)
    answers(RunFinder.find_run)(AssistantsWire.find_run)
    answers(AssistantReader.get_assistant)(AssistantsWire.get_assistant)
    answers(Transport.get_run)(Wire.file_name)  # type: ignore[arg-type]
