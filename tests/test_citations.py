"""Citations, output files and usage on the Reply (issue 11, parts 4 and 5), over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncThreadSession,
    FileSearch,
    FixedInterval,
    ImageFileContent,
    JsonParser,
    KnowledgeBase,
    Message,
    OutputFile,
    Reply,
    TextAnnotation,
    TextContent,
    ThreadSession,
    sample_runbooks,
)
from assistant_bridge._values.reply import citations_of, files_of
from assistant_bridge.testing import Emulator

ALERT = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def spec(emu: Emulator) -> AssistantSpec:
    client = emu.client()
    try:
        store = KnowledgeBase(client, "runbooks").sync(sample_runbooks())
    finally:
        client.close()
    return AssistantSpec(
        name="triage",
        model="gpt-4o-mini",
        instructions="Triage alerts; answer in JSON.",
        tools=[FileSearch([store.store_id])],
    )


class TestCitations:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_the_verdict_cites_its_runbook(
        self, emu: Emulator, spec: AssistantSpec, api: str
    ) -> None:
        """The reply lists the cited runbook as a value, with its file id and name; the JSON
        is parsed from the text without markers; the seed's dict keeps the service's text."""
        with emu.transport(api) as transport:
            session = ThreadSession(transport, assistant=spec, parser=JsonParser())
            reply = session.ask(ALERT)
        assert reply.citations, reply.text
        first = reply.citations[0]
        assert first.number == 1
        assert first.type == "file_citation"
        assert first.filename == "cpu-saturation.md"
        assert first.file_id is not None
        assert "【" not in str(reply.parsed)
        assert reply.to_dict()["raw_response"] == reply.text

    def test_footnotes_and_strip(self, emu: Emulator, spec: AssistantSpec) -> None:
        """render() turns markers into numbered footnotes with a source list, or strips them."""
        with emu.transport() as transport:
            reply = ThreadSession(transport, assistant=spec).ask(ALERT)
        assert "【" in reply.text
        footnoted = reply.render("footnotes")
        assert "[1]" in footnoted
        assert "【" not in footnoted
        assert footnoted.endswith("Sources:\n[1] cpu-saturation.md")
        assert "【" not in reply.render("strip")
        assert reply.render("keep") == reply.text

    def test_names_are_resolved_once_when_the_marker_has_none(self) -> None:
        """The service writes 【4:0†source】: the file's name is looked up (once per file)."""
        with Emulator() as emu:
            client = emu.client()
            upload = client.files.create(file=("notes.md", b"# notes"), purpose="assistants")
            client.close()
            note = TextAnnotation("file_citation", "【4:0†source】", 10, 24, upload.id)
            message = Message(
                "msg_1", "thread_1", "assistant", (TextContent("see here 【4:0†source】", (note,)),)
            )
            assert citations_of([message])[0].filename is None
            with emu.transport() as transport:
                assert transport.file_name(upload.id) == "notes.md"
                assert transport.file_name(upload.id) == "notes.md"
            assert emu.counts()["files.retrieve"] == 1
            assert citations_of([message], {upload.id: "notes.md"})[0].filename == "notes.md"


class TestUsage:
    def test_usage_per_reply_and_summed_per_session(
        self, emu: Emulator, spec: AssistantSpec
    ) -> None:
        """Each reply has its usage; the session sums them."""
        with emu.transport() as transport:
            session = ThreadSession(transport, assistant=spec, poll_policy=FixedInterval(0.01))
            one = session.ask(ALERT)
            two = session.ask("Which runbook applies?")
        assert one.usage is not None
        assert two.usage is not None
        assert session.usage.total_tokens == one.usage.total_tokens + two.usage.total_tokens
        assert session.usage.total_tokens > 0


class TestFiles:
    def test_images_and_file_paths_are_listed(self) -> None:
        """Image parts and file_path annotations become the reply's files, once each."""
        path = TextAnnotation("file_path", "sandbox:/mnt/data/cpu.csv", 0, 5, "file-csv")
        message = Message(
            "msg_1",
            "thread_1",
            "assistant",
            (
                ImageFileContent("file-png"),
                TextContent("chart", (path,)),
                ImageFileContent("file-png"),
            ),
        )
        assert files_of([message]) == (
            OutputFile("file-png", "image", "msg_1"),
            OutputFile("file-csv", "file", "msg_1", "cpu.csv"),
        )

    def test_files_are_saved_to_a_folder(self, emu: Emulator, tmp_path: Path) -> None:
        """save_files() downloads what the reply lists, sync and async, named by file."""
        output_id = emu.create_output_file(b"\x89PNG-bytes", "cpu.png")  # a tool's output file
        reply: Reply[Any] = Reply(
            text="chart",
            parsed=None,
            thread_id="thread_1",
            run_id="run_1",
            status="completed",
            messages=(),
            usage=None,
            run=None,  # type: ignore[arg-type]
            files=(OutputFile(output_id, "image", "msg_1"),),
        )
        with emu.transport() as transport:
            session = ThreadSession(transport, "asst_1")
            saved = session.save_files(reply, tmp_path / "sync")
        assert [p.read_bytes() for p in saved] == [b"\x89PNG-bytes"]
        assert saved[0].name == f"{output_id}.png"

        async def main() -> list[Path]:
            async with AsyncOpenAITransport("sk-emulator", base_url=emu.base_url) as transport:
                return await AsyncThreadSession(transport, "asst_1").save_files(
                    reply, tmp_path / "async"
                )

        assert [p.read_bytes() for p in asyncio.run(main())] == [b"\x89PNG-bytes"]


class TestRunSteps:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_steps_on_demand(self, emu: Emulator, spec: AssistantSpec, api: str) -> None:
        """run_steps() reads a run's steps after the reply: the file search, then the
        message it wrote (nothing is fetched until asked)."""
        with emu.transport(api) as transport:
            session = ThreadSession(transport, assistant=spec)
            reply = session.ask(ALERT)
            before = sum(emu.counts().values())
            steps = session.run_steps(reply.run_id)
        assert sum(emu.counts().values()) - before <= 1
        kinds = [(s.type, tuple(c.type for c in s.calls)) for s in steps]
        assert ("tool_calls", ("file_search",)) in kinds
        assert kinds[-1][0] == "message_creation"
        assert steps[-1].message_id == reply.messages[-1].id

    def test_code_interpreter_steps_carry_code_and_logs(self) -> None:
        """A code interpreter call is decoded with its code, its logs and its image files."""
        from assistant_bridge.transports._assistants_json import run_step_from_json

        step = run_step_from_json(
            {
                "id": "step_1",
                "run_id": "run_1",
                "type": "tool_calls",
                "status": "completed",
                "step_details": {
                    "type": "tool_calls",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "code_interpreter",
                            "code_interpreter": {
                                "input": "print(1 + 1)",
                                "outputs": [
                                    {"type": "logs", "logs": "2\n"},
                                    {"type": "image", "image": {"file_id": "file-png"}},
                                ],
                            },
                        }
                    ],
                },
            }
        )
        (call,) = step.calls
        assert (call.type, call.input, call.output, call.file_ids) == (
            "code_interpreter",
            "print(1 + 1)",
            "2\n",
            ("file-png",),
        )
