"""ThreadSession over the emulator with the real openai client on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant_bridge import (
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


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def transport(emu: Emulator) -> Iterator[OpenAITransport]:
    with emu.transport(max_retries=0) as t:
        yield t


def session(transport: OpenAITransport, assistant_id: str, **kwargs: object) -> ThreadSession:
    kwargs.setdefault("poll_policy", FixedInterval(0.01))
    return ThreadSession(transport, assistant_id, **kwargs)  # type: ignore[arg-type]


class TestConversation:
    def test_ask_follow_up_and_resume_elsewhere(
        self, emu: Emulator, transport: OpenAITransport
    ) -> None:
        """JSON verdict, a follow-up on the same thread, then another session adopts it."""
        emu.script(SayJson({"action": "escalate", "severity": "critical"}), times=1)
        emu.script(SayText("cpu-saturation.md"), times=1)
        emu.script(SayText("still here"), times=1)
        assistant = emu.create_assistant()
        ask = session(transport, assistant, parser=JsonParser())
        first = ask.ask("Analyze this alert: CPU at 100%")
        assert first.parsed == {"action": "escalate", "severity": "critical"}
        assert first.status is RunStatus.COMPLETED
        follow = ask.ask("Which runbook?", parser=JsonParser(strict=False))
        assert follow.thread_id == first.thread_id
        assert follow.text == "cpu-saturation.md"
        later = session(transport, assistant, thread_id=first.thread_id)
        assert later.ask("again?").text == "still here"
        texts = [t for _, t, _ in emu.thread_messages(first.thread_id)]
        assert texts[0] == "Analyze this alert: CPU at 100%"
        assert len(texts) == 6
        counts = emu.counts()
        assert counts["threads.create_and_run"] == 1
        assert counts["runs.create"] == 2

    def test_reply_has_only_its_runs_messages(
        self, emu: Emulator, transport: OpenAITransport
    ) -> None:
        """A thread with earlier runs: the reply lists only the last run's message."""
        emu.script(SayText("one"), times=1)
        emu.script(SayText("two"), times=1)
        assistant = emu.create_assistant()
        ask = session(transport, assistant)
        ask.ask("a")
        second = ask.ask("b")
        assert [m.text for m in second.messages] == ["two"]
        assert second.usage is not None
        assert second.usage.total_tokens > 0

    def test_tool_handler_round_trip(self, emu: Emulator, transport: OpenAITransport) -> None:
        """requires_action answered by a Python function, over real HTTP."""
        emu.script(RequestTools([("get_host_metrics", {"host": "web-1"})],
                                then=lambda outs: f"metrics: {outs[0]}"))  # fmt: skip
        assistant = emu.create_assistant()

        def tools(calls: Sequence[ToolCall]) -> list[ToolOutput]:
            return [ToolOutput(c.id, json.loads(c.arguments)["host"] + " cpu=99%") for c in calls]

        reply = session(transport, assistant, tool_handler=tools).ask("check web-1")
        assert reply.text == "metrics: web-1 cpu=99%"
        assert emu.counts()["runs.submit_tool_outputs"] == 1


class TestEndings:
    def test_failed(self, emu: Emulator, transport: OpenAITransport) -> None:
        """A failed run raises with the server's last_error."""
        emu.script(FailRun("rate_limit_exceeded", "You exceeded your current quota."))
        with pytest.raises(RunFailedError) as info:
            session(transport, emu.create_assistant()).ask("x")
        assert info.value.code == "rate_limit_exceeded"
        assert info.value.error_message == "You exceeded your current quota."

    def test_expired(self, emu: Emulator, transport: OpenAITransport) -> None:
        """An expired run raises RunExpiredError."""
        emu.script(ExpireRun())
        with pytest.raises(RunExpiredError):
            session(transport, emu.create_assistant()).ask("x")

    def test_incomplete_keeps_partial_text(self, emu: Emulator, transport: OpenAITransport) -> None:
        """incomplete: the reason and the partial text are on the error."""
        emu.script(EndIncomplete("max_prompt_tokens", '{"action": "esc'))
        with pytest.raises(RunIncompleteError) as info:
            session(transport, emu.create_assistant(), parser=JsonParser()).ask("x")
        assert info.value.reason == "max_prompt_tokens"
        assert info.value.partial.text == '{"action": "esc'

    def test_requires_action_without_handler_is_cancelled(
        self, emu: Emulator, transport: OpenAITransport
    ) -> None:
        """No handler: the run is cancelled on the server and the thread is free again."""
        emu.script(RequestTools([("lookup", {"q": 1})]), times=1)
        emu.script(SayText("fine"), times=1)
        ask = session(transport, emu.create_assistant())
        with pytest.raises(ActionRequiredError) as info:
            ask.ask("x")
        assert info.value.cancel_confirmed
        assert emu.run_status(info.value.run_id) == "cancelled"
        assert [c.name for c in info.value.tool_calls] == ["lookup"]
        assert ask.ask("again").text == "fine"

    def test_timeout_cancels_on_the_server(self, emu: Emulator, transport: OpenAITransport) -> None:
        """The deadline cancels the run on the server; the error carries both ids."""
        emu.script(StayInProgress())
        ask = session(transport, emu.create_assistant())
        with pytest.raises(RunTimeoutError) as info:
            ask.ask("x", timeout=0.3)
        assert info.value.cancel_confirmed
        assert emu.run_status(info.value.run_id) == "cancelled"
        assert info.value.thread_id == ask.thread_id
        assert emu.active_runs() == []

    @pytest.mark.filterwarnings("ignore::DeprecationWarning")
    def test_active_run_from_elsewhere(self, emu: Emulator, transport: OpenAITransport) -> None:
        """Another worker's active run on the thread: ActiveRunError with its id."""
        emu.script(StayInProgress(), times=1)
        assistant = emu.create_assistant()
        with emu.client() as client:
            run = client.beta.threads.create_and_run(
                assistant_id=assistant, thread={"messages": [{"role": "user", "content": "a"}]}
            )
        with pytest.raises(ActiveRunError) as info:
            session(transport, assistant, thread_id=run.thread_id).ask("b")
        assert info.value.run_id == run.id


class TestParallel:
    def test_parallel_sessions_stay_on_their_own_threads(
        self, emu: Emulator, transport: OpenAITransport
    ) -> None:
        """20 sessions at once on one transport: each reply belongs to its own thread."""
        assistant = emu.create_assistant()

        def triage(n: int) -> tuple[int, str, str]:
            reply = session(transport, assistant).ask(f"Alert {n}: host-{n} down")
            return n, reply.thread_id, reply.text

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(triage, range(20)))
        assert len({thread for _, thread, _ in results}) == 20
        for n, thread, _ in results:
            messages = emu.thread_messages(thread)
            assert messages[0][1] == f"Alert {n}: host-{n} down"
            assert len(messages) == 2
