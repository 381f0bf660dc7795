"""What both workers share: the assistant, the registry's URL, and an alert as a job.

An alert is a plain dict (what a queue carries): ``id`` (the idempotency key: a queue that
delivers it twice gets the first reply back), ``incident_id`` (the key: every alert of an
incident continues one conversation, whichever worker takes it) and ``text``.
"""

from __future__ import annotations

import os
from typing import Any

from assistant_bridge import AssistantSpec, Reply

SPEC = AssistantSpec(
    name="alert-triage",
    model="gpt-4o-mini",
    instructions="You triage monitoring alerts. Answer with the action to take and why.",
)


def registry_url() -> str:
    """``ASSISTANT_BRIDGE_REGISTRY`` (e.g. the workers' Redis), else a SQLite file here."""
    return os.environ.get("ASSISTANT_BRIDGE_REGISTRY", "sqlite:///threads.db")


def redis_url() -> str:
    """The queue's Redis (``REDIS_URL``)."""
    return os.environ.get("REDIS_URL", "redis://localhost:6379/0")


def result_of(alert: dict[str, Any], reply: Reply[Any]) -> dict[str, Any]:
    """What a job returns: plain JSON for the queue's result store."""
    return {
        "alert": alert["id"],
        "incident": alert["incident_id"],
        "thread_id": reply.thread_id,
        "run_id": reply.run_id,
        "text": reply.text,
    }
