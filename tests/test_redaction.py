"""The key is masked in every field of an error and in every log line, not only the message.

A server (or a proxy in front of it) may echo the key anywhere in its error body: the message,
``code``, ``param``, or the request-id header. A loopback stub answers with such bodies to
the real ``openai`` client; every error, every attribute of it and every log record (DEBUG
included, tracebacks included) must be free of the key, on both wires, sync and async.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncThreadSession,
    OpenAITransport,
    ResponsesTransport,
    RetryPolicy,
    ThreadSession,
)
from assistant_bridge._redact import redact
from assistant_bridge.exceptions import (
    AssistantBridgeError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)

from .stub_server import Canned, StubServer

KEY_SHAPED = "sk-proj-canary7f3d9a1c5e2b4d6f8a0c1e3b5d7f9a2c"
# A key the pattern cannot know: only the transport's exact-secret masking can catch it.
UNSHAPED = "canary-4b1d9e7c2a5f8e0d3c6b9a2f"
LOGGERS = ["", "assistant_bridge", "openai", "httpx", "httpx2", "httpcore", "httpcore2"]
STATUSES = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    500: ServerError,
}
SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")
ONE_TRY = RetryPolicy(max_attempts=1)


def echoing(status: int, key: str) -> Canned:
    """An error answer that echoes ``key`` in every field it has."""
    body = {
        "error": {
            "message": f"Incorrect API key provided: {key}.",
            "type": "invalid_request_error",
            "param": f"headers.authorization: Bearer {key}",
            "code": f"invalid_api_key:{key}",
        }
    }
    return Canned(status, body, {"x-request-id": f"req_{key}", "retry-after": "0"})


def assert_clean(text: str, key: str) -> None:
    body = key.removeprefix("sk-proj-")
    assert key not in text
    assert body not in text, "not even without its prefix"


def every_field(error: BaseException) -> Iterator[str]:
    """Everything a user could print from an error."""
    yield str(error)
    yield repr(error)
    yield repr(error.args)
    for name, value in vars(error).items():
        yield f"{name}={value!r}"
    for name in ("message", "code", "param", "request_id"):
        yield repr(getattr(error, name, None))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def assert_logs_clean(logs: pytest.LogCaptureFixture, key: str) -> None:
    assert logs.records, "the scenario should have logged"
    formatter = logging.Formatter("%(message)s %(args)s")
    for record in logs.records:
        assert_clean(record.getMessage(), key)
        assert_clean(repr(record.args), key)
        assert_clean(formatter.format(record), key)  # with any traceback
    assert_clean(logs.text, key)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer().running() as server:
        yield server


class TestRedactHelper:
    def test_exact_secret_with_and_without_prefix(self) -> None:
        """The secret is masked whole and without its sk- prefix."""
        text = f"a {KEY_SHAPED} b {KEY_SHAPED.removeprefix('sk-proj-')} c"
        assert redact(text, [KEY_SHAPED]) == "a *** b *** c"

    def test_key_shapes_without_knowing_the_key(self) -> None:
        """Anything shaped like a key or a bearer token is masked; ordinary words are not."""
        assert redact("key sk-abc123xyz here") == "key *** here"
        assert redact("Authorization: Bearer abcdefgh12345") == "Authorization: ***"
        assert redact("disk-full on task-runner") == "disk-full on task-runner"

    def test_errors_mask_key_shapes_in_every_field(self) -> None:
        """Whoever builds a TransportError, key-shaped text never lands in a field."""
        error = ServerError(
            f"boom {KEY_SHAPED}",
            code=KEY_SHAPED,
            param=f"x {KEY_SHAPED}",
            request_id=KEY_SHAPED,
        )
        for text in every_field(error):
            assert_clean(text, KEY_SHAPED)


class TestEchoedKey:
    @pytest.mark.parametrize("key", [KEY_SHAPED, UNSHAPED])
    @pytest.mark.parametrize("status", sorted(STATUSES))
    def test_every_field_of_the_error(
        self, stub: StubServer, logs: pytest.LogCaptureFixture, status: int, key: str
    ) -> None:
        """Message, code, param, request id, args, repr: no field holds the key."""
        stub.script.append(echoing(status, key))
        with (
            OpenAITransport(key, base_url=stub.base_url) as transport,
            pytest.raises(STATUSES[status]) as info,
        ):
            transport.get_run("thread_abc", "run_abc")
        error = info.value
        for text in every_field(error):
            assert_clean(text, key)
        assert error.code is not None
        assert "***" in error.code
        assert error.param is not None
        assert "***" in error.param
        assert error.request_id == "req_***"
        assert error.__cause__ is None
        assert error.__suppress_context__
        assert_logs_clean(logs, key)

    @pytest.mark.parametrize("key", [KEY_SHAPED, UNSHAPED])
    @pytest.mark.parametrize("wait", ["poll", "stream"])
    def test_a_whole_ask_with_retries_and_logs(
        self, stub: StubServer, logs: pytest.LogCaptureFixture, key: str, wait: str
    ) -> None:
        """A 429 retried (logged with the error) then a 401: nothing logged or raised leaks."""
        stub.script += [echoing(429, key), echoing(401, key)]
        retry = RetryPolicy(max_attempts=2, initial=0.0, jitter=0.0)
        with OpenAITransport(key, base_url=stub.base_url) as transport:
            session = ThreadSession(transport, "asst_abc", retry=retry, wait=wait)  # type: ignore[arg-type]
            with pytest.raises(AuthenticationError) as info:
                session.ask("CPU at 100% on web-1")
        assert len(stub.seen) == 2
        for text in every_field(info.value):
            assert_clean(text, key)
        assert any("retrying" in r.getMessage() for r in logs.records)
        assert_logs_clean(logs, key)

    def test_responses_wire(self, stub: StubServer, logs: pytest.LogCaptureFixture) -> None:
        """The Responses transport masks the same fields."""
        stub.script.append(echoing(400, UNSHAPED))
        with ResponsesTransport(UNSHAPED, base_url=stub.base_url) as transport:
            session = ThreadSession(transport, assistant=SPEC, retry=ONE_TRY)
            with pytest.raises(TransportError) as info:
                session.ask("Disk full on db-2")
        for text in every_field(info.value):
            assert_clean(text, UNSHAPED)
        assert_logs_clean(logs, UNSHAPED)

    def test_async_transport(self, stub: StubServer, logs: pytest.LogCaptureFixture) -> None:
        """The async client's errors are masked alike."""
        stub.script.append(echoing(403, UNSHAPED))

        async def main() -> None:
            async with AsyncOpenAITransport(UNSHAPED, base_url=stub.base_url) as transport:
                session = AsyncThreadSession(transport, "asst_abc", retry=ONE_TRY, wait="poll")
                await session.ask("Memory leak in api-3")

        with pytest.raises(AuthenticationError) as info:
            asyncio.run(main())
        for text in every_field(info.value):
            assert_clean(text, UNSHAPED)
        assert_logs_clean(logs, UNSHAPED)

    def test_a_body_that_is_not_the_usual_shape(
        self, stub: StubServer, logs: pytest.LogCaptureFixture
    ) -> None:
        """A plain-string or flat body echoing the key is masked too."""
        flat: Any = {"message": f"bad key {UNSHAPED}", "code": UNSHAPED, "param": [UNSHAPED]}
        stub.script += [Canned(400, f"no access for {UNSHAPED}"), Canned(400, flat)]
        with OpenAITransport(UNSHAPED, base_url=stub.base_url) as transport:
            for _ in range(2):
                with pytest.raises(BadRequestError) as info:
                    transport.get_run("thread_abc", "run_abc")
                for text in every_field(info.value):
                    assert_clean(text, UNSHAPED)
        assert_logs_clean(logs, UNSHAPED)

    def test_any_error_of_the_tree_is_covered(self) -> None:
        """The statuses above reach every TransportError kind the server can answer with."""
        assert set(STATUSES.values()) == {
            cls
            for cls in TransportError.__subclasses__()
            if issubclass(cls, AssistantBridgeError) and cls.__name__ != "APIConnectionError"
        }


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u@db/x?password=hunter22", "postgresql://u@db/x?password=***"),
        ("redis://h/0?ssl=1&PASSWORD=hunter22&x=1", "redis://h/0?ssl=1&PASSWORD=***&x=1"),
        ("postgresql://u:hunter22@db/x", "postgresql://u:***@db/x"),
        ("postgresql://u@db/x?passwordless=1", "postgresql://u@db/x?passwordless=1"),
    ],
)
def test_a_password_in_a_urls_query_or_userinfo_is_masked(text: str, shown: str) -> None:
    assert redact(text) == shown
