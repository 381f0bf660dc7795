"""The alert storm, shared by bench/storm.py and tests/test_storm.py: worker processes drain
alerts into sessions against an emulator, through a queue that delivers at least once.

The parent process is the queue (and the emulator's host): it hands one alert at a time to a
worker slot that asks for one, remembers what each worker holds, and when a worker dies (or
reports a lost lease) delivers those alerts again, as Celery (acks_late) and ARQ do. Workers
are separate processes, each with ``concurrency`` async slots over one async transport.

Modes: ``keyed`` (the registry: AsyncKeyedSession per alert, the alert id as idempotency key)
and ``local`` (before the registry: one thread per incident made up front and carried by
hand, as templates carry ``thread_id`` today; an AsyncThreadSession per ask, in-process locks
only, so two workers meet on a thread and the server refuses one).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

import attrs

API_KEY = "sk-storm"


@attrs.frozen
class StormConfig:
    """One storm: how many workers, alerts and incidents, and what goes wrong on the way."""

    workers: int = 4
    alerts: int = 300
    incidents: int = 30
    concurrency: int = 4
    mode: str = "keyed"  # or "local"
    registry_url: str = ""
    ttl: float = 3.0
    run_delay: float = 0.05
    queue_delay: float = 0.02
    timeout: float = 60.0
    kill: int = 0  # workers killed with SIGKILL once 30% is answered
    stop: bool = False  # one worker SIGSTOPped at 55% for 2 x TTL, then SIGCONT
    deadline: float = 300.0
    wait: str = "poll"  # how both arms follow a run: "poll" or "stream"


@attrs.define
class StormResult:
    """What happened, from the queue's side and the emulator's records."""

    config: StormConfig
    elapsed: float = 0.0
    answers: dict[str, list[tuple[str, str]]] = attrs.Factory(dict)  # alert: [(run, thread)]
    done_at: dict[str, float] = attrs.Factory(dict)
    lost_reports: int = 0
    lost_by_stopped: int = 0
    errors: list[str] = attrs.Factory(list)
    redelivered: set[str] = attrs.Factory(set)
    failures: Counter[str] = attrs.Factory(Counter)
    redelivered_after_kill: set[str] = attrs.Factory(set)
    kill_at: float | None = None
    recoveries: list[float] = attrs.Factory(list)  # when workers resumed a lost holder's run
    stopped_pid: int | None = None
    stop_at: float | None = None
    runs_per_alert: Counter[str] = attrs.Factory(Counter)
    threads_per_incident: dict[str, int] = attrs.Factory(dict)
    conflicts: int = 0
    overlaps: int = 0
    unfinished_runs: int = 0
    active_left: int = 0
    requests: int = 0

    @property
    def throughput(self) -> float:
        return len(self.answers) / self.elapsed if self.elapsed else 0.0

    @property
    def duplicated(self) -> int:
        """Alerts with more than one run."""
        return sum(1 for n in self.runs_per_alert.values() if n > 1)

    @property
    def missing(self) -> int:
        return self.config.alerts - len(self.answers)

    @property
    def inconsistent(self) -> int:
        """Alerts answered with different runs on different deliveries."""
        return sum(1 for a in self.answers.values() if len({run for run, _ in a}) > 1)

    @property
    def slowest_recovery(self) -> float | None:
        """Seconds from the kill to the last resumption of a killed worker's run."""
        if self.kill_at is None or not self.recoveries:
            return None
        until = self.stop_at or float("inf")
        after = [t - self.kill_at for t in self.recoveries if self.kill_at <= t < until]
        return max(after) if after else None


def alert_id(i: int) -> str:
    return f"alert-{i:05d}"


def incident_of(i: int, incidents: int) -> str:
    """The incident of alert ``i``: each incident once first, then at random (seeded, so
    every run is the same storm), so alerts of one incident arrive close together."""
    n = i if i < incidents else random.Random(i).randrange(incidents)
    return f"incident-{n:04d}"


