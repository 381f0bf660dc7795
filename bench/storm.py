"""The alert storm: worker processes drain alerts into sessions against the emulator (with
latency), before the thread registry (in-process locks, thread ids carried by hand) and after
it (keyed sessions on SQLite, Redis and PostgreSQL), with two workers killed mid-storm.

    python bench/storm.py                                  # 8 workers, 10,000 alerts, 500 incidents
    python bench/storm.py --alerts 1000 --incidents 50 --plot docs/performance-storm.png

Printed per store, from the emulator's records (bench/_storm.py): throughput, threads per
incident, active-run conflicts the server answered, alerts answered by more than one run, runs
of one thread overlapping, runs left active; then throughput against workers (1, 2, 4, 8), and
the registry's cost per ask (one claim, three commits, one release) per store. Redis and
PostgreSQL are started from their binaries in temp folders (tests/servers.py) when installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

import _storm  # noqa: E402
import attrs  # noqa: E402

from assistant_bridge.testing import Emulator, SayText  # noqa: E402


@contextlib.contextmanager
def store(name: str) -> Iterator[str | None]:
    """A fresh registry URL for ``name`` (None when its server is not installed)."""
    from tests.servers import ServerMissing, running_postgres, running_redis

    if name == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/threads.db"
        return
    try:
        with (running_redis if name == "redis" else running_postgres)() as url:
            yield url
    except ServerMissing as missing:
        print(f"  ({name} skipped: {missing})")
        yield None


def storm(config: _storm.StormConfig, run_delay: float) -> _storm.StormResult:
    with Emulator(api_key=_storm.API_KEY, default=SayText("triaged", delay=run_delay)) as emu:
        emu.store.queue_delay = config.queue_delay
        return _storm.run_storm(config, emu)


def registry_cost(url: str, asks: int = 200) -> float:
    """Milliseconds of registry work per ask: claim, three commits (mark, run id, outcome)
    and release, one ask after another on fresh keys."""
    from assistant_bridge.registry import Answer, open_registry

    registry = open_registry(url)
    try:
        began = time.perf_counter()
        for i in range(asks):
            key = f"cost-{i % 50}"
            lease = registry.claim(key, "bench", 30)
            assert lease is not None
            answer = Answer(key, f"a{i}", "pending", mark="m")
            lease = registry.commit(lease, answer=answer, mark="m", run_id=None)
            lease = registry.commit(lease, run_id=f"run_{i}", run_status="queued")
            lease = registry.commit(lease, mark=None, run_status="completed")
            registry.release(lease)
        return (time.perf_counter() - began) / asks * 1000
    finally:
        registry.close()


HEADER = (
    f"{'store':<18}{'alerts/s':>9}{'threads/inc':>12}{'conflicts':>10}{'dup alerts':>11}"
    f"{'overlaps':>9}{'left active':>12}{'missing':>8}{'resumed in':>11}"
)


def row(label: str, r: _storm.StormResult) -> str:
    threads = statistics.mean(r.threads_per_incident.values()) if r.threads_per_incident else 0
    resumed = "-" if r.slowest_recovery is None else f"{r.slowest_recovery:.1f}s"
    return (
        f"{label:<18}{r.throughput:>9.1f}{threads:>12.2f}{r.conflicts:>10}{r.duplicated:>11}"
        f"{r.overlaps:>9}{r.active_left:>12}{r.missing:>8}{resumed:>11}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4, help="asks at once per worker")
    parser.add_argument("--ttl", type=float, default=3.0)
    parser.add_argument("--run-delay", type=float, default=0.1, help="seconds a run works")
    parser.add_argument("--stores", default="sqlite,redis,postgres")
    parser.add_argument("--scaling", default="1,2,4,8", help="worker counts for throughput")
    parser.add_argument("--scaling-alerts", type=int, default=0, help="default: alerts / 5")
    parser.add_argument("--plot", help="write throughput against workers to this PNG")
    parser.add_argument(
        "--wait",
        choices=("poll", "stream"),
        default="poll",
        help="how both arms follow a run (default: poll, as the published figures)",
    )
    parser.add_argument(
        "--scaling-waits",
        default="",
        help="the scaling curve for each of these (e.g. poll,stream: a plot panel each); "
        "default: --wait",
    )
    parser.add_argument(
        "--parts",
        default="storm,scaling,cost",
        help="which parts to run: storm (the faults table), scaling, cost (comma-separated)",
    )
    args = parser.parse_args(argv)
    parts = {p for p in args.parts.split(",") if p}
    unknown = parts - {"storm", "scaling", "cost"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    stores = [s for s in args.stores.split(",") if s]
    base = _storm.StormConfig(
        workers=args.workers,
        alerts=args.alerts,
        incidents=args.incidents,
        concurrency=args.concurrency,
        ttl=args.ttl,
        run_delay=args.run_delay,
        kill=min(2, args.workers - 1),
        deadline=3600,
        wait=args.wait,
    )
    print(
        f"storm: {args.workers} workers x {args.concurrency} asks, {args.alerts} alerts over "
        f"{args.incidents} incidents, runs of {args.run_delay}s, {base.kill} killed at 30%, "
        f"runs {'streamed' if args.wait == 'stream' else 'polled'}\n"
    )
    if "storm" in parts:
        faults_table(base, stores, args.run_delay)
    counts = [int(n) for n in args.scaling.split(",") if n]
    if "scaling" in parts:
        waits = [w for w in (args.scaling_waits or args.wait).split(",") if w]
        if set(waits) - {"poll", "stream"}:
            parser.error(f"--scaling-waits takes poll and stream, not {args.scaling_waits!r}")
        panels = {
            wait: scaling(attrs.evolve(base, wait=wait), stores, counts, args) for wait in waits
        }
        if args.plot:
            plot(panels, counts, args.plot)
    if "cost" in parts:
        print("\nregistry cost per ask (claim + 3 commits + release), ms")
        for name in stores:
            with store(name) as url:
                if url is not None:
                    print(f"{name:<18}{registry_cost(url):>8.2f}", flush=True)


def faults_table(base: _storm.StormConfig, stores: Sequence[str], run_delay: float) -> None:
    """The storm with two workers killed, before and after on each store."""
    print(HEADER)
    before = storm(_storm.StormConfig(**{**_fields(base), "mode": "local"}), run_delay)
    print(row("before (local)", before), flush=True)
    for name in stores:
        with store(name) as url:
            if url is None:
                continue
            after = storm(_storm.StormConfig(**{**_fields(base), "registry_url": url}), run_delay)
            print(row(f"after ({name})", after), flush=True)


def scaling(
    base: _storm.StormConfig, stores: Sequence[str], counts: Sequence[int], args: Any
) -> dict[str, list[float]]:
    """Throughput against worker counts, no faults: the curves to plot."""
    small = args.scaling_alerts or max(100, args.alerts // 5)
    print(
        f"\nthroughput (alerts/s) against workers, {small} alerts, no faults, "
        f"runs {'streamed' if base.wait == 'stream' else 'polled'}"
    )
    print(f"{'store':<18}" + "".join(f"{n:>8}" for n in counts))
    curves: dict[str, list[float]] = {}
    for label, name in [("before (local)", None), *((f"after ({s})", s) for s in stores)]:
        figures = []
        for n in counts:
            with store(name or "sqlite") as url:  # a fresh store for each storm's emulator
                if url is None:
                    break
                config = _storm.StormConfig(
                    **{
                        **_fields(base),
                        "workers": n,
                        "alerts": small,
                        "incidents": max(1, small * args.incidents // args.alerts),
                        "kill": 0,
                        "mode": "local" if name is None else "keyed",
                        "registry_url": url,
                    }
                )
                figures.append(storm(config, args.run_delay).throughput)
        if figures:
            curves[label] = figures
            print(f"{label:<18}" + "".join(f"{f:>8.1f}" for f in figures), flush=True)
    return curves


def _fields(config: _storm.StormConfig) -> dict[str, Any]:
    import attrs

    return attrs.asdict(config)


def plot(panels: dict[str, dict[str, list[float]]], counts: list[int], path: str) -> None:
    """Throughput against workers, one panel per way of following runs (poll, stream)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 4), sharey=True, squeeze=False
    )
    for ax, (wait, curves) in zip(axes[0], panels.items(), strict=True):
        for label, figures in curves.items():
            ax.plot(counts[: len(figures)], figures, marker="o", label=label)
        ax.set_title(f"runs {'streamed' if wait == 'stream' else 'polled'} (--wait {wait})")
        ax.set_xlabel("worker processes")
        ax.set_xticks(counts)
    axes[0][0].set_ylabel("alerts answered per second")
    axes[0][-1].legend()
    figure.suptitle("Alert storm: throughput against workers")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"\nplot written to {path}")


if __name__ == "__main__":
    main()
