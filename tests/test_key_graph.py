"""No key is reachable from anything the library raises, and none reaches a repr, a log line,
a warning or a cassette when it hides in the base URL's userinfo (issue 20, part 4)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import openai
import pytest

from assistant_bridge import OpenAITransport, ResponsesTransport
from assistant_bridge._cli.ask import base_url_warning
from assistant_bridge.exceptions import (
    APIConnectionError,
    AssistantBridgeError,
    AuthenticationError,
    MalformedResponseError,
)
from assistant_bridge.testing import Emulator, Fault, vcr_config
from assistant_bridge.transports._vector_stores import VectorStoreAPI

from .hostile_proxy import HostileProxy, Misbehave
from .key_graph import key_paths
from .stub_server import Canned, StubServer
from .test_openai_transport import RUN, error

KEY = "sk-proj-graphwalk7f3d9a1c5e2b4d6f8a0c"
KEYS = (KEY, KEY.removeprefix("sk-proj-"))


def _raised(call: Any) -> AssistantBridgeError:
    with pytest.raises(AssistantBridgeError) as info:
        call()
    return info.value


class TestTheWalk:
    def test_it_finds_a_key_planted_deep_in_a_foreign_error(self) -> None:
        """The walk follows __context__, attributes, mappings and bytes (it can fail)."""

        class Request:
            def __init__(self) -> None:
                self.headers = {"authorization": f"Bearer {KEY}".encode()}

        try:
            try:
                raise ValueError("inner")
            except ValueError as inner:
                inner.request = Request()  # type: ignore[attr-defined]
                raise RuntimeError("outer") from None
        except RuntimeError as outer:
            paths = key_paths(outer, KEYS)
        assert paths == ["error.__context__.request.headers['authorization']"]


class TestErrorsCarryNoKey:
    def test_a_401_that_echoes_the_key(self) -> None:
        """openai's error (key in .message, .body, the request's header) is not kept."""
        with StubServer().running() as stub:
            stub.script.append(error(401, f"Incorrect API key provided: {KEY}.", "invalid_api_key"))
            with OpenAITransport(KEY, base_url=stub.base_url) as transport:
                err = _raised(lambda: transport.get_run("thread_abc", "run_abc"))
        assert isinstance(err, AuthenticationError)
        assert err.__context__ is None
        assert err.__cause__ is None
        assert key_paths(err, KEYS) == []

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_a_read_timeout(self, api: str) -> None:
        """A ReadTimeout (its request holds the Authorization header) leaves no trace."""
        with Emulator(api_key=KEY) as emu:
            emu.inject(Fault.slow(3), "*")
            kind = OpenAITransport if api == "assistants" else ResponsesTransport
            with kind(KEY, base_url=emu.base_url, timeout=0.3) as transport:
                err = _raised(lambda: transport.create_thread())
        assert isinstance(err, APIConnectionError)
        assert err.__context__ is None
        assert key_paths(err, KEYS) == []

    @pytest.mark.parametrize("kind", ["html", "cut", "wrong_object"])
    def test_an_unreadable_answer(self, kind: str) -> None:
        """A body that is not JSON, or not a run, is typed and carries no decoding error."""
        with Emulator(api_key=KEY) as emu:
            thread = emu.transport("assistants").create_thread()
            with (
                HostileProxy(emu.base_url, Misbehave(kind, "GET", "/v1/threads/.*")) as proxy,
                OpenAITransport(KEY, base_url=proxy.base_url) as transport,
            ):
                err = _raised(lambda: transport.get_run(thread.id, "run_x"))
        assert isinstance(err, MalformedResponseError), err
        assert err.__context__ is None
        assert key_paths(err, KEYS) == []


class TestUserinfo:
    URL = f"http://gateway:{KEY}@127.0.0.1:9/v1"

    def test_reprs(self) -> None:
        """The transports' and the vector store API's reprs mask the password."""
        transport = OpenAITransport("sk-other-key-0000", base_url=self.URL)
        stores = VectorStoreAPI(openai.OpenAI(api_key="sk-x", base_url=self.URL))
        for text in (repr(transport), repr(stores)):
            assert "gateway:***@127.0.0.1:9" in text
            assert not any(k in text for k in KEYS)

    def test_the_cli_warning(self) -> None:
        """The missing-/v1 warning prints the URL without its password."""
        warning = base_url_warning({"OPENAI_BASE_URL": f"http://gateway:{KEY}@127.0.0.1:9"})
        assert warning is not None
        assert "gateway:***@" in warning
        assert not any(k in warning for k in KEYS)

    def test_log_lines_and_the_error(self, caplog: pytest.LogCaptureFixture) -> None:
        """httpx logs the URL it sent to; the password is masked there and in the error."""
        for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2"):
            caplog.set_level(logging.DEBUG, logger=name)
        with StubServer().running() as stub:
            stub.script.append(Canned(500, {"error": {"message": "boom"}}))
            url = stub.base_url.replace("http://", f"http://gateway:{KEY}@")
            with OpenAITransport(KEY, base_url=url) as transport:
                err = _raised(lambda: transport.get_run("thread_abc", "run_abc"))
        assert key_paths(err, KEYS) == []
        assert caplog.records
        for record in caplog.records:
            assert not any(k in record.getMessage() for k in KEYS), record.getMessage()


class TestCassettes:
    def test_a_recording_that_echoes_the_key_keeps_none(self, tmp_path: Path) -> None:
        """vcr_config scrubs the key from bodies, headers and the URI (userinfo), and the
        cassette still replays."""
        vcr = pytest.importorskip("vcr")
        cassette = tmp_path / "echo.yaml"
        with StubServer().running() as stub:
            stub.script += [
                Canned(200, RUN, {"x-echo": f"Bearer {KEY}"}),
                error(401, f"Incorrect API key provided: {KEY}.", "invalid_api_key"),
            ]
            url = stub.base_url.replace("http://", f"http://gateway:{KEY}@")
            recorder = vcr.VCR(record_mode="all", **vcr_config(KEY, environ={}))
            with recorder.use_cassette(str(cassette)), OpenAITransport(KEY, base_url=url) as t:
                assert t.get_run("thread_abc", "run_abc").id == "run_abc"
                with pytest.raises(AuthenticationError):
                    t.get_run("thread_abc", "run_abc")
        text = cassette.read_text()
        assert "Incorrect API key provided" in text
        assert "x-echo" in text
        assert not any(k in text for k in KEYS)
        assert "authorization" not in text.lower()
        replayer = vcr.VCR(record_mode="none", **vcr_config(KEY, environ={}))
        with replayer.use_cassette(str(cassette)), OpenAITransport(KEY, base_url=url) as t:
            assert t.get_run("thread_abc", "run_abc").id == "run_abc"


class TestRedactUserinfo:
    @pytest.mark.parametrize(
        ("text", "masked"),
        [
            ("https://gw:s3cret-pass@host/v1", "https://gw:***@host/v1"),
            ("see http://u:p@127.0.0.1:8080/v1 now", "see http://u:***@127.0.0.1:8080/v1 now"),
            ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
            ("redis://:hunter22@cache:6379/0", "redis://:***@cache:6379/0"),
        ],
    )
    def test_a_password_in_userinfo_is_masked_and_nothing_else(
        self, text: str, masked: str
    ) -> None:
        from assistant_bridge._redact import redact

        assert redact(text) == masked
