"""The storm at the limit: workers triaging alerts as fast as they can against an emulator
that allows ``--rpm`` requests a minute, without and then with the shared limiter.

    python bench/storm_limit.py                    # ~2 min: 8 worker processes, 300 RPM
    python bench/storm_limit.py --seconds 40 --plot docs/performance-storm-limit.png

Each worker is its own process with its own transport and sessions (one thread per alert),
asking back to back; the session's RetryPolicy retries a 429 as usual. The emulator limits as
the service does (``rpm`` a minute, refilled evenly, ``--service-burst`` + 1 at once; 429 with
``retry-after-ms`` and the ``x-ratelimit-*`` headers: ``Emulator(rate_limits=...)``); its log
says when each request arrived. "Shared limiter" wraps every worker's transport in
``RateLimitedTransport`` over one Redis limit (a redis-server started here, or ``--redis``)
set ``--under`` (5%) below ``rpm``, with ``--burst``: a request's trip to the server varies by
some milliseconds, and aiming exactly at the limit would let that push a second over it.

Printed for both storms, from the server's log: requests sent, the share answered 429, the
most requests any sliding one-second window held (the limiter promises at most
``ceil(rpm / 60) + burst``), accepted requests a minute as a share of the limit, and the
asks that finished or failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import attrs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from _harness import machine, table  # noqa: E402

ASSISTANT = "asst_storm"
KEY = "sk-emulator"


def work(
    base_url: str,
    limiter_url: str | None,
    start: Callable[[], float],
    worker: int,
    wait: str = "poll",
) -> dict[str, Any]:
    """One worker: build its transport, wait for ``start()`` to say until when (wall clock),
    then ask about alert after alert until then; what happened."""
    from assistant_bridge import OpenAITransport, ThreadSession
    from assistant_bridge.exceptions import AssistantBridgeError

    transport: Any = OpenAITransport(api_key=KEY, base_url=base_url)
    if limiter_url is not None:
        from assistant_bridge.ratelimit import RateLimitedTransport

        transport = RateLimitedTransport(transport, limiter_url)
    done, failed, errors = 0, 0, Counter[str]()
    n = 0
    until = start()
    try:
        while time.time() < until:
            n += 1
            session = ThreadSession(transport, ASSISTANT, timeout=30, wait=wait)
            try:
                session.ask(f"Alert {worker}-{n}: CPU at 100% on db-{n % 7}")
                done += 1
            except AssistantBridgeError as exc:
                failed += 1
                errors[type(exc).__name__] += 1
    finally:
        transport.close()
    return {"done": done, "failed": failed, "errors": dict(errors)}


@attrs.frozen
class Figures:
    """What one storm did, from the server's log and the workers' tallies."""

    label: str
    seconds: float
    sent: int
    refused: int
    most_in_a_second: int
    accepted_per_minute: float
    asks_done: int
    asks_failed: int
    errors: dict[str, int]
    per_second: list[tuple[int, int]]  # (accepted, refused) in each second of the storm

    def share_refused(self) -> float:
        return self.refused / self.sent if self.sent else 0.0


def most_in_a_second(times: Sequence[float]) -> int:
    """The most times any half-open one-second window holds."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def figures(
    label: str,
    arrivals: Sequence[tuple[float, int]],
    began: float,
    seconds: float,
    tallies: Sequence[dict[str, Any]],
) -> Figures:
    """The storm's figures over its ``seconds`` from ``began``, from the server's log:
    (arrival on time.monotonic, status answered) of every request."""
    log = [(t - began, status) for t, status in arrivals if began <= t < began + seconds]
    refused = sum(1 for _, status in log if status == 429)
    accepted = len(log) - refused
    buckets = [[0, 0] for _ in range(math.ceil(seconds))]
    for t, status in log:
        buckets[min(int(t), len(buckets) - 1)][status == 429] += 1
    errors: Counter[str] = Counter()
    for tally in tallies:
        errors.update(tally["errors"])
    return Figures(
        label=label,
        seconds=seconds,
        sent=len(log),
        refused=refused,
        most_in_a_second=most_in_a_second([t for t, _ in log]),
        accepted_per_minute=accepted / seconds * 60,
        asks_done=sum(t["done"] for t in tallies),
        asks_failed=sum(t["failed"] for t in tallies),
        errors=dict(errors),
        per_second=[(a, r) for a, r in buckets],
    )


def storm(
    *,
    workers: int,
    rpm: int,
    service_burst: int,
    seconds: float,
    limiter_url: str | None,
    label: str,
    processes: bool = True,
) -> Figures:
    """One storm: an emulator limited to ``rpm``, ``workers`` asking for ``seconds``."""
    emulator, arrivals = limited_emulator(rpm, service_burst)
    with emulator:
        emulator.create_assistant(assistant_id=ASSISTANT, name="storm")
        if processes:
            tallies, began = _in_processes(emulator.base_url, limiter_url, seconds, workers)
        else:
            tallies, began = _in_threads(emulator.base_url, limiter_url, seconds, workers)
        return figures(label, arrivals(), began, seconds, tallies)


def limited_emulator(
    rpm: int, service_burst: int
) -> tuple[Any, Callable[[], list[tuple[float, int]]]]:
    """An emulator that limits as the service does, ``rpm`` requests a minute with
    ``service_burst + 1`` at once, and how to read when each request arrived (time.monotonic)
    and how it was answered."""
    from assistant_bridge.testing import Emulator, RateLimit

    capacity_seconds = (service_burst + 1) * 60 / rpm  # the bucket holds service_burst + 1
    limit = RateLimit(requests_per_minute=rpm, burst_seconds=capacity_seconds)
    emulator = Emulator(rate_limits=limit)
    offset = time.monotonic() - time.time()  # the log is on the wall clock

    def arrivals() -> list[tuple[float, int]]:
        return [(r.at - r.seconds + offset, r.status) for r in emulator.requests]

    return emulator, arrivals


