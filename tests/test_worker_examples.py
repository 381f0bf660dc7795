"""The engine examples (examples/workers/) drain alerts into keyed sessions on a real Redis
(the queue and the registry) against the emulator: ARQ in this process, Celery as a real
worker process. Each alert delivered twice is answered once; each incident has one thread."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge.testing import Emulator

pytestmark = pytest.mark.servers

WORKERS = Path(__file__).resolve().parent.parent / "examples" / "workers"
ALERTS = [
    {"id": f"alert-{i}", "incident_id": f"incident-{i % 3}", "text": f"alert {i}: disk full"}
    for i in range(9)
]


@pytest.fixture
def world(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, str]]:
    """The emulator and the environment a worker reads: the API, the queue, the registry."""
    with Emulator() as emu:
        for name, value in {
            "OPENAI_API_KEY": emu.api_key or "sk-any",
            "OPENAI_BASE_URL": emu.base_url,
            "REDIS_URL": redis_url,
            "ASSISTANT_BRIDGE_REGISTRY": redis_url,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(WORKERS))
        yield emu, redis_url


def _check(results: list[dict[str, Any]], emu: Emulator) -> None:
    by_alert = {r["alert"]: r for r in results}
    assert set(by_alert) == {a["id"] for a in ALERTS}
    for incident in {a["incident_id"] for a in ALERTS}:
        threads = {r["thread_id"] for r in results if r["incident"] == incident}
        assert len(threads) == 1  # one conversation per incident
    assert by_alert["alert-0"]["run_id"] == results[-1]["run_id"]  # delivered twice, one run
    runs = [run for r in by_alert.values() for run in emu.runs_of(r["thread_id"])]
    assert len(set(runs)) == len(ALERTS)  # one run per alert, however often delivered
    assert emu.active_runs() == []


# arq closes its Redis connection with redis-py's deprecated close().
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
def test_arq_worker_drains_alerts_into_keyed_sessions(world: tuple[Emulator, str]) -> None:
    pytest.importorskip("arq", reason="arq is not installed")
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.worker import Worker

    emu, redis_url = world
    arq_worker = importlib.import_module("arq_worker")
    settings = arq_worker.WorkerSettings

    async def main() -> list[dict[str, Any]]:
        pool = await create_pool(RedisSettings.from_dsn(redis_url))
        jobs = [await pool.enqueue_job("triage", alert) for alert in [*ALERTS, ALERTS[0]]]
        worker = Worker(
            functions=list(settings.functions),
            on_startup=settings.on_startup,
            on_shutdown=settings.on_shutdown,
            redis_settings=settings.redis_settings,
            max_jobs=settings.max_jobs,
            burst=True,
            poll_delay=0.05,
            handle_signals=False,
        )
        try:
            await worker.main()
        finally:
            await worker.close()
        results = [await job.result(timeout=30) for job in jobs if job is not None]
        await pool.aclose()
        return results

    _check(asyncio.run(main()), emu)


def test_celery_worker_drains_alerts_into_keyed_sessions(world: tuple[Emulator, str]) -> None:
    pytest.importorskip("celery", reason="celery is not installed")
    emu, _ = world
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKERS), *sys.path])}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_worker", "worker", "--pool=threads",
         "--concurrency=4", "--loglevel=WARNING", "--without-mingle", "--without-gossip"],
        cwd=WORKERS, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    # The producer runs in its own process too: Celery's client keeps threads on Redis that
    # would outlive this test (and retry for minutes once the Redis fixture stops).
    producer = (
        "import json, os, sys, celery_worker\n"
        "alerts = json.loads(sys.argv[1])\n"
        "pending = [celery_worker.triage.delay(alert) for alert in alerts]\n"
        "print(json.dumps([p.get(timeout=90) for p in pending]), flush=True)\n"
        "os._exit(0)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", producer, json.dumps([*ALERTS, ALERTS[0]])],
            cwd=WORKERS, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        answered = json.loads(done.stdout)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        assert worker.stderr is not None
        worker.stderr.close()
    _check(answered, emu)
