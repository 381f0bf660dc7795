"""OpenAITransport with the real openai client against a loopback stub: wire shape and errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_bridge import OpenAITransport, RunSettings, RunStatus, ToolOutput
from assistant_bridge.exceptions import (
    ActiveRunError,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

from .stub_server import Canned, StubServer

KEY = "sk-test-0123456789abcdef"

RUN = {
    "id": "run_abc",
    "object": "thread.run",
    "created_at": 1761861679,
    "assistant_id": "asst_abc",
    "thread_id": "thread_abc",
    "status": "queued",
    "started_at": None,
    "expires_at": 1761862279,
    "cancelled_at": None,
    "failed_at": None,
    "completed_at": None,
    "required_action": None,
    "last_error": None,
    "model": "gpt-4o",
    "instructions": None,
    "tools": [],
    "metadata": {},
    "incomplete_details": None,
    "usage": None,
}


def error(status: int, message: str, code: str | None = None, **headers: str) -> Canned:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }
    return Canned(status, body, headers)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer().running() as server:
        yield server


@pytest.fixture
def transport(stub: StubServer) -> OpenAITransport:
    return OpenAITransport(KEY, base_url=stub.base_url, max_retries=0, timeout=5)


class TestConfiguration:
    def test_from_env_reads_the_variables(self) -> None:
        """OPENAI_API_KEY, OPENAI_ORG_ID and OPENAI_BASE_URL are used."""
        transport = OpenAITransport.from_env(
            {"OPENAI_API_KEY": KEY, "OPENAI_ORG_ID": "org-1", "OPENAI_BASE_URL": "http://x/v1"}
        )
        assert transport.client.organization == "org-1"
        assert str(transport.client.base_url).startswith("http://x/v1")

    def test_missing_key_names_the_variable(self) -> None:
        """No key: a configuration error that says which variable to set."""
        with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
            OpenAITransport.from_env({})
        with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
            OpenAITransport()

    def test_repr_has_no_key(self, transport: OpenAITransport) -> None:
        """The repr shows where it talks to, never the key."""
        assert KEY not in repr(transport)
        assert "127.0.0.1" in repr(transport)


class TestOperations:
    def test_create_thread_and_run_request_shape(
        self, stub: StubServer, transport: OpenAITransport
    ) -> None:
        """One POST /threads/runs with the thread's first message and the overrides."""
        stub.script.append(Canned(200, RUN))
        run = transport.create_thread_and_run(
            "CPU at 100%",
            RunSettings("asst_abc", model="gpt-4o", metadata={"a": "1"}),
            thread_metadata={"alert": "7"},
        )
        assert run.status is RunStatus.QUEUED
        assert run.expires_at == 1761862279
        seen = stub.seen[0]
        assert (seen.method, seen.path) == ("POST", "/v1/threads/runs")
        assert seen.body == {
            "assistant_id": "asst_abc",
            "model": "gpt-4o",
            "metadata": {"a": "1"},
            "thread": {
                "messages": [{"role": "user", "content": "CPU at 100%"}],
                "metadata": {"alert": "7"},
            },
        }
        assert seen.headers.get("authorization") == f"Bearer {KEY}"
        assert seen.headers.get("openai-beta") == "assistants=v2"

    def test_get_run_reads_poll_after_header(
        self, stub: StubServer, transport: OpenAITransport
    ) -> None:
        """openai-poll-after-ms is carried on the run."""
        stub.script.append(Canned(200, RUN, {"openai-poll-after-ms": "750"}))
        run = transport.get_run("thread_abc", "run_abc")
        assert run.poll_after_ms == 750
        assert stub.seen[0].path == "/v1/threads/thread_abc/runs/run_abc"

    def test_list_run_messages_filters_by_run_oldest_first(
        self, stub: StubServer, transport: OpenAITransport
    ) -> None:
        """The listing asks for one run's messages, ascending, after a cursor."""
        stub.script.append(
            Canned(
                200,
                {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "first_id": None,
                    "last_id": None,
                },
            )
        )
        page = transport.list_run_messages("thread_abc", "run_abc", after="msg_1")
        assert page.messages == ()
        path = stub.seen[0].path
        assert path.startswith("/v1/threads/thread_abc/messages?")
        for part in ("run_id=run_abc", "order=asc", "after=msg_1", "limit=100"):
            assert part in path

    def test_submit_tool_outputs_body(self, stub: StubServer, transport: OpenAITransport) -> None:
        """Outputs go in one request."""
        stub.script.append(Canned(200, RUN))
        transport.submit_tool_outputs("thread_abc", "run_abc", [ToolOutput("call_1", "42")])
        assert stub.seen[0].body == {"tool_outputs": [{"tool_call_id": "call_1", "output": "42"}]}

    def test_start_run_with_additional_instructions(
        self, stub: StubServer, transport: OpenAITransport
    ) -> None:
        """A run with per-ask additional instructions sends them and nothing unset."""
        stub.script.append(Canned(200, RUN))
        transport.start_run("thread_abc", RunSettings("asst_abc", additional_instructions="x"))
        assert stub.seen[0].body == {"assistant_id": "asst_abc", "additional_instructions": "x"}
        assert stub.seen[0].headers.get("openai-beta") == "assistants=v2"

    def test_start_run_carries_the_message(
        self, stub: StubServer, transport: OpenAITransport
    ) -> None:
        """A follow-up is one request: the message rides along as additional_messages."""
        stub.script.append(Canned(200, RUN))
        transport.start_run(
            "thread_abc", RunSettings("asst_abc"), content="more", message_metadata={"k": "v"}
        )
        assert stub.seen[0].path == "/v1/threads/thread_abc/runs"
        assert stub.seen[0].body == {
            "assistant_id": "asst_abc",
            "additional_messages": [{"role": "user", "content": "more", "metadata": {"k": "v"}}],
        }

    def test_run_without_assistant_id_is_refused(self, transport: OpenAITransport) -> None:
        """The Assistants API needs an assistant object; the error says how to get one."""
        with pytest.raises(ConfigurationError, match="AssistantSpec"):
            transport.start_run("thread_abc", RunSettings(), content="x")