# -- the worker process -----------------------------------------------------------------------
class _Recoveries(logging.Handler):
    """Tells the parent each time this worker resumes a lost holder's run."""

    def __init__(self, send: Any) -> None:
        super().__init__(logging.INFO)
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        if "resuming run" in record.getMessage():
            self._send(("recovered", time.time()))


def worker_main(
    config: StormConfig,
    base_url: str,
    assistant_id: str,
    threads: dict[str, str],
    jobs: Connection,
    results: Connection,
    asking: Any,
) -> None:
    """A worker: ``concurrency`` slots, each taking one alert at a time and answering it."""
    job_lock, result_lock = threading.Lock(), threading.Lock()

    def send(message: Any) -> None:
        with result_lock:
            results.send(message)

    def next_job() -> Any:
        with job_lock:
            jobs.send("ready")
            return jobs.recv()

    registry_logger = logging.getLogger("assistant_bridge.registry")
    registry_logger.setLevel(logging.INFO)
    registry_logger.addHandler(_Recoveries(send))
    asyncio.run(_work(config, base_url, assistant_id, threads, next_job, send, asking))


async def _work(
    config: StormConfig,
    base_url: str,
    assistant_id: str,
    threads: dict[str, str],
    next_job: Any,
    send: Any,
    asking: Any,
) -> None:
    from assistant_bridge import AsyncOpenAITransport, AsyncThreadSession, RetryPolicy
    from assistant_bridge.registry import (
        AsyncKeyedSession,
        LeaseLostError,
        open_async_registry,
    )

    transport = AsyncOpenAITransport(API_KEY, base_url=base_url)
    registry = await open_async_registry(config.registry_url) if config.mode == "keyed" else None
    if registry is not None:
        _count_asks(registry, asking)
    retry = RetryPolicy(max_attempts=6)

    async def answer(alert: str, incident: str) -> Any:
        prompt = f"[{alert}] disk full on db-{incident[-2:]}"
        if registry is not None:
            session: Any = AsyncKeyedSession(
                transport,
                incident,
                registry=registry,
                assistant_id=assistant_id,
                ttl=config.ttl,
                retry=retry,
                wait=config.wait,
            )
            return await session.ask(prompt, idempotency_key=alert, timeout=config.timeout)
        plain = AsyncThreadSession(
            transport,
            assistant_id,
            thread_id=threads[incident],
            wait=config.wait,
            retry=retry,
            timeout=config.timeout,
        )
        return await plain.ask(prompt)

    async def slot() -> None:
        while True:
            job = await asyncio.to_thread(next_job)
            if job is None:
                return
            alert, incident = job
            try:
                reply = await answer(alert, incident)
            except LeaseLostError:
                send(("lost", alert, os.getpid()))
            except Exception as exc:
                send(("error", alert, f"{type(exc).__name__}: {exc}"))
            else:
                send(("done", alert, reply.run_id, reply.thread_id))

    try:
        await asyncio.gather(*(slot() for _ in range(config.concurrency)))
    finally:
        await transport.aclose()
        if registry is not None:
            await registry.aclose()


def _count_asks(registry: Any, asking: Any) -> None:
    """Keep ``asking`` (shared with the parent) at the number of keys whose lease this worker
    holds with an ask's mark written: from a commit that writes a mark to the one that clears
    it, which a holder stopped past its lease has refused."""
    marked: set[str] = set()
    commit = registry.commit

    async def counting(lease: Any, **fields: Any) -> Any:
        done = await commit(lease, **fields)
        if "mark" in fields:
            (marked.add if fields["mark"] else marked.discard)(lease.key)
            asking.value = len(marked)
        return done

    registry.commit = counting


# -- the parent: queue, faults, and the checks ------------------------------------------------
@attrs.define
class _Worker:
    process: Any
    jobs: Connection
    results: Connection
    asking: Any  # how many of its asks hold a lease with their mark written (a shared int)
    holding: dict[str, tuple[str, str]] = attrs.Factory(dict)
    waiting: int = 0
    alive: bool = True


