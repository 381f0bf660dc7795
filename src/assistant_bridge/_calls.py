"""Client calls as values, performed by a sync or an async executor.

A wire module (``_assistants_wire``, ``_responses_wire``) builds each operation as a
generator that yields :class:`ClientCall` values and receives ``(json, headers)``; it decides
bodies, paths and parsing without I/O. The executors here perform the calls on an
``openai.OpenAI`` or ``openai.AsyncOpenAI`` client, translating errors at the one boundary.
So the sync and async transports share every decision and double only the I/O.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import Any, TypeVar, cast

import attrs

from ._openai_errors import map_openai_errors

T = TypeVar("T")

Answer = tuple[Any, Mapping[str, str]]


@attrs.frozen
class ClientCall:
    """Call ``client.<path>(*args, **kwargs)``; ``raw`` for a ``with_raw_response`` method."""

    path: tuple[str, ...]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    raw: bool = True


WireFlow = Generator[ClientCall, Answer, T]
"""A wire operation: yields client calls, receives (json, headers), returns the result."""


def _method(client: Any, call: ClientCall) -> Any:
    target = client
    for part in call.path:
        target = getattr(target, part)
    return target


def _answer(result: Any, raw: bool) -> Answer:
    if raw:
        return result.http_response.json(), result.headers
    return result, {}


def execute(client: Any, secrets: Sequence[str | None], flow: WireFlow[T]) -> T:
    """Perform a wire operation with a sync client."""
    try:
        call = next(flow)
        while True:
            with map_openai_errors(secrets):
                answer = _answer(_method(client, call)(*call.args, **call.kwargs), call.raw)
            call = flow.send(answer)
    except StopIteration as stop:
        return cast(T, stop.value)


async def aexecute(client: Any, secrets: Sequence[str | None], flow: WireFlow[T]) -> T:
    """Perform a wire operation with an async client."""
    try:
        call = next(flow)
        while True:
            with map_openai_errors(secrets):
                result = await _method(client, call)(*call.args, **call.kwargs)
                answer = _answer(result, call.raw)
            call = flow.send(answer)
    except StopIteration as stop:
        return cast(T, stop.value)