class TestErrorMapping:
    def call(self, transport: OpenAITransport) -> Any:
        return transport.get_run("thread_abc", "run_abc")

    def test_401_is_authentication_and_hides_the_key(
        self, stub: StubServer, transport: OpenAITransport
    ) -> None:
        """The service echoes the key in its message; we never repeat it."""
        stub.script.append(
            error(
                401,
                f"Incorrect API key provided: {KEY}. You can find your "
                "API key at https://platform.openai.com/account/api-keys.",
                "invalid_api_key",
                **{"x-request-id": "req_123"},
            )
        )
        with pytest.raises(AuthenticationError) as info:
            self.call(transport)
        err = info.value
        assert err.status_code == 401
        assert err.request_id == "req_123"
        assert err.code == "invalid_api_key"
        assert KEY not in str(err)
        assert KEY not in repr(err)
        assert err.__cause__ is None
        assert "OPENAI_API_KEY" in str(err)

    def test_404_not_found(self, stub: StubServer, transport: OpenAITransport) -> None:
        """404 keeps the server's words."""
        stub.script.append(error(404, "No run found with id 'run_abc'."))
        with pytest.raises(NotFoundError, match="No run found"):
            self.call(transport)

    @pytest.mark.parametrize(
        "message",
        [
            "Thread thread_abc already has an active run run_xyz.",
            "Can't add messages to thread_abc while a run run_xyz is active.",
        ],
    )
    def test_active_run_400(
        self, stub: StubServer, transport: OpenAITransport, message: str
    ) -> None:
        """The two active-run messages become ActiveRunError with both ids."""
        stub.script.append(error(400, message))
        with pytest.raises(ActiveRunError) as info:
            self.call(transport)
        assert (info.value.thread_id, info.value.run_id) == ("thread_abc", "run_xyz")

    def test_other_400(self, stub: StubServer, transport: OpenAITransport) -> None:
        """A plain 400 is a BadRequestError with the server's message."""
        stub.script.append(error(400, 'Runs in status "in_progress" do not accept tool outputs.'))
        with pytest.raises(BadRequestError, match="do not accept tool outputs") as info:
            self.call(transport)
        assert not isinstance(info.value, ActiveRunError)

    def test_429_keeps_retry_after(self, stub: StubServer, transport: OpenAITransport) -> None:
        """Rate limits carry the server's Retry-After."""
        stub.script.append(
            error(429, "Rate limit reached", "rate_limit_exceeded", **{"retry-after": "7"})
        )
        with pytest.raises(RateLimitError) as info:
            self.call(transport)
        assert info.value.retry_after == 7.0

    def test_429_rate_limit_reset_headers(
        self, stub: StubServer, transport: OpenAITransport
    ) -> None:
        """Without Retry-After, the x-ratelimit-reset headers say how long to wait."""
        stub.script.append(
            error(
                429,
                "Rate limit reached",
                "rate_limit_exceeded",
                **{"x-ratelimit-reset-requests": "1m2.5s", "x-ratelimit-reset-tokens": "20ms"},
            )
        )
        with pytest.raises(RateLimitError) as info:
            self.call(transport)
        assert info.value.retry_after == 62.5

    def test_500(self, stub: StubServer, transport: OpenAITransport) -> None:
        """5xx is a ServerError."""
        stub.script.append(error(500, "The server had an error", "server_error"))
        with pytest.raises(ServerError) as info:
            self.call(transport)
        assert info.value.status_code == 500

    def test_connection_refused(self) -> None:
        """Nobody listening: APIConnectionError, no key in it."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        transport = OpenAITransport(KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
        with pytest.raises(APIConnectionError) as info:
            self.call(transport)
        assert KEY not in str(info.value)


class TestOneRetryLayer:
    def test_a_given_client_does_not_retry_on_its_own(self) -> None:
        """A client passed in is used without its own retries (the session retries)."""
        import openai

        client = openai.OpenAI(api_key=KEY, max_retries=5)
        transport = OpenAITransport(client=client)
        assert transport.client.max_retries == 0
        assert client.max_retries == 5

    def test_built_clients_default_to_no_retries(self) -> None:
        """A client built by the transport does not retry unless asked."""
        assert OpenAITransport(KEY).client.max_retries == 0
        assert OpenAITransport(KEY, max_retries=3).client.max_retries == 3
