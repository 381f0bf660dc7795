"""The emulator as a server facing any client (issue 21, part 7): a body over the cap is 413
however it is framed, bad framing and JSON nested too deep are 400, each with an error body;
never a traceback or a silent close, and a chunked body is never held past the cap."""

from __future__ import annotations

import contextlib
import gc
import json
import socket
import threading
import tracemalloc
from collections.abc import Iterator

import pytest

from assistant_bridge.testing import Emulator

CAP = 64 * 1024


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(max_body_bytes=CAP) as emulator:
        yield emulator


def exchange(emu: Emulator, head: str, body: bytes = b"", *, keep_sending: bytes = b"") -> bytes:
    """Send raw bytes, then read the whole answer (the server closes after a refusal)."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        if keep_sending:
            with contextlib.suppress(OSError):  # the server stopped reading: the point
                sock.sendall(keep_sending)
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    return received


def status_and_error(answer: bytes) -> tuple[int, dict[str, object]]:
    assert answer, "the server closed the connection without answering"
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return status, error


def post_head(extra: str) -> str:
    return (
        "POST /v1/threads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-emulator\r\n"
        "OpenAI-Beta: assistants=v2\r\nContent-Type: application/json\r\n" + extra + "\r\n"
    )


@pytest.mark.parametrize("length", ["abc", "-5", "+5", "1e3", " "])
def test_a_bad_content_length_is_400(emu: Emulator, length: str) -> None:
    status, error = status_and_error(exchange(emu, post_head(f"Content-Length: {length}\r\n")))
    assert status == 400
    assert "Content-Length" in str(error["message"])
    assert emu.requests[-1].status == 400


@pytest.mark.parametrize("size_line", [b"zz\r\n", b"-1\r\n", b"\r\n", b"1 2\r\n"])
def test_a_bad_chunk_size_is_400(emu: Emulator, size_line: bytes) -> None:
    answer = exchange(
        emu, post_head("Transfer-Encoding: chunked\r\n"), size_line + b"{}\r\n0\r\n\r\n"
    )
    status, error = status_and_error(answer)
    assert status == 400
    assert "chunk" in str(error["message"])


def test_a_body_over_the_cap_is_413_by_content_length_without_reading_it(emu: Emulator) -> None:
    answer = exchange(emu, post_head(f"Content-Length: {CAP + 1}\r\n"))
    status, error = status_and_error(answer)
    assert status == 413
    assert str(CAP) in str(error["message"])


def test_a_chunked_body_over_the_cap_is_413_and_memory_stays_flat(emu: Emulator) -> None:
    chunk = b"x" * 8192
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    total = 8 * 1024 * 1024  # 128 times the cap
    gc.collect()
    tracemalloc.start()
    try:
        answer = exchange(
            emu,
            post_head("Transfer-Encoding: chunked\r\n"),
            framed * 4,
            keep_sending=framed * (total // len(chunk)),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    status, _ = status_and_error(answer)
    assert status == 413
    # What was sent is built in this test (8 MiB); the server's share stays near the cap.
    assert peak < total + 16 * CAP


def test_a_chunked_body_under_the_cap_is_read(emu: Emulator) -> None:
    body = json.dumps({"metadata": {"via": "chunks"}}).encode()
    framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:5], body[5:])) + b"0\r\n\r\n"
    answer = exchange(emu, post_head("Transfer-Encoding: chunked\r\nConnection: close\r\n"), framed)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(payload)["metadata"] == {"via": "chunks"}


def test_json_nested_too_deep_is_400() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with Emulator() as emu:
        head = post_head(f"Content-Length: {len(body)}\r\nConnection: close\r\n")
        status, error = status_and_error(exchange(emu, head, body))
    assert status == 400
    assert "nested too deeply" in str(error["message"])


def test_the_server_keeps_serving_after_refusals(emu: Emulator) -> None:
    threads = [
        threading.Thread(target=exchange, args=(emu, post_head("Content-Length: abc\r\n")))
        for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with emu.client(max_retries=0) as client:
        assert client.models.list().data
