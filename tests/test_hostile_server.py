"""A hostile server, one behaviour at a time (issue 20): typed errors for unreadable or wrong
answers, ``conversation_locked`` as the active-run error, a stream cut mid-event, the
knowledge base's calls and the CLI. The whole matrix is in tests/test_fault_matrix.py."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from unittest import mock

import pytest

from assistant_bridge import OpenAITransport, ResponsesTransport, RunRequest, ThreadSession
from assistant_bridge._cli.exit_codes import ExitCode
from assistant_bridge._cli.main import main
from assistant_bridge.exceptions import (
    ActiveRunError,
    AssistantBridgeError,
    MalformedResponseError,
    StreamInterruptedError,
)
from assistant_bridge.testing import Emulator, SayText, StayInProgress
from assistant_bridge.transports._vector_stores import ListStores, VectorStoreAPI

from .fault_matrix import SPEC
from .hostile_proxy import LOCKED, HostileProxy, Misbehave
from .stub_server import Canned, StubServer
from .test_openai_transport import RUN

KEY = "sk-emulator"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(cancel_delay=0.01, api_key=KEY) as emulator:
        yield emulator


class TestWrongObjects:
    def test_a_poll_answered_by_another_threads_run(self) -> None:
        """A run poll must return that run of that thread."""
        with StubServer().running() as stub:
            stub.script.append(Canned(200, {**RUN, "thread_id": "thread_other"}))
            with (
                OpenAITransport(KEY, base_url=stub.base_url) as transport,
                pytest.raises(MalformedResponseError, match="thread_other"),
            ):
                transport.get_run("thread_abc", "run_abc")

    def test_a_redirect_to_a_host_that_answers_a_thread(self, emu: Emulator) -> None:
        """Not taken as a run, and no request follows for the bogus ids."""
        emu.script(SayText("hello", delay=0.3))
        rule = Misbehave("wrong_object", "GET", r"/v1/threads/[^/]+/runs/[^/]+")
        with HostileProxy(emu.base_url, rule) as proxy:
            transport = OpenAITransport(KEY, base_url=proxy.base_url)
            session = ThreadSession(
                transport, assistant=SPEC, wait="poll", timeout=5, cancel_grace=0.5
            )
            reply = session.ask("question")  # the poll is retried: a read is safe to repeat
            transport.close()
        assert reply.text == "hello"
        assert proxy.fired
        assert not [r for r in emu.requests if "thread_evil" in r.path or "//" in r.path]

    def test_an_html_page_on_create(self, emu: Emulator) -> None:
        """A gateway's HTML page is a typed error, not a JSONDecodeError."""
        rule = Misbehave("html", "POST", "/v1/threads")
        with (
            HostileProxy(emu.base_url, rule) as proxy,
            OpenAITransport(KEY, base_url=proxy.base_url) as transport,
            pytest.raises(MalformedResponseError, match=r"could not be read as JSON"),
        ):
            transport.create_thread()


class TestStreams:
    def test_a_stream_that_ends_cleanly_mid_event(self, emu: Emulator) -> None:
        """The half event is not decoded: the stream is interrupted."""
        emu.script(StayInProgress())
        assistant = emu.create_assistant()
        thread = emu.transport("assistants").create_thread()
        rule = Misbehave("mid_event", "POST", r"/v1/threads/[^/]+/runs", after_events=1)
        with (
            HostileProxy(emu.base_url, rule) as proxy,
            OpenAITransport(KEY, base_url=proxy.base_url) as transport,
        ):
            events = transport.stream_run(
                thread.id, RunRequest(assistant_id=assistant), content="hi"
            )
            with pytest.raises(StreamInterruptedError, match="middle of an event"):
                list(events)


