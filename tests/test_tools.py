"""ToolRegistry: schemas from hints, checked calls, concurrency, errors the model can read."""

from __future__ import annotations

import asyncio
import enum
import json
import threading
import time
from collections.abc import Iterator
from typing import Literal

import pytest

from assistant_bridge import (
    AssistantSpec,
    FixedInterval,
    ThreadSession,
    ToolCall,
    ToolRegistry,
)
from assistant_bridge.exceptions import ConfigurationError, RunExpiredError, ToolError
from assistant_bridge.testing import Emulator, RequestTools


class Window(enum.Enum):
    SHORT = "5m"
    LONG = "1h"


def get_host_metrics(host: str, window: Window = Window.SHORT, detail: bool = False) -> dict:  # type: ignore[type-arg]
    """Fetch CPU and memory metrics for a host.

    Args:
        host: the host name, like web-1
        window: how far back to look
    """
    return {"host": host, "cpu": 99.5, "window": window}


def call(name: str, **args: object) -> ToolCall:
    return ToolCall(id=f"call_{name}_{len(args)}", name=name, arguments=json.dumps(args))


class TestSchema:
    def test_schema_from_hints_and_docstring(self) -> None:
        """Types, defaults, enums and the Args section become the JSON Schema."""
        tools = ToolRegistry(get_host_metrics)
        [spec] = tools.function_tools()
        assert spec.name == "get_host_metrics"
        assert spec.description == "Fetch CPU and memory metrics for a host."
        props = spec.parameters["properties"]
        assert props["host"] == {"type": "string", "description": "the host name, like web-1"}
        assert props["window"]["enum"] == ["5m", "1h"]
        assert props["detail"] == {"type": "boolean"}
        assert spec.parameters["required"] == ["host"]
        assert spec.parameters["additionalProperties"] is False

    def test_optional_literal_and_lists(self) -> None:
        """Optional, Literal and list types are described too."""
        tools = ToolRegistry()

        @tools.register(name="find", description="Find hosts.")
        def find(
            role: Literal["web", "db"], tags: list[str], limit: int | None = None
        ) -> list[str]:
            return []

        props = tools.function_tools()[0].parameters["properties"]
        assert props["role"] == {"enum": ["web", "db"]}
        assert props["tags"] == {"type": "array", "items": {"type": "string"}}
        assert props["limit"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}

    def test_undescribable_types_are_refused(self) -> None:
        """A parameter type with no JSON Schema is a configuration error naming it."""

        def bad(when: threading.Event) -> None:
            """Nope."""

        with pytest.raises(ConfigurationError, match="when"):
            ToolRegistry(bad)

    def test_duplicate_names_refused(self) -> None:
        """Two tools cannot share a name."""
        with pytest.raises(ConfigurationError, match="already registered"):
            ToolRegistry(get_host_metrics, get_host_metrics)

    def test_spec_takes_the_tools(self) -> None:
        """function_tools() goes straight into an AssistantSpec."""
        tools = ToolRegistry(get_host_metrics)
        spec = AssistantSpec(name="t", model="m", tools=tools.function_tools())
        assert spec.responses_body()["tools"][0]["name"] == "get_host_metrics"


