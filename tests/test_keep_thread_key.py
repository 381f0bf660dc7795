"""The Keep provider's ``thread_key``: every Keep replica continues one conversation per key
(e.g. ``{{ incident.id }}``) through the thread registry; where the registry lives by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge.integrations.keep import openaiassistant_provider as module
from assistant_bridge.integrations.keep._rendered import registry_url
from assistant_bridge.integrations.keep.openaiassistant_provider import (
    OpenaiassistantProvider,
    OpenaiassistantProviderAuthConfig,
)
from assistant_bridge.testing import Emulator

ALERT = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"


def make(auth: dict[str, Any], provider_id: str = "triage") -> OpenaiassistantProvider:
    context = module.ContextManager(tenant_id="singletenant", workflow_id="test")
    return OpenaiassistantProvider(context, provider_id, module.ProviderConfig(authentication=auth))


@pytest.fixture
def replicas(assistant_emulator: Emulator, tmp_path: Path) -> Iterator[list[Any]]:
    """Two Keep replicas (two providers) sharing one registry file."""
    auth = {
        "api_key": assistant_emulator.api_key,
        "base_url": assistant_emulator.base_url,
        "assistant_id": assistant_emulator.create_assistant(),
        "thread_registry": f"sqlite:///{tmp_path / 'threads.db'}",
    }
    providers = [make(auth), make(auth)]
    yield providers
    for provider in providers:
        provider.dispose()


def test_thread_key_continues_one_conversation_across_replicas(
    replicas: list[Any], assistant_emulator: Emulator
) -> None:
    first = replicas[0].query(prompt=ALERT, thread_key="incident-17")
    second = replicas[1].query(prompt="Still firing", thread_key="incident-17", parse_json="false")
    other = replicas[1].query(prompt=ALERT, thread_key="incident-18")
    assert second["thread_id"] == first["thread_id"]
    assert other["thread_id"] != first["thread_id"]
    assert len(assistant_emulator.thread_messages(first["thread_id"])) == 4


def test_a_repeated_step_hands_back_its_first_reply(
    replicas: list[Any], assistant_emulator: Emulator
) -> None:
    first = replicas[0].query(prompt=ALERT, thread_key="incident-17", idempotency_key="alert-9")
    again = replicas[1].query(prompt=ALERT, thread_key="incident-17", idempotency_key="alert-9")
    assert again["run_id"] == first["run_id"]
    assert assistant_emulator.runs_of(first["thread_id"]) == [first["run_id"]]


def test_thread_id_and_thread_key_together_are_refused(replicas: list[Any]) -> None:
    with pytest.raises(module.ProviderException, match="not both"):
        replicas[0].query(prompt=ALERT, thread_key="incident-1", thread_id="thread_abc")


def test_a_rendered_nothing_key_means_no_key(replicas: list[Any]) -> None:
    first = replicas[0].query(prompt=ALERT, thread_key="None")
    second = replicas[0].query(prompt=ALERT, thread_key="")
    assert first["thread_id"] != second["thread_id"]


def _config(**fields: Any) -> OpenaiassistantProviderAuthConfig:
    return OpenaiassistantProviderAuthConfig(api_key="sk-test", assistant_id="asst_x", **fields)


def test_the_registry_defaults_to_keeps_state_folder_then_its_redis() -> None:
    state = {"SECRET_MANAGER_DIRECTORY": "/state"}
    assert registry_url(_config(), state) == "sqlite:////state/assistant_bridge_threads.db"
    redis = {
        **state,
        "REDIS": "true",
        "REDIS_HOST": "keep-redis",
        "REDIS_PORT": "6380",
        "REDIS_PASSWORD": "p@ss",
    }
    assert registry_url(_config(), redis) == "redis://:p%40ss@keep-redis:6380/0"
    chosen = _config(thread_registry="postgresql://keep@db/keep")
    assert registry_url(chosen, redis) == "postgresql://keep@db/keep"


def test_thread_key_on_the_responses_api(assistant_emulator: Emulator, tmp_path: Path) -> None:
    auth = {
        "api_key": assistant_emulator.api_key,
        "base_url": assistant_emulator.base_url,
        "model": "gpt-4o-mini",
        "instructions": "Triage alerts.",
        "thread_registry": f"sqlite:///{tmp_path / 'threads.db'}",
    }
    provider = make(auth)
    try:
        first = provider.query(prompt=ALERT, thread_key="incident-5", parse_json="false")
        second = provider.query(prompt="And now?", thread_key="incident-5", parse_json="false")
    finally:
        provider.dispose()
    assert first["thread_id"] == second["thread_id"]
    assert first["thread_id"].startswith("conv_")
