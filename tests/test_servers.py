"""The real-server fixtures: they answer on loopback while used and are gone afterwards."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.servers import POSTGRES_BIN, ServerMissing, running_postgres, running_redis

pytestmark = pytest.mark.servers


class _Failed(Exception):
    """A test body failing inside the server's block."""


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_redis_runs_while_used_and_stops_after() -> None:
    try:
        with running_redis() as url:
            port = _port(url)
            assert url.startswith("redis://127.0.0.1:")
            assert _answers(port)
    except ServerMissing as missing:
        pytest.skip(str(missing))
    assert not _answers(port)


def test_postgres_runs_while_used_and_stops_after_even_on_failure() -> None:
    port = 0
    try:
        with running_postgres() as url:
            port = _port(url)
            done = subprocess.run(
                [str(POSTGRES_BIN / "psql"), url, "-tAc", "select 40 + 2"],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            assert done.stdout.strip() == "42"
            raise _Failed
    except _Failed:
        pass
    except ServerMissing as missing:
        pytest.skip(str(missing))
    assert port
    assert not _answers(port)


def test_each_test_gets_a_flushed_redis(redis_url: str) -> None:
    from tests.servers import _redis_command

    port = _port(redis_url)
    assert _redis_command(port, "DBSIZE") == b":0\r\n"
    _redis_command(port, "SET", "left-over", "1")


def test_each_test_gets_a_flushed_redis_again(redis_url: str) -> None:
    from tests.servers import _redis_command

    assert _redis_command(_port(redis_url), "DBSIZE") == b":0\r\n"