class TestConversationLocked:
    def test_it_is_the_active_run_error_naming_the_conversation(self) -> None:
        """400 conversation_locked: ActiveRunError, the conversation taken from the request."""
        with StubServer().running() as stub:
            stub.script.append(Canned(400, LOCKED))
            with (
                ResponsesTransport(KEY, base_url=stub.base_url) as transport,
                pytest.raises(ActiveRunError) as info,
            ):
                transport.start_run("conv_abc123", RunRequest(assistant=SPEC), content="hi")
        err = info.value
        assert err.thread_id == "conv_abc123"
        assert err.run_id is None
        assert err.code == "conversation_locked"

    @pytest.mark.parametrize("policy", ["wait", "cancel"])
    def test_waiting_asks_again_within_the_deadline(self, emu: Emulator, policy: str) -> None:
        """on_active_run="wait" (the default), and "cancel" (no response id to cancel): the
        start is tried again, and succeeds."""
        emu.script(SayText("first"), times=1)
        with HostileProxy(emu.base_url) as proxy:
            transport = ResponsesTransport(KEY, base_url=proxy.base_url)
            session = ThreadSession(
                transport, assistant=SPEC, wait="poll", timeout=5, on_active_run=policy
            )
            session.ask("first question")
            emu.script(SayText("second"))
            proxy.rules.append(Misbehave("locked", "POST", "/v1/responses"))
            assert session.ask("second question").text == "second"
            transport.close()
        assert proxy.fired

    def test_raise_raises_it(self, emu: Emulator) -> None:
        emu.script(SayText("first"), times=1)
        with HostileProxy(emu.base_url) as proxy:
            transport = ResponsesTransport(KEY, base_url=proxy.base_url)
            session = ThreadSession(
                transport, assistant=SPEC, wait="poll", timeout=5, on_active_run="raise"
            )
            session.ask("first question")
            proxy.rules.append(Misbehave("locked", "POST", "/v1/responses"))
            began = time.monotonic()
            with pytest.raises(ActiveRunError) as info:
                session.ask("second question")
            transport.close()
        assert time.monotonic() - began < 2
        assert info.value.thread_id == session.thread_id


class TestKnowledgeBaseCalls:
    @pytest.mark.parametrize("kind", ["html", "cut", "wrong_object"])
    def test_an_unreadable_answer_is_typed(self, emu: Emulator, kind: str) -> None:
        rule = Misbehave(kind, "GET", "/v1/vector_stores")
        with HostileProxy(emu.base_url, rule) as proxy:
            stores = VectorStoreAPI(emu.client().with_options(base_url=proxy.base_url))
            with pytest.raises(MalformedResponseError):
                stores.perform(ListStores())


class TestCommandLine:
    def test_an_unreadable_answer_is_one_line_and_exit_8(self, emu: Emulator) -> None:
        """No traceback: one line naming the kind, and the service exit code."""
        assistant = emu.create_assistant()
        rule = Misbehave("html", "POST", "/v1/threads/runs")
        with HostileProxy(emu.base_url, rule) as proxy:
            out, err = io.StringIO(), io.StringIO()
            env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": proxy.base_url}
            with mock.patch.dict(os.environ, env):
                code = main(["ask", "hello", "--assistant-id", assistant, "-q"], out, err)
        assert code == int(ExitCode.SERVICE)
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("assistant-bridge: service: ")
        assert "text/html" in lines[0]


class TestOneBound:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_a_poll_that_hangs_gets_no_floor_past_the_deadline(
        self, emu: Emulator, api: str
    ) -> None:
        """timeout=2, cancel_grace=0.5: ends within 3 s (it took 3.5 s with a 1 s floor)."""
        from assistant_bridge.testing import Fault

        emu.script(StayInProgress())
        route = "runs.retrieve" if api == "assistants" else "responses.retrieve"
        emu.inject(Fault.slow(30), route, times=None)
        transport = emu.transport(api)
        session = ThreadSession(transport, assistant=SPEC, wait="poll", timeout=2, cancel_grace=0.5)
        began = time.monotonic()
        with pytest.raises(AssistantBridgeError) as info:
            session.ask("question")
        took = time.monotonic() - began
        transport.close()
        assert took <= 2 + 0.5 + 0.5, took
        assert info.value.run_id is not None  # type: ignore[attr-defined]
