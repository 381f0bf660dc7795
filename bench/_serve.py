"""The benchmarks' server process: the emulator with timed runs, counting connections.

    python bench/_serve.py --port 8765   # serve in the foreground for `--url` runs (Ctrl-D ends)

The bench scripts start it themselves, each in its own process so that the server has its own
core. A prompt carries its run's length and key: ``[q=ab12] [work=3.5] [tools] text``; a run
with ``[tools]`` asks for one ``lookup`` call and works half its time before it and half after.
The first stdout line is the base URL; each ``stats`` line on stdin is answered with one JSON
line: requests answered, TCP connections accepted, and when each keyed run finished
(``time.monotonic``, which on Linux all processes share, so a client can subtract it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

from _harness import QUEUE_DELAY_S as QUEUE_DELAY
from _harness import key_of

from assistant_bridge.testing import Emulator, Outcome, RunContext

TOOL_CALL = ("lookup", '{"host": "db-1"}')
ENDS: dict[str, float] = {}
CONNECTIONS = [0]
_LOCK = threading.Lock()


def tags(prompt: str) -> tuple[str | None, float, bool]:
    """The key, run length in seconds and tool flag of a benchmark prompt."""
    work = re.search(r"\[work=([\d.]+)\]", prompt)
    return (
        key_of(prompt),
        float(work.group(1)) if work else 0.05,
        "[tools]" in prompt,
    )


def _ends(key: str | None, delay: float) -> None:
    """Record when the run that starts now finishes: the store's queue delay plus its work."""
    if key is not None:
        with _LOCK:
            ENDS[key] = time.monotonic() + QUEUE_DELAY + delay


class Timed:
    """Works as long as the prompt says, then answers; with ``[tools]`` asks for a lookup first."""

    def outcome(self, ctx: RunContext) -> Outcome:
        key, work, tools = tags(ctx.prompt)
        if not tools:
            _ends(key, work)
            return Outcome("complete", text="verdict: escalate", delay=work)

        def after(outputs: Sequence[str]) -> Outcome:
            _ends(key, work / 2)
            return Outcome("complete", text=f"verdict: escalate ({outputs[0]})", delay=work / 2)

        return Outcome("tools", tool_calls=(TOOL_CALL,), then=after, delay=work / 2)


def serve(port: int, poll_after_ms: int | None) -> Emulator:
    """Start the emulator with the timed behaviour and a connection counter."""
    emu = Emulator(port=port, api_key=None, queue_delay=QUEUE_DELAY, default=Timed())
    http = emu._server  # the bench counts what the HTTP layer accepts
    inner = http._serve

    async def counted(reader: Any, writer: Any) -> None:
        with _LOCK:
            CONNECTIONS[0] += 1
        await inner(reader, writer)

    http._serve = counted  # type: ignore[method-assign]
    emu.app.poll_after_ms = poll_after_ms
    return emu.start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--poll-after-ms", type=int, default=None, help="send this poll hint")
    args = parser.parse_args()
    emu = serve(args.port, args.poll_after_ms)
    print(emu.base_url, flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            with _LOCK:
                stats = {"requests": len(emu.requests), "connections": CONNECTIONS[0],
                         "ends": dict(ENDS)}  # fmt: skip
            print(json.dumps(stats), flush=True)
    emu.stop()
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    raise SystemExit(main())
