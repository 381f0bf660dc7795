"""Many investigations at once: one session (so one thread) per prompt, a bounded number in
flight, results in the order of the prompts.

An ask spends its time waiting for the server, so the default runs every prompt at once, up to
:data:`DEFAULT_CONCURRENCY` (100, the ``openai`` client's pool of kept-alive connections: past
it, connections are opened and closed for each request). A failure of one ask does not lose the
others: with ``return_exceptions=True`` (the default) its place in the result holds the
:class:`~assistant_bridge.exceptions.AssistantBridgeError`.
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

__all__ = ["DEFAULT_CONCURRENCY", "aask_many", "ask_many"]

Result = Reply[Any] | AssistantBridgeError

DEFAULT_CONCURRENCY = 100
"""Asks in flight when none is named: the size of the ``openai`` client's keep-alive pool."""


def _concurrency(requested: int | None, prompts: int) -> int:
    """How many asks to run at once: ``requested``, or every prompt up to the default bound."""
    if requested is None:
        return max(1, min(prompts, DEFAULT_CONCURRENCY))
    return check_count(requested, "concurrency", low=1, high=100_000)


async def aask_many(
    new_session: Callable[[], AsyncThreadSession[Any]],
    prompts: Iterable[str],
    *,
    concurrency: int | None = None,
    return_exceptions: bool = True,
    **ask_kwargs: Any,
) -> list[Result]:
    """Ask each prompt on a fresh session from ``new_session``, at most ``concurrency`` at once.

    By default every prompt at once, up to 100: 100 prompts of 2 s runs take about 2 s, not the
    14 s of a limit of 16. Lower it for a server's rate limit; past 100, raise the client's
    connection-pool limits too. ``ask_kwargs`` go to every :meth:`AsyncThreadSession.ask`.
    Returns one entry per prompt, in order: a Reply, or (with ``return_exceptions``) the error.
    """
    prompts = list(prompts)
    gate = asyncio.Semaphore(_concurrency(concurrency, len(prompts)))

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
    new_session: Callable[[], ThreadSession[Any]],
    prompts: Iterable[str],
    *,
    concurrency: int | None = None,
    return_exceptions: bool = True,
    **ask_kwargs: Any,
) -> list[Result]:
    """The sync twin of :func:`aask_many`, with a thread per ask in flight (for scripts and
    notebooks that do not run an event loop); the same default concurrency."""
    prompts = list(prompts)
    workers = _concurrency(concurrency, len(prompts))

    def one(prompt: str) -> Result:
        try:
            return new_session().ask(prompt, **ask_kwargs)
        except AssistantBridgeError as exc:
            if not return_exceptions:
                raise
            return exc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, prompts))
