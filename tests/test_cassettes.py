"""Replays of traffic recorded from the real service (cassettes/real/, see SOURCES.md there).

These prove OpenAITransport and the session on payloads the real API sent. Where a recorder
made calls our session does not (the .NET client polled a run in requires_action eight more
times before answering), those interactions are dropped from a copy before the replay; the
comment at each test says which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant_bridge import (
    FixedInterval,
    OpenAITransport,
    RunRequest,
    RunStateMachine,
    RunStatus,
    TextContent,
    ThreadSession,
    ToolCall,
    ToolOutput,
)
from assistant_bridge.exceptions import BadRequestError
from assistant_bridge.testing import vcr_config

vcr = pytest.importorskip("vcr")

REAL = Path(__file__).resolve().parent.parent / "cassettes" / "real"


@contextmanager
def replay(
    name: str, tmp_path: Path, drop: Callable[[int, dict[str, Any]], bool] | None = None
) -> Iterator[Any]:
    """Replay a real cassette (record mode none), optionally without some interactions."""
    path = REAL / name
    if drop is not None:
        data = yaml.safe_load(path.read_text())
        data["interactions"] = [i for n, i in enumerate(data["interactions"]) if not drop(n, i)]
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
    recorder = vcr.VCR(record_mode="none", match_on=["method", "path"], **vcr_config())
    with recorder.use_cassette(str(path)) as cassette:
        yield cassette


@pytest.fixture
def transport() -> OpenAITransport:
    return OpenAITransport("sk-replay", max_retries=0)


def session(transport: OpenAITransport, assistant_id: str, **kwargs: Any) -> ThreadSession:
    # These recordings were made by polling clients, so the session polls too.
    return ThreadSession(
        transport,
        assistant_id,
        poll_policy=FixedInterval(0.0),
        sleep=lambda _: None,
        wait="poll",
        **kwargs,
    )


class TestRealSessions:
    def test_function_tools_round_trip(self, transport: OpenAITransport, tmp_path: Path) -> None:
        """create-and-run, requires_action, our tool output, completed, the run's message.

        Dropped: the recorder's 8 extra polls of the run in requires_action (we answer at once).
        """
        seen: list[ToolCall] = []

        def tools(calls: Sequence[ToolCall]) -> list[ToolOutput]:
            seen.extend(calls)
            return [ToolOutput(c.id, "tacos") for c in calls]

        with replay(
            "openai__openai-dotnet__FunctionToolsWork.yaml",
            tmp_path,
            drop=lambda n, _: 4 <= n <= 11,
        ) as cassette:
            reply = session(transport, "asst_LtiaO4m2KzcEDhNxZLOWffZY", tool_handler=tools).ask(
                "What should I eat on Thursday?"
            )
        assert [c.name for c in seen] == ["get_favorite_food_for_day_of_week"]
        assert "Thursday" in seen[0].arguments
        assert reply.status is RunStatus.COMPLETED
        assert reply.thread_id == "thread_iPTdbXGcxD5XNzfCaYWFJylc"
        assert reply.run_id == "run_VSZ30Gv0cSXNu4f67kzJ8NyA"
        assert "taco" in reply.text.lower()
        assert [m.role for m in reply.messages] == ["assistant"]
        assert reply.usage is not None
        assert reply.usage.total_tokens > 0
        assert cassette.all_played is False  # the assistant creation is not ours
        assert cassette.play_count == 1 + 2 + 1 + 3 + 1

    def test_follow_up_on_an_existing_thread(
        self, transport: OpenAITransport, tmp_path: Path
    ) -> None:
        """start run, 14 polls to completed, one listing (openllmetry recording).

        The recorder posted the message on its own; we send it with the run
        (``additional_messages``), so that interaction stays unplayed.
        """
        with replay("traceloop__openllmetry__test_new_assistant.yaml", tmp_path) as cassette:
            ask = session(
                transport,
                "asst_qQvNSM3qEfhTQNJeS9JRyV5n",
                thread_id="thread_YqClQbqizTwAw9b6MZcodIJN",
            )
            reply = ask.ask("I need to solve the equation `3x + 11 = 14`. Can you help me?")
        assert reply.run_id == "run_FEFAUboptcjXZ5dto9CKLzF8"
        assert len(reply.messages) == 1
        assert "3x + 11 = 14" in reply.text
        assert cassette.play_count == 1 + 14 + 1

    def test_resume_a_run_and_ignore_the_user_message(
        self, transport: OpenAITransport, tmp_path: Path
    ) -> None:
        """resume(): queued, in_progress, completed; the listing's user message is not ours.

        Dropped: the recorder's own run and message listings made between two polls.
        """
        with replay(
            "openai__openai-dotnet__BasicRunOperationsWork.yaml",
            tmp_path,
            drop=lambda n, _: n in (6, 7),
        ):
            later = session(transport, "asst_x", thread_id="thread_VVo2xsJmQsaNxuYdqPloUXQm")
            reply = later.resume("run_qESlsiZnlYfeC0h6lJTOMVcy")
        assert reply.text == "Hello! How can I assist you today?"
        assert [m.run_id for m in reply.messages] == ["run_qESlsiZnlYfeC0h6lJTOMVcy"]


class TestRealPayloads:
    def test_file_search_citations(self, transport: OpenAITransport, tmp_path: Path) -> None:
        """file_citation annotations and the 【n:m†source】 marker survive conversion."""
        with replay("openai__openai-dotnet__FileSearchWorks.yaml", tmp_path):
            run = transport.get_run(
                "thread_Q1yKHOMIqQaRApLIyDkJgISP", "run_6QwP49pI2IbnMIXITa0gjzw7"
            )
            page = transport.list_run_messages(run.thread_id, run.id)
        assert run.status is RunStatus.COMPLETED
        answer = next(m for m in page.messages if m.run_id == run.id)
        part = answer.content[0]
        assert isinstance(part, TextContent)
        assert "cake" in part.text
        assert part.annotations
        citation = part.annotations[0]
        assert citation.type == "file_citation"
        assert citation.file_id is not None
        assert citation.file_id.startswith("file-")
        assert citation.text in part.text
        assert "†" in citation.text

    def test_create_thread_and_run(self, transport: OpenAITransport, tmp_path: Path) -> None:
        """The real create-and-run answer is a queued run on a new thread."""
        with replay("alexrudall__ruby-openai__runs_create_thread_and_run.yaml", tmp_path):
            run = transport.create_thread_and_run("hi", RunRequest("asst_x"))
        assert run.status is RunStatus.QUEUED
        assert run.thread_id.startswith("thread_")
        assert run.id.startswith("run_")

    def test_cancel_answers_cancelling(self, transport: OpenAITransport, tmp_path: Path) -> None:
        """The real cancel answer is the run in status cancelling."""
        with replay("alexrudall__ruby-openai__runs_cancel.yaml", tmp_path):
            run = transport.cancel_run(
                "thread_9MtWbBZu0yAmytdTFV3qer0c", "run_NhnmoyTlc8xFfnJKQ2UNiWMj"
            )
        assert run.status is RunStatus.CANCELLING
        assert RunStateMachine().is_active(run.status)

    def test_tool_outputs_refused_in_progress(
        self, transport: OpenAITransport, tmp_path: Path
    ) -> None:
        """The real 400 for outputs sent too early becomes BadRequestError with its text."""
        cassette = "alexrudall__ruby-openai__runs_submit_tool_outputs.yaml"
        thread_id, run_id = "thread_xS5kDdrGgAiEmfBgu8W9hUDM", "run_Q5GQ1iQ8Dz6yxMZviOVhfg3Z"
        with (
            replay(cassette, tmp_path),
            pytest.raises(BadRequestError, match="do not accept tool outputs") as info,
        ):
            transport.submit_tool_outputs(thread_id, run_id, [ToolOutput("call_1", "x")])
        assert info.value.status_code == 400

    def test_get_assistant(self, transport: OpenAITransport, tmp_path: Path) -> None:
        """A real assistant object converts with its tools and model."""
        with replay("openai__openai-dotnet__BasicAssistantOperationsWork.yaml", tmp_path):
            assistant = transport.get_assistant("asst_nhxgDqo6qGQapC8t5lPpo7kB")
        assert assistant.id == "asst_nhxgDqo6qGQapC8t5lPpo7kB"
        assert assistant.model
