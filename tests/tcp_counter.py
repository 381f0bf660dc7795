"""A loopback TCP relay that counts the connections clients open through it.

Put in front of the emulator, it tells how many TCP connections a session needed: a client
that returns each connection to its pool opens one (or two), one that abandons them opens one
per request. Bytes pass unchanged, so streaming and keep-alive behave as without it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self


class CountingRelay:
    """Relays ``127.0.0.1:<port>`` to ``upstream_port``; :attr:`accepted` counts connections."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._accepted = 0
        self._open = 0
        self._peak = 0
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="tcp-counter", daemon=True)

    @property
    def port(self) -> int:
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def peak(self) -> int:
        """The most connections that were open at the same time."""
        with self._lock:
            return self._peak

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            with self._lock:
                self._accepted += 1
                self._open += 1
                self._peak = max(self._peak, self._open)
                self._sockets += [client, upstream]
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both directions of one connection; it counts as open until the client's side ends."""
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        _pipe(client, upstream)
        with self._lock:
            self._open -= 1


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes one way until either end closes, then close the other way too."""
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
