"""Replays of sessions recorded against the emulator (cassettes/emulator/, record mode none).

Recorded by scripts/record_emulator_cassettes.py. Replay needs no server: the base URL points
at a port nobody listens on, so any request the cassette lacks fails loudly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge import (
    FixedInterval,
    JsonParser,
    OpenAITransport,
    TextParser,
    ThreadSession,
    ToolCall,
    ToolOutput,
)
from assistant_bridge.exceptions import RunFailedError
from assistant_bridge.testing import vcr_config

vcr = pytest.importorskip("vcr")

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "emulator"
ASSISTANT = "asst_recorded0000000000000"


@pytest.fixture
def replay() -> Any:
    recorder = vcr.VCR(record_mode="none", match_on=["method", "path"], **vcr_config())

    def use(name: str) -> Any:
        return recorder.use_cassette(str(CASSETTES / f"{name}.yaml"))

    return use


def session(**kwargs: Any) -> ThreadSession:
    transport = OpenAITransport("sk-replay", base_url="http://127.0.0.1:9/v1", max_retries=0)
    return ThreadSession(
        transport,
        ASSISTANT,
        poll_policy=FixedInterval(0.0),
        sleep=lambda _: None,
        wait="poll",
        **kwargs,
    )


class TestEmulatorCassettes:
    def test_triage_and_follow_up(self, replay: Any) -> None:
        """A JSON verdict and a follow-up on the same thread, as recorded."""
        with replay("session_triage_and_follow_up") as cassette:
            ask = session(parser=JsonParser())
            first = ask.ask("Analyze this alert: Server CPU at 100%")
            follow = ask.ask("Which runbook applies?", parser=TextParser())
        assert first.parsed["action"] == "escalate"
        assert follow.thread_id == first.thread_id
        assert "cpu-saturation.md" in follow.text
        assert cassette.all_played

    def test_tool_round_trip(self, replay: Any) -> None:
        """requires_action, the tool's output submitted, the answer, as recorded."""

        def tools(calls: Sequence[ToolCall]) -> list[ToolOutput]:
            return [ToolOutput(c.id, json.dumps({"cpu": 99.5})) for c in calls]

        with replay("session_tool_round_trip") as cassette:
            reply = session(tool_handler=tools).ask("Is web-1 healthy?")
        assert reply.text == 'web-1 reports {"cpu": 99.5}'
        assert cassette.all_played

    def test_failed_run(self, replay: Any) -> None:
        """A failed run's last_error, as recorded."""
        with replay("session_failed_run"), pytest.raises(RunFailedError) as info:
            session().ask("Analyze this alert: disk full")
        assert info.value.code == "server_error"
