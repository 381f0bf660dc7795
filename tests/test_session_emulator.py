"""ThreadSession over the emulator with the real openai client on loopback, on both wires.

Every test here runs twice: over the Assistants API (OpenAITransport, the spec resolved to an
assistant object) and over the Responses + Conversations APIs (ResponsesTransport, the spec
sent with each response). The same snippet, one constructor argument apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from assistant_bridge import (
    AssistantSpec,
    FixedInterval,
    JsonParser,
    OpenAITransport,
    RunStatus,
    ThreadSession,
    ToolCall,
    ToolOutput,
)
from assistant_bridge.exceptions import (
    ActionRequiredError,
    ActiveRunError,
    RunError,
    RunExpiredError,
    RunFailedError,
    RunIncompleteError,
    RunTimeoutError,
)
from assistant_bridge.testing import (
    Emulator,
    EndIncomplete,
    ExpireRun,
    FailRun,
    RequestTools,
    SayJson,
    SayText,
    StayInProgress,
)

SPEC = AssistantSpec(name="alert-triage", model="gpt-4o-mini", instructions="Triage alerts.")
# Route names of the same operations on each wire.
ROUTES = {
    "assistants": {
        "first": "threads.create_and_run",
        "next": "runs.create",
        "tools": "runs.submit_tool_outputs",
    },
    "responses": {
        "first": "conversations.create",
        "next": "responses.create",
        "tools": "responses.create",
    },
}


@pytest.fixture(params=["assistants", "responses"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def transport(emu: Emulator, api: str) -> Iterator[Any]:
    with emu.transport(api, max_retries=0) as t:
        yield t


def session(transport: Any, **kwargs: Any) -> ThreadSession:
    kwargs.setdefault("poll_policy", FixedInterval(0.01))
    return ThreadSession(transport, assistant=SPEC, **kwargs)


class TestConversation:
    def test_ask_follow_up_and_resume_elsewhere(
        self, emu: Emulator, transport: Any, api: str
    ) -> None:
        """JSON verdict, a follow-up on the same thread, then another session adopts it."""
        emu.script(SayJson({"action": "escalate", "severity": "critical"}), times=1)
        emu.script(SayText("cpu-saturation.md"), times=1)
        emu.script(SayText("still here"), times=1)
        ask = session(transport, parser=JsonParser())
        first = ask.ask("Analyze this alert: CPU at 100%")
        assert first.parsed == {"action": "escalate", "severity": "critical"}
        assert first.status is RunStatus.COMPLETED
        assert first.thread_id.startswith("thread_" if api == "assistants" else "conv_")
        assert first.run_id.startswith("run_" if api == "assistants" else "resp_")
        follow = ask.ask("Which runbook?", parser=JsonParser(strict=False))
        assert follow.thread_id == first.thread_id
        assert follow.text == "cpu-saturation.md"
        later = session(transport, thread_id=first.thread_id)
        assert later.ask("again?").text == "still here"
        texts = [t for _, t, _ in emu.thread_messages(first.thread_id)]
        assert texts[0] == "Analyze this alert: CPU at 100%"
        assert len(texts) == 6
        counts = emu.counts()
        assert counts[ROUTES[api]["first"]] == 1
        assert counts[ROUTES[api]["next"]] == (2 if api == "assistants" else 3)

    def test_reply_shape_is_the_same(self, emu: Emulator, transport: Any) -> None:
        """to_dict has the seed's keys and this run's message only, on either wire."""
        emu.script(SayText("one"), times=1)
        emu.script(SayText("two"), times=1)
        ask = session(transport)
        ask.ask("a")
        second = ask.ask("b")
        assert [m.text for m in second.messages] == ["two"]
        assert second.usage is not None
        assert second.usage.total_tokens > 0
        out = second.to_dict()
        assert set(out) == {"response", "thread_id", "run_id", "messages", "raw_response"}
        assert out["response"] == "two"
        assert [m["run_id"] for m in out["messages"]] == [second.run_id]

    def test_tool_handler_round_trip(self, emu: Emulator, transport: Any, api: str) -> None:
        """Function calls answered by a Python function, over real HTTP."""
        emu.script(
            RequestTools(
                [("get_host_metrics", {"host": "web-1"})], then=lambda outs: f"metrics: {outs[0]}"
            )
        )

        def tools(calls: Sequence[ToolCall]) -> list[ToolOutput]:
            return [ToolOutput(c.id, json.loads(c.arguments)["host"] + " cpu=99%") for c in calls]

        reply = session(transport, tool_handler=tools).ask("check web-1")
        assert reply.text == "metrics: web-1 cpu=99%"
        assert emu.counts()[ROUTES[api]["tools"]] >= 1


class TestEndings:
    def test_failed(self, emu: Emulator, transport: Any) -> None:
        """A failed run raises with the server's error."""
        emu.script(FailRun("rate_limit_exceeded", "You exceeded your current quota."))
        with pytest.raises(RunFailedError) as info:
            session(transport).ask("x")
        assert info.value.code == "rate_limit_exceeded"
        assert info.value.error_message == "You exceeded your current quota."

    def test_expired(self, emu: Emulator, transport: Any, api: str) -> None:
        """Expired on the Assistants API; the Responses API has no expiry, so it fails."""
        emu.script(ExpireRun())
        expected: type[RunError] = RunExpiredError if api == "assistants" else RunFailedError
        with pytest.raises(expected):
            session(transport).ask("x")

    def test_incomplete_keeps_partial_text(self, emu: Emulator, transport: Any) -> None:
        """incomplete: the reason and the partial text are on the error."""
        emu.script(EndIncomplete("max_output_tokens", '{"action": "esc'))
        with pytest.raises(RunIncompleteError) as info:
            session(transport, parser=JsonParser()).ask("x")
        assert info.value.reason == "max_output_tokens"
        assert info.value.partial.text == '{"action": "esc'

    def test_requires_action_without_handler_is_cancelled(
        self, emu: Emulator, transport: Any
    ) -> None:
        """No handler: the calls are abandoned on the server and the thread is free again."""
        emu.script(RequestTools([("lookup", {"q": 1})]), times=1)
        emu.script(SayText("fine"), times=1)
        ask = session(transport)
        with pytest.raises(ActionRequiredError) as info:
            ask.ask("x")
        assert info.value.cancel_confirmed
        assert [c.name for c in info.value.tool_calls] == ["lookup"]
        assert ask.ask("again").text == "fine"

    def test_timeout_cancels_on_the_server(self, emu: Emulator, transport: Any) -> None:
        """The deadline cancels the run (or background response); the error has both ids."""
        emu.script(StayInProgress())
        ask = session(transport)
        with pytest.raises(RunTimeoutError) as info:
            ask.ask("x", timeout=0.3)
        assert info.value.cancel_confirmed
        assert emu.run_status(info.value.run_id) == "cancelled"
        assert info.value.thread_id == ask.thread_id
        assert emu.active_runs() == []


