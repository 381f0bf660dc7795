"""The assistant-bridge command."""

from __future__ import annotations

import io
import json

import pytest

from assistant_bridge import _cli


class TestDemo:
    def test_offline_demo_runs_the_seed_scenario(self) -> None:
        """With no key, the demo triages, follows up on the thread and triages in parallel."""
        out = io.StringIO()
        assert _cli.run_demo(out, environ={}) == 0
        text = out.getvalue()
        assert "running offline" in text
        assert '"action": "escalate"' in text
        assert "same thread: True" in text
        assert "(a new one: True)" in text
        seed = json.loads(text[text.index("== 4.") :].split("\n", 1)[1])
        assert set(seed) == {"response", "thread_id", "run_id", "messages", "raw_response"}
        assert seed["response"]["severity"] == "critical"


class TestAsk:
    def test_ask_without_key_fails_clearly(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No key: exit 1 and a message naming OPENAI_API_KEY."""
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        assert _cli.main(["ask", "hello", "--assistant-id", "asst_x"]) == 1
        assert "OPENAI_API_KEY" in capsys.readouterr().err
