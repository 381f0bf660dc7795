"""The three registry backends, sync and async, behind one sync face for the conformance suite.

``registry`` (a fixture) is parametrised over SQLite, Redis and PostgreSQL and over both
flavours: the async registry is driven through a private event loop, so one suite checks all six.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_bridge.registry import AsyncRegistry, Registry, open_async_registry, open_registry

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("redis", id="redis", marks=pytest.mark.servers),
    pytest.param("postgres", id="postgres", marks=pytest.mark.servers),
]


def backend_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A fresh store of ``backend`` for this test (skipping, naming what is missing)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    if backend == "redis":
        pytest.importorskip("redis", reason="redis-py is not installed ([redis] extra)")
        return str(request.getfixturevalue("redis_url"))
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed ([postgres] extra)")
    return str(request.getfixturevalue("postgres_url"))


class SyncFace:
    """An AsyncRegistry's methods called like a Registry's, each awaited on a private loop."""

    def __init__(self, url: str, **options: Any) -> None:
        self._runner = asyncio.Runner()
        self.inner: AsyncRegistry = self._runner.run(open_async_registry(url, **options))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.inner, name)
        if not callable(method):
            return method  # type: ignore[no-any-return]

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(method(*args, **kwargs))

        return call

    def close(self) -> None:
        self._runner.run(self.inner.aclose())
        self._runner.close()


Opener = Callable[..., Any]


@pytest.fixture(params=BACKENDS)
def registry_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def registry_url(request: pytest.FixtureRequest, registry_backend: str, tmp_path: Path) -> str:
    return backend_url(request, registry_backend, tmp_path)


@pytest.fixture(params=["sync", "async"])
def open_store(request: pytest.FixtureRequest, registry_url: str) -> Iterator[Opener]:
    """Opens registries on this test's store, in the flavour under test; closes them after."""
    opened: list[Any] = []

    def open_(**options: Any) -> Any:
        one: Registry | SyncFace = (
            open_registry(registry_url, **options)
            if request.param == "sync"
            else SyncFace(registry_url, **options)
        )
        opened.append(one)
        return one

    yield open_
    for one in opened:
        one.close()
