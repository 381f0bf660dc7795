"""The events of one ask as they happen (``session.stream(...)``), and its reply after."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Generator
from typing import Any, TypeVar

from assistant_bridge._session.drivers import FlowResult
from assistant_bridge._values.events import StreamEvent
from assistant_bridge._values.reply import Reply
from assistant_bridge.exceptions import ConfigurationError

__all__ = ["AsyncReplyStream", "ReplyStream"]

T = TypeVar("T")


def _not_finished() -> ConfigurationError:
    msg = "The stream has not finished: iterate it to the end before reading .reply."
    return ConfigurationError(msg)


class ReplyStream(contextlib.AbstractContextManager["ReplyStream"]):
    """The events of one ask, as they happen; ``.reply`` once it is over.

    Iterate it; use it as a context manager so that leaving early closes it (which cancels
    the run).
    """

    def __init__(self, events: Generator[StreamEvent, None, Reply[Any]]) -> None:
        self._events = events
        self._reply: Reply[Any] | None = None

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> StreamEvent:
        try:
            return next(self._events)
        except StopIteration as stop:
            self._reply = stop.value
            raise StopIteration from None

    @property
    def reply(self) -> Reply[Any]:
        """The reply, exactly as ``ask`` returns it; available after the last event."""
        if self._reply is None:
            raise _not_finished()
        return self._reply

    def close(self) -> None:
        """Stop early; the run is cancelled."""
        self._events.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncReplyStream(contextlib.AbstractAsyncContextManager["AsyncReplyStream"]):
    """The async twin of :class:`ReplyStream`: ``async for``, ``async with``, ``.reply``."""

    def __init__(
        self, events: AsyncGenerator[StreamEvent, None], outcome: FlowResult[Reply[Any]]
    ) -> None:
        self._events = events
        self._outcome = outcome

    def __aiter__(self) -> AsyncReplyStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await anext(self._events)

    @property
    def reply(self) -> Reply[Any]:
        """The reply, exactly as ``ask`` returns it; available after the last event."""
        if not hasattr(self._outcome, "value"):
            raise _not_finished()
        return self._outcome.value

    async def aclose(self) -> None:
        """Stop early; the run is cancelled."""
        await self._events.aclose()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
