"""The limiter's decisions, as arithmetic on three numbers (sans-I/O).

Requests and tokens each have a GCRA cell: its *theoretical arrival time* (TAT), the moment
the bucket would be empty again if nothing else were sent. A request may start at ``s`` when
``max(TAT, s) + cost - s <= window``: the steady rate, plus ``window`` of slack (the burst).
A third number, ``cool``, is when a cool-down the service asked for (a 429) ends.

Every decision *reserves*: it returns how long to wait and moves the TATs forward at once,
so waiting callers queue in order instead of polling. Times are microseconds on the store's
clock (``time.monotonic`` in process, ``TIME`` on the Redis server). The Redis store runs this
same arithmetic as a Lua script (:mod:`._redis`); tests hold both to the same answers.
"""

from __future__ import annotations

import attrs

__all__ = ["Cells", "Rates", "cool_down", "correct", "observe", "observing_tightens", "reserve"]

SECOND = 1_000_000
"""Microseconds in a second: the unit of every time here."""


@attrs.frozen
class Rates:
    """The limit in the cells' units: microseconds per request and per token (0 = no limit),
    and the window (slack) of each: ``burst + 1`` requests, one second of tokens."""

    request_interval: float
    request_window: float
    token_interval: float
    token_window: float


@attrs.frozen
class Cells:
    """A limiter's whole state: the two TATs and the end of the cool-down."""

    requests: float = 0.0
    tokens: float = 0.0
    cool: float = 0.0


def reserve(
    cells: Cells, rates: Rates, now: float, tokens: int, max_wait: float
) -> tuple[Cells, bool, float]:
    """Reserve a request costing ``tokens``: (new cells, granted, wait). Granted when the wait
    is at most ``max_wait``; refused, nothing changes and ``wait`` says how long it would be."""
    start = max(now, cells.cool)
    if rates.request_interval > 0:
        start = max(start, cells.requests + rates.request_interval - rates.request_window)
    cost = tokens * rates.token_interval
    if cost > 0:
        # An ask bigger than the window goes alone, once the bucket is empty.
        start = max(start, cells.tokens + cost - max(rates.token_window, cost))
    wait = start - now
    if wait > max_wait:
        return cells, False, wait
    requests = cells.requests
    if rates.request_interval > 0:
        requests = max(requests, start) + rates.request_interval
    tokens_tat = cells.tokens
    if cost > 0:
        tokens_tat = max(tokens_tat, start) + cost
    return Cells(requests, tokens_tat, cells.cool), True, wait


def correct(cells: Cells, rates: Rates, now: float, tokens: int, requests: int = 0) -> Cells:
    """Charge ``tokens`` more (fewer when negative: an estimate that was too high gives them
    back, never into the past) and ``requests`` more (made without a slot)."""
    tokens_tat, requests_tat = cells.tokens, cells.requests
    if rates.token_interval > 0 and tokens:
        tokens_tat = max(max(tokens_tat, now) + tokens * rates.token_interval, now)
    if rates.request_interval > 0 and requests > 0:
        requests_tat = max(requests_tat, now) + requests * rates.request_interval
    return Cells(requests_tat, tokens_tat, cells.cool)


def cool_down(cells: Cells, now: float, seconds: float) -> Cells:
    """Let nothing start for ``seconds`` from now (a 429's Retry-After); a longer cool-down
    already running is kept."""
    return attrs.evolve(cells, cool=max(cells.cool, now + seconds * SECOND))


def observe(
    cells: Cells, rates: Rates, now: float, requests_left: int | None, tokens_left: int | None
) -> Cells:
    """What the service says is left: when it is less than the cells allow at once (someone
    else spends from the same limit), move the TATs so that exactly that much is left.
    Never loosens the cells (a header may be older than requests reserved since)."""
    requests, tokens = cells.requests, cells.tokens
    if requests_left is not None and rates.request_interval > 0:
        floor = now + rates.request_window - max(requests_left, 0) * rates.request_interval
        requests = max(requests, floor)
    if tokens_left is not None and rates.token_interval > 0:
        floor = now + rates.token_window - max(tokens_left, 0) * rates.token_interval
        tokens = max(tokens, floor)
    return Cells(requests, tokens, cells.cool)


def observing_tightens(rates: Rates, requests_left: int | None, tokens_left: int | None) -> bool:
    """Whether :func:`observe` could change anything: only when the service says less is left
    than the cells ever allow at once (so most answers need no round trip to the store)."""
    tight = False
    if requests_left is not None and rates.request_interval > 0:
        tight = requests_left * rates.request_interval < rates.request_window
    if not tight and tokens_left is not None and rates.token_interval > 0:
        tight = tokens_left * rates.token_interval < rates.token_window
    return tight
