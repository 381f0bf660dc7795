"""Peer clients against the emulator: LangChain's ``OpenAIAssistantRunnable`` and the OpenAI
Agents SDK, as their users would point them at it.

They need a newer openai than Keep's pins, so they come from the ``peers`` dependency group,
installed in the newest-openai environment only; elsewhere this module is skipped as a whole
by ``pytest.importorskip`` (the skip names the missing package).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_bridge.testing import Emulator, RequestTools, Triage

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RUNBOOK = b"# CPU saturation runbook\nAction: escalate\nSeverity: critical\nCPU at 100% on a host"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(poll_after_ms=10) as server:
        yield server


class TestLangChain:
    def test_assistant_runnable_as_an_agent_calls_the_tool(self, emu: Emulator) -> None:
        pytest.importorskip("langchain_openai")
        base = pytest.importorskip("langchain_classic.agents.openai_assistant.base")
        agents = pytest.importorskip("langchain_classic.agents")
        from langchain_core.tools import tool

        calls: list[str] = []

        @tool
        def host_load(host: str) -> str:
            """The current CPU load of a host."""
            calls.append(host)
            return "97%"

        emu.script(
            RequestTools([("host_load", {"host": "web-1"})], then=lambda out: f"web-1 at {out[0]}")
        )
        agent = base.OpenAIAssistantRunnable.create_assistant(
            name="triage",
            instructions="Check the host's load before answering.",
            tools=[host_load],
            model="gpt-4o-mini",
            as_agent=True,
            client=emu.client(max_retries=0),
            check_every_ms=10,
        )
        executor = agents.AgentExecutor(agent=agent, tools=[host_load])
        result = executor.invoke({"content": "How loaded is web-1?"})
        assert calls == ["web-1"]
        assert result["output"] == "web-1 at 97%"
        assert emu.counts()["runs.submit_tool_outputs"] == 1

    def test_assistant_runnable_answers_from_the_knowledge_base(self, emu: Emulator) -> None:
        pytest.importorskip("langchain_openai")
        base = pytest.importorskip("langchain_classic.agents.openai_assistant.base")
        client = emu.client(max_retries=0)
        uploaded = client.files.create(file=("cpu.md", RUNBOOK), purpose="assistants")
        store = client.vector_stores.create(name="kb", file_ids=[uploaded.id])
        runnable = base.OpenAIAssistantRunnable.create_assistant(
            name="triage",
            instructions="Triage alerts.",
            tools=[{"type": "file_search"}],
            model="gpt-4o-mini",
            client=client,
            check_every_ms=10,
        )
        client.beta.assistants.update(
            runnable.assistant_id,
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        messages = runnable.invoke({"content": "Alert: CPU at 100% on web-1"})
        verdict = json.loads(messages[0].content[0].text.value)
        assert verdict["action"] == "escalate"


class TestAgentsSdk:
    @pytest.fixture
    def sdk(self, emu: Emulator) -> Iterator[Any]:
        agents = pytest.importorskip("agents")
        agents.set_tracing_disabled(True)  # nothing leaves the machine
        agents.set_default_openai_api("responses")
        yield agents
        agents.set_default_openai_api("chat_completions")

    @staticmethod
    def run(emu: Emulator, sdk: Any, work: Any) -> Any:
        """Run ``work()`` in one event loop with a default client on the emulator, closed at
        the end in that same loop (its connections belong to it)."""
        import asyncio

        import openai

        async def main() -> Any:
            client = openai.AsyncOpenAI(base_url=emu.base_url, api_key=emu.api_key, max_retries=0)
            sdk.set_default_openai_client(client, use_for_tracing=False)
            try:
                return await work()
            finally:
                await client.close()

        return asyncio.run(main())

    def test_runner_calls_the_tool_and_returns_the_output_type(
        self, emu: Emulator, sdk: Any
    ) -> None:
        from pydantic import BaseModel

        class Verdict(BaseModel):
            action: str
            severity: str
            reason: str

        looked_up: list[str] = []

        @sdk.function_tool
        def host_load(host: str) -> str:
            """The current CPU load of a host."""
            looked_up.append(host)
            return "97%"

        client = emu.client(max_retries=0)
        uploaded = client.files.create(file=("cpu.md", RUNBOOK), purpose="assistants")
        store = client.vector_stores.create(name="kb", file_ids=[uploaded.id])
        emu.script(RequestTools([("host_load", {"host": "web-1"})], then=Triage()), times=1)
        agent = sdk.Agent(
            name="triage",
            instructions="Check the host, then give a verdict.",
            tools=[host_load, sdk.FileSearchTool(vector_store_ids=[store.id])],
            output_type=Verdict,
            model="gpt-4o-mini",
        )
        result = self.run(emu, sdk, lambda: sdk.Runner.run(agent, "Alert: CPU at 100% on web-1"))
        assert looked_up == ["web-1"]
        verdict = result.final_output
        assert isinstance(verdict, Verdict)
        assert (verdict.action, verdict.severity) == ("escalate", "critical")
        assert emu.counts()["responses.create"] == 2

    def test_streamed_run_calls_the_tool_and_returns_the_output_type(
        self, emu: Emulator, sdk: Any
    ) -> None:
        from pydantic import BaseModel

        class Verdict(BaseModel):
            action: str
            severity: str

        @sdk.function_tool
        def host_load(host: str) -> str:
            """The current CPU load of a host."""
            return "97%"

        emu.script(RequestTools([("host_load", {"host": "web-1"})], then=Triage()), times=1)
        agent = sdk.Agent(
            name="triage",
            instructions="Check the host, then give a verdict.",
            tools=[host_load],
            output_type=Verdict,
            model="gpt-4o-mini",
        )

        async def streamed() -> tuple[list[str], Any]:
            result = sdk.Runner.run_streamed(agent, "Alert: CPU at 100% on web-1")
            kinds = [event.type async for event in result.stream_events()]
            return kinds, result.final_output

        kinds, verdict = self.run(emu, sdk, streamed)
        assert "raw_response_event" in kinds
        assert "run_item_stream_event" in kinds
        # No knowledge base here: the default behaviour's verdict says so, in the model's shape.
        assert verdict == Verdict(action="investigate", severity="warning")
        assert [r.status for r in emu.requests if r.route == "responses.create"] == [200, 200]
