"""KeyedSession and AsyncKeyedSession: ask under a key (an incident id, an alert fingerprint),
so any number of workers, in any number of processes, continue ONE conversation per key.

Both drive the same flows (:mod:`._flow`); the sync one calls, the async one awaits, and each
keeps its lease alive in the background (a thread, a task) while an ask runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, Generic, TypeVar, cast, overload

from typing_extensions import Unpack

from assistant_bridge._parsing.parsers import Parser
from assistant_bridge._session.sessions import (
    AskOptions,
    AsyncThreadSession,
    SessionOptions,
    ThreadSession,
)
from assistant_bridge._values.checks import check_number, check_seconds
from assistant_bridge._values.reply import Reply
from assistant_bridge.exceptions import ConfigurationError, InvalidArgumentError
from assistant_bridge.registry._arguments import (
    check_flavour,
    check_idempotency_key,
    check_timeout,
    default_owner,
    spec_hash,
    wire_of,
)
from assistant_bridge.registry._errors import LeaseLostError
from assistant_bridge.registry._fence import AsyncFencedTransport, FencedTransport
from assistant_bridge.registry._flow import (
    LOCAL_MARGIN,
    Api,
    AskOn,
    Flow,
    Hold,
    Holding,
    KeyedSettings,
    LetGo,
    Nap,
    Op,
    Reg,
    ResumeOn,
    keyed_ask,
    keyed_recover,
)
from assistant_bridge.registry._record import DEFAULT_TTL
from assistant_bridge.registry._registry import AsyncRegistry, Registry, check_key, check_ttl

__all__ = ["AsyncKeyedSession", "KeyedSession"]

logger = logging.getLogger("assistant_bridge.registry")
P = TypeVar("P")
T = TypeVar("T")

_NOT_HERE = ("thread_id", "first_ask", "clock")
"""Session options a keyed session sets itself: the key's thread and its own clock."""

RENEW_SHARE = 3
"""A holder renews its lease every TTL / RENEW_SHARE seconds."""


class _KeyedCore(Generic[P]):
    """What both keyed sessions share: the key, the settings and the inner sessions' options."""

    def __init__(
        self,
        transport: object,
        key: str,
        registry: object,
        assistant_id: str | None,
        parser: Parser[Any] | None,
        ttl: float,
        owner: str | None,
        claim_poll: float,
        options: SessionOptions,
    ) -> None:
        check_key(key)
        given = sorted(set(options) & set(_NOT_HERE))
        if given:
            msg = (
                f"{type(self).__name__} chooses {', '.join(given)} itself (the key's thread "
                "and its clock); leave them out."
            )
            raise InvalidArgumentError(msg, argument=given[0])
        if (assistant_id is None) == (options.get("assistant") is None):
            given_both = assistant_id is not None
            msg = f"Give {type(self).__name__} either assistant_id=... or assistant=..., " + (
                "not both." if given_both else "one of them (it names the assistant)."
            )
            raise ConfigurationError(msg)
        self._transport_any = transport
        self._registry_any = registry
        self._assistant_id = assistant_id
        self._parser = parser
        options = dict(options)  # type: ignore[assignment]
        self._timeout = check_seconds(options.pop("timeout", 60.0), "timeout")
        self._thread_metadata = options.pop("thread_metadata", None)
        self._options = options
        self.settings = KeyedSettings(
            key=key,
            owner=owner or default_owner(),
            ttl=check_ttl(ttl),
            wire=wire_of(transport),
            timeout=self._timeout,
            clock=time.monotonic,
            claim_poll=check_number(
                claim_poll, "claim_poll", low=0.0, high=60.0, low_open=True, unit=" of seconds"
            ),
            wakes=bool(getattr(registry, "wakes", False)),
            thread_metadata=self._thread_metadata,
            spec_hash=spec_hash(options.get("assistant")),
        )

    @property
    def key(self) -> str:
        """The key this session asks under."""
        return self.settings.key

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(key={self.key!r}, registry={self._registry_any!r})>"

    def _inner_options(self, thread_id: str, timeout: float) -> dict[str, Any]:
        options: dict[str, Any] = {
            **self._options,
            "thread_id": thread_id,
            "timeout": max(0.001, timeout),
        }
        if self._assistant_id is not None:
            options.pop("assistant", None)
        return options

    def _check_assistant(self, options: Mapping[str, Any]) -> None:
        """The Responses wire has no assistant objects: an assistant id alone names nothing
        there. Refused before the key's conversation is made, as a session refuses it before
        its first request."""
        if self.settings.wire != "responses" or self._assistant_id is None:
            return
        if options.get("model") is None and self._options.get("model") is None:
            from assistant_bridge.transports._responses import no_assistant_objects

            raise no_assistant_objects(self._assistant_id)

    def _adopt(self, session: ThreadSession[Any] | AsyncThreadSession[Any]) -> None:
        """Keep the assistant id a spec resolved to, so later asks skip resolving it."""
        resolved = session.assistant_id
        if resolved is not None and self._assistant_id is None:
            self._assistant_id = resolved

    def _holding_for(self, op: Hold) -> Holding:
        ttl = self.settings.ttl
        return Holding(
            lease=op.lease,
            ttl=ttl,
            local_expiry=time.monotonic() + ttl * LOCAL_MARGIN,
            idempotency_key=op.idempotency_key,
        )


