"""The fence: a transport wrapper through which a keyed ask reaches the API while it holds
the key's lease. Before a run starts it commits the mark and epoch (compare-and-set: a stale
holder is refused before anything is sent); it records the run id as soon as the start
answers; it checks the lease before every call, so a holder whose lease is gone stops, writes
nothing more and cancels nothing (the next holder owns the run now).

Only what the session's transport protocol offers passes through; streams do not (keyed asks
poll), so every step of a run is seen here. The decisions are :func:`._flow.mark_start` and
:func:`._flow.mark_started`; the two classes only call or await.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from assistant_bridge._values.models import Run, Thread, ToolOutput
from assistant_bridge.registry._errors import LeaseLostError
from assistant_bridge.registry._flow import Holding, mark_start, mark_started
from assistant_bridge.registry._registry import AsyncRegistry, Registry
from assistant_bridge.transports._protocol import ASK_KEY, RunRequest

_HIDDEN = frozenset({"stream_run", "stream_thread_and_run", "stream_tool_outputs"})
"""Streaming is not offered through the fence: a keyed ask polls, so the fence sees each step."""

_PASSED = frozenset({"file_name", "download_file", "run_steps", "get_assistant", "find_run"})
"""Reads passed to the wrapped transport when it has them (so the session sees the same
capabilities, minus streaming)."""


class _FenceBase:
    def __init__(
        self, inner: Any, registry: Any, holding: Holding | None, clock: Callable[[], float]
    ) -> None:
        self._inner = inner
        self._registry = registry
        self.holding = holding
        self._clock = clock
        self._marks: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        if name in _HIDDEN or name not in _PASSED or name.startswith("__"):
            raise AttributeError(name)
        found = getattr(self._inner, name)
        if name == "find_run":
            return self._find_run_with(found)
        return found

    def _find_run_with(self, find: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
        def find_run(thread_id: str, key: str) -> Any:
            # The session looks a lost start up by its own mark; the run carries the keyed one.
            return find(thread_id, self._marks.get(key, key))

        return find_run

    def _check(self) -> None:
        if self.holding is not None:
            self.holding.check(self._clock())

    def _starting(self, request: RunRequest) -> tuple[dict[str, Any], Any, RunRequest]:
        self._check()
        assert self.holding is not None, "a run starts only under a held lease"
        session_mark = (request.metadata or {}).get(ASK_KEY)
        fields, answer, metadata = mark_start(self.holding, request.metadata)
        if session_mark is not None:
            self._marks[session_mark] = metadata[ASK_KEY]
        return fields, answer, attrs.evolve(request, metadata=metadata)

    def _lost(self, exc: LeaseLostError) -> LeaseLostError:
        if self.holding is not None:
            self.holding.lost = exc
        return exc

    def resolve_assistant(self, spec: Any) -> Any:
        return self._inner.resolve_assistant(spec)

    def close(self) -> None:
        """The wrapped transport belongs to the caller: nothing to close here."""

    async def aclose(self) -> None:
        """See :meth:`close`."""


class FencedTransport(_FenceBase):
    """The fence for sync sessions (wraps a :class:`~assistant_bridge.Transport`)."""

    _registry: Registry

    def _commit(self, fields: Mapping[str, Any], answer: Any = None) -> None:
        holding = self.holding
        if holding is None:
            return
        try:
            holding.lease = self._registry.commit(holding.lease, answer=answer, **fields)
        except LeaseLostError as exc:
            raise self._lost(exc) from None

    def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        self._check()
        return self._inner.create_thread(metadata=metadata)  # type: ignore[no-any-return]

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        fields, answer, request = self._starting(request)
        self._commit(fields, answer)
        run: Run = self._inner.start_run(
            thread_id, request, content=content, message_metadata=message_metadata
        )
        assert self.holding is not None
        self._commit(*mark_started(self.holding, run.id, run.status, run.thread_id))
        return run

    def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        fields, answer, request = self._starting(request)
        self._commit(fields, answer)
        run: Run = self._inner.create_thread_and_run(
            content, request, thread_metadata=thread_metadata
        )
        assert self.holding is not None
        self._commit(*mark_started(self.holding, run.id, run.status, run.thread_id))
        return run

    def get_run(self, thread_id: str, run_id: str) -> Run:
        self._check()
        return self._inner.get_run(thread_id, run_id)  # type: ignore[no-any-return]

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        self._check()
        self._commit({"run_status": "cancelling"})
        return self._inner.cancel_run(thread_id, run_id)  # type: ignore[no-any-return]

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        self._check()
        self._commit({"run_status": "queued"})
        return self._inner.submit_tool_outputs(  # type: ignore[no-any-return]
            thread_id, run_id, outputs, request=request
        )

    def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> Any:
        self._check()
        return self._inner.list_run_messages(thread_id, run_id, after=after, limit=limit)


class AsyncFencedTransport(_FenceBase):
    """The fence for async sessions (wraps an :class:`~assistant_bridge.AsyncTransport`)."""

    _registry: AsyncRegistry

    async def _commit(self, fields: Mapping[str, Any], answer: Any = None) -> None:
        holding = self.holding
        if holding is None:
            return
        try:
            holding.lease = await self._registry.commit(holding.lease, answer=answer, **fields)
        except LeaseLostError as exc:
            raise self._lost(exc) from None

    def _find_run_with(self, find: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
        async def find_run(thread_id: str, key: str) -> Any:
            return await find(thread_id, self._marks.get(key, key))

        return find_run

    async def resolve_assistant(self, spec: Any) -> Any:
        return await self._inner.resolve_assistant(spec)

    async def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        self._check()
        return await self._inner.create_thread(metadata=metadata)  # type: ignore[no-any-return]

    async def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        fields, answer, request = self._starting(request)
        await self._commit(fields, answer)
        run: Run = await self._inner.start_run(
            thread_id, request, content=content, message_metadata=message_metadata
        )
        assert self.holding is not None
        await self._commit(*mark_started(self.holding, run.id, run.status, run.thread_id))
        return run

    async def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        fields, answer, request = self._starting(request)
        await self._commit(fields, answer)
        run: Run = await self._inner.create_thread_and_run(
            content, request, thread_metadata=thread_metadata
        )
        assert self.holding is not None
        await self._commit(*mark_started(self.holding, run.id, run.status, run.thread_id))
        return run

    async def get_run(self, thread_id: str, run_id: str) -> Run:
        self._check()
        return await self._inner.get_run(thread_id, run_id)  # type: ignore[no-any-return]

    async def cancel_run(self, thread_id: str, run_id: str) -> Run:
        self._check()
        await self._commit({"run_status": "cancelling"})
        return await self._inner.cancel_run(thread_id, run_id)  # type: ignore[no-any-return]

    async def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        self._check()
        await self._commit({"run_status": "queued"})
        return await self._inner.submit_tool_outputs(  # type: ignore[no-any-return]
            thread_id, run_id, outputs, request=request
        )

    async def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> Any:
        self._check()
        return await self._inner.list_run_messages(thread_id, run_id, after=after, limit=limit)
