"""autogen-ext's ``OpenAIAssistantAgent`` against the emulator, as its users point it there.

The agent sends ``temperature: null`` and ``top_p: null`` on every assistant it creates
(issue 23's first row). autogen-ext is not in the project's dependency groups: CI installs it
with the newest openai in an environment of its own (``.venv-autogen``, see ``.ci/run``), so it
never changes the main environment's versions; elsewhere this module is skipped by
``pytest.importorskip``, which names the missing package.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from assistant_bridge.testing import Emulator, RequestTools

agents = pytest.importorskip("autogen_ext.agents.openai")
messages = pytest.importorskip("autogen_agentchat.messages")
core = pytest.importorskip("autogen_core")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RUNBOOK = b"# CPU saturation runbook\nAction: escalate\nSeverity: critical\nCPU at 100% on a host"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(poll_after_ms=10) as server:
        yield server


def _with_agent(emu: Emulator, act: Callable[[Any], Awaitable[str]], **kwargs: Any) -> str:
    """Run ``act(agent)`` in one event loop, with a client closed afterwards."""
    import openai

    async def go() -> str:
        async with openai.AsyncOpenAI(
            base_url=emu.base_url, api_key=emu.api_key, max_retries=0
        ) as client:
            agent = agents.OpenAIAssistantAgent(
                name="triage",
                description="Triages alerts.",
                client=client,
                model="gpt-4o-mini",
                instructions="Triage alerts.",
                **kwargs,
            )
            return await act(agent)

    return asyncio.run(go())


async def _ask(agent: Any, text: str) -> str:
    message = messages.TextMessage(content=text, source="user")
    answer = await agent.on_messages([message], core.CancellationToken())
    return str(answer.chat_message.content)


def test_the_agent_answers_with_its_null_sampling_defaults(emu: Emulator) -> None:
    answer = _with_agent(emu, lambda agent: _ask(agent, "Analyze this alert: CPU at 100%"))
    assert json.loads(answer)["action"] == "investigate"  # no runbook given: the default
    (assistant,) = emu.store.assistants.values()
    assert (assistant.temperature, assistant.top_p) == (1.0, 1.0)
    assert not [r for r in emu.requests if r.status >= 400]


def test_the_agent_calls_a_function_tool(emu: Emulator) -> None:
    calls: list[str] = []

    def host_load(host: str) -> str:
        """The current CPU load of a host."""
        calls.append(host)
        return "97%"

    emu.script(
        RequestTools([("host_load", {"host": "web-1"})], then=lambda out: f"web-1 at {out[0]}")
    )
    answer = _with_agent(emu, lambda agent: _ask(agent, "How loaded is web-1?"), tools=[host_load])
    assert answer == "web-1 at 97%"
    assert calls == ["web-1"]
    assert emu.counts()["runs.submit_tool_outputs"] == 1


def test_the_agent_searches_uploaded_files(emu: Emulator, tmp_path: Any) -> None:
    runbook = tmp_path / "cpu.md"
    runbook.write_bytes(RUNBOOK)

    async def act(agent: Any) -> str:
        await agent.on_upload_for_file_search(str(runbook), core.CancellationToken())
        return await _ask(agent, "Analyze this alert: CPU at 100%")

    answer = _with_agent(emu, act, tools=["file_search"])
    assert json.loads(answer)["action"] == "escalate"
    assert emu.counts()["vector_stores.create"] == 1