class KeyedSession(_KeyedCore[P]):
    """Ask under a key, with any number of workers on any number of hosts (one per store).

    ``KeyedSession(transport, "incident-42", registry=open_registry(url), assistant=spec)``.
    Each ask claims the key's lease (waiting its turn within its deadline, first come, first
    served: on Redis a release wakes the next waiter; on SQLite and PostgreSQL waiters claim
    again every ``claim_poll`` seconds, 20 ms by default, with jitter), finishes what a
    holder that died left behind (resuming that run, never starting a second one), writes its
    mark and epoch before it starts a run, records the run id as soon as it is known, renews
    the lease every third of ``ttl`` while it waits, and releases at the end. Every worker
    continues the key's single thread. ``idempotency_key`` (an alert id) makes an ask safe to
    deliver twice: an ask already answered hands back its recorded reply (fetched from its
    run), one still running is resumed. A holder that loses its lease stops with
    :class:`~assistant_bridge.registry.LeaseLostError` and writes, starts and cancels nothing
    more. Session options (``timeout``, ``poll_policy``, ``tool_handler``, ``retry``, ...) are
    those of :class:`~assistant_bridge.ThreadSession`; asks stream when the transport can
    (``wait="auto"``), through the fence, as a session's do.
    """

    @overload
    def __init__(
        self: KeyedSession[str],
        transport: Any,
        key: str,
        *,
        registry: Registry,
        assistant_id: str | None = None,
        parser: None = None,
        ttl: float = ...,
        owner: str | None = None,
        claim_poll: float = ...,
        sleep: Callable[[float], None] = ...,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    @overload
    def __init__(
        self: KeyedSession[P],
        transport: Any,
        key: str,
        *,
        registry: Registry,
        assistant_id: str | None = None,
        parser: Parser[P],
        ttl: float = ...,
        owner: str | None = None,
        claim_poll: float = ...,
        sleep: Callable[[float], None] = ...,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    def __init__(
        self,
        transport: Any,
        key: str,
        *,
        registry: Registry,
        assistant_id: str | None = None,
        parser: Parser[Any] | None = None,
        ttl: float = DEFAULT_TTL,
        owner: str | None = None,
        claim_poll: float = 0.02,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[SessionOptions],
    ) -> None:
        if not isinstance(registry, Registry):
            msg = "registry must be a Registry (open_registry(url)); async code: AsyncKeyedSession."
            raise ConfigurationError(msg)
        check_flavour(transport, awaited=False)
        super().__init__(
            transport, key, registry, assistant_id, parser, ttl, owner, claim_poll, options
        )
        self._transport = transport
        self._registry = registry
        self._sleep = sleep

    @overload
    def ask(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        parser: None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[P]: ...

    @overload
    def ask(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        parser: Parser[T],
        **options: Unpack[AskOptions],
    ) -> Reply[T]: ...

    def ask(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        parser: Parser[Any] | None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[Any]:
        """Ask under the key and return the parsed reply (see the class for the guarantees).

        Raises :class:`~assistant_bridge.registry.LeaseWaitTimeoutError` when the lease is not
        won before the deadline (nothing sent), ``LeaseLostError`` when it is lost mid-ask,
        and whatever :meth:`ThreadSession.ask` raises.
        """
        idem = check_idempotency_key(idempotency_key)
        self._check_assistant(options)
        timeout = check_timeout(options.pop("timeout", None))
        chosen = parser if parser is not None else self._parser
        flow = keyed_ask(self.settings, prompt, chosen, idem, timeout, options)
        return self._drive(flow)

    def recover(self, *, timeout: float | None = None) -> bool:
        """Finish what a holder that died left on this key (resume its run); True when there
        was something to finish. Workers call it for each of ``registry.orphans()``."""
        return self._drive(keyed_recover(self.settings, self._parser, check_timeout(timeout)))

    # -- the driver ----------------------------------------------------------------------------
    def _drive(self, flow: Flow[T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                op = flow.throw(error) if error is not None else flow.send(result)
            except StopIteration as done:
                return cast(T, done.value)
            result, error = None, None
            try:
                result = self._perform(op)
            except BaseException as exc:
                error = exc

    def _fence(self, holding: Holding | None) -> Any:
        if holding is None:
            return self._transport
        return FencedTransport(self._transport, self._registry, holding, time.monotonic)

    def _session(
        self, holding: Holding | None, thread_id: str, timeout: float, parser: Any
    ) -> ThreadSession[Any]:
        transport = self._fence(holding)
        return ThreadSession(
            transport,
            self._assistant_id,
            parser=parser,
            sleep=self._sleep,
            **self._inner_options(thread_id, timeout),
        )

    def _perform(self, op: Op) -> Any:
        if isinstance(op, Reg):
            return getattr(self._registry, op.method)(*op.args, **op.kwargs)
        if isinstance(op, Api):
            return self._fence(op.holding).perform(op.op)
        if isinstance(op, AskOn):
            session = self._session(op.holding, op.thread_id, op.timeout, op.parser)
            try:
                return session.ask(op.prompt, parser=op.parser, **op.options)
            finally:
                self._adopt(session)
        if isinstance(op, ResumeOn):
            session = self._session(op.holding, op.thread_id, op.timeout, op.parser)
            return session.resume(op.run_id, parser=op.parser, timeout=max(0.001, op.timeout))
        if isinstance(op, Nap):
            self._sleep(op.seconds)
            return None
        if isinstance(op, Hold):
            holding = self._holding_for(op)
            stop = threading.Event()
            thread = threading.Thread(
                target=self._renew, args=(holding, stop), name="lease-renewer", daemon=True
            )
            holding.renewer = (thread, stop)
            thread.start()
            return holding
        if isinstance(op, LetGo):
            self._let_go(op.holding)
            return None
        raise AssertionError(op)  # pragma: no cover

    def _renew(self, holding: Holding, stop: threading.Event) -> None:
        while not stop.wait(holding.ttl / RENEW_SHARE):
            began = time.monotonic()
            try:
                self._registry.renew(holding.lease, holding.ttl)
            except LeaseLostError as exc:
                holding.lost = exc
                return
            except Exception as exc:  # the store is unreachable: try again; the clock decides
                logger.warning("renewing the lease on %r failed: %s", holding.key, exc)
                continue
            holding.local_expiry = began + holding.ttl * LOCAL_MARGIN

    def _let_go(self, holding: Holding) -> None:
        if holding.renewer is not None:
            thread, stop = holding.renewer
            stop.set()
            thread.join()
            holding.renewer = None
        if holding.lost is None:
            with contextlib.suppress(LeaseLostError):
                self._registry.release(holding.lease)


class AsyncKeyedSession(_KeyedCore[P]):
    """The async twin of :class:`KeyedSession`: ``await session.ask(...)``, with an
    :class:`~assistant_bridge.registry.AsyncRegistry` (``await open_async_registry(url)``)."""

    @overload
    def __init__(
        self: AsyncKeyedSession[str],
        transport: Any,
        key: str,
        *,
        registry: AsyncRegistry,
        assistant_id: str | None = None,
        parser: None = None,
        ttl: float = ...,
        owner: str | None = None,
        claim_poll: float = ...,
        sleep: Callable[[float], Awaitable[None]] = ...,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    @overload
    def __init__(
        self: AsyncKeyedSession[P],
        transport: Any,
        key: str,
        *,
        registry: AsyncRegistry,
        assistant_id: str | None = None,
        parser: Parser[P],
        ttl: float = ...,
        owner: str | None = None,
        claim_poll: float = ...,
        sleep: Callable[[float], Awaitable[None]] = ...,
        **options: Unpack[SessionOptions],
    ) -> None: ...

    def __init__(
        self,
        transport: Any,
        key: str,
        *,
        registry: AsyncRegistry,
        assistant_id: str | None = None,
        parser: Parser[Any] | None = None,
        ttl: float = DEFAULT_TTL,
        owner: str | None = None,
        claim_poll: float = 0.02,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Unpack[SessionOptions],
    ) -> None:
        if not isinstance(registry, AsyncRegistry):
            msg = "registry must be an AsyncRegistry (await open_async_registry(url))."
            raise ConfigurationError(msg)
        check_flavour(transport, awaited=True)
        super().__init__(
            transport, key, registry, assistant_id, parser, ttl, owner, claim_poll, options
        )
        self._transport = transport
        self._registry = registry
        self._sleep = sleep

    @overload
    async def ask(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        parser: None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[P]: ...

    @overload
    async def ask(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        parser: Parser[T],
        **options: Unpack[AskOptions],
    ) -> Reply[T]: ...

    async def ask(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        parser: Parser[Any] | None = None,
        **options: Unpack[AskOptions],
    ) -> Reply[Any]:
        """See :meth:`KeyedSession.ask`."""
        idem = check_idempotency_key(idempotency_key)
        self._check_assistant(options)
        timeout = check_timeout(options.pop("timeout", None))
        chosen = parser if parser is not None else self._parser
        flow = keyed_ask(self.settings, prompt, chosen, idem, timeout, options)
        return await self._drive(flow)

    async def recover(self, *, timeout: float | None = None) -> bool:
        """See :meth:`KeyedSession.recover`."""
        return await self._drive(keyed_recover(self.settings, self._parser, check_timeout(timeout)))

    async def _drive(self, flow: Generator[Op, Any, T]) -> T:
        result: Any = None
        error: BaseException | None = None
        while True:
            try:
                op = flow.throw(error) if error is not None else flow.send(result)
            except StopIteration as done:
                return cast(T, done.value)
            result, error = None, None
            try:
                result = await self._perform(op)
            except BaseException as exc:
                error = exc

    def _fence(self, holding: Holding | None) -> Any:
        if holding is None:
            return self._transport
        return AsyncFencedTransport(self._transport, self._registry, holding, time.monotonic)

    def _session(
        self, holding: Holding | None, thread_id: str, timeout: float, parser: Any
    ) -> AsyncThreadSession[Any]:
        transport = self._fence(holding)
        return AsyncThreadSession(
            transport,
            self._assistant_id,
            parser=parser,
            sleep=self._sleep,
            **self._inner_options(thread_id, timeout),
        )

    async def _perform(self, op: Op) -> Any:
        if isinstance(op, Reg):
            return await getattr(self._registry, op.method)(*op.args, **op.kwargs)
        if isinstance(op, Api):
            return await self._fence(op.holding).perform(op.op)
        if isinstance(op, AskOn):
            session = self._session(op.holding, op.thread_id, op.timeout, op.parser)
            try:
                return await session.ask(op.prompt, parser=op.parser, **op.options)
            finally:
                self._adopt(session)
        if isinstance(op, ResumeOn):
            session = self._session(op.holding, op.thread_id, op.timeout, op.parser)
            timeout = max(0.001, op.timeout)
            return await session.resume(op.run_id, parser=op.parser, timeout=timeout)
        if isinstance(op, Nap):
            await self._sleep(op.seconds)
            return None
        if isinstance(op, Hold):
            holding = self._holding_for(op)
            stop = asyncio.Event()
            holding.renewer = (asyncio.create_task(self._renew(holding, stop)), stop)
            return holding
        if isinstance(op, LetGo):
            await self._let_go(op.holding)
            return None
        raise AssertionError(op)  # pragma: no cover

    async def _renew(self, holding: Holding, stop: asyncio.Event) -> None:
        # Stopped by the event, never cancelled: a store call cut off half-way can leave its
        # connection out of step with the server (redis-py, psycopg).
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), holding.ttl / RENEW_SHARE)
            if stop.is_set():
                return
            began = time.monotonic()
            try:
                await self._registry.renew(holding.lease, holding.ttl)
            except LeaseLostError as exc:
                holding.lost = exc
                return
            except Exception as exc:  # the store is unreachable: try again; the clock decides
                logger.warning("renewing the lease on %r failed: %s", holding.key, exc)
                continue
            holding.local_expiry = began + holding.ttl * LOCAL_MARGIN

    async def _let_go(self, holding: Holding) -> None:
        if holding.renewer is not None:
            task, stop = holding.renewer
            stop.set()
            await task
            holding.renewer = None
        if holding.lost is None:
            with contextlib.suppress(LeaseLostError):
                await self._registry.release(holding.lease)
