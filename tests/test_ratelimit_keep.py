"""The Keep provider's shared rate limit: in the process by default, on Keep's Redis when
Keep runs with REDIS=true, and a bad limit refused with the configuration."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from assistant_bridge.integrations.keep import openaiassistant_provider as module
from assistant_bridge.integrations.keep.openaiassistant_provider import OpenaiassistantProvider
from assistant_bridge.ratelimit import MemoryStore, RateLimit, RedisStore
from assistant_bridge.testing import Emulator

ALERT = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"


def make(auth: dict[str, Any]) -> OpenaiassistantProvider:
    """The provider as Keep builds it: a context manager, an id and a ProviderConfig."""
    context = module.ContextManager(tenant_id="singletenant", workflow_id="test")
    return OpenaiassistantProvider(context, "triage", module.ProviderConfig(authentication=auth))


@pytest.fixture
def auth(assistant_emulator: Emulator) -> dict[str, Any]:
    assistant_id = assistant_emulator.create_assistant()
    return {
        "api_key": assistant_emulator.api_key,
        "base_url": assistant_emulator.base_url,
        "assistant_id": assistant_id,
    }


@pytest.fixture
def no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS", raising=False)


def test_queries_take_from_an_in_process_limit_by_default(
    auth: dict[str, Any], no_redis: None
) -> None:
    """Without REDIS=true the limit lives in the process, named by a hash of the key (never
    the key itself), with the limits the config gives."""
    provider = make({**auth, "rate_limit": "rpm=6000&tpm=1000000"})
    try:
        provider._query(prompt=ALERT)
        limited = provider._limited
        assert limited is not None
        store = limited.limiter._store
        assert isinstance(store, MemoryStore)
        assert store.limit == RateLimit(requests_per_minute=6000, tokens_per_minute=1_000_000)
        assert auth["api_key"] not in provider._rate_limit
        assert "name=key-" in provider._rate_limit
    finally:
        provider.dispose()


@pytest.mark.servers
def test_with_redis_true_the_limit_is_on_keeps_redis(
    auth: dict[str, Any], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REDIS=true and Keep's REDIS_HOST/PORT/DB: the query takes its slot from Redis, named
    after the organization."""
    import redis

    where = urlsplit(redis_url)
    monkeypatch.setenv("REDIS", "true")
    monkeypatch.setenv("REDIS_HOST", where.hostname or "")
    monkeypatch.setenv("REDIS_PORT", str(where.port))
    monkeypatch.setenv("REDIS_DB", "0")
    provider = make({**auth, "organization_id": "org-keep", "rate_limit": "rpm=6000"})
    try:
        provider._query(prompt=ALERT)
        assert provider._limited is not None
        assert isinstance(provider._limited.limiter._store, RedisStore)
    finally:
        provider.dispose()
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.exists("assistant_bridge:ratelimit:{org-keep}")
    finally:
        client.close()


def test_a_bad_limit_is_a_configuration_error(auth: dict[str, Any], no_redis: None) -> None:
    """rate_limit=rpm=lots is refused when the config is read, before any query."""
    with pytest.raises(module.ProviderConfigException, match="rpm='lots'"):
        make({**auth, "rate_limit": "rpm=lots"})
