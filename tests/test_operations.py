"""Operations as values: adding one takes a class, a builder per wire and a fake handler,
and it then travels through every transport, sync and async, and through wrappers."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import attrs
import pytest

from assistant_bridge import (
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    OpenAITransport,
    ResponsesTransport,
)
from assistant_bridge.exceptions import (
    ConfigurationError,
    NotFoundError,
    UnsupportedOperationError,
)
from assistant_bridge.testing import (
    AsyncFakeTransport,
    Emulator,
    FakeTransport,
    ScriptedBackend,
)
from assistant_bridge.transports import CreateThread, Op, StreamRun, Transport
from assistant_bridge.transports._assistants import AssistantsWire
from assistant_bridge.transports._responses import ResponsesWire
from assistant_bridge.transports._wire import ASSISTANTS_BETA, Answer, Request
from assistant_bridge.transports.ops import handles

T = TypeVar("T")


@attrs.frozen
class DeleteThread(Op[bool]):
    """Delete a thread (a conversation, on the Responses API)."""

    thread_id: str


def _deleted(answer: Answer) -> bool:
    return bool(answer.json.get("deleted"))


class AssistantsWithDelete(AssistantsWire):
    @handles(DeleteThread)
    def delete_thread(self, op: DeleteThread) -> Request[bool]:
        return Request("DELETE", f"/threads/{op.thread_id}", _deleted, headers=ASSISTANTS_BETA)


class ResponsesWithDelete(ResponsesWire):
    @handles(DeleteThread)
    def delete_thread(self, op: DeleteThread) -> Request[bool]:
        return Request("DELETE", f"/conversations/{op.thread_id}", _deleted)


class BackendWithDelete(ScriptedBackend):
    @handles(DeleteThread)
    def _delete_thread(self, op: DeleteThread) -> bool:
        return self.threads.pop(op.thread_id, None) is not None


class Assistants(OpenAITransport):
    wire_class = AssistantsWithDelete


class AsyncAssistants(AsyncOpenAITransport):
    wire_class = AssistantsWithDelete


class Conversations(ResponsesTransport):
    wire_class = ResponsesWithDelete


class AsyncConversations(AsyncResponsesTransport):
    wire_class = ResponsesWithDelete


@pytest.fixture(scope="module")
def emu() -> Any:
    with Emulator() as emulator:
        yield emulator


class TestAddingAnOperation:
    @pytest.mark.parametrize("kind", [Assistants, Conversations])
    def test_a_new_operation_reaches_the_server(self, emu: Emulator, kind: Any) -> None:
        """The builder's request is sent and decoded, and the thread is really gone."""
        with kind("sk-emulator", base_url=emu.base_url) as transport:
            made = transport.create_thread()
            assert transport.supports(DeleteThread)
            assert transport.perform(DeleteThread(made.id)) is True
            with pytest.raises(NotFoundError):
                transport.perform(DeleteThread(made.id))

    @pytest.mark.parametrize("kind", [AsyncAssistants, AsyncConversations])
    def test_the_async_twin_needs_nothing_more(self, emu: Emulator, kind: Any) -> None:
        async def run() -> bool:
            transport = kind("sk-emulator", base_url=emu.base_url)
            try:
                made = await transport.perform(CreateThread())
                return bool(await transport.perform(DeleteThread(made.id)))
            finally:
                await transport.aclose()

        assert asyncio.run(run()) is True

    def test_a_fake_hands_it_to_its_handler(self) -> None:
        backend = BackendWithDelete()
        fake = FakeTransport(backend)
        made = fake.create_thread()
        assert fake.perform(DeleteThread(made.id)) is True
        assert made.id not in backend.threads
        assert fake.calls[-1].op == DeleteThread(made.id)
        assert fake.calls[-1].name == "delete_thread"
        assert fake.calls[-1].args == {"thread_id": made.id}

        async def run() -> bool:
            afake = AsyncFakeTransport(BackendWithDelete())
            thread = await afake.create_thread()
            return bool(await afake.perform(DeleteThread(thread.id)))

        assert asyncio.run(run()) is True

    def test_transports_without_a_builder_refuse_it_by_name(self, emu: Emulator) -> None:
        """An operation a wire has no builder for is a typed error naming the operation and
        the transport, raised before anything is sent."""
        before = dict(emu.counts())
        with OpenAITransport("sk-emulator", base_url=emu.base_url) as plain:
            assert not plain.supports(DeleteThread)
            with pytest.raises(UnsupportedOperationError) as info:
                plain.perform(DeleteThread("thread_1"))
        assert isinstance(info.value, ConfigurationError)
        assert info.value.operation == "DeleteThread"
        assert "OpenAITransport" in str(info.value)
        assert "DeleteThread" in str(info.value)
        assert dict(emu.counts()) == before
        with pytest.raises(UnsupportedOperationError, match="ScriptedBackend"):
            FakeTransport(ScriptedBackend()).perform(DeleteThread("thread_1"))


