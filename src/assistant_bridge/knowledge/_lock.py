"""Where a knowledge base keeps its state on this machine, and the lock that lets one sync of
a name run at a time here.

Both live in a folder per user (``ASSISTANT_BRIDGE_STATE_DIR``, else ``$XDG_STATE_HOME`` or
``~/.local/state``, then ``assistant-bridge/kb``), in files named for the store's name and the
server, so syncs of one store on one machine share them whatever their working folder. The lock
is an advisory ``flock`` on the lock file: the system drops it when its process dies, so a
killed sync never leaves it held.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from assistant_bridge.knowledge._errors import KnowledgeBaseError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["MachineLock", "state_file", "state_folder"]

STATE_ENV = "ASSISTANT_BRIDGE_STATE_DIR"


def state_folder(environ: Mapping[str, str] | None = None) -> Path:
    """The folder a knowledge base keeps its lock and journal in."""
    env = os.environ if environ is None else environ
    if env.get(STATE_ENV):
        return Path(env[STATE_ENV]) / "kb"
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "assistant-bridge" / "kb"


def state_file(folder: Path, base_url: str, name: str, suffix: str) -> Path:
    """The file of store ``name`` on the server at ``base_url``: readable, and unique."""
    key = hashlib.sha256(f"{base_url}\0{name}".encode()).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:40].strip("-.") or "store"
    return folder / f"{readable}-{key}{suffix}"


class MachineLock:
    """An exclusive lock on a file, taken without blocking (the caller waits between tries,
    within its deadline) and released on :meth:`release` or when the process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"<MachineLock({str(self.path)!r}, held={self._fd is not None})>"

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; True when this one now holds it."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            msg = (
                f"cannot open the sync lock {str(self.path)!r}: {exc.strerror or exc}; set "
                f"{STATE_ENV} (or state_dir=) to a writable folder."
            )
            raise KnowledgeBaseError(msg) from None
        if fcntl is None:  # pragma: no cover - Windows: no lock between processes
            self._fd = fd
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the next sync of the name go on."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the flock
