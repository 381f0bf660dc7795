"""Record session scenarios against the built-in emulator into cassettes/emulator/.

Run from the project root: ``python scripts/record_emulator_cassettes.py``. The cassettes are
replayed by tests/test_cassettes_emulator.py with record mode ``none``; re-record on purpose,
when the emulator or the wire format changes. Credentials are filtered out.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import vcr

from assistant_bridge import (
    FixedInterval,
    JsonParser,
    TextParser,
    ThreadSession,
    ToolCall,
    ToolOutput,
)
from assistant_bridge.testing import Emulator, FailRun, RequestTools, SayJson, SayText, vcr_config

warnings.simplefilter("ignore", DeprecationWarning)
OUT = Path(__file__).resolve().parent.parent / "cassettes" / "emulator"
ASSISTANT = "asst_recorded0000000000000"
RECORDER = vcr.VCR(record_mode="all", match_on=["method", "path"], **vcr_config())


def session(emu: Emulator, **kwargs: object) -> ThreadSession:
    return ThreadSession(
        emu.transport(max_retries=0),
        ASSISTANT,
        poll_policy=FixedInterval(0.02),
        wait="poll",
        **kwargs,
    )  # type: ignore[arg-type]


def triage_and_follow_up(emu: Emulator) -> None:
    emu.script(
        SayJson({"action": "escalate", "reason": "cpu-saturation.md", "severity": "critical"}),
        times=1,
    )
    emu.script(SayText("Runbook cpu-saturation.md: find the hot process first."), times=1)
    ask = session(emu, parser=JsonParser())
    ask.ask("Analyze this alert: Server CPU at 100%")
    ask.ask("Which runbook applies?", parser=TextParser())


def tool_round_trip(emu: Emulator) -> None:
    emu.script(
        RequestTools(
            [("get_host_metrics", {"host": "web-1"})], then=lambda outs: f"web-1 reports {outs[0]}"
        ),
        times=1,
    )

    def tools(calls: Sequence[ToolCall]) -> list[ToolOutput]:
        return [ToolOutput(c.id, json.dumps({"cpu": 99.5})) for c in calls]

    session(emu, tool_handler=tools).ask("Is web-1 healthy?")


def failed_run(emu: Emulator) -> None:
    emu.script(FailRun("server_error", "Sorry, something went wrong."), times=1)
    try:
        session(emu).ask("Analyze this alert: disk full")
    except Exception as exc:  # the failure is the point of this cassette
        print(f"  (expected) {type(exc).__name__}")


SCENARIOS: dict[str, Callable[[Emulator], None]] = {
    "session_triage_and_follow_up": triage_and_follow_up,
    "session_tool_round_trip": tool_round_trip,
    "session_failed_run": failed_run,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, scenario in SCENARIOS.items():
        path = OUT / f"{name}.yaml"
        path.unlink(missing_ok=True)
        with Emulator() as emu:
            emu.create_assistant(name="recorded", assistant_id=ASSISTANT)
            with RECORDER.use_cassette(str(path)):
                scenario(emu)
        print(f"recorded {path.relative_to(OUT.parent.parent)}")


if __name__ == "__main__":
    main()