class TestParallel:
    def test_parallel_sessions_stay_on_their_own_threads(
        self, emu: Emulator, transport: Any
    ) -> None:
        """20 sessions at once on one transport: each reply belongs to its own thread."""
        ask = session(transport)
        ask.ask("warm up: create the assistant once")

        def triage(n: int) -> tuple[int, str, str]:
            reply = session(transport).ask(f"Alert {n}: host-{n} down")
            return n, reply.thread_id, reply.text

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(triage, range(20)))
        assert len({thread for _, thread, _ in results}) == 20
        for n, thread, _ in results:
            messages = emu.thread_messages(thread)
            assert messages[0][1] == f"Alert {n}: host-{n} down"
            assert len(messages) == 2


class TestAssistantsOnly:
    @staticmethod
    def _busy_thread(emu: Emulator, behaviour: Any) -> tuple[str, str, str]:
        """A thread on which another worker's run is active: (assistant, thread, run)."""
        emu.script(behaviour, times=1)
        assistant = emu.create_assistant()
        with emu.transport() as t:
            from assistant_bridge import RunSettings

            run = t.create_thread_and_run("other worker", RunSettings(assistant))
        return assistant, run.thread_id, run.id

    def test_active_run_policy_raise(self, emu: Emulator) -> None:
        """on_active_run='raise': ActiveRunError with the other run's id, at once."""
        assistant, thread, other = self._busy_thread(emu, StayInProgress())
        with emu.transport(max_retries=0) as transport, pytest.raises(ActiveRunError) as info:
            ThreadSession(transport, assistant, thread_id=thread, on_active_run="raise").ask("b")
        assert info.value.run_id == other

    def test_active_run_policy_wait(self, emu: Emulator) -> None:
        """on_active_run='wait' (the default): the ask waits for the other run, then runs."""
        assistant, thread, other = self._busy_thread(emu, SayText("theirs", delay=0.4))
        emu.script(SayText("mine"))
        with emu.transport(max_retries=0) as transport:
            reply = ThreadSession(transport, assistant, thread_id=thread).ask("b")
        assert reply.text == "mine"
        assert emu.run_status(other) == "completed"
        assert len(emu.runs_of(thread)) == 2

    def test_active_run_policy_wait_until_the_deadline(self, emu: Emulator) -> None:
        """A run that never ends: waiting stops at the deadline with a clear error."""
        assistant, thread, _ = self._busy_thread(emu, StayInProgress())
        with emu.transport(max_retries=0) as transport, pytest.raises(ActiveRunError) as info:
            ThreadSession(transport, assistant, thread_id=thread).ask("b", timeout=0.5)
        assert "until the deadline" in str(info.value)
        assert len(emu.runs_of(thread)) == 1

    def test_active_run_policy_cancel(self, emu: Emulator) -> None:
        """on_active_run='cancel': the other run is cancelled, then the ask runs."""
        assistant, thread, other = self._busy_thread(emu, StayInProgress())
        emu.script(SayText("mine"))
        with emu.transport(max_retries=0) as transport:
            session = ThreadSession(transport, assistant, thread_id=thread, on_active_run="cancel")
            assert session.ask("b").text == "mine"
        assert emu.run_status(other) == "cancelled"

    def test_assistant_id_on_the_responses_wire_is_refused(self, emu: Emulator) -> None:
        """An asst_ id means nothing to the Responses API: a clear configuration error."""
        from assistant_bridge.exceptions import ConfigurationError

        with emu.transport("responses") as transport:
            with pytest.raises(ConfigurationError, match="AssistantSpec"):
                ThreadSession(transport, "asst_abc").ask("x")
            assert emu.counts() == {}
        assert isinstance(emu.transport(), OpenAITransport)
