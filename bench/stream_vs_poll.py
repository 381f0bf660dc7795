"""Streaming against polling: requests per ask and delay between the run's end and the answer.

    python bench/stream_vs_poll.py [--asks 20] [--work 0.5]

Against the built-in emulator (loopback), each ask's run works ``--work`` seconds. The same
session asks the same questions once with ``wait="stream"`` and once with ``wait="poll"``
(the seed's fixed 1 s interval, and the adaptive default). Prints requests per ask, the median
time from the run's end to the reply in hand, and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from assistant_bridge import AssistantSpec, FixedInterval, ThreadSession
from assistant_bridge.testing import Emulator, SayText

warnings.simplefilter("ignore", DeprecationWarning)
SPEC = AssistantSpec(name="bench", model="gpt-4o-mini")


def measure(label: str, asks: int, work: float, **session_kwargs: object) -> tuple[float, float]:
    with Emulator() as emu:
        emu.script(SayText("The verdict is escalate.", delay=work))
        transport = emu.transport(max_retries=0)
        transport.resolve_assistant(SPEC)
        session = ThreadSession(transport, assistant=SPEC, **session_kwargs)  # type: ignore[arg-type]
        session.ask("warm up")
        before = len(emu.requests)
        lags = []
        for n in range(asks):
            began = time.monotonic()
            session.ask(f"alert {n}")
            # The run ends `work` seconds (plus the queue delay) after it starts.
            lags.append(time.monotonic() - began - work - emu.store.queue_delay)
        per_ask = (len(emu.requests) - before) / asks
        lag = statistics.median(lags) * 1000
    print(f"{label:>22}: {per_ask:4.1f} requests per ask, answer {lag:7.1f} ms after the run ends")
    return per_ask, lag


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--work", type=float, default=0.5)
    args = parser.parse_args()
    stream = measure("stream", args.asks, args.work, wait="stream")
    fixed = measure(
        "poll, fixed 1 s", args.asks, args.work, wait="poll", poll_policy=FixedInterval(1.0)
    )
    adaptive = measure("poll, adaptive", args.asks, args.work, wait="poll")
    for name, (requests, lag) in (("fixed 1 s", fixed), ("adaptive", adaptive)):
        print(
            f"  polling ({name}) / streaming: {requests / stream[0]:.1f}x the requests, "
            f"{lag / max(stream[1], 0.001):.0f}x the delay"
        )


if __name__ == "__main__":
    main()
