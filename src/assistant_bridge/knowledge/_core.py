"""What ``KnowledgeBase`` and ``AsyncKnowledgeBase`` share: checking what they are given, and
the context their flows run in. Neither decides anything else: that is :mod:`._flow`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from assistant_bridge.exceptions import ConfigurationError, InvalidArgumentError
from assistant_bridge.knowledge._flow import Context
from assistant_bridge.knowledge._journal import Journal
from assistant_bridge.knowledge._lock import MachineLock, state_file, state_folder
from assistant_bridge.knowledge._plan import SyncProgress

__all__ = ["KnowledgeBaseCore", "Progress", "check_timeout"]

Progress = Callable[[SyncProgress], None]


def check_timeout(timeout: float) -> float:
    """``timeout``, when it is a finite, positive number of seconds."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        msg = f"timeout must be a number of seconds, got {timeout!r}."
        raise InvalidArgumentError(msg, argument="timeout")
    if not (math.isfinite(timeout) and timeout > 0):
        msg = f"timeout must be a finite, positive number of seconds, got {timeout!r}."
        raise InvalidArgumentError(msg, argument="timeout")
    return float(timeout)


class KnowledgeBaseCore:
    """The name, the clocks and the state folder of a knowledge base, checked once."""

    name: str

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        poll_interval: float,
        clock: Callable[[], float],
        wall: Callable[[], float] = time.time,
        state_dir: str | Path | None,
    ) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            msg = f"A knowledge base needs a name of 1 to 256 characters, got {name!r}."
            raise ConfigurationError(msg)
        self.name = name
        self._poll = check_timeout(poll_interval)
        self._clock = clock
        self._wall = wall
        folder = Path(state_dir) / "kb" if state_dir is not None else state_folder()
        self._lock_path = state_file(folder, base_url, name, ".lock")
        self._journal_path = state_file(folder, base_url, name, ".journal.json")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(name={self.name!r})>"

    def _context(self, progress: Progress | None = None) -> Context:
        """A fresh lock handle and journal read per call: concurrent calls, even on one
        object, exclude each other, and each sees what the last one left."""
        return Context(
            self.name,
            MachineLock(self._lock_path),
            Journal(self._journal_path),
            self._clock,
            self._wall,
            self._poll,
            progress or (lambda _p: None),
        )