def run_storm(config: StormConfig, emu: Any) -> StormResult:
    """Drain ``config.alerts`` alerts over ``config.incidents`` incidents with
    ``config.workers`` worker processes against ``emu`` (an Emulator, already started)."""
    assistant_id = emu.create_assistant(name="storm")
    threads: dict[str, str] = {}
    if config.mode == "local":  # the thread ids carried by hand: made up front
        client = emu.client()
        for i in range(config.incidents):
            incident = incident_of(i, config.incidents)
            threads[incident] = client.beta.threads.create().id
        client.close()
    result = StormResult(config)
    context = multiprocessing.get_context("spawn")
    workers: list[_Worker] = []
    for _ in range(config.workers):
        job_parent, job_child = context.Pipe()
        result_parent, result_child = context.Pipe()
        asking = context.Value("i", 0, lock=False)
        process = context.Process(
            target=worker_main,
            args=(config, emu.base_url, assistant_id, threads, job_child, result_child, asking),
            daemon=True,
        )
        workers.append(_Worker(process, job_parent, result_parent, asking))
    for w in workers:
        w.process.start()
    queue: deque[tuple[str, str]] = deque(
        (alert_id(i), incident_of(i, config.incidents)) for i in range(config.alerts)
    )
    began = time.monotonic()
    stop_until: float | None = None
    stopped: _Worker | None = None
    killed = False
    try:
        while len(result.answers) + _dropped(result) < config.alerts:
            if time.monotonic() - began > config.deadline:
                held = {w.process.pid: sorted(w.holding) for w in workers if w.holding}
                result.errors.append(
                    f"the storm did not finish before its deadline: {len(result.answers)} "
                    f"answered, {len(queue)} queued, held {held}"
                )
                break
            answered = len(result.answers) / config.alerts
            if config.kill and not killed and answered >= 0.3:
                killed = True
                _kill(workers, config.kill, queue, result)
            if config.stop and stopped is None and answered >= 0.55:
                stopped = _stop(workers, result, config.mode == "keyed")
                stop_until = time.monotonic() + 2 * config.ttl
            if stopped is not None and stop_until is not None and time.monotonic() >= stop_until:
                os.kill(stopped.process.pid, signal.SIGCONT)
                stop_until = None
            _serve(workers, queue, result, stopped)
            for w in workers:
                if w.alive and not w.process.is_alive():  # died: deliver its alerts again
                    w.alive = False
                    queue.extendleft(w.holding.values())
                    result.redelivered.update(w.holding)
                    w.holding.clear()
            if not any(w.alive for w in workers):
                result.errors.append("every worker died")
                break
    finally:
        result.elapsed = time.monotonic() - began
        if stop_until is not None and stopped is not None:
            os.kill(stopped.process.pid, signal.SIGCONT)
        _close(workers)
    _check(result, emu)
    return result


def _dropped(result: StormResult) -> int:
    return sum(1 for a, n in result.failures.items() if n >= 3 and a not in result.answers)


def _kill(
    workers: Sequence[_Worker], count: int, queue: deque[tuple[str, str]], result: StormResult
) -> None:
    """SIGKILL ``count`` busy workers; their alerts are delivered again (and noted)."""
    busy = sorted((w for w in workers if w.alive), key=lambda w: -len(w.holding))[:count]
    result.kill_at = time.time()
    for w in busy:
        os.kill(w.process.pid, signal.SIGKILL)
        w.process.join(10)
        _drain(w, result, queue, None)
        w.alive = False
        queue.extendleft(w.holding.values())  # a broker puts them back at the head
        result.redelivered.update(w.holding)
        result.redelivered_after_kill.update(w.holding)
        w.holding.clear()


def _stop(workers: Sequence[_Worker], result: StormResult, keyed: bool) -> _Worker | None:
    """SIGSTOP a busy worker. Keyed, it stays stopped only if one of its asks holds a lease
    with its mark written (so it must wake to a lost lease); otherwise it continues at once
    and the queue tries again on its next turn."""
    for chosen in (w for w in workers if w.alive and w.holding):
        pid = chosen.process.pid
        os.kill(pid, signal.SIGSTOP)
        if not keyed or chosen.asking.value > 0:  # read while stopped: it cannot change
            result.stopped_pid = pid
            result.stop_at = time.time()
            return chosen
        os.kill(pid, signal.SIGCONT)
    return None


