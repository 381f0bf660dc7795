"""Client-transport methods made from the protocols: the contract is stated once.

An :class:`Operation` takes a protocol method (``Transport.start_run``, say) for its signature,
its type and its docs. Called on a client transport, it binds the arguments by that signature
and asks the wire for the request of the same name; the transport sends it
(:class:`~._client.ClientTransport`) or awaits it (:class:`~._client.AsyncClientTransport`).
So the sync and async transports share every signature and every wire call; only the I/O
(``_perform``) is written twice.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from assistant_bridge._values.events import RunEvent
from assistant_bridge.transports._wire import Step, Wire

if TYPE_CHECKING:
    from assistant_bridge.transports._client import AsyncClientTransport, ClientTransport

P = ParamSpec("P")
T = TypeVar("T")

STALL = "stall_timeout"
"""The argument of a streaming operation that says how long the stream may stay silent:
how to wait, not what to ask, so it is not sent to the wire."""


def bound_arguments(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Every argument of a call by its parameter name, defaults filled in, without ``self``
    (a ``TypeError`` for arguments the signature does not take, as a method would raise)."""
    bound = signature.bind(None, *args, **kwargs)
    bound.apply_defaults()
    return dict(list(bound.arguments.items())[1:])


class Operation(Generic[P, T]):
    """A client-transport method with ``method``'s signature (a protocol method): the wire
    builds its request, the transport sends it (sync) or awaits it (async)."""

    def __init__(self, method: Callable[Concatenate[Any, P], T]) -> None:
        self.name = method.__name__
        self.signature = inspect.signature(method)
        self.streams = STALL in self.signature.parameters
        self.__doc__ = method.__doc__

    def request(
        self, wire: Wire, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[Step[Any], float | None]:
        """The wire's request (or stream) for this call, and the stream's stall timeout
        (None when the operation does not stream)."""
        arguments = bound_arguments(self.signature, args, kwargs)
        stall = arguments.pop(STALL, None)
        return getattr(wire, self.name)(**arguments), stall

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: ClientTransport, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(
        self: Operation[P, Iterator[RunEvent]], obj: AsyncClientTransport, owner: type
    ) -> Callable[P, Coroutine[Any, Any, AsyncIterator[RunEvent]]]: ...
    @overload
    def __get__(
        self, obj: AsyncClientTransport, owner: type
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: ClientTransport | AsyncClientTransport | None, owner: type) -> Any:
        if obj is None:
            return self
        return functools.partial(obj._perform, self)
