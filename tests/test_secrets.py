"""A canary key must never show in a repr, str, log line (DEBUG included), error or cassette."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from assistant_bridge import JsonParser, OpenAITransport, ThreadSession
from assistant_bridge.exceptions import AssistantBridgeError, AuthenticationError

from .stub_server import Canned, StubServer
from .test_openai_transport import RUN, error

CANARY = "sk-canary-7f3d9a1c5e2b4d6f8a0c1e3b5d7f9a2c"
LOGGERS = ["", "assistant_bridge", "openai", "httpx", "httpx2", "httpcore", "httpcore2"]


@pytest.fixture
def all_debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def assert_clean(text: str) -> None:
    assert CANARY not in text
    assert CANARY[3:] not in text  # not even without the prefix


def scenario(stub: StubServer) -> list[object]:
    """Run a whole ask and a refused one; return everything a user could print."""
    transport = OpenAITransport(CANARY, base_url=stub.base_url, max_retries=0)
    completed = {
        **RUN,
        "status": "completed",
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    message = {
        "id": "msg_1",
        "object": "thread.message",
        "thread_id": "thread_abc",
        "role": "assistant",
        "run_id": "run_abc",
        "content": [{"type": "text", "text": {"value": '{"ok": true}', "annotations": []}}],
    }
    stub.script += [
        Canned(200, RUN),
        Canned(200, completed),
        Canned(200, {"object": "list", "data": [message], "has_more": False}),
        error(401, f"Incorrect API key provided: {CANARY}.", "invalid_api_key"),
    ]
    session = ThreadSession(
        transport, "asst_abc", parser=JsonParser(), sleep=lambda _: None, wait="poll"
    )
    reply = session.ask("CPU at 100%")
    with pytest.raises(AuthenticationError) as info:
        session.ask("again")
    return [transport, session, reply, reply.to_dict(), reply.run, info.value]


class TestCanary:
    def test_no_leak_anywhere(self, all_debug_logs: pytest.LogCaptureFixture) -> None:
        """Reprs, strs, exception args and every DEBUG record are free of the key."""
        with StubServer().running() as stub:
            things = scenario(stub)
        for thing in things:
            assert_clean(repr(thing))
            assert_clean(str(thing))
        err = things[-1]
        assert isinstance(err, AssistantBridgeError)
        assert_clean(repr(err.args))
        assert err.__cause__ is None
        assert err.__context__ is None or err.__suppress_context__
        assert all_debug_logs.records, "the scenario should have logged at DEBUG"
        for record in all_debug_logs.records:
            assert_clean(record.getMessage())
            assert_clean(repr(record.args))

    def test_from_env_missing_key_message(self) -> None:
        """The configuration error names the variable, not a value."""
        with pytest.raises(AssistantBridgeError) as info:
            OpenAITransport.from_env({"OPENAI_ORG_ID": CANARY})
        assert_clean(str(info.value))


class TestFaultMatrixWithCanary:
    @pytest.mark.filterwarnings("ignore::DeprecationWarning")
    def test_every_failure_kind_keeps_the_key_hidden(
        self, all_debug_logs: pytest.LogCaptureFixture
    ) -> None:
        """The fault matrix's cases, run with a canary key: no leak in errors or logs."""
        from concurrent.futures import ThreadPoolExecutor

        from . import fault_matrix

        fault_matrix.SEEN.clear()
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda case: fault_matrix.run_case(*case, api_key=CANARY), fault_matrix.cases()
                )
            )
        assert len(fault_matrix.SEEN) == len(fault_matrix.cases())
        assert any(isinstance(x, AssistantBridgeError) for x in fault_matrix.SEEN)
        for thing in fault_matrix.SEEN:
            assert_clean(repr(thing))
            assert_clean(str(thing))
            if isinstance(thing, AssistantBridgeError):
                assert_clean(repr(thing.args))
        assert all_debug_logs.records
        for record in all_debug_logs.records:
            assert_clean(record.getMessage())
            assert_clean(repr(record.args))

    def test_emulator_answers_a_wrong_key_without_echoing_it(self) -> None:
        """The emulator's 401 masks the key, as the service does."""
        from assistant_bridge.testing import Emulator

        with (
            Emulator(api_key="sk-other") as emu,
            OpenAITransport(CANARY, base_url=emu.base_url) as transport,
        ):
            with pytest.raises(AuthenticationError) as info:
                transport.get_assistant("asst_x")
            assert_clean(str(info.value))


class TestCassettes:
    def test_no_secret_in_any_cassette(self) -> None:
        """No key-shaped value or unfiltered credential header is committed."""
        root = Path(__file__).resolve().parent.parent / "cassettes"
        key_like = re.compile(r"sk-(?:proj-)?[A-Za-z0-9]{16,}|Bearer [A-Za-z0-9._-]{16,}")
        files = [p for p in root.rglob("*") if p.suffix in {".yaml", ".yml", ".json"}]
        assert files
        for path in files:
            text = path.read_text(errors="replace")
            assert not key_like.search(text), path
            for header in ("authorization:", "openai-organization:", "openai-project:"):
                for match in re.finditer(rf"(?im)^\s*{header}\s*\n\s*-\s*(.+)$", text):
                    assert match.group(1).strip().strip("'\"") in {"REDACTED", "Sanitized"}, path
