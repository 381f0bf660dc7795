"""When and how long to wait before trying a failed request again. Sans-I/O.

There is one retry layer, here: the transports build their ``openai`` clients with
``max_retries=0`` by default so that retries do not multiply, and every retry happens inside
the ask's deadline. A write whose failure is ambiguous (the request may have reached the
server: a reset connection, a timeout, a 5xx) is only repeated after looking whether it took
effect (see :mod:`._flow`). A request that certainly never reached the server
(:class:`~assistant_bridge.exceptions.UnsentRequestError`: connection refused, DNS or TLS
failure) is not ambiguous: it is simply repeated, writes included.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

from assistant_bridge._values.checks import check_count, check_number, factor_field, seconds_field
from assistant_bridge._values.value import Value
from assistant_bridge.exceptions import (
    APIConnectionError,
    ConflictError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    TransportError,
)

__all__ = ["RetryPolicy"]


def _attempts(_i: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_count(value, attribute.name, low=1, high=100)


def _fraction(_i: object, attribute: attrs.Attribute[float], value: float) -> None:
    check_number(value, attribute.name, low=0.0, high=1.0)


@attrs.frozen(repr=False)
class RetryPolicy(Value):
    """Exponential backoff with jitter, honouring the server's Retry-After.

    ``max_attempts`` counts every try, the first included (1 = never retry). Waits start at
    ``initial`` seconds and grow by ``factor`` up to ``cap``; each is spread by +-``jitter``
    (a fraction) so that many clients do not retry in step. A server's Retry-After wins when
    it asks for longer.
    """

    max_attempts: int = attrs.field(default=4, validator=_attempts)
    initial: float = attrs.field(default=0.5, validator=seconds_field)
    factor: float = attrs.field(default=2.0, validator=factor_field)
    cap: float = attrs.field(default=8.0, validator=seconds_field)
    jitter: float = attrs.field(default=0.25, validator=_fraction)
    random: Callable[[], float] = attrs.field(default=random.random, eq=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` from 0)."""
        base = min(self.cap, self.initial * self.factor**attempt)
        spread = base * self.jitter * (2 * self.random() - 1)
        wait = max(0.0, base + spread)
        return max(wait, retry_after) if retry_after is not None else wait

    @staticmethod
    def retryable(error: TransportError) -> bool:
        """429, 408, 409, 5xx and connection errors are worth another try."""
        if isinstance(error, (RateLimitError, ConflictError, ServerError, APIConnectionError)):
            return True
        return error.status_code == 408

    @staticmethod
    def ambiguous(error: TransportError) -> bool:
        """True when the failed request may still have been carried out by the server; False
        for 429/409 (refused) and unsent requests (never arrived), which are safe to repeat."""
        if isinstance(error, (RateLimitError, ConflictError)):
            return False
        if isinstance(error, StreamInterruptedError):
            return True
        if isinstance(error, APIConnectionError):
            return not error.unsent
        return True


NO_RETRIES = RetryPolicy(max_attempts=1)
