"""Shared fixtures: a fake clock, a scripted backend and a session factory over them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from assistant_bridge import ThreadSession
from assistant_bridge.testing import FakeClock, FakeTransport, RunScript, ScriptedBackend

SessionFactory = Callable[..., tuple[ThreadSession, FakeTransport, ScriptedBackend]]


@pytest.fixture(autouse=True)
def _knowledge_base_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Knowledge bases keep their sync lock and upload journal in a temporary folder per
    test, never in the user's home."""
    monkeypatch.setenv("ASSISTANT_BRIDGE_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_session(clock: FakeClock) -> SessionFactory:
    """Build a session over a ScriptedBackend playing the given run scripts."""

    def make(
        *scripts: RunScript, page_size: int = 100, **kwargs: Any
    ) -> tuple[ThreadSession, FakeTransport, ScriptedBackend]:
        backend = ScriptedBackend(*scripts, page_size=page_size)
        transport = FakeTransport(backend)
        kwargs.setdefault("clock", clock.now)
        kwargs.setdefault("sleep", clock.sleep)
        session = ThreadSession(transport, kwargs.pop("assistant_id", "asst_test"), **kwargs)
        return session, transport, backend

    return make


def pytest_report_header() -> str:
    """The versions this run is tested with, at the top of every run (issue 19: drift shows)."""
    from importlib import metadata

    found = []
    for name in ("openai", "httpx", "httpx2", "pydantic"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return "assistant_bridge is tested here with " + ", ".join(found)


# Real redis-server / PostgreSQL fixtures for the whole suite (tests/servers.py), and the
# thread registry on each backend (tests/registry_backends.py).
from tests.registry_backends import open_store, registry_backend, registry_url  # noqa: E402, F401
from tests.servers import postgres_server, postgres_url, redis_server, redis_url  # noqa: E402, F401
