"""Requests that certainly never reached the server are marked unsent, and repeated safely.

Connection refused, a failed DNS lookup and a failed TLS handshake happen before anything is
written, so repeating the request (even a write, such as the first ask's create-and-run)
cannot do anything twice. Everything else may have reached the server and stays ambiguous.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import openai
import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncThreadSession,
    FixedInterval,
    OpenAITransport,
    ResponsesTransport,
    RetryPolicy,
    ThreadSession,
    map_openai_errors,
)
from assistant_bridge.exceptions import APIConnectionError, UnsentRequestError
from assistant_bridge.testing import Emulator
from tests.openai_errors import (
    KEY,
    closed_port,
    connection_error,
    http_error,
    http_library,
    timeout_error,
)

FAST = RetryPolicy(max_attempts=3, initial=0.01, cap=0.02)
SPEC = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="Triage alerts.")
NEVER = "never reached the server"


def mapped(exc: BaseException) -> APIConnectionError:
    with pytest.raises(APIConnectionError) as info, map_openai_errors((KEY,)):
        raise exc
    return info.value


def raised_by_openai(base_url: str, timeout: float = 5.0) -> openai.APIConnectionError:
    """What a real openai client raises asking ``base_url`` (no retries of its own)."""
    client = openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=0, timeout=timeout)
    try:
        with pytest.raises(openai.APIConnectionError) as info:
            client.models.list()
    finally:
        client.close()
    return info.value


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections, reads the request and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
        thread.join(timeout=2)


class TestClassification:
    @pytest.mark.parametrize("package", ["httpx", "httpx2", "httpcore", "httpcore2"])
    @pytest.mark.parametrize(
        ("leaf", "why"),
        [
            (ConnectionRefusedError(111, "Connection refused"), "refused"),
            (socket.gaierror(-2, "Name or service not known"), "host name could not be resolved"),
            (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS handshake"),
            (OSError("All connection attempts failed"), "could not be opened"),
        ],
    )
    def test_connect_errors_are_unsent(self, package: str, leaf: Exception, why: str) -> None:
        """A ConnectError of either HTTP stack, whatever its cause, never reached the server."""
        error = mapped(
            connection_error(http_error(package, "ConnectError")("connect failed"), leaf)
        )
        assert isinstance(error, UnsentRequestError)
        assert error.unsent
        assert NEVER in str(error)
        assert why in str(error)
        assert "safe to retry" in str(error)

    def test_real_http_stack_classes_are_recognised(self) -> None:
        """The ConnectError class of the HTTP library openai really uses is matched by name."""
        connect_error = http_library().ConnectError("refused")
        assert isinstance(mapped(connection_error(connect_error)), UnsentRequestError)

    def test_a_real_refused_connection_is_unsent(self) -> None:
        """What openai itself raises for a closed loopback port maps to UnsentRequestError."""
        error = mapped(raised_by_openai(f"http://127.0.0.1:{closed_port()}/v1"))
        assert isinstance(error, UnsentRequestError)
        assert "refused" in str(error)

    def test_a_real_read_timeout_stays_ambiguous(self) -> None:
        """openai's own timeout, from a server that read the request and never answered."""
        with silent_server() as base_url:
            raised = raised_by_openai(base_url, timeout=0.3)
        assert isinstance(raised, openai.APITimeoutError)
        error = mapped(raised)
        assert not isinstance(error, UnsentRequestError)
        assert "timed out" in str(error)

    @pytest.mark.parametrize("name", ["ConnectTimeout", "PoolTimeout"])
    def test_connect_and_pool_timeouts_are_unsent(self, name: str) -> None:
        """Waiting for a connection that never opened: nothing was written."""
        timeout = timeout_error(http_error("httpx2", name)("timed out"))
        assert isinstance(mapped(timeout), UnsentRequestError)

    @pytest.mark.parametrize(
        ("name", "leaf"),
        [
            ("ReadError", ConnectionResetError(104, "Connection reset by peer")),
            ("WriteError", BrokenPipeError(32, "Broken pipe")),
            ("RemoteProtocolError", None),
            # A refused connection under a read error is the server going away mid-answer.
            ("ReadError", ConnectionRefusedError(111, "refused")),
            ("ReadError", ssl.SSLError(1, "decryption failed")),
        ],
    )
    def test_errors_after_connecting_stay_ambiguous(
        self, name: str, leaf: Exception | None
    ) -> None:
        """A read, write or protocol error may follow a request the server received."""
        errors = [http_error("httpx", name)("broken")] + ([leaf] if leaf else [])
        error = mapped(connection_error(*errors))
        assert not isinstance(error, UnsentRequestError)
        assert not error.unsent
        assert NEVER not in str(error)

    def test_read_timeout_stays_ambiguous(self) -> None:
        """A request that timed out waiting for the answer may have been carried out."""
        error = mapped(timeout_error(http_error("httpx2", "ReadTimeout")("timed out")))
        assert not error.unsent
        assert "timed out" in str(error)

    def test_without_an_http_stack_only_certain_causes_count(self) -> None:
        """No HTTP-stack exception: refused and DNS are certain, an unknown cause is not."""
        assert mapped(connection_error(ConnectionRefusedError(111, "refused"))).unsent
        assert mapped(connection_error(socket.gaierror(-3, "Temporary failure"))).unsent
        assert not mapped(connection_error(ssl.SSLError(1, "bad record mac"))).unsent
        assert not mapped(connection_error(RuntimeError("?"))).unsent
        assert not mapped(connection_error()).unsent

    def test_the_key_stays_out_of_the_message(self) -> None:
        """The cause's text is shown, masked."""
        leaf = ConnectionRefusedError(111, f"refused for {KEY}")
        assert KEY not in str(mapped(connection_error(leaf)))

    def test_retry_policy_repeats_unsent_writes(self) -> None:
        """Unsent: retryable and not ambiguous; a reset: retryable but ambiguous."""
        unsent = mapped(connection_error(ConnectionRefusedError(111, "refused")))
        reset = mapped(connection_error(http_error("httpx", "ReadError")("reset")))
        assert RetryPolicy.retryable(unsent)
        assert not RetryPolicy.ambiguous(unsent)
        assert RetryPolicy.retryable(reset)
        assert RetryPolicy.ambiguous(reset)


