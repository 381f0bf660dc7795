"""ThreadSession over the fake transport: every status path, the deadline, threads and replies."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest

from assistant_bridge import (
    FixedInterval,
    JsonParser,
    Message,
    MessagePage,
    RaiseError,
    Run,
    RunSettings,
    RunStateMachine,
    RunStatus,
    TextContent,
    ThreadSession,
    ToolCall,
    ToolOutput,
    unexpected_status,
)
from assistant_bridge.exceptions import (
    ActionRequiredError,
    ActiveRunError,
    ConfigurationError,
    ParseError,
    RunCancelledError,
    RunExpiredError,
    RunFailedError,
    RunIncompleteError,
    RunTimeoutError,
    UnexpectedStatusError,
)
from assistant_bridge.testing import Call, FakeClock, FakeTransport, RunScript, ScriptedBackend

from .conftest import SessionFactory

VERDICT = '{"action": "escalate", "reason": "CPU at 100% for 10 min", "severity": "critical"}'


class TestAsk:
    def test_first_ask_creates_thread_and_run_in_one_request(
        self, make_session: SessionFactory
    ) -> None:
        """No thread yet: one create-and-run request, then polls, then one message listing."""
        session, transport, _ = make_session(RunScript(reply=VERDICT), parser=JsonParser())
        reply = session.ask("Analyze this alert: Server CPU at 100%")
        assert reply.parsed == {
            "action": "escalate",
            "reason": "CPU at 100% for 10 min",
            "severity": "critical",
        }
        assert transport.names() == [
            "create_thread_and_run",
            "get_run",
            "get_run",
            "list_run_messages",
        ]
        assert reply.thread_id == session.thread_id
        assert reply.status is RunStatus.COMPLETED
        assert reply.usage is not None
        assert reply.usage.total_tokens == 15
        assert reply.text == VERDICT

    def test_follow_up_reuses_the_thread(self, make_session: SessionFactory) -> None:
        """The second ask starts a run carrying the message, on the same thread: one request."""
        session, transport, backend = make_session(RunScript(reply="a"), RunScript(reply="b"))
        first = session.ask("one")
        second = session.ask("two")
        assert second.thread_id == first.thread_id
        assert second.run_id != first.run_id
        assert transport.names()[4:6] == ["start_run", "get_run"]
        assert transport.calls[4].args["content"] == "two"
        assert len(backend.threads) == 1
        assert [m.text for m in backend.threads[first.thread_id]] == ["one", "a", "two", "b"]

    def test_adopts_an_existing_thread(self, make_session: SessionFactory) -> None:
        """A session given a thread id never creates one."""
        _, transport, backend = make_session()
        thread = backend(Call("create_thread", {"metadata": None}))
        later = ThreadSession(transport, "asst_test", thread_id=thread.id, sleep=lambda _: None)
        reply = later.ask("hi")
        assert reply.thread_id == thread.id
        assert "create_thread_and_run" not in transport.names()

    def test_reply_holds_only_its_own_runs_messages_across_pages(
        self, make_session: SessionFactory
    ) -> None:
        """All pages are read and no other run's message leaks in."""
        session, transport, _ = make_session(
            RunScript(reply="old"), RunScript(reply=["p1", "p2", "p3", "p4", "p5"]), page_size=2
        )
        session.ask("first")
        reply = session.ask("second")
        assert [m.text for m in reply.messages] == ["p1", "p2", "p3", "p4", "p5"]
        assert all(m.run_id == reply.run_id for m in reply.messages)
        assert reply.text == "p1\n\np2\n\np3\n\np4\n\np5"
        assert transport.names().count("list_run_messages") == 1 + 3

    def test_server_ignoring_run_filter_still_gives_only_own_messages(self) -> None:
        """Messages of other runs in the listing are dropped by run id."""
        own = Run(id="run_2", thread_id="thread_1", status=RunStatus.COMPLETED)

        def handler(call: Call) -> object:
            if call.name == "list_run_messages":
                msgs = [
                    Message(
                        id=f"msg_{i}",
                        thread_id="thread_1",
                        role="assistant",
                        content=(TextContent(t),),
                        run_id=r,
                    )
                    for i, (t, r) in enumerate([("theirs", "run_1"), ("mine", "run_2")])
                ]
                return MessagePage(messages=tuple(msgs))
            return own

        session = ThreadSession(FakeTransport(handler), "asst_x", thread_id="thread_1")
        assert session.ask("q").text == "mine"

    def test_per_ask_overrides_reach_the_run(self, make_session: SessionFactory) -> None:
        """instructions, model, tools and metadata are sent for this run only."""
        session, transport, _ = make_session()
        session.ask(
            "q",
            instructions="Be terse.",
            model="gpt-4o-mini",
            tools=[{"type": "file_search"}],
            metadata={"alert": "42"},
        )
        request = transport.calls[0].args["request"]
        body = request.body()
        mark = body["metadata"].pop("assistant_bridge_ask")
        assert len(mark) == 32
        assert body == {
            "assistant_id": "asst_test",
            "instructions": "Be terse.",
            "model": "gpt-4o-mini",
            "tools": [{"type": "file_search"}],
            "metadata": {"alert": "42"},
        }
        session.ask("again")
        again = transport.calls[-4].args["request"].body()
        assert set(again) == {"assistant_id", "metadata"}
        assert again["metadata"]["assistant_bridge_ask"] != mark

    def test_additional_instructions_on_a_new_thread(self, make_session: SessionFactory) -> None:
        """create-and-run cannot carry them, so the thread is created first."""
        session, transport, _ = make_session()
        session.ask("q", additional_instructions="Cite the runbook.")
        assert transport.names()[:2] == ["create_thread", "start_run"]
        assert transport.calls[1].args["request"].additional_instructions == "Cite the runbook."
        assert transport.calls[1].args["content"] == "q"

    def test_per_ask_parser(self, make_session: SessionFactory) -> None:
        """A parser given to ask() wins over the session's."""
        session, _, _ = make_session(RunScript(reply='{"a": 1}'))
        assert session.ask("q", parser=JsonParser()).parsed == {"a": 1}

    def test_parse_error_keeps_the_reply(self, make_session: SessionFactory) -> None:
        """A reply that fails to parse is not lost: the error carries it."""
        session, _, _ = make_session(RunScript(reply="not json"), parser=JsonParser())
        with pytest.raises(ParseError) as info:
            session.ask("q")
        assert info.value.raw_text == "not json"
        assert info.value.reply is not None
        assert info.value.reply.thread_id == session.thread_id

    def test_to_dict_is_the_seed_output(self, make_session: SessionFactory) -> None:
        """The seed provider's dict: response, thread_id, run_id, messages, raw_response."""
        session, _, _ = make_session(RunScript(reply=VERDICT), parser=JsonParser())
        out = session.ask("q").to_dict()
        assert set(out) == {"response", "thread_id", "run_id", "messages", "raw_response"}
        assert out["response"]["action"] == "escalate"
        assert out["raw_response"] == VERDICT
        assert out["messages"][0]["content"] == VERDICT

    def test_to_dict_response_is_text_without_parser(self, make_session: SessionFactory) -> None:
        """With the text parser, response is the text."""
        session, _, _ = make_session(RunScript(reply="plain"))
        assert session.ask("q").to_dict()["response"] == "plain"


