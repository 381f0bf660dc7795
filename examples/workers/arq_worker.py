"""An ARQ worker draining alerts into keyed sessions (ARQ is what Keep runs its event workers on).

    REDIS_URL=redis://localhost:6379/0 ASSISTANT_BRIDGE_REGISTRY=redis://localhost:6379/0 \
        arq arq_worker.WorkerSettings

Enqueue with ``await pool.enqueue_job("triage", {"id": ..., "incident_id": ..., "text": ...})``.
ARQ runs a job again when its worker dies; the alert id as idempotency key turns that into the
first reply, and the registry resumes a dead worker's run instead of starting a second one.
"""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings
from triage import SPEC, redis_url, registry_url, result_of

from assistant_bridge import AsyncOpenAITransport
from assistant_bridge.registry import AsyncKeyedSession, open_async_registry


async def triage(ctx: dict[str, Any], alert: dict[str, Any]) -> dict[str, Any]:
    """One alert: asked under its incident's key, once however often it is delivered."""
    session = AsyncKeyedSession(
        ctx["transport"], alert["incident_id"], registry=ctx["registry"], assistant=SPEC
    )
    reply = await session.ask(alert["text"], idempotency_key=alert["id"], timeout=120)
    return result_of(alert, reply)


async def sweep(ctx: dict[str, Any]) -> int:
    """Finish what dead workers left on keys no new alert touches (run it every minute)."""
    registry = ctx["registry"]
    found = 0
    for record in await registry.orphans():
        session = AsyncKeyedSession(ctx["transport"], record.key, registry=registry, assistant=SPEC)
        found += await session.recover(timeout=120)
    return found


async def startup(ctx: dict[str, Any]) -> None:
    ctx["transport"] = AsyncOpenAITransport.from_env()
    ctx["registry"] = await open_async_registry(registry_url())


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["transport"].aclose()
    await ctx["registry"].aclose()


class WorkerSettings:
    """``arq arq_worker.WorkerSettings``."""

    functions = (triage, sweep)
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(redis_url())
    max_jobs = 8
    job_timeout = 300
