"""The rate limiter's error, under the library's RateLimitError."""

from __future__ import annotations

from assistant_bridge.exceptions import AssistantBridgeError, RateLimitError

__all__ = ["RateLimitStoreError", "RateLimitTimeoutError"]


class RateLimitTimeoutError(RateLimitError):
    """No slot of the shared rate limit comes free within the ask's deadline, so the request
    was not sent (nothing happened: it is safe to ask again later).

    ``retry_after`` is how long until the limiter would have let it go. Unlike the
    :class:`~assistant_bridge.exceptions.RateLimitError` it derives from, no server answered
    it: ``status_code`` is None.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after, status_code=None)


class RateLimitStoreError(AssistantBridgeError):
    """The rate limit's store (the Redis server) could not be asked, so no slot was taken
    and the request was not sent."""