class TestRunEndings:
    def test_failed_carries_last_error(self, make_session: SessionFactory) -> None:
        """status failed: RunFailedError with code and message."""
        from assistant_bridge import LastError

        session, _, _ = make_session(
            RunScript(steps=["failed"], last_error=LastError("rate_limit_exceeded", "slow down"))
        )
        with pytest.raises(RunFailedError) as info:
            session.ask("q")
        assert info.value.code == "rate_limit_exceeded"
        assert info.value.error_message == "slow down"
        assert info.value.thread_id == session.thread_id
        assert "retrying" in str(info.value)

    def test_cancelled(self, make_session: SessionFactory) -> None:
        """status cancelled: RunCancelledError."""
        session, _, _ = make_session(RunScript(steps=["cancelled"]))
        with pytest.raises(RunCancelledError):
            session.ask("q")

    def test_expired(self, make_session: SessionFactory) -> None:
        """status expired: RunExpiredError."""
        session, _, _ = make_session(RunScript(steps=["expired"]))
        with pytest.raises(RunExpiredError) as info:
            session.ask("q")
        assert info.value.status == "expired"

    def test_incomplete_carries_partial_reply_and_reason(
        self, make_session: SessionFactory
    ) -> None:
        """status incomplete: the partial text and incomplete_details.reason are kept."""
        session, _, _ = make_session(
            RunScript(
                reply='{"action": "esc',
                steps=["incomplete"],
                incomplete_reason="max_completion_tokens",
            ),
            parser=JsonParser(),
        )
        with pytest.raises(RunIncompleteError) as info:
            session.ask("q")
        assert info.value.reason == "max_completion_tokens"
        assert info.value.partial.text == '{"action": "esc'
        assert info.value.partial.parsed is None

    def test_cancelling_keeps_waiting(self, make_session: SessionFactory) -> None:
        """cancelling is not an end: the session waits for cancelled."""
        session, transport, _ = make_session(
            RunScript(steps=["cancelling", "cancelling", "cancelled"])
        )
        with pytest.raises(RunCancelledError):
            session.ask("q")
        assert transport.names().count("get_run") == 3

    def test_unknown_status_waits_with_one_warning(
        self, make_session: SessionFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A newer server's status: keep waiting, warn once, finish when it moves on."""
        session, _, _ = make_session(RunScript(steps=["paused", "paused", "paused", "completed"]))
        with caplog.at_level(logging.WARNING, logger="assistant_bridge"):
            reply = session.ask("q")
        assert reply.text == "ok"
        warnings = [r for r in caplog.records if "does not know" in r.getMessage()]
        assert len(warnings) == 1

    def test_unknown_status_policy_can_raise(self, make_session: SessionFactory) -> None:
        """The documented alternative: refuse unknown statuses."""
        machine = RunStateMachine(unknown=RaiseError(unexpected_status))
        session, _, _ = make_session(RunScript(steps=["paused"]), state_machine=machine)
        with pytest.raises(UnexpectedStatusError, match="paused"):
            session.ask("q")

    def test_custom_table_entry(self, make_session: SessionFactory) -> None:
        """Replacing one entry changes what that status does."""
        machine = RunStateMachine().with_handler("in_progress", RaiseError(unexpected_status))
        session, _, _ = make_session(state_machine=machine)
        with pytest.raises(UnexpectedStatusError, match="in_progress"):
            session.ask("q")


CALL = ToolCall(id="call_1", name="get_host", arguments='{"host": "web-1"}')


class TestRequiredAction:
    def test_no_handler_cancels_and_lists_the_calls(self, make_session: SessionFactory) -> None:
        """Never poll a run waiting for tools until it expires: cancel it and say why."""
        session, transport, backend = make_session(
            RunScript(steps=["requires_action"], tool_calls=[CALL])
        )
        with pytest.raises(ActionRequiredError) as info:
            session.ask("q")
        err = info.value
        assert err.tool_calls == (CALL,)
        assert err.cancel_confirmed
        assert "get_host" in str(err)
        assert "tool_handler" in str(err)
        assert backend.run(err.run_id).status is RunStatus.CANCELLED
        assert transport.names().count("get_run") <= 3

    def test_handler_outputs_are_submitted_and_the_run_finishes(
        self, make_session: SessionFactory
    ) -> None:
        """The tool handler's outputs go back in one call; then the run completes."""
        seen: list[Sequence[ToolCall]] = []

        def tools(calls: Sequence[ToolCall]) -> list[ToolOutput]:
            seen.append(calls)
            return [ToolOutput(c.id, "cpu=99%") for c in calls]

        session, transport, _ = make_session(
            RunScript(
                steps=["requires_action"],
                tool_calls=[CALL],
                on_tools=lambda outs: f"host says {outs[0].output}",
            ),
            tool_handler=tools,
        )
        reply = session.ask("q")
        assert reply.text == "host says cpu=99%"
        assert seen == [(CALL,)]
        assert transport.names().count("submit_tool_outputs") == 1

    def test_handler_missing_an_output_cancels(self, make_session: SessionFactory) -> None:
        """A handler answering the wrong ids is caught before sending; the run is cancelled."""
        session, transport, _ = make_session(
            RunScript(steps=["requires_action"], tool_calls=[CALL]),
            tool_handler=lambda calls: [],
        )
        with pytest.raises(TypeError, match="call_1"):
            session.ask("q")
        assert "cancel_run" in transport.names()

    def test_round_cap(self, make_session: SessionFactory) -> None:
        """A run that keeps asking for tools is stopped after max_tool_rounds."""
        session, _, _ = make_session(
            RunScript(
                steps=["requires_action"], tool_calls=[CALL], after_tools=["requires_action"]
            ),
            tool_handler=lambda calls: [ToolOutput(c.id, "x") for c in calls],
            max_tool_rounds=2,
        )
        with pytest.raises(ActionRequiredError, match="2 rounds"):
            session.ask("q")


class TestDeadline:
    def test_timeout_cancels_and_carries_ids(
        self, make_session: SessionFactory, clock: FakeClock
    ) -> None:
        """Past the deadline the run is cancelled and confirmed; the error says where."""
        session, transport, backend = make_session(RunScript(steps=["in_progress"]))
        with pytest.raises(RunTimeoutError) as info:
            session.ask("q", timeout=5)
        err = info.value
        assert err.thread_id == session.thread_id
        assert err.run_id.startswith("run_")
        assert err.cancel_confirmed
        assert err.timeout == 5
        assert backend.run(err.run_id).status is RunStatus.CANCELLED
        assert "cancel_run" in transport.names()
        assert 5 <= clock.now() <= 5 + 5  # deadline plus the cancel grace at most
        assert isinstance(err, TimeoutError)

    def test_never_sleeps_past_the_deadline(
        self, make_session: SessionFactory, clock: FakeClock
    ) -> None:
        """Waits are clipped to what is left of the deadline."""
        session, _, _ = make_session(
            RunScript(steps=["in_progress"]), poll_policy=FixedInterval(10.0), cancel_grace=0.5
        )
        with pytest.raises(RunTimeoutError):
            session.ask("q", timeout=3)
        assert clock.sleeps[0] == 3

    def test_cancel_not_confirmed(self, make_session: SessionFactory) -> None:
        """A run stuck in cancelling past the grace: the error says so."""
        session, _, _ = make_session(
            RunScript(steps=["in_progress"], cancel_steps=["cancelling"]), cancel_grace=1.0
        )
        with pytest.raises(RunTimeoutError) as info:
            session.ask("q", timeout=2)
        assert not info.value.cancel_confirmed
        assert "not confirmed" in str(info.value)

    def test_run_that_completes_while_cancelling_returns_its_reply(
        self, make_session: SessionFactory
    ) -> None:
        """A race won by the run: the reply is returned, not thrown away."""
        session, _, _ = make_session(
            RunScript(reply="just in time", steps=["in_progress"], cancel_steps=["completed"])
        )
        assert session.ask("q", timeout=1).text == "just in time"

    def test_poll_after_hint_is_honoured(
        self, make_session: SessionFactory, clock: FakeClock
    ) -> None:
        """The server's openai-poll-after-ms sets the wait."""
        session, _, _ = make_session(RunScript(poll_after_ms=1500))
        session.ask("q")
        assert clock.sleeps[0] == 1.5

    def test_thread_is_kept_after_a_timeout(self, make_session: SessionFactory) -> None:
        """The session keeps the thread it created, even when the first ask failed."""
        session, _, _ = make_session(RunScript(steps=["in_progress"]), RunScript(reply="second"))
        with pytest.raises(RunTimeoutError) as info:
            session.ask("q", timeout=1)
        assert session.thread_id == info.value.thread_id
        assert session.ask("again").thread_id == info.value.thread_id


def _start_run(backend: ScriptedBackend, thread_id: str) -> Run:
    """Start a run directly on the backend, as another worker would."""
    run: Run = backend(
        Call("start_run", {"thread_id": thread_id, "request": RunSettings("asst_test")})
    )
    return run


class TestInterrupt:
    def test_keyboard_interrupt_cancels_the_run(self) -> None:
        """Ctrl-C while waiting: the run is cancelled before the interrupt goes on."""
        backend = ScriptedBackend(RunScript(steps=["in_progress"]))
        transport = FakeTransport(backend)

        def sleep(_: float) -> None:
            raise KeyboardInterrupt

        session = ThreadSession(transport, "asst_test", sleep=sleep)
        with pytest.raises(KeyboardInterrupt):
            session.ask("q")
        assert transport.names()[-1] == "cancel_run"


class TestResume:
    def test_resume_waits_for_an_existing_run(self, make_session: SessionFactory) -> None:
        """resume() re-attaches to a run and posts nothing."""
        session, transport, backend = make_session(RunScript(steps=["in_progress"]))
        with pytest.raises(RunTimeoutError) as info:
            session.ask("q", timeout=1)
        # pretend the run is still going elsewhere: a fresh run on the same thread
        run = _start_run(backend, info.value.thread_id)
        other = ThreadSession(
            transport, "asst_test", thread_id=info.value.thread_id, sleep=lambda _: None
        )
        before = len(transport.calls)
        reply = other.resume(run.id)
        names = transport.names()[before:]
        assert reply.run_id == run.id
        assert "add_message" not in names
        assert "start_run" not in names

    def test_resume_needs_a_thread(self, make_session: SessionFactory) -> None:
        """Without a thread there is nothing to resume."""
        session, _, _ = make_session()
        with pytest.raises(ConfigurationError, match="thread_id"):
            session.resume("run_1")


class TestConcurrencyAndState:
    def test_active_run_error_is_typed(self, make_session: SessionFactory) -> None:
        """With on_active_run='raise': ActiveRunError with both ids."""
        session, _transport, backend = make_session(
            RunScript(steps=["in_progress"]), on_active_run="raise"
        )
        with pytest.raises(RunTimeoutError):
            session.ask(
                "q",
                timeout=1,
            )
        thread_id = session.thread_id
        assert thread_id is not None
        run = _start_run(backend, thread_id)
        with pytest.raises(ActiveRunError) as info:
            session.ask("again")
        assert info.value.run_id == run.id
        assert info.value.thread_id == thread_id

    def test_two_asks_on_one_session_queue(self) -> None:
        """Two threads asking on one session do not collide on the active run."""
        backend = ScriptedBackend(default=RunScript(steps=["in_progress"] * 3 + ["completed"]))
        session = ThreadSession(FakeTransport(backend), "asst_test", sleep=lambda _: None)
        session.ask("warm up")
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                session.ask("q")
            except BaseException as exc:  # pragma: no cover - the assertion reports it
                errors.append(exc)

        workers = [threading.Thread(target=ask) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        assert len(backend.runs) == 5

    def test_sessions_share_nothing(self, make_session: SessionFactory) -> None:
        """Two sessions on one transport get their own threads."""
        session, transport, _ = make_session()
        other = ThreadSession(transport, "asst_test", sleep=lambda _: None)
        assert session.ask("a").thread_id != other.ask("b").thread_id

    def test_repr_is_short(self, make_session: SessionFactory) -> None:
        """The repr names the assistant and thread, nothing else."""
        session, _, _ = make_session()
        assert repr(session) == "<ThreadSession(assistant_id='asst_test', thread_id=None)>"


class TestBadInput:
    @pytest.mark.parametrize("prompt", ["", "   \n", None, 42])
    def test_empty_or_wrong_prompt(self, make_session: SessionFactory, prompt: object) -> None:
        """Refused before anything is sent."""
        session, transport, _ = make_session()
        with pytest.raises(ConfigurationError, match="prompt"):
            session.ask(prompt)  # type: ignore[arg-type]
        assert transport.calls == []

    def test_oversized_prompt(self, make_session: SessionFactory) -> None:
        """Over the API's 256k characters: refused up front."""
        session, transport, _ = make_session()
        with pytest.raises(ConfigurationError, match="256000"):
            session.ask("x" * 256_001)
        assert transport.calls == []

    @pytest.mark.parametrize("bad", ["", "asst abc", "../threads", "a" * 300])
    def test_malformed_ids(self, bad: str) -> None:
        """Ids that cannot go into a URL path are refused with their name."""
        transport = FakeTransport(lambda call: None)
        with pytest.raises(ConfigurationError, match="assistant_id"):
            ThreadSession(transport, bad)
        with pytest.raises(ConfigurationError, match="thread_id"):
            ThreadSession(transport, "asst_ok", thread_id=bad)

    def test_metadata_limits(self, make_session: SessionFactory) -> None:
        """Metadata beyond 16 pairs or long values is refused, naming the problem."""
        session, _, _ = make_session()
        with pytest.raises(ConfigurationError, match="at most 15"):
            session.ask("q", metadata={str(i): "v" for i in range(16)})
        with pytest.raises(ConfigurationError, match="512"):
            session.ask("q", metadata={"k": "v" * 513})

    @pytest.mark.parametrize("timeout", [0, -1, "10", True])
    def test_bad_timeout(self, make_session: SessionFactory, timeout: object) -> None:
        """A timeout must be a positive number."""
        session, _, _ = make_session()
        with pytest.raises(ConfigurationError, match="timeout"):
            session.ask("q", timeout=timeout)  # type: ignore[arg-type]
