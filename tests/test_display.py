"""How values look in Jupyter: Markdown from Reply, Message and the errors."""

from __future__ import annotations

import attrs
import pytest

from assistant_bridge import (
    Message,
    Reply,
    Run,
    RunStatus,
    TextAnnotation,
    TextContent,
    Usage,
)
from assistant_bridge.exceptions import ParseError, RunTimeoutError
from assistant_bridge.testing import Emulator

CITATION = TextAnnotation(
    type="file_citation", text="【4:0†source】", file_id="file-1", quote="page on-call"
)


def _message(text: str) -> Message:
    return Message(
        id="msg_1",
        thread_id="thread_1",
        role="assistant",
        content=(TextContent(text, (CITATION,)),),
        run_id="run_1",
    )


def _reply(text: str, parsed: object) -> Reply[object]:
    return Reply(
        text=text,
        parsed=parsed,
        thread_id="thread_1",
        run_id="run_1",
        status=RunStatus.COMPLETED,
        messages=(_message(text),),
        usage=Usage(9, 51, 60),
        run=Run(id="run_1", thread_id="thread_1", status=RunStatus.COMPLETED),
    )


@attrs.frozen
class Verdict:
    action: str
    severity: str


class TestReply:
    def test_parsed_json_ids_citations_and_usage(self) -> None:
        """A parsed reply shows its value as indented JSON, then the text, citations, usage."""
        text = '{"action": "escalate", "severity": "critical"}【4:0†source】'
        shown = _reply(text, Verdict("escalate", "critical"))._repr_markdown_()
        assert shown.startswith("**Reply** · `completed` · thread `thread_1` · run `run_1`")
        assert '```json\n{\n  "action": "escalate",\n  "severity": "critical"\n}\n```' in shown
        assert f"> {text}" in shown
        assert "- `【4:0†source】` file_citation file `file-1`: “page on-call”" in shown
        assert "usage: 9 prompt + 51 completion = 60 tokens" in shown

    def test_text_reply_has_no_parsed_section(self) -> None:
        """A TextParser reply shows the text once, as a quote over several lines."""
        shown = _reply("line one\n\nline three", "line one\n\nline three")._repr_markdown_()
        assert "parsed:" not in shown
        assert "> line one\n>\n> line three" in shown

    def test_fences_in_the_parsed_value_do_not_break_the_block(self) -> None:
        """A value holding ``` is fenced with a longer fence."""
        shown = _reply("x", {"code": "```py\nprint()\n```"})._repr_markdown_()
        assert "````json\n" in shown


class TestMessage:
    def test_role_ids_text_citations(self) -> None:
        """A message shows who wrote it, in which run, and what it cites."""
        shown = _message("Use the runbook.")._repr_markdown_()
        assert shown.startswith("**assistant** · message `msg_1` · run `run_1`")
        assert "> Use the runbook." in shown
        assert "file `file-1`" in shown


class TestErrors:
    def test_run_error_lists_its_ids(self) -> None:
        """A timeout shows its class, message, thread, run and whether the cancel held."""
        error = RunTimeoutError(
            "Run run_1 did not finish within 5s.",
            thread_id="thread_1",
            run_id="run_1",
            status="cancelled",
            timeout=5.0,
            cancel_confirmed=True,
        )
        shown = error._repr_markdown_()
        assert shown.startswith("**RunTimeoutError**: Run run\\_1 did not finish within 5s.")
        assert "- thread_id: `thread_1`" in shown
        assert "- cancel_confirmed: `True`" in shown

    def test_parse_error_keeps_the_raw_text(self) -> None:
        """A ParseError shows the text that failed to parse, fenced."""
        shown = ParseError("not JSON", raw_text="the answer is <b>yes</b>")._repr_markdown_()
        assert "```\nthe answer is <b>yes</b>\n```" in shown


class TestEmulatorAfterStop:
    def test_says_it_is_stopped(self) -> None:
        """Reading base_url or making a transport after stop() names the problem."""
        emulator = Emulator()
        with emulator:
            assert emulator.base_url.endswith("/v1")
        with pytest.raises(RuntimeError, match="not running"):
            _ = emulator.base_url
        with pytest.raises(RuntimeError, match="not running"):
            emulator.transport()


class TestSessionDisplay:
    def test_the_conversation_with_roles(self) -> None:
        """A session renders what was asked and answered, each with its role."""
        from assistant_bridge import ThreadSession
        from assistant_bridge.testing import FakeClock, FakeTransport, RunScript, ScriptedBackend

        backend = ScriptedBackend(RunScript(reply="first answer"), RunScript(reply="second"))
        clock = FakeClock()
        session = ThreadSession(
            FakeTransport(backend), "asst_1", clock=clock.now, sleep=clock.sleep
        )
        assert "nothing asked yet" in session._repr_markdown_()
        session.ask("CPU at 100%")
        session.ask("Which runbook?")
        shown = session._repr_markdown_()
        assert shown.count("**user**") == 2
        assert shown.count("**assistant**") == 2
        assert (
            shown.index("CPU at 100%") < shown.index("first answer") < shown.index("Which runbook?")
        )
        assert [prompt for prompt, _ in session.history] == ["CPU at 100%", "Which runbook?"]
        assert "usage so far: 30 tokens" in shown
