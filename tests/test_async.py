"""AsyncThreadSession over both async transports, cancellation, and many asks at once."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    AsyncThreadSession,
    FixedInterval,
    JsonParser,
    ThreadSession,
    ToolCall,
    ToolOutput,
    ToolRegistry,
    aask_many,
    ask_many,
)
from assistant_bridge.exceptions import ActionRequiredError, RunFailedError, RunTimeoutError
from assistant_bridge.testing import (
    Emulator,
    FailRun,
    Outcome,
    RequestTools,
    RunContext,
    SayJson,
    StayInProgress,
)

SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")
ASYNC = {"assistants": AsyncOpenAITransport, "responses": AsyncResponsesTransport}


@attrs.frozen
class Echo:
    """Answers with the prompt it was given, to prove replies are not crossed."""

    delay: float = 0.05

    def outcome(self, ctx: RunContext) -> Outcome:
        return Outcome("complete", text=f"echo: {ctx.prompt}", delay=self.delay)


@pytest.fixture(params=["assistants", "responses"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def transport(emu: Emulator, api: str) -> Any:
    return ASYNC[api]("sk-emulator", base_url=emu.base_url, max_retries=0)


def session(t: Any, **kwargs: Any) -> AsyncThreadSession:
    kwargs.setdefault("poll_policy", FixedInterval(0.01))
    return AsyncThreadSession(t, assistant=SPEC, **kwargs)


class TestAsyncSession:
    def test_ask_and_follow_up(self, emu: Emulator, api: str) -> None:
        """await ask(): a JSON verdict, then a follow-up on the same thread."""
        emu.script(SayJson({"action": "escalate"}), times=1)

        async def main() -> tuple[Any, Any]:
            async with transport(emu, api) as t:
                s = session(t, parser=JsonParser())
                first = await s.ask("Alert: CPU at 100%")
                second = await s.ask("and now?", parser=JsonParser(strict=False))
                return first, second

        first, second = asyncio.run(main())
        assert first.parsed == {"action": "escalate"}
        assert second.thread_id == first.thread_id

    def test_tools_with_async_functions(self, emu: Emulator, api: str) -> None:
        """A registry of async tools answers function calls via acall."""
        emu.script(RequestTools([("lookup", {"host": "db-1"})], then=lambda o: f"said {o[0]}"))

        async def lookup(host: str) -> dict[str, str]:
            """Look a host up."""
            await asyncio.sleep(0.01)
            return {"host": host, "state": "ok"}

        tools = ToolRegistry(lookup)

        async def main() -> str:
            async with transport(emu, api) as t:
                return (await session(t, tool_handler=tools).ask("check")).text

        text = asyncio.run(main())
        assert json.loads(text.removeprefix("said ")) == {"host": "db-1", "state": "ok"}

    def test_failures_are_the_same_errors(self, emu: Emulator, api: str) -> None:
        """The async session raises the same typed errors as the sync one."""
        emu.script(FailRun("server_error", "boom"), times=1)
        emu.script(RequestTools([("lookup", {})]), times=1)

        async def main() -> None:
            async with transport(emu, api) as t:
                with pytest.raises(RunFailedError):
                    await session(t).ask("x")
                with pytest.raises(ActionRequiredError):
                    await session(t).ask("y")

        asyncio.run(main())

    def test_timeout_cancels(self, emu: Emulator, api: str) -> None:
        """The deadline cancels the run on the server, as in the sync session."""
        emu.script(StayInProgress())

        async def main() -> RunTimeoutError:
            async with transport(emu, api) as t:
                with pytest.raises(RunTimeoutError) as info:
                    await session(t).ask("x", timeout=0.3)
                return info.value

        error = asyncio.run(main())
        assert error.cancel_confirmed
        assert emu.run_status(error.run_id) == "cancelled"

    def test_task_cancellation_cancels_the_run(self, emu: Emulator, api: str) -> None:
        """Cancelling the asyncio task that awaits ask() cancels the run on the server."""
        emu.script(StayInProgress())

        async def main() -> None:
            async with transport(emu, api) as t:
                task = asyncio.create_task(session(t).ask("x", timeout=30))
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

        asyncio.run(main())
        [run_id] = [r.id for r in emu.store.runs.values()] or list(emu.app.responses)
        assert emu.run_status(run_id) in ("cancelling", "cancelled")


class TestParallel:
    def test_hundred_concurrent_sessions_each_on_its_own_thread(
        self, emu: Emulator, api: str
    ) -> None:
        """100 asks at once: every reply answers its own prompt on its own thread."""
        emu.script(Echo())
        prompts = [f"Alert {n}: host-{n} down" for n in range(100)]

        async def main() -> list[Any]:
            async with transport(emu, api) as t:
                await session(t).ask("warm up")  # creates the assistant object once
                return await aask_many(lambda: session(t), prompts, concurrency=100)

        replies = asyncio.run(main())
        assert [r.text for r in replies] == [f"echo: {p}" for p in prompts]
        assert len({r.thread_id for r in replies}) == 100
        for prompt, reply in zip(prompts, replies, strict=True):
            assert [text for _, text, _ in emu.thread_messages(reply.thread_id)] == [
                prompt,
                f"echo: {prompt}",
            ]

    def test_one_failure_does_not_lose_the_others(self, emu: Emulator) -> None:
        """A failing ask takes its own place in the results; the rest are replies."""
        emu.script(Echo(), times=2)
        emu.script(FailRun("server_error", "boom"), times=1)
        emu.script(Echo())
        prompts = ["a", "b", "c", "d"]

        with emu.transport(max_retries=0) as t:
            results = ask_many(
                lambda: ThreadSession(t, assistant=SPEC, poll_policy=FixedInterval(0.01)),
                prompts,
                concurrency=1,
            )
        assert [type(r).__name__ for r in results] == ["Reply", "Reply", "RunFailedError", "Reply"]


class TestNoCopiedLogic:
    def test_both_sessions_drive_the_same_flows(self) -> None:
        """Sync and async sessions ask their transports for the same operations, in the
        same order, for the same script (tools, a second ask): one flow, two drivers."""
        from assistant_bridge.testing import (
            AsyncFakeTransport,
            FakeClock,
            FakeTransport,
            RunScript,
            ScriptedBackend,
        )

        call = ToolCall(id="call_1", name="lookup", arguments="{}")

        def scripts() -> ScriptedBackend:
            tools = RunScript(steps=["requires_action"], tool_calls=[call], reply="done")
            return ScriptedBackend(tools, RunScript(reply="again"))

        def tools(calls: Any) -> list[ToolOutput]:
            return [ToolOutput(c.id, "ok") for c in calls]

        def seen(calls: Any) -> list[tuple[object, ...]]:
            return [(c.name, c.args.get("thread_id"), c.args.get("run_id")) for c in calls]

        clock = FakeClock()
        sync = FakeTransport(scripts())
        session = ThreadSession(
            sync, "asst_1", tool_handler=tools, clock=clock.now, sleep=clock.sleep
        )
        replies = [session.ask("one").text, session.ask("two").text]

        aclock = FakeClock()
        fake = AsyncFakeTransport(scripts())

        async def sleep(seconds: float) -> None:
            aclock.sleep(seconds)

        async def both() -> list[str]:
            asession = AsyncThreadSession(
                fake, "asst_1", tool_handler=tools, clock=aclock.now, sleep=sleep
            )
            return [(await asession.ask("one")).text, (await asession.ask("two")).text]

        assert asyncio.run(both()) == replies == ["done", "again"]
        assert seen(fake.calls) == seen(sync.calls)
        assert aclock.sleeps == clock.sleeps
        assert "submit_tool_outputs" in [c.name for c in sync.calls]

    def test_sync_and_async_transports_share_their_wire(self) -> None:
        """The twins hold the same wire class, support the same operations, and take each
        named method from the same declaration: the sync one sends, the async one awaits."""
        from assistant_bridge import OpenAITransport, ResponsesTransport
        from assistant_bridge.transports import NamedOp, ops

        pairs = (
            (OpenAITransport, AsyncOpenAITransport),
            (ResponsesTransport, AsyncResponsesTransport),
        )
        every = [getattr(ops, name) for name in ops.__all__ if name[0].isupper()]
        every = [t for t in every if isinstance(t, type) and issubclass(t, ops.Op)]
        for sync_cls, async_cls in pairs:
            sync, asynchronous = sync_cls("sk-test"), async_cls("sk-test")
            try:
                assert [sync.supports(t) for t in every] == [
                    asynchronous.supports(t) for t in every
                ]
                for name in ("start_run", "stream_run", "submit_tool_outputs", "get_run"):
                    named = [inspect.getattr_static(c, name) for c in (sync_cls, async_cls)]
                    assert isinstance(named[0], NamedOp)
                    assert named[0] is named[1], name
                    assert not inspect.iscoroutinefunction(getattr(sync, name))
                    assert inspect.iscoroutinefunction(getattr(asynchronous, name))
            finally:
                sync.close()
                asyncio.run(asynchronous.aclose())

    def test_every_operation_has_a_builder_on_each_wire(self) -> None:
        """Each wire is a table from operation type to builder: the Assistants wire builds
        every operation, the Responses wire all but those about assistant objects and run
        marks; each builder takes the operation it is filed under; and every named method
        of a transport is for an operation its wire builds."""
        from assistant_bridge.transports import OpenAITransport, ResponsesTransport, ops
        from assistant_bridge.transports._assistants import AssistantsWire
        from assistant_bridge.transports._protocol import named_operations
        from assistant_bridge.transports._responses import ResponsesWire

        every = {
            t
            for t in vars(ops).values()
            if isinstance(t, type) and issubclass(t, ops.Op) and t not in (ops.Op, ops.StreamOp)
        }
        assert len(every) == 16
        assert set(AssistantsWire.builders) == every
        assert set(ResponsesWire.builders) == every - {ops.FindRun, ops.GetAssistant}
        for wire in (AssistantsWire, ResponsesWire):
            for op_type, builder in wire.builders.items():
                annotation = inspect.signature(builder).parameters["op"].annotation
                assert str(annotation).endswith(op_type.__name__), (wire.__name__, op_type)
        for transport, wire in (
            (OpenAITransport, AssistantsWire),
            (ResponsesTransport, ResponsesWire),
        ):
            assert named_operations(transport) <= set(wire.builders)


class TestOperationsAsMethods:
    """The transports' operations behave like the methods they stand for."""

    def test_signature_and_docs_are_the_operations(self) -> None:
        from assistant_bridge import OpenAITransport
        from assistant_bridge.transports import StartRun

        transport = OpenAITransport("sk-test-not-a-real-key")
        try:
            shown = inspect.signature(transport.start_run)
            assert list(shown.parameters) == [
                "thread_id",
                "request",
                "content",
                "message_metadata",
                "budget",
            ]
            assert transport.start_run.__doc__ == StartRun.__doc__
            assert inspect.iscoroutinefunction(AsyncOpenAITransport("sk-x").get_run)
        finally:
            transport.close()

    def test_a_wrong_keyword_is_a_type_error_naming_the_method_before_any_request(
        self,
    ) -> None:
        from assistant_bridge import OpenAITransport
        from assistant_bridge.testing import FakeTransport, ScriptedBackend
        from assistant_bridge.transports import RunSettings

        transport = OpenAITransport("sk-test-not-a-real-key", base_url="http://127.0.0.1:9")
        fake = FakeTransport(ScriptedBackend())
        try:
            for target in (transport, fake):
                with pytest.raises(TypeError, match=r"start_run\(\) got an unexpected .*'contnet'"):
                    target.start_run("thread_1", RunSettings(), contnet="hi")  # type: ignore[call-arg]
            assert fake.calls == []
        finally:
            transport.close()

    def test_called_on_the_class_and_shown_by_help(self) -> None:
        """An operation is a method: callable on the class with the transport first, and
        named, documented and typed in ``help()``."""
        import pydoc

        from assistant_bridge import OpenAITransport
        from assistant_bridge.testing import FakeTransport, ScriptedBackend
        from assistant_bridge.transports import RunSettings

        fake = FakeTransport(ScriptedBackend())
        thread = type(fake).create_thread(fake, metadata={"k": "v"})
        assert fake.calls[-1].args == {"metadata": {"k": "v"}}
        run = FakeTransport.start_run(fake, thread.id, RunSettings(assistant_id="asst_1"))
        assert fake.get_run(thread.id, run.id).id == run.id
        assert fake.get_run.__name__ == "get_run"
        assert fake.get_run.__self__ is fake
        transport = OpenAITransport("sk-test-not-a-real-key")
        try:
            text = pydoc.render_doc(transport.stream_run, renderer=pydoc.plaintext)
            assert "stream_run(thread_id: 'str', request: 'RunSettings'" in text
            assert "stall_timeout" in text
            assert "Start a run (with the user's message)" in text
            assert OpenAITransport.get_run.__qualname__.endswith(".get_run")
        finally:
            transport.close()

    def test_a_stream_without_a_stall_limit_still_streams(self, emu: Emulator) -> None:
        """stall_timeout=None means no silence limit, not "do not stream"."""
        from assistant_bridge import ResponsesTransport
        from assistant_bridge.transports import RunSettings

        spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="Triage.")
        with ResponsesTransport("sk-emulator", base_url=emu.base_url) as transport:
            events = transport.stream_thread_and_run(
                "CPU at 100%", RunSettings(assistant=spec), stall_timeout=None
            )
            kinds = {type(event).__name__ for event in events}
        assert "RunStatusChanged" in kinds

    def test_mock_sees_a_method(self) -> None:
        """unittest.mock patches an operation like a method: autospec records the transport
        and refuses a wrong call, and an async transport's operation gets an AsyncMock."""
        from unittest import mock

        from assistant_bridge.testing import FakeTransport, ScriptedBackend

        fake = FakeTransport(ScriptedBackend())
        with mock.patch.object(FakeTransport, "get_run", autospec=True) as patched:
            fake.get_run("thread_1", "run_1")
            with pytest.raises(TypeError):
                fake.get_run("thread_1")
        patched.assert_called_once_with(fake, "thread_1", "run_1")
        transport = AsyncOpenAITransport("sk-test-not-a-real-key")
        with mock.patch.object(AsyncOpenAITransport, "get_run", return_value="run") as patched:
            assert isinstance(patched, mock.AsyncMock)
            assert asyncio.run(transport.get_run("thread_1", "run_1")) == "run"
        asyncio.run(transport.aclose())
        assert inspect.iscoroutinefunction(AsyncOpenAITransport.get_run)
        assert not inspect.iscoroutinefunction(FakeTransport.get_run)
