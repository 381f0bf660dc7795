"""The assistant-bridge command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import urllib.request

import pytest

from assistant_bridge._cli import main as _cli
from assistant_bridge._cli.demo import run_demo


class TestDemo:
    def test_demo_runs_the_seed_scenario_on_the_emulator(self) -> None:
        """No key: runbooks uploaded, JSON verdict with a citation, follow-up, parallel alert."""
        out = io.StringIO()
        assert run_demo(out, environ={}) == 0
        text = out.getvalue()
        assert "built-in emulator" in text
        assert text.count("uploaded ") == 5
        assert '"action": "escalate"' in text
        assert "cites 【4:" in text
        self._common(text)

    def test_demo_over_the_responses_api(self) -> None:
        """The same scenario over Responses + Conversations."""
        out = io.StringIO()
        assert _cli.main(["demo", "--api", "responses"], out=out) == 0
        text = out.getvalue()
        assert "over the responses API" in text
        assert "thread conv_" in text
        assert "cites cpu-saturation.md" in text
        self._common(text)

    @staticmethod
    def _common(text: str) -> None:
        assert "follow-up on the same thread: True" in text
        assert "(its own: True)" in text
        assert "disk-full.md" in text
        seed = json.loads(text[text.index("== 3.") :].split("\n", 1)[1])
        assert set(seed) == {"response", "thread_id", "run_id", "messages", "raw_response"}
        assert seed["response"]["severity"] == "critical"
        assert "cpu-saturation.md" in seed["response"]["reason"]


class TestDemoWithAKey:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_a_key_points_the_demo_at_that_server(self, api: str) -> None:
        """With OPENAI_API_KEY and OPENAI_BASE_URL, the demo runs there, runbooks and all."""
        from assistant_bridge.testing import Emulator

        with Emulator(api_key="sk-server-key") as server:
            env = {"OPENAI_API_KEY": "sk-server-key", "OPENAI_BASE_URL": server.base_url}
            out = io.StringIO()
            assert run_demo(out, env, api) == 0
            assert len(server.store.files) == 5
            assert server.counts()["files.create"] == 5
        text = out.getvalue()
        assert "built-in emulator" not in text
        assert '"action": "escalate"' in text
        assert "sk-server-key" not in text


class TestAsk:
    def test_ask_without_key_fails_clearly(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No key: exit 1 and a message naming OPENAI_API_KEY."""
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        assert _cli.main(["ask", "hello", "--assistant-id", "asst_x"]) == 1
        assert "OPENAI_API_KEY" in capsys.readouterr().err

    def test_ask_against_the_emulator(
        self, monkeypatch: pytest.MonkeyPatch, assistant_emulator: object
    ) -> None:
        """OPENAI_BASE_URL points ask at any compatible server."""
        from assistant_bridge.testing import Emulator, SayJson

        assert isinstance(assistant_emulator, Emulator)
        assistant_emulator.script(SayJson({"action": "ignore"}))
        assistant_id = assistant_emulator.create_assistant()
        monkeypatch.setenv("OPENAI_API_KEY", "sk-emulator")
        monkeypatch.setenv("OPENAI_BASE_URL", assistant_emulator.base_url)
        out = io.StringIO()
        assert _cli.main(["ask", "hi", "--assistant-id", assistant_id, "--json"], out=out) == 0
        assert json.loads(out.getvalue())["response"] == {"action": "ignore"}


class TestEmulatorCommand:
    def test_serves_until_interrupted(self) -> None:
        """`assistant-bridge emulator --port N` answers on that port, and stops on SIGINT."""
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with subprocess.Popen(
            [sys.executable, "-m", "assistant_bridge", "emulator", "--port", str(port)],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            self._check(proc, port)

    @staticmethod
    def _check(proc: subprocess.Popen[str], port: int) -> None:
        try:
            assert proc.stdout is not None
            assert f"127.0.0.1:{port}/v1" in proc.stdout.readline()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/assistants",
                headers={"Authorization": "Bearer sk-emulator", "OpenAI-Beta": "assistants=v2"},
            )
            deadline = time.monotonic() + 10
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=5) as answer:
                        assert json.load(answer)["object"] == "list"
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            proc.send_signal(2)
            assert proc.wait(timeout=10) == 0


class TestSpecCommand:
    def test_from_exported_json(self, tmp_path: object) -> None:
        """An exported assistant object becomes a spec file that loads back."""
        from pathlib import Path

        from assistant_bridge import AssistantSpec, FileSearch

        folder = Path(str(tmp_path))
        exported = {
            "id": "asst_1",
            "object": "assistant",
            "name": "alert-triage",
            "model": "gpt-4o",
            "instructions": "Triage.",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": ["vs_1"]}},
            "response_format": {"type": "json_object"},
            "metadata": {},
        }
        (folder / "assistant.json").write_text(json.dumps(exported))
        out = io.StringIO()
        code = _cli.main(
            ["spec", "--from-json", str(folder / "assistant.json"), "-o", str(folder / "t.toml")],
            out=out,
        )
        assert code == 0
        spec = AssistantSpec.load(folder / "t.toml")
        assert spec.tools == (FileSearch(("vs_1",)),)
        assert spec.response_format == "json_object"
        assert "alert-triage" in out.getvalue()

    def test_fetch_by_id(
        self, monkeypatch: pytest.MonkeyPatch, assistant_emulator: object, tmp_path: object
    ) -> None:
        """--assistant-id fetches the object from a compatible server."""
        from pathlib import Path

        from assistant_bridge import AssistantSpec
        from assistant_bridge.testing import Emulator

        assert isinstance(assistant_emulator, Emulator)
        assistant_id = assistant_emulator.create_assistant(name="x", instructions="Be brief.")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-emulator")
        monkeypatch.setenv("OPENAI_BASE_URL", assistant_emulator.base_url)
        target = Path(str(tmp_path)) / "x.json"
        assert _cli.main(["spec", "--assistant-id", assistant_id, "-o", str(target)]) == 0
        assert AssistantSpec.load(target).instructions == "Be brief."

    def test_bad_input_file(self, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing file is a clear error and exit 1."""
        code = _cli.main(["spec", "--from-json", f"{tmp_path}/missing.json", "-o", "x.toml"])
        assert code == 1
        assert "Cannot read assistant JSON" in capsys.readouterr().err


class TestAskWithSpec:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_ask_with_a_spec_file_on_either_api(
        self,
        monkeypatch: pytest.MonkeyPatch,
        assistant_emulator: object,
        tmp_path: object,
        api: str,
    ) -> None:
        """--spec works on both wires; --api picks the wire."""
        from pathlib import Path

        from assistant_bridge import AssistantSpec
        from assistant_bridge.testing import Emulator, SayText

        assert isinstance(assistant_emulator, Emulator)
        assistant_emulator.script(SayText("hello from the spec"))
        path = Path(str(tmp_path)) / "triage.toml"
        AssistantSpec(name="triage", model="gpt-4o-mini").save(path)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-emulator")
        monkeypatch.setenv("OPENAI_BASE_URL", assistant_emulator.base_url)
        out = io.StringIO()
        assert _cli.main(["ask", "hi", "--spec", str(path), "--api", api], out=out) == 0
        reply = json.loads(out.getvalue())
        assert reply["response"] == "hello from the spec"
        assert reply["thread_id"].startswith("conv_" if api == "responses" else "thread_")