def _in_processes(
    base_url: str, limiter_url: str | None, seconds: float, workers: int
) -> tuple[list[dict[str, Any]], float]:
    """Workers in their own processes; the storm starts once every one has imported and is
    ready (so a slow start on a busy machine is not counted against the limiter)."""
    command = [sys.executable, __file__, "--worker", base_url, limiter_url or "-"]
    children = [
        subprocess.Popen(
            [*command, str(i)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for i in range(workers)
    ]
    tallies = []
    try:
        for child in children:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("a storm worker did not start")
        began, until = time.monotonic(), time.time() + seconds
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{until}\n")
            child.stdin.flush()
        for child in children:
            out, _ = child.communicate(timeout=seconds + 120)
            tallies.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return tallies, began


def _in_threads(
    base_url: str, limiter_url: str | None, seconds: float, workers: int
) -> tuple[list[dict[str, Any]], float]:
    from concurrent.futures import ThreadPoolExecutor

    began, until = time.monotonic(), time.time() + seconds
    with ThreadPoolExecutor(workers) as pool:
        futures = [
            pool.submit(work, base_url, limiter_url, lambda: until, i) for i in range(workers)
        ]
        return [f.result() for f in futures], began


def report(results: Sequence[Figures], rpm: int, burst: int) -> str:
    """The side-by-side table."""
    bound = math.ceil(rpm / 60) + burst
    rows = [
        [
            f.label,
            f.sent,
            f"{f.refused} ({f.share_refused():.1%})",
            f"{f.most_in_a_second} (bound {bound})",
            f"{f.accepted_per_minute:.0f} ({f.accepted_per_minute / rpm:.0%})",
            f.asks_done,
            f.asks_failed,
        ]
        for f in results
    ]
    headers = ["storm", "sent", "answered 429", "most in 1 s", "accepted/min (of limit)",
               "asks done", "asks failed"]  # fmt: skip
    return table(headers, rows)


def plot(results: Sequence[Figures], rpm: int, burst: int, path: str) -> None:
    """Requests a second, accepted and refused, for each storm, against the limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(11, 3.6), sharey=True)
    for ax, f in zip(axes, results, strict=True):
        seconds = range(len(f.per_second))
        accepted = [a for a, _ in f.per_second]
        refused = [r for _, r in f.per_second]
        ax.bar(seconds, accepted, color="#4c72b0", label="accepted")
        ax.bar(seconds, refused, bottom=accepted, color="#dd8452", label="answered 429")
        ax.axhline(rpm / 60, color="black", linewidth=1, label=f"limit ({rpm}/min)")
        ax.axhline(math.ceil(rpm / 60) + burst, color="gray", linestyle="--", linewidth=1,
                   label="ceil(rpm/60) + burst")  # fmt: skip
        ax.set_title(f.label)
        ax.set_xlabel("second of the storm")
    axes[0].set_ylabel("requests in that second")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rpm", type=int, default=300, help="the emulator's limit")
    parser.add_argument("--burst", type=int, default=2, help="the shared limiter's burst")
    parser.add_argument("--under", type=float, default=0.05,
                        help="the share under the limit the shared limiter aims")  # fmt: skip
    parser.add_argument("--service-burst", type=int, default=None,
                        help="the emulator's burst (default: the limiter's + 1)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--redis", help="a Redis URL (default: start a redis-server here)")
    parser.add_argument("--threads", action="store_true", help="workers as threads")
    parser.add_argument("--plot", help="write the plot (PNG) here")
    parser.add_argument("--json", help="write the figures (JSON) here")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    service_burst = args.burst + 1 if args.service_burst is None else args.service_burst

    from tests.servers import running_redis

    def both(redis_url: str) -> list[Figures]:
        common = {"workers": args.workers, "rpm": args.rpm, "service_burst": service_burst,
                  "seconds": args.seconds, "processes": not args.threads}  # fmt: skip
        aim = math.floor(args.rpm * (1 - args.under))
        limiter = f"{redis_url}?rpm={aim}&burst={args.burst}&name=storm-{os.getpid()}"
        return [
            storm(limiter_url=None, label="each worker retries its own 429s", **common),
            storm(limiter_url=limiter, label="shared limiter (Redis)", **common),
        ]

    if args.redis:
        results = both(args.redis)
    else:
        with running_redis() as redis_url:
            results = both(redis_url)
    print(f"# Storm at the limit: {args.workers} workers, limit {args.rpm} requests/min, "
          f"limiter at {math.floor(args.rpm * (1 - args.under))}/min with burst {args.burst}, "
          f"service burst {service_burst}, "
          f"{args.seconds:g} s each")  # fmt: skip
    print(machine())
    print()
    print(report(results, args.rpm, args.burst))
    for f in results:
        if f.errors:
            print(f"{f.label}: failed asks by error: {f.errors}")
    if args.plot:
        plot(results, args.rpm, args.burst, args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump([attrs.asdict(f) for f in results], out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        warnings.simplefilter("ignore")
        _, _, url, limiter, index = sys.argv

        def ready() -> float:
            """Say so, and read until when to ask (the storm starts when all are ready)."""
            print("ready", flush=True)
            return float(sys.stdin.readline())

        tally = work(url, None if limiter == "-" else limiter, ready, int(index))
        print(json.dumps(tally))
    else:
        main()