class Recording:
    """A wrapper: one perform, supports delegated."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.seen: list[Op[object]] = []

    def perform(self, op: Op[T]) -> T:
        self.seen.append(op)
        return self.inner.perform(op)

    def supports(self, op_type: type[Op[Any]]) -> bool:
        return self.inner.supports(op_type)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class TestWrappers:
    def test_a_wrapper_passes_a_new_operation_through(self, emu: Emulator) -> None:
        wrapper = Recording(Assistants("sk-emulator", base_url=emu.base_url))
        try:
            made = wrapper.inner.perform(CreateThread())
            assert wrapper.supports(DeleteThread)
            assert wrapper.perform(DeleteThread(made.id)) is True
            assert wrapper.seen == [DeleteThread(made.id)]
        finally:
            wrapper.close()

    def test_a_session_over_a_wrapper_streams_and_looks_runs_up(self, emu: Emulator) -> None:
        """Capabilities are asked with supports(), so a wrapper keeps them: the session
        streams, and a start whose answer was lost is looked up (FindRun), not repeated."""
        from assistant_bridge import ThreadSession
        from assistant_bridge.testing import Fault, SayText

        emu.create_assistant(assistant_id="asst_wrapped", name="wrapped")
        emu.script(SayText("first"), times=1)
        emu.script(SayText("second"), times=1)
        wrapper = Recording(OpenAITransport("sk-emulator", base_url=emu.base_url))
        try:
            session = ThreadSession(wrapper, "asst_wrapped", wait="poll")
            assert session.ask("one").text == "first"
            emu.inject(Fault.reset_after(), "runs.create")
            assert session.ask("two").text == "second"
            kinds = [type(op).__name__ for op in wrapper.seen]
            assert kinds.count("StartRun") == 1
            assert kinds.count("FindRun") == 1
            assert session.thread_id is not None
            assert len(emu.runs_of(session.thread_id)) == 2
            streaming = ThreadSession(wrapper, "asst_wrapped", thread_id=session.thread_id)
            wrapper.seen.clear()
            assert streaming.ask("three").text
            assert next(type(op) for op in wrapper.seen) is StreamRun
        finally:
            wrapper.close()


class TestCapabilities:
    def test_capability_names_ask_supports(self, emu: Emulator) -> None:
        """isinstance(t, StreamingTransport) and the like ask supports() on a transport of
        the right kind, so a wrapper has the capabilities of what it wraps."""
        from assistant_bridge.transports import (
            AssistantReader,
            AsyncStreamingTransport,
            RunFinder,
            StreamingTransport,
        )

        with Recording(OpenAITransport("sk-emulator", base_url=emu.base_url)) as wrapped:
            assert isinstance(wrapped, StreamingTransport)
            assert isinstance(wrapped, RunFinder)
            assert isinstance(wrapped, AssistantReader)
            assert not isinstance(wrapped, AsyncStreamingTransport)
        responses = Recording(ResponsesTransport("sk-emulator", base_url=emu.base_url))
        assert isinstance(responses, StreamingTransport)
        assert not isinstance(responses, RunFinder)
        responses.close()
        assert not isinstance(FakeTransport(ScriptedBackend()), StreamingTransport)
        assert isinstance(
            AsyncFakeTransport(ScriptedBackend(), streaming=True), AsyncStreamingTransport
        )
        assert not isinstance(object(), StreamingTransport)
