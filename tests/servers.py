"""Real servers on loopback for tests: a `redis-server` and a PostgreSQL 15, each in a temp folder.

The servers start once per test session (from their binaries, never a system service) and stop
at its end, even when a test fails or the run is interrupted; each test gets a clean store (a
flushed Redis, a fresh PostgreSQL database). Where a binary is missing, the fixtures skip with a
reason naming it. PostgreSQL refuses to run as root, so as root `initdb` and the server run as the
`postgres` user (`runuser -u postgres --`) in a folder that user owns.

Use: `from tests.servers import redis_url, postgres_url` (tests/conftest.py does it for the whole
suite) and mark the test `@pytest.mark.servers`. `running_redis()` and `running_postgres()` are the
same servers as context managers, for benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "POSTGRES_BIN",
    "ServerMissing",
    "postgres_server",
    "postgres_url",
    "redis_server",
    "redis_url",
    "running_postgres",
    "running_redis",
]

POSTGRES_BIN = Path(os.environ.get("ASSISTANT_BRIDGE_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
_START_TIMEOUT = 30.0


class ServerMissing(Exception):
    """A server's binary is not installed; the message names it."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_command(port: int, *words: str) -> bytes:
    """Send one command in RESP and return the raw first reply (no client library needed)."""
    payload = f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(payload)
        return conn.recv(4096)


def _stop(process: subprocess.Popen[bytes], *, pid: int | None = None) -> None:
    """Stop a server: politely first (SIGTERM / PostgreSQL's fast SIGINT), then SIGKILL."""
    target = pid if pid is not None else process.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(target, signal.SIGINT if pid is not None else signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=15)


@contextlib.contextmanager
def running_redis() -> Iterator[str]:
    """A `redis-server` on a free loopback port, no persistence; yields its `redis://` URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerMissing("redis-server is not installed (Debian: apt-get install redis-server)")
    folder = tempfile.mkdtemp(prefix="ab-redis-")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder, "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                if _redis_command(port, "PING").startswith(b"+PONG"):
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses root: as root, run the command as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerMissing("runuser is not installed (needed to run PostgreSQL as root's tests)")
    return [runuser, "-u", "postgres", "--", *command]


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """A PostgreSQL 15 cluster in a temp folder on a free loopback port; yields a `postgresql://`
    URL to its `postgres` database (user `postgres`, trust authentication on loopback only)."""
    initdb, server = POSTGRES_BIN / "initdb", POSTGRES_BIN / "postgres"
    for binary in (initdb, server):
        if not binary.exists():
            raise ServerMissing(f"{binary} is not installed (Debian: postgresql-15)")
    folder = Path(tempfile.mkdtemp(prefix="ab-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerMissing("no `postgres` user to run PostgreSQL as") from None
        for path in (folder, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        folder.chmod(0o700)
    port = _free_port()
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            _as_postgres([str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust",
                          "--no-sync", "-E", "UTF8", "--locale=C"]),
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
        )  # fmt: skip
        process = subprocess.Popen(
            _as_postgres([str(server), "-D", str(data), "-p", str(port), "-k", str(sockets),
                          "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                          "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                          "-c", "max_connections=200"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + _START_TIMEOUT
        ready = POSTGRES_BIN / "pg_isready"
        while True:
            probe = subprocess.run(
                [str(ready), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-q"],
                check=False,
            )
            if probe.returncode == 0:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start on port {port}")
            time.sleep(0.1)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if process is not None:
            # runuser forwards signals, but the postmaster's own pid is the sure target.
            pid_file = data / "postmaster.pid"
            pid = None
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int(pid_file.read_text().split()[0])
            _stop(process, pid=pid)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """One `redis-server` for the test session (skips, naming the binary, where it is missing)."""
    try:
        with running_redis() as url:
            yield url
    except ServerMissing as missing:
        pytest.skip(str(missing))


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, flushed for this test."""
    port = int(redis_server.rsplit(":", 1)[1].split("/")[0])
    assert _redis_command(port, "FLUSHALL").startswith(b"+OK")
    return redis_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One PostgreSQL 15 for the test session (skips, naming the binary, where it is missing)."""
    try:
        with running_postgres() as url:
            yield url
    except ServerMissing as missing:
        pytest.skip(str(missing))


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL, for this test."""
    port = postgres_server.rsplit(":", 1)[1].split("/")[0]
    name = f"test_{os.getpid()}_{next(_databases)}"
    subprocess.run(
        [str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", name],
        check=True, timeout=60,
    )  # fmt: skip
    return postgres_server.rsplit("/", 1)[0] + "/" + name
