"""A Celery worker (Redis broker) draining alerts into keyed sessions.

    REDIS_URL=redis://localhost:6379/0 ASSISTANT_BRIDGE_REGISTRY=redis://localhost:6379/0 \
        celery -A celery_worker worker --pool=threads --concurrency=8

Enqueue with ``triage.delay({"id": ..., "incident_id": ..., "text": ...})``. ``acks_late`` and
``reject_on_worker_lost`` make Celery deliver an alert again when its worker dies; the alert
id as idempotency key turns that into the first reply, and the registry resumes the dead
worker's run instead of starting a second one.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery
from triage import SPEC, redis_url, registry_url, result_of

from assistant_bridge import OpenAITransport
from assistant_bridge.registry import KeyedSession, Registry, open_registry

app = Celery("alerts", broker=redis_url(), backend=redis_url())
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)

_opened: dict[str, Any] = {}
_lock = threading.Lock()


def _shared() -> tuple[OpenAITransport, Registry]:
    """One transport and one registry per worker process, opened on first use."""
    with _lock:
        if not _opened:
            _opened["transport"] = OpenAITransport.from_env()
            _opened["registry"] = open_registry(registry_url())
        return _opened["transport"], _opened["registry"]


@app.task(name="triage")
def triage(alert: dict[str, Any]) -> dict[str, Any]:
    """One alert: asked under its incident's key, once however often it is delivered."""
    transport, registry = _shared()
    session = KeyedSession(transport, alert["incident_id"], registry=registry, assistant=SPEC)
    reply = session.ask(alert["text"], idempotency_key=alert["id"], timeout=120)
    return result_of(alert, reply)


@app.task(name="sweep")
def sweep() -> int:
    """Finish what dead workers left on keys no new alert touches (schedule it with beat)."""
    transport, registry = _shared()
    found = 0
    for record in registry.orphans():
        session = KeyedSession(transport, record.key, registry=registry, assistant=SPEC)
        found += session.recover(timeout=120)
    return found
