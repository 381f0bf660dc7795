"""Many investigations at once: one session (so one thread) per prompt, a bounded number in
flight, results in the order of the prompts.

A failure of one ask does not lose the others: with ``return_exceptions=True`` (the default)
its place in the result holds the :class:`~assistant_bridge.exceptions.AssistantBridgeError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from assistant_bridge._session.sessions import AsyncThreadSession, ThreadSession
from assistant_bridge._values.checks import check_count
from assistant_bridge._values.reply import Reply
from assistant_bridge.exceptions import AssistantBridgeError

__all__ = ["aask_many", "ask_many"]

Result = Reply[Any] | AssistantBridgeError


def _check(concurrency: int) -> None:
    check_count(concurrency, "concurrency", low=1, high=1024)


async def aask_many(
    new_session: Callable[[], AsyncThreadSession],
    prompts: Iterable[str],
    *,
    concurrency: int = 16,
    return_exceptions: bool = True,
    **ask_kwargs: Any,
) -> list[Result]:
    """Ask each prompt on a fresh session from ``new_session``, at most ``concurrency`` at once.

    ``ask_kwargs`` go to every :meth:`AsyncThreadSession.ask`. Returns one entry per prompt, in
    order: a Reply, or (with ``return_exceptions``) the error that ask raised.
    """
    _check(concurrency)
    gate = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> Result:
        async with gate:
            try:
                return await new_session().ask(prompt, **ask_kwargs)
            except AssistantBridgeError as exc:
                if not return_exceptions:
                    raise
                return exc

    return list(await asyncio.gather(*(one(p) for p in prompts)))


def ask_many(
    new_session: Callable[[], ThreadSession],
    prompts: Iterable[str],
    *,
    concurrency: int = 8,
    return_exceptions: bool = True,
    **ask_kwargs: Any,
) -> list[Result]:
    """The sync twin of :func:`aask_many`, with a thread per ask in flight (for scripts and
    notebooks that do not run an event loop)."""
    _check(concurrency)

    def one(prompt: str) -> Result:
        try:
            return new_session().ask(prompt, **ask_kwargs)
        except AssistantBridgeError as exc:
            if not return_exceptions:
                raise
            return exc

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, list(prompts)))