def _serve(
    workers: Sequence[_Worker],
    queue: deque[tuple[str, str]],
    result: StormResult,
    stopped: _Worker | None,
) -> None:
    """Answer the workers' messages for up to 0.1 s: hand out alerts, take answers."""
    ready = {w.jobs: w for w in workers if w.alive} | {w.results: w for w in workers if w.alive}
    for conn in wait(list(ready), timeout=0.1):
        w = ready[conn]
        if conn is w.jobs:
            try:
                w.jobs.recv()
            except (EOFError, OSError):
                continue
            w.waiting += 1
        else:
            _drain(w, result, queue, stopped)
    for w in workers:
        while w.alive and w.waiting and queue:
            job = queue.popleft()
            w.holding[job[0]] = job
            w.jobs.send(job)
            w.waiting -= 1


def _drain(
    w: _Worker, result: StormResult, queue: deque[tuple[str, str]], stopped: _Worker | None
) -> None:
    while True:
        try:
            if not w.results.poll():
                return
            message = w.results.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "recovered":
            result.recoveries.append(message[1])
            continue
        alert = message[1]
        job = w.holding.pop(alert, None)
        if kind == "done":
            result.answers.setdefault(alert, []).append((message[2], message[3]))
            result.done_at[alert] = time.time()
        elif job is not None:  # lost its lease, or failed: deliver it again
            if kind == "lost":
                result.lost_reports += 1
                if stopped is not None and message[2] == stopped.process.pid:
                    result.lost_by_stopped += 1
            else:
                result.errors.append(message[2])
            result.redelivered.add(alert)
            result.failures[alert] += kind == "error"
            if alert not in result.answers and result.failures[alert] < 3:
                queue.appendleft(job)  # delivered again; an alert failing 3 times is dropped


def _close(workers: Sequence[_Worker]) -> None:
    """Tell every slot there is no more work (None), then wait for the workers to exit."""
    until = time.monotonic() + 20
    while time.monotonic() < until and any(w.process.is_alive() for w in workers):
        for w in workers:
            with contextlib.suppress(OSError, EOFError):
                while w.waiting:
                    w.jobs.send(None)
                    w.waiting -= 1
                while w.jobs.poll():
                    w.jobs.recv()
                    w.jobs.send(None)
                while w.results.poll():
                    w.results.recv()
        time.sleep(0.05)
    for w in workers:
        w.process.join(15)
        if w.process.is_alive():
            w.process.kill()
            w.process.join(5)
        for conn in (w.jobs, w.results):
            conn.close()


def _check(result: StormResult, emu: Any) -> None:
    """Read the emulator's records: runs per alert, threads per incident, overlaps, conflicts."""
    store = emu.store
    with emu.app.lock:
        runs = list(store.runs.values())
        for run in runs:
            store.advance(run)
    for run in runs:
        asked = run.prompt.rsplit("\n", 1)[-1]  # the prompt ends with the ask's own message
        if asked.startswith("[alert-"):
            result.runs_per_alert[asked[1:12]] += 1
    by_incident: dict[str, set[str]] = defaultdict(set)
    for alert, answers in result.answers.items():
        incident = incident_of(int(alert.split("-")[1]), result.config.incidents)
        by_incident[incident].update(thread for _, thread in answers)
    result.threads_per_incident = {k: len(v) for k, v in by_incident.items()}
    by_thread: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for run in runs:
        if run.status != "completed":
            result.unfinished_runs += 1
            continue
        # A completed run lived from its creation to its end: queued, then its work.
        end = run.started + store.queue_delay + run.outcome.delay
        by_thread[run.thread_id].append((run.started, end))
    for intervals in by_thread.values():
        intervals.sort()
        result.overlaps += sum(
            1 for (_, end), (start, _) in itertools.pairwise(intervals) if start < end
        )
    requests = emu.requests
    result.requests = len(requests)
    result.conflicts = sum(
        1
        for r in requests
        if r.status == 400 and r.route in ("runs.create", "threads.create_and_run")
    )
    result.active_left = len(emu.active_runs())
