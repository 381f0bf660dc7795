"""What ``ask`` tells the user on stderr while it waits: the ids, each new run status, and on
a terminal a live line with the status and the seconds spent, until the answer starts."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from assistant_bridge import Reply

__all__ = ["Progress"]

_CLEAR = "\r\x1b[2K"
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    """Status lines on ``err``; with ``live`` (default: ``err`` is a terminal) a ticking line.

    Nothing is written once the answer's text has begun, so stderr never cuts into it.
    """

    def __init__(self, err: TextIO, *, quiet: bool, live: bool | None = None) -> None:
        self._err = err
        self._quiet = quiet
        self._live = not quiet and (err.isatty() if live is None else live)
        self._started = time.monotonic()
        self._last: str | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticking = False
        self._ticker: threading.Thread | None = None
        self.thread_id: str | None = None
        self.run_id: str | None = None
        self.streamed = False

    def __enter__(self) -> Progress:
        if self._live:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._clear()

    def say(self, line: str) -> None:
        """One line of progress, unless quiet; never inside the streamed answer."""
        with self._lock:
            if not self._quiet and not self.streamed:
                self._clear()
                self._err.write(f"assistant-bridge: {line}\n")
                self._err.flush()

    def status(self, thread_id: str | None, run_id: str, status: str) -> None:
        """The run reached ``status``; the first report names the thread and the run."""
        if run_id != self.run_id:
            self.thread_id, self.run_id = thread_id, run_id
            self.say(f"thread {thread_id}, run {run_id}")
        if status != self._last and status != "completed":  # done() reports that
            self._last = status
            self.say(f"{status} after {self._elapsed():.1f} s")

    def streaming(self) -> None:
        """The answer's text has begun: stderr stays quiet until it ends."""
        with self._lock:
            self._clear()
            self.streamed = True

    def done(self, reply: Reply[Any]) -> None:
        """The closing line: final status, time and tokens."""
        if self._quiet:
            return
        tokens = f", {reply.usage.total_tokens} tokens" if reply.usage else ""
        self._err.write(
            f"assistant-bridge: {reply.status} in {self._elapsed():.1f} s"
            f"{tokens} (thread {reply.thread_id}, run {reply.run_id})\n"
        )
        self._err.flush()

    def _tick(self) -> None:
        frame = 0
        while not self._stopped.wait(0.2):
            with self._lock:
                if self.streamed:
                    return
                spinner = _SPINNER[frame % len(_SPINNER)]
                self._err.write(
                    f"{_CLEAR}{spinner} {self._last or 'starting'} {self._elapsed():.1f} s"
                )
                self._err.flush()
                self._ticking = True
            frame += 1

    def _clear(self) -> None:
        if self._ticking:
            self._err.write(_CLEAR)
            self._err.flush()
            self._ticking = False

    def _elapsed(self) -> float:
        return time.monotonic() - self._started
