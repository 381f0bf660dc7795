"""Long threads: what the 1st follow-up costs against the 200th on one thread.

    python bench/followups.py                 # ~1 min: 200 follow-ups, three flows
    python bench/followups.py --count 1000

One thread, one question after another, each run 50 ms long, against the emulator in its own
process. For the first five and the last five follow-ups: added latency (run finished on the
server -> answer in hand), requests and client CPU per ask. Polling flows look every 50 ms here
(the cadence is not what is measured: the growth with the thread's length is).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from _harness import Question, Server, clients, counting, machine, settle_added, summary, table

from assistant_bridge import FixedInterval, OpenAITransport, ThreadSession

WORK = 0.05


def seed_loop(client: Any, assistant_id: str) -> Callable[[str], None]:
    """The seed's flow on one thread, looking every 50 ms."""
    thread_id = client.beta.threads.create().id

    def ask(prompt: str) -> None:
        client.beta.threads.messages.create(thread_id, role="user", content=prompt)
        run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
        while run.status in ("queued", "in_progress"):
            time.sleep(WORK)
            run = client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
        text = client.beta.threads.messages.list(thread_id).data[0].content[0].text.value
        assert text.startswith("verdict")

    return ask


def library(client: Any, assistant_id: str, wait: str) -> Callable[[str], None]:
    session = ThreadSession(OpenAITransport(client=client), assistant_id, wait=wait,  # type: ignore[arg-type]
                            poll_policy=FixedInterval(WORK))  # fmt: skip

    def ask(prompt: str) -> None:
        assert session.ask(prompt).text.startswith("verdict")

    return ask


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--url", help="ask this server instead of starting the emulator")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"# follow-ups: {machine()}; {args.count} follow-ups on one thread, runs of {WORK} s")
    rows = []
    with Server(args.url) as server:
        client, _ = clients(server.base_url)
        assistant_id = client.beta.assistants.create(model="gpt-4o-mini", name="bench").id
        flows = {
            "the seed's flow (50 ms loop)": seed_loop(client, assistant_id),
            "assistant_bridge streamed": library(client, assistant_id, "auto"),
            "assistant_bridge polled": library(client, assistant_id, "poll"),
        }
        for name, ask in flows.items():
            ask("first question [work=0.01]")
            questions, cpus = [], []
            for _ in range(args.count):
                q = Question("follow-up", WORK)
                with counting() as requests:
                    cpu, q.started = time.process_time(), time.monotonic()
                    ask(q.prompt)
                    q.done, q.requests = time.monotonic(), requests[0]
                    cpus.append(time.process_time() - cpu)
                questions.append(q)
            settle_added(questions, server.stats())
            for label, part in (("1st-5th", slice(0, 5)), (f"{args.count - 4}th-{args.count}th",
                                                           slice(-5, None))):  # fmt: skip
                chosen = questions[part]
                added = summary([q.added or 0.0 for q in chosen])
                rows.append([name, label, f"{added[0] * 1000:.1f} ms",
                             f"{summary([q.requests for q in chosen])[0]:.1f}",
                             f"{summary(cpus[part])[0] * 1000:.1f} ms"])  # fmt: skip
            print(f"  {name}: done", file=sys.stderr)
    print(table(["flow", "follow-ups", "added mean", "requests / ask", "client CPU / ask"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