class TestRefusedPort:
    def test_transport_call_is_unsent(self) -> None:
        """A request to a closed loopback port raises UnsentRequestError at once."""
        base_url = f"http://127.0.0.1:{closed_port()}/v1"
        with OpenAITransport("sk-test", base_url=base_url) as transport:
            began = time.monotonic()
            with pytest.raises(UnsentRequestError, match=NEVER) as info:
                transport.get_run("thread_abc", "run_abc")
        assert time.monotonic() - began < 2.0
        assert "connection was refused" in str(info.value)

    def test_ask_raises_quickly_with_the_unsent_message(self) -> None:
        """Every try refused: the ask ends within the retries' waits, saying nothing was sent."""
        base_url = f"http://127.0.0.1:{closed_port()}/v1"
        with OpenAITransport("sk-test", base_url=base_url) as transport:
            session = ThreadSession(transport, "asst_abc", retry=FAST, timeout=10)
            began = time.monotonic()
            with pytest.raises(UnsentRequestError, match=NEVER) as info:
                session.ask("CPU at 100% on web-1")
        assert time.monotonic() - began < 3.0
        assert "may have reached the server" not in str(info.value)
        assert "check the thread" not in info.value.message
        assert session.thread_id is None

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_first_ask_is_retried_until_the_server_comes_up(self, api: str) -> None:
        """The first ask's write is repeated after a refusal, and starts exactly one run."""
        port = closed_port()
        server = Emulator(port=port)
        transport_class = OpenAITransport if api == "assistants" else ResponsesTransport
        transport = transport_class("sk-emulator", base_url=f"http://127.0.0.1:{port}/v1")
        pauses: list[float] = []

        def sleep(seconds: float) -> None:
            if not pauses:
                server.start()  # the server comes up during the first retry's wait
            pauses.append(seconds)
            time.sleep(seconds)

        session = ThreadSession(
            transport, assistant=SPEC, retry=FAST, sleep=sleep, poll_policy=FixedInterval(0.01)
        )
        try:
            reply = session.ask("Disk full on db-2")
            assert reply.text
            assert reply.thread_id is not None
            assert len(pauses) >= 1
            assert len(server.runs_of(reply.thread_id)) == 1
            assert server.active_runs() == []
        finally:
            transport.close()
            server.stop()

    def test_async_first_ask_is_retried_until_the_server_comes_up(self) -> None:
        """The async twin repeats the unsent start the same way."""
        port = closed_port()
        server = Emulator(port=port)

        async def sleep(seconds: float) -> None:
            if not pauses:
                server.start()
            pauses.append(seconds)
            await asyncio.sleep(seconds)

        pauses: list[float] = []

        async def main() -> str | None:
            base_url = f"http://127.0.0.1:{port}/v1"
            async with AsyncOpenAITransport("sk-emulator", base_url=base_url) as transport:
                session = AsyncThreadSession(
                    transport, assistant=SPEC, retry=FAST, sleep=sleep,
                    poll_policy=FixedInterval(0.01),
                )  # fmt: skip
                reply = await session.ask("Memory leak in api-3")
                return reply.thread_id

        try:
            thread_id = asyncio.run(main())
            assert thread_id is not None
            assert pauses
            assert len(server.runs_of(thread_id)) == 1
        finally:
            server.stop()

    def test_async_refused_port_is_unsent(self) -> None:
        """The async client's refused connection is classified alike."""
        base_url = f"http://127.0.0.1:{closed_port()}/v1"

        async def main() -> None:
            async with AsyncOpenAITransport("sk-test", base_url=base_url) as transport:
                await transport.get_run("thread_abc", "run_abc")

        with pytest.raises(UnsentRequestError, match=NEVER):
            asyncio.run(main())
