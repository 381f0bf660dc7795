"""Many asks at once: 1, 10, 100 and 1,000 concurrent async asks against one server.

    python bench/concurrency.py                       # ~1 min: runs of 2 s
    python bench/concurrency.py --levels 1,10,100,1000,2000 --work 5 --wait poll

Each level runs ``aask_many(..., concurrency=N)`` over N prompts (each on its own thread) in a
fresh client process, against the emulator in its own process. Prints the wall time against
the server-bound time (every run takes ``--work`` seconds, all at once), the added latency
(run finished on the server -> answer in hand), the client's peak memory over its baseline
(max RSS, after a warm-up ask), client CPU and requests per ask, TCP connections, failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from typing import Any

from _harness import (
    QUEUE_DELAY_S,
    Question,
    Server,
    clients,
    counting,
    key_of,
    machine,
    settle_added,
    summary,
    table,
)

from assistant_bridge import AsyncOpenAITransport, AsyncThreadSession, aask_many


def one_level(url: str, count: int, work: float, wait: str) -> dict[str, Any]:
    """In the child process: ask ``count`` questions at once; what the parent needs."""
    warnings.simplefilter("ignore")
    _, aclient = clients(url)
    questions = [Question("new", work) for _ in range(count)]

    async def main() -> tuple[float, list[Any]]:
        transport = AsyncOpenAITransport(client=aclient)
        assistant = await aclient.beta.assistants.create(model="gpt-4o-mini", name="bench")
        await AsyncThreadSession(transport, assistant.id).ask("warm up [work=0.01]")
        done: dict[str, tuple[float, int]] = {}

        class Timed:
            """A session that notes when its answer is in hand and how many requests it took."""

            def __init__(self) -> None:
                self.session = AsyncThreadSession(transport, assistant.id, wait=wait, timeout=600)

            async def ask(self, prompt: str) -> Any:
                with counting() as requests:
                    reply = await self.session.ask(prompt)
                done[str(key_of(prompt))] = (time.monotonic(), requests[0])
                return reply

        measured["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        measured["cpu"] = time.process_time()
        began = time.monotonic()
        results = await aask_many(Timed, [q.prompt for q in questions], concurrency=count)
        end = time.monotonic()
        measured["cpu"] = time.process_time() - measured["cpu"]
        measured["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - measured["rss"]
        for q, r in zip(questions, results, strict=True):
            q.done, q.requests = done.get(q.key, (end, 0))
            q.error = None if hasattr(r, "text") else f"{type(r).__name__}: {r}"
        return end - began, results

    measured: dict[str, float] = {}
    wall, _ = asyncio.run(main())
    return {
        "wall": wall,
        "cpu": measured["cpu"],
        "rss_kib": measured["rss"],
        "questions": [[q.key, q.done, q.requests, q.error] for q in questions],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,10,100,1000")
    parser.add_argument("--work", type=float, default=2.0, help="each run's length (s)")
    parser.add_argument("--wait", choices=["auto", "poll"], default="auto")
    parser.add_argument("--url", help="ask this server instead of starting the emulator")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_level(args.url, args.child, args.work, args.wait)))
        return 0

    print(f"# concurrency: {machine()}; runs of {args.work:g} s, wait={args.wait!r}")
    rows = []
    with Server(args.url) as server:
        for level in (int(n) for n in args.levels.split(",")):
            before = server.stats() or {}
            child = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child", str(level),
                 "--url", server.base_url, "--work", str(args.work), "--wait", args.wait],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            got = json.loads(child.stdout.strip().splitlines()[-1])
            after = server.stats() or {}
            questions = []
            for key, done, requests, error in got["questions"]:
                q = Question("new", args.work, key=key, done=done, requests=requests, error=error)
                q.started = done - got["wall"]
                questions.append(q)
            settle_added(questions, after)
            added = summary([q.added for q in questions if q.added is not None])
            bound = args.work + QUEUE_DELAY_S
            requests = summary([q.requests for q in questions])[0]
            # Connections over the level: its asks, plus one warm-up ask and an assistant.
            conns = after.get("connections", 0) - before.get("connections", 0)
            failures = sum(1 for q in questions if q.error)
            rows.append([level, f"{got['wall']:.2f} s", f"{bound:.2f} s",
                         f"{got['wall'] / bound:.2f}x", f"{added[0] * 1000:.0f} ms",
                         f"{added[2] * 1000:.0f} ms", f"{got['rss_kib'] / 1024:.1f} MiB",
                         f"{got['cpu'] * 1000 / level:.1f} ms",
                         f"{requests:.1f}", f"{conns}" if before else "n/a", failures])  # fmt: skip
            print(f"  {level} at once: {got['wall']:.2f} s, {failures} failures", file=sys.stderr)
    print(table(["asks at once", "wall", "server-bound", "wall / bound", "added mean",
                 "added max", "client peak memory", "client CPU / ask", "requests / ask",
                 "TCP connections", "failures"], rows))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