class TestCalls:
    def test_runs_and_renders_json(self) -> None:
        """A good call runs; a non-string result is sent as JSON."""
        tools = ToolRegistry(get_host_metrics)
        [out] = tools([call("get_host_metrics", host="web-1", window="1h")])
        assert json.loads(out.output) == {"host": "web-1", "cpu": 99.5, "window": "1h"}
        assert out.tool_call_id == "call_get_host_metrics_2"

    @pytest.mark.parametrize(
        ("bad", "expected"),
        [
            (call("rm_rf", path="/"), "unknown tool 'rm_rf'"),
            (call("get_host_metrics"), "$.host: is required but missing"),
            (call("get_host_metrics", host=3), "$.host: expected string"),
            (call("get_host_metrics", host="a", extra=1), "$.extra: is not allowed"),
            (ToolCall(id="c", name="get_host_metrics", arguments="{not json"), "not valid JSON"),
        ],
    )
    def test_bad_calls_become_error_outputs(self, bad: ToolCall, expected: str) -> None:
        """Only registered functions run; bad calls get an error the model can read."""
        [out] = ToolRegistry(get_host_metrics)([bad])
        assert expected in json.loads(out.output)["error"]

    def test_exception_becomes_error_output(self) -> None:
        """A tool that raises reports the exception type and message."""

        def broken(host: str) -> str:
            """Breaks."""
            raise RuntimeError(f"{host} unreachable")

        [out] = ToolRegistry(broken)([call("broken", host="web-1")])
        assert json.loads(out.output) == {"error": "broken raised RuntimeError: web-1 unreachable"}

    def test_on_error_raise(self) -> None:
        """on_error='raise' raises ToolError naming the tool and the call."""
        with pytest.raises(ToolError) as info:
            ToolRegistry(get_host_metrics, on_error="raise")([call("nope")])
        assert info.value.tool == "nope"

    def test_calls_run_concurrently(self) -> None:
        """Three slow calls take about as long as one."""

        def slow(n: int) -> int:
            """Sleeps."""
            time.sleep(0.3)
            return n

        tools = ToolRegistry(slow)
        began = time.monotonic()
        outs = tools([ToolCall(f"c{i}", "slow", json.dumps({"n": i})) for i in range(3)])
        assert [o.output for o in outs] == ["0", "1", "2"]
        assert time.monotonic() - began < 0.8

    def test_timeout(self) -> None:
        """A call slower than its timeout reports it instead of hanging the run."""

        def stuck() -> str:
            """Sleeps too long."""
            time.sleep(1.0)
            return "late"

        [out] = ToolRegistry(stuck, timeout=0.1)([ToolCall("c", "stuck", "{}")])
        assert "did not finish within 0.1s" in json.loads(out.output)["error"]

    def test_async_functions_and_acall(self) -> None:
        """Coroutine tools run with acall (and with the sync call, in their own loop)."""

        async def lookup(host: str) -> str:
            """Looks up."""
            await asyncio.sleep(0.01)
            return f"{host}: ok"

        tools = ToolRegistry(lookup)
        [out] = asyncio.run(tools.acall([ToolCall("c", "lookup", '{"host": "db-1"}')]))
        assert out.output == "db-1: ok"
        assert tools([ToolCall("c", "lookup", '{"host": "db-2"}')])[0].output == "db-2: ok"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


class TestWithSessions:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_registry_answers_requires_action(self, emu: Emulator, api: str) -> None:
        """The registry as tool_handler, over both wires, with an unknown tool in the mix."""
        emu.script(
            RequestTools(
                [("get_host_metrics", {"host": "web-1"}), ("rm_rf", {})],
                then=lambda outs: " | ".join(outs),
            )
        )
        tools = ToolRegistry(get_host_metrics)
        spec = AssistantSpec(name="t", model="gpt-4o-mini", tools=tools.function_tools())
        with emu.transport(api, max_retries=0) as transport:
            session = ThreadSession(
                transport, assistant=spec, tool_handler=tools, poll_policy=FixedInterval(0.01)
            )
            text = session.ask("check web-1").text
        first, second = text.split(" | ")
        assert json.loads(first)["cpu"] == 99.5
        assert "unknown tool 'rm_rf'" in json.loads(second)["error"]

    def test_tools_slower_than_the_run_expiry(self) -> None:
        """A tool that outlives the run: RunExpiredError that says the tools took too long."""

        def slow_lookup() -> str:
            """Slow."""
            time.sleep(0.5)
            return "done"

        with Emulator(run_ttl=0.3) as emu:
            emu.script(RequestTools([("slow_lookup", {})]))
            tools = ToolRegistry(slow_lookup)
            with emu.transport(max_retries=0) as transport:
                session = ThreadSession(
                    transport,
                    assistant=AssistantSpec(name="t", model="m"),
                    tool_handler=tools,
                    poll_policy=FixedInterval(0.01),
                )
                with pytest.raises(RunExpiredError, match="expired while the tools ran"):
                    session.ask("go")
