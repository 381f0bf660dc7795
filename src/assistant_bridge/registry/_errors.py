"""The registry's errors: a lost lease (a stale holder's write refused), a lease not won in time."""

from __future__ import annotations

from assistant_bridge.exceptions import AssistantBridgeError, ConfigurationError

__all__ = [
    "LeaseLostError",
    "LeaseWaitTimeoutError",
    "RegistryError",
    "RegistryStoreError",
    "RegistryURLError",
]


class RegistryError(AssistantBridgeError):
    """Something about the thread registry (its store, its leases) went wrong."""


class RegistryURLError(RegistryError, ConfigurationError):
    """A registry URL names no backend this library has, or its client is not installed."""


class RegistryStoreError(RegistryError):
    """The registry's store failed: unreachable, refused the statement, or kept its lock past
    the busy timeout. ``store`` is its URL (password masked), ``operation`` what was asked of
    it (``claim``, ``commit``, ``open``, ...), ``reason`` the driver's exception type name.

    A keyed ask raises it as it comes: before its run started, nothing was sent; after, the
    run is found by its mark (written before it started) by the key's next holder, as after a
    worker's death.
    """

    def __init__(self, message: str, *, store: str, operation: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.store = store
        self.operation = operation
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class LeaseLostError(RegistryError):
    """This holder's lease on ``key`` is gone (it expired and another holder claimed the key, or
    it expired unrenewed): its write was refused, and it must write, start and cancel nothing
    more for that key. ``epoch`` is the holder's token, ``current_epoch`` the registry's.

    ``cancel_confirmed`` is False: the run the holder followed is not its to cancel any more,
    so the session that raises this leaves the run alone.
    """

    def __init__(
        self, message: str, *, key: str, epoch: int, current_epoch: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.epoch = epoch
        self.current_epoch = current_epoch
        self.cancel_confirmed = False

    def __str__(self) -> str:
        return self.message


class LeaseWaitTimeoutError(RegistryError, TimeoutError):
    """The ask's deadline passed while it waited for another holder's lease on ``key``; nothing
    was sent."""

    def __init__(self, message: str, *, key: str, timeout: float) -> None:
        super().__init__(message)
        self.key = key
        self.timeout = timeout
