"""The assistant-bridge command."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_bridge import __version__
from assistant_bridge._cli import main as _cli
from assistant_bridge._cli.demo import run_demo
from assistant_bridge._cli.exit_codes import ExitCode
from assistant_bridge.testing import Behaviour, Emulator, FailRun, SayJson, SayText, StayInProgress

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


class TestDemo:
    def test_demo_runs_the_seed_scenario_on_the_emulator(self) -> None:
        """No key: runbooks uploaded, JSON verdict with a citation, follow-up, parallel alert."""
        out = io.StringIO()
        assert run_demo(out, environ={}) == 0
        text = out.getvalue()
        assert "built-in emulator" in text
        assert text.count("uploaded ") == 5
        assert '"action": "escalate"' in text
        assert "citation [1]: cpu-saturation.md (file file-" in text
        self._common(text)

    def test_demo_over_the_responses_api(self) -> None:
        """The same scenario over Responses + Conversations."""
        out = io.StringIO()
        assert _cli.main(["demo", "--api", "responses"], out=out) == 0
        text = out.getvalue()
        assert "over the responses API" in text
        assert "thread conv_" in text
        assert "citation [1]: cpu-saturation.md" in text
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
    def test_a_key_alone_keeps_the_demo_on_the_emulator(self) -> None:
        """OPENAI_API_KEY set (as docs/cli.md has users export): the server sees nothing."""
        with Emulator(api_key="sk-server-key") as server:
            env = {"OPENAI_API_KEY": "sk-server-key", "OPENAI_BASE_URL": server.base_url}
            out = io.StringIO()
            assert run_demo(out, env) == 0
            assert sum(server.counts().values()) == 0
        assert "built-in emulator" in out.getvalue()

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_live_says_what_it_creates_and_removes_it(self, api: str) -> None:
        """--live runs on that server, announces what it will create, and leaves nothing."""
        with Emulator(api_key="sk-server-key") as server:
            env = {"OPENAI_API_KEY": "sk-server-key", "OPENAI_BASE_URL": server.base_url}
            out = io.StringIO()
            assert run_demo(out, env, api, live=True) == 0
            assert server.counts()["files.create"] == 5
            app = server.app
            left = (
                server.store.files,
                server.store.vector_stores,
                server.store.assistants,
                server.store.threads,
                app.conversations,
                app.responses,
            )
            assert all(not found for found in left), left
        text = out.getvalue()
        assert text.startswith(f"Live on {env['OPENAI_BASE_URL']}, over the {api} API.")
        assert "it is all removed at the end" in text.splitlines()[0]
        assert "built-in emulator" not in text
        assert '"action": "escalate"' in text
        assert "removed vector store 'assistant-bridge-demo-runbooks'" in text
        assert "could not remove" not in text
        assert "sk-server-key" not in text

    def test_live_keep_keeps_it(self) -> None:
        """--live --keep: the store, its files and the conversations stay."""
        with Emulator(api_key="sk-server-key") as server:
            env = {"OPENAI_API_KEY": "sk-server-key", "OPENAI_BASE_URL": server.base_url}
            out = io.StringIO()
            assert run_demo(out, env, live=True, keep=True) == 0
            assert len(server.store.files) == 5
            assert len(server.store.vector_stores) == 1
            assert len(server.app.conversations) == 2
        assert "it is all kept (--keep)" in out.getvalue()
        assert "Removing" not in out.getvalue()

    def test_live_without_a_key_says_what_to_export(self) -> None:
        """demo --live with no key: exit 3, one line naming OPENAI_API_KEY."""
        done = _run("demo", "--live", emulator=None)
        assert done.returncode == ExitCode.CONFIGURATION
        assert done.stderr.startswith("assistant-bridge: configuration: demo --live needs ")
        assert "OPENAI_API_KEY" in done.stderr
        assert len(done.stderr.splitlines()) == 1


def _cli_env(emulator: Emulator | None, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: pointed at ``emulator``, or with no key at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSISTANT_"))}
    if emulator is not None:
        env.update(OPENAI_API_KEY="sk-emulator", OPENAI_BASE_URL=emulator.base_url)
    env.update(extra)
    return env


def _run(
    *args: str, emulator: Emulator | None, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``assistant-bridge ARGS`` as a subprocess to its end."""
    return subprocess.run(
        [sys.executable, "-m", "assistant_bridge", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_cli_env(emulator, **env),
        timeout=60,
        check=False,
    )


def _ask(
    emulator: Emulator, behaviour: Behaviour, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run ``assistant-bridge ask ARGS`` on a new assistant of ``emulator`` that plays
    ``behaviour``."""
    emulator.script(behaviour)
    assistant_id = emulator.create_assistant()
    return _run("ask", *args, "--assistant-id", assistant_id, emulator=emulator, stdin=stdin)


def _start(*args: str, emulator: Emulator) -> subprocess.Popen[str]:
    """Start ``assistant-bridge ARGS`` as a subprocess, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "assistant_bridge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(emulator),
    )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server


class TestAsk:
    def test_streams_the_answer_as_it_is_written(self, emulator: Emulator) -> None:
        """The first words reach stdout while the run is still writing the rest."""
        emulator.script(SayText("alpha beta gamma delta epsilon zeta", chunk_delay=0.4))
        assistant_id = emulator.create_assistant()
        with _start("ask", "hi", "--assistant-id", assistant_id, emulator=emulator) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            assert proc.stdout.read(5) == "alpha"
            assert proc.poll() is None, "the first word came only when the process ended"
            rest = proc.stdout.read()
            err = proc.stderr.read()
            assert proc.wait(timeout=30) == 0
        assert rest == " beta gamma delta epsilon zeta\n"
        assert "in_progress" in err
        assert re.search(
            r"completed in [\d.]+ s, \d+ tokens \(thread thread_\w+, run run_\w+\)", err
        )

    def test_reads_the_prompt_from_stdin_on_dash(self, emulator: Emulator) -> None:
        """`ask -` sends what stdin holds, not a dash."""
        done = _ask(emulator, SayText("ok"), "-", "-q", stdin="Disk /var at 97% on db-2\n")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "ok\n"
        assert done.stderr == ""  # -q: no progress
        (prompt,) = [text for role, text, _ in self._messages(emulator) if role == "user"]
        assert prompt == "Disk /var at 97% on db-2\n"

    def test_json_prints_the_seeds_dict(self, emulator: Emulator) -> None:
        """--json: stdout is exactly one JSON document, the seed's dict, parsed response."""
        verdict = {"action": "escalate", "severity": "critical"}
        done = _ask(emulator, SayJson(verdict), "CPU at 100%", "--json")
        assert done.returncode == 0, done.stderr
        seed = json.loads(done.stdout)
        assert set(seed) == {"response", "thread_id", "run_id", "messages", "raw_response"}
        assert seed["response"] == {"action": "escalate", "severity": "critical"}

    def test_per_run_options_reach_the_run(self, emulator: Emulator) -> None:
        """--instructions, --model and repeated --metadata go into the run; --thread continues."""
        emulator.script(SayText("first"), times=1)
        emulator.script(SayText("second"))
        assistant_id = emulator.create_assistant()
        first = _run("ask", "one", "--assistant-id", assistant_id, "--json", emulator=emulator)
        thread_id = json.loads(first.stdout)["thread_id"]
        done = _run(
            "ask",
            "two",
            "--assistant-id",
            assistant_id,
            "--thread",
            thread_id,
            "--instructions",
            "Be brief.",
            "--model",
            "gpt-4o",
            "--metadata",
            "team=sre",
            "--metadata",
            "alert=cpu",
            "--json",
            emulator=emulator,
        )
        assert done.returncode == 0, done.stderr
        seed = json.loads(done.stdout)
        assert seed["thread_id"] == thread_id
        assert seed["response"] == "second"
        run = emulator.store.runs[seed["run_id"]]
        assert (run.model, run.instructions) == ("gpt-4o", "Be brief.")
        assert {"team": "sre", "alert": "cpu"}.items() <= run.metadata.items()

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_a_spec_file_on_either_wire(self, emulator: Emulator, api: str) -> None:
        """--spec examples/triage.toml works on both wires; --api picks the wire."""
        emulator.script(SayText("hello from the spec"))
        done = _run(
            "ask",
            "hi",
            "--spec",
            str(EXAMPLES / "triage.toml"),
            "--api",
            api,
            "--json",
            emulator=emulator,
        )
        assert done.returncode == 0, done.stderr
        seed = json.loads(done.stdout)
        assert seed["response"] == "hello from the spec"
        assert seed["thread_id"].startswith("conv_" if api == "responses" else "thread_")

    def test_resume_waits_for_an_existing_run(self, emulator: Emulator) -> None:
        """--resume RUN_ID --thread T prints that run's answer and posts nothing new."""
        emulator.script(SayText("resumed answer", delay=0.5))
        assistant_id = emulator.create_assistant()
        client = emulator.client()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            started = client.beta.threads.create_and_run(
                assistant_id=assistant_id,
                thread={"messages": [{"role": "user", "content": "hi"}]},
            )
        client.close()
        done = _run(
            "ask",
            "-",
            "--assistant-id",
            assistant_id,
            "--thread",
            started.thread_id,
            "--resume",
            started.id,
            emulator=emulator,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "resumed answer\n"
        assert emulator.runs_of(started.thread_id) == [started.id]

    def test_a_terminal_sees_a_live_line_while_waiting(self, emulator: Emulator) -> None:
        """On a terminal, stderr ticks the status and seconds in place, and clears the line."""
        import pty

        emulator.script(StayInProgress())
        assistant_id = emulator.create_assistant()
        leader, follower = pty.openpty()
        args = ["ask", "hi", "--assistant-id", assistant_id, "--timeout", "1.5"]
        with subprocess.Popen(
            [sys.executable, "-m", "assistant_bridge", *args],
            stdout=subprocess.PIPE,
            stderr=follower,
            env=_cli_env(emulator),
        ) as proc:
            os.close(follower)
            seen = b""
            while True:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed with the process
                    break
                if not chunk:
                    break
                seen += chunk
            assert proc.wait(timeout=30) == ExitCode.TIMEOUT
        os.close(leader)
        text = seen.decode()
        ticks = re.findall(r"\r\x1b\[2K. in_progress (\d+\.\d) s", text)
        assert len(set(ticks)) >= 3, text
        # The live line is cleared before the error is written over it.
        assert re.search(r"in_progress [\d.]+ s\r\x1b\[2Kassistant-bridge: timeout: ", text)

    def test_version(self) -> None:
        """--version prints the package version."""
        done = _run("--version", emulator=None)
        assert done.returncode == 0
        assert done.stdout.strip() == f"assistant-bridge {__version__}"

    @staticmethod
    def _messages(emulator: Emulator) -> list[tuple[str, str, str | None]]:
        (thread_id,) = {run.thread_id for run in emulator.store.runs.values()}
        return emulator.thread_messages(thread_id)


class TestExitCodes:
    def test_no_key_is_a_configuration_error(self) -> None:
        """No OPENAI_API_KEY: exit 3 and one line naming it."""
        done = _run("ask", "hello", "--assistant-id", "asst_x", emulator=None)
        assert done.returncode == ExitCode.CONFIGURATION
        assert "OPENAI_API_KEY" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1

    def test_unknown_assistant_is_not_found(self, emulator: Emulator) -> None:
        """An assistant id the server does not know: exit 4."""
        done = _run("ask", "hello", "--assistant-id", "asst_missing", emulator=emulator)
        assert done.returncode == ExitCode.NOT_FOUND
        assert done.stderr.startswith("assistant-bridge: not found: ")

    def test_base_url_without_v1_says_so(self, emulator: Emulator) -> None:
        """OPENAI_BASE_URL without /v1: a warning first, and the 404 names the fix."""
        assistant_id = emulator.create_assistant()
        root = emulator.base_url.removesuffix("/v1")
        done = _run(
            "ask", "hi", "--assistant-id", assistant_id, emulator=emulator, OPENAI_BASE_URL=root
        )
        assert done.returncode == ExitCode.NOT_FOUND
        assert f"OPENAI_BASE_URL={root} does not end in /v1" in done.stderr
        assert f"try {root}/v1" in done.stderr.splitlines()[-1]

    def test_timeout(self, emulator: Emulator) -> None:
        """A run that outlives --timeout: exit 5, its thread and run named."""
        done = _ask(emulator, StayInProgress(), "hi", "--timeout", "1")
        assert done.returncode == ExitCode.TIMEOUT
        last = done.stderr.strip().splitlines()[-1]
        assert re.match(
            r"assistant-bridge: timeout: run run_\w+ on thread (thread_\w+) did not finish within "
            r"1 s and was cancelled; ask again with a longer --timeout on that thread with "
            r"--thread \1$",
            last,
        ), last

    def test_failed_run(self, emulator: Emulator) -> None:
        """A run that ends "failed": exit 6 with the server's reason."""
        failure = FailRun(code="rate_limit_exceeded", message="Quota exceeded.")
        done = _ask(emulator, failure, "hi")
        assert done.returncode == ExitCode.RUN_FAILED
        assert "Quota exceeded." in done.stderr

    def test_parse_error(self, emulator: Emulator) -> None:
        """--expect-json on a prose answer: exit 7."""
        done = _ask(emulator, SayText("not json at all"), "hi", "--expect-json", "--json")
        assert done.returncode == ExitCode.PARSE
        assert done.stdout == ""
        assert done.stderr.splitlines()[-1].startswith("assistant-bridge: parse: ")

    @pytest.mark.parametrize("where", ["before", "after"])
    def test_verbose_prints_the_traceback(self, where: str) -> None:
        """-v (before or after the subcommand) adds the full traceback before the message."""
        args = ["ask", "hello", "--assistant-id", "asst_x"]
        args = ["-v", *args] if where == "before" else [*args, "-v"]
        done = _run(*args, emulator=None)
        assert done.returncode == ExitCode.CONFIGURATION
        assert "Traceback (most recent call last)" in done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith("assistant-bridge: configuration:")

    def test_usage_error(self) -> None:
        """Bad arguments are argparse's exit 2."""
        assert _run("ask", emulator=None).returncode == ExitCode.USAGE

    def test_ctrl_c_cancels_the_run_and_names_it(self, emulator: Emulator) -> None:
        """SIGINT mid-run: exit 130, the thread and run ids on stderr, the run cancelled."""
        emulator.script(StayInProgress())
        assistant_id = emulator.create_assistant()
        with _start("ask", "hi", "--assistant-id", assistant_id, emulator=emulator) as proc:
            assert proc.stderr is not None
            seen = ""
            while "in_progress" not in seen:
                line = proc.stderr.readline()
                assert line, f"the CLI ended early: {seen}"
                seen += line
            proc.send_signal(signal.SIGINT)
            seen += proc.stderr.read()
            assert proc.wait(timeout=30) == ExitCode.INTERRUPTED
        (run_id,) = emulator.store.runs
        thread_id = emulator.store.runs[run_id].thread_id
        last = seen.strip().splitlines()[-1]
        assert last.startswith("assistant-bridge: interrupted: cancelled run ")
        assert run_id in last
        assert thread_id in last
        assert "Traceback" not in seen
        assert emulator.run_status(run_id) in ("cancelling", "cancelled")

    def test_closing_stdout_cancels_the_run_quietly(self, emulator: Emulator) -> None:
        """A reader that stops early (`| head`): exit 1, no traceback, no run left going."""
        emulator.script(SayText(" ".join(["word"] * 40), chunk_delay=0.1))
        assistant_id = emulator.create_assistant()
        with _start("ask", "hi", "--assistant-id", assistant_id, emulator=emulator) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            assert proc.stdout.read(4) == "word"
            proc.stdout.close()
            assert proc.wait(timeout=30) == ExitCode.ERROR
            assert "Traceback" not in proc.stderr.read()
        assert emulator.active_runs() == []

    def test_docs_list_every_exit_code(self) -> None:
        """docs/cli.md's exit-code table is ExitCode, row for row."""
        text = (ROOT / "docs" / "cli.md").read_text()
        rows = re.findall(r"^\| `(\d+)` \| ([a-z ]+) \|", text, re.M)
        assert [(int(code), kind) for code, kind in rows] == [(c.value, c.kind) for c in ExitCode]


class TestContract:
    """One contract for every subcommand: `assistant-bridge: KIND: message` on one line, one exit
    code per kind of mistake wherever it is caught, values checked alike everywhere."""

    @pytest.mark.parametrize("value", ["abc", "-1", "0", "inf", "nan"])
    @pytest.mark.parametrize(
        "command",
        [["ask", "hi", "--spec", "x.toml"], ["kb", "sync", ".", "--store", "kb"]],
        ids=["ask", "kb sync"],
    )
    def test_a_bad_timeout_is_a_usage_error_everywhere(
        self, command: list[str], value: str
    ) -> None:
        """`--timeout abc` and `--timeout -1` (and inf, which would wait forever) alike: exit 2,
        the subcommand's own usage, then one line naming the flag."""
        done = _run(*command, f"--timeout={value}", emulator=None)
        assert done.returncode == ExitCode.USAGE
        name = " ".join(word for word in command if not word.startswith(("-", ".", "x", "hi")))
        *usage, last = done.stderr.splitlines()
        assert usage[0].startswith(f"usage: assistant-bridge {name.removesuffix(' kb')} ")
        assert last == (
            f"assistant-bridge: usage: argument --timeout: expected seconds, a finite number "
            f"over 0, got {value!r} (see assistant-bridge {name.removesuffix(' kb')} --help)"
        )

    @pytest.mark.parametrize("value", ["70000", "-1", "http"])
    def test_a_bad_port_is_a_usage_error(self, value: str) -> None:
        """`emulator --port 70000`: exit 2 and one line, no OverflowError traceback."""
        done = _run("emulator", f"--port={value}", emulator=None)
        assert done.returncode == ExitCode.USAGE
        assert "Traceback" not in done.stderr
        assert done.stderr.splitlines()[-1].startswith(
            "assistant-bridge: usage: argument --port: expected a port from 1 to 65535"
        )

    @pytest.mark.parametrize(
        ("args", "line"),
        [
            (["--thread", "run_abc"], "argument --thread: 'run_abc' is a run id; "),
            (["--model", ""], "argument --model: is empty or blank"),
            (["--timeout", "2e6"], "argument --timeout: expected seconds, at most 1e+06"),
            (["--assistant-id", "asst_x", "--api", "responses"], "--assistant-id asst_x names "),
        ],
    )
    def test_a_value_the_library_refuses_is_the_same_usage_error(
        self, emulator: Emulator, args: list[str], line: str
    ) -> None:
        """Caught by argparse or by the library's checks, a bad flag value is exit 2, named by
        its flag (not by the Python argument it becomes), and nothing is sent."""
        who = [] if "--assistant-id" in args else ["--spec", str(EXAMPLES / "triage.toml")]
        done = _run("ask", "hi", *who, *args, emulator=emulator)
        assert done.returncode == ExitCode.USAGE, done.stderr
        assert done.stderr.splitlines()[-1].startswith(f"assistant-bridge: usage: {line}")
        assert "thread_id" not in done.stderr
        assert "assistant=" not in done.stderr
        assert sum(emulator.counts().values()) == 0

    def test_an_unknown_flag_shows_its_subcommands_usage(self) -> None:
        """A flag `ask` does not know: ask's usage (not the top level's), exit 2."""
        done = _run("ask", "hi", "--bogus", emulator=None)
        assert done.returncode == ExitCode.USAGE
        assert done.stderr.startswith("usage: assistant-bridge ask ")
        assert done.stderr.splitlines()[-1] == (
            "assistant-bridge: usage: unrecognized arguments: --bogus "
            "(see assistant-bridge ask --help)"
        )

    @pytest.mark.parametrize(
        "args",
        [
            ["-v", "kb", "sync", ".", "--store", "kb"],
            ["kb", "sync", ".", "--store", "kb", "-v"],
            ["kb", "-v", "delete", "--store", "kb"],
            ["spec", "--assistant-id", "asst_x", "-o", "new.toml", "-v"],
        ],
    )
    def test_verbose_wherever_it_is_put(self, args: list[str], tmp_path: Path) -> None:
        """-v before, between or after the subcommands: the traceback, then the one line."""
        done = _run(*args, emulator=None)
        assert done.returncode == ExitCode.CONFIGURATION, done.stderr
        assert "Traceback (most recent call last)" in done.stderr
        assert done.stderr.splitlines()[-1].startswith("assistant-bridge: configuration: ")

    def test_kb_errors_follow_the_contract(self, emulator: Emulator, tmp_path: Path) -> None:
        """kb's errors are one `assistant-bridge: KIND:` line with the kind's exit code."""
        done = _run("kb", "sync", str(tmp_path / "nope"), "--store", "kb", emulator=emulator)
        kind = ExitCode(done.returncode).kind
        assert done.returncode in (ExitCode.CONFIGURATION, ExitCode.ERROR)
        assert done.stderr.startswith(f"assistant-bridge: {kind}: ")
        assert len(done.stderr.splitlines()) == 1

    def test_help_shows_the_defaults(self) -> None:
        """`ask --help` names the 60 s deadline and how --api is chosen."""
        done = _run("ask", "--help", emulator=None)
        text = " ".join(done.stdout.split())
        assert "(default: 60)" in text
        assert "(default: assistants with --assistant-id, else responses" in text

    def test_errors_advise_in_command_line_terms(self, emulator: Emulator) -> None:
        """No Python advice (api_key=..., JsonParser(strict=False), thread_id=) in a shell."""
        outputs = [
            _run("ask", "hi", "--assistant-id", "asst_x", emulator=None).stderr,
            _ask(emulator, SayText("prose"), "hi", "--expect-json").stderr,
        ]
        with Emulator() as slow:
            outputs.append(_ask(slow, StayInProgress(), "hi", "--timeout", "0.5").stderr)
        for text in outputs:
            last = text.splitlines()[-1]
            assert last.startswith("assistant-bridge: ")
            assert not re.search(r"\b[a-z_]+=\.\.\.|[A-Z]\w+\(|thread_id=|api_key", last), last
        assert "export OPENAI_API_KEY=" in outputs[0]
        assert "without --expect-json" in outputs[1]
        assert "--timeout" in outputs[2].splitlines()[-1]

    def test_a_run_left_active_comes_with_the_line_to_paste(self) -> None:
        """A deadline whose cancel is not confirmed names the `--resume` line; pasted as
        printed (with `-`), it picks the run up and prints its answer."""
        with Emulator(cancel_delay=30) as slow:
            slow.script(SayText("late answer", delay=3))
            assistant_id = slow.create_assistant()
            done = _run(
                "ask", "hi", "--assistant-id", assistant_id, "--timeout", "0.5", emulator=slow
            )
            assert done.returncode == ExitCode.TIMEOUT, done.stderr
            last = done.stderr.splitlines()[-1]
            assert "not confirmed" in last
            assert "resume with: " in last, last
            line = last.split("resume with: ", 1)[1]
            assert line.startswith("assistant-bridge ask - --thread thread_")
            assert f"--assistant-id {assistant_id} --api assistants" in line
            args = shlex.split(line)[1:]
            resumed = _run(*args, "--timeout", "30", emulator=slow)
        assert resumed.returncode in (0, ExitCode.RUN_FAILED), resumed.stderr
        assert "resume with" not in resumed.stderr

    @pytest.mark.parametrize(
        ("who", "prefix"), [("--spec", "conv_"), ("--assistant-id", "thread_")]
    )
    def test_the_wire_defaults_to_responses_unless_an_assistant_object(
        self, emulator: Emulator, who: str, prefix: str
    ) -> None:
        """Without --api: a spec goes over Responses (what OpenAI serves); an asst_ id over
        the Assistants wire, the only one that has assistant objects."""
        emulator.script(SayText("ok"))
        name = str(EXAMPLES / "triage.toml") if who == "--spec" else emulator.create_assistant()
        done = _run("ask", "hi", who, name, "--json", emulator=emulator)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["thread_id"].startswith(prefix)

    @pytest.mark.parametrize("delay", [0.0, 0.2, 0.5])
    def test_ctrl_c_at_any_moment_is_one_line(self, delay: float) -> None:
        """SIGINT once the command's own code runs (as soon as its entry module is imported,
        while openai, the emulator and the knowledge base are still being imported, or once
        the demo has begun): exit 130 and one line, no traceback. (Before that first line of
        ours runs, only the interpreter's own start-up is left, which no program can catch.)"""
        env = {k: v for k, v in _cli_env(None).items() if k != "PYTHONDONTWRITEBYTECODE"}
        with subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "assistant_bridge", "demo"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.rstrip().endswith("assistant_bridge._cli.main"):
                    break
            time.sleep(delay)
            proc.send_signal(signal.SIGINT)
            err = [ln for ln in proc.stderr.read().splitlines() if not ln.startswith("import time")]
            code = proc.wait(timeout=30)
        assert code == ExitCode.INTERRUPTED, err
        assert len(err) == 1, err
        assert err[0].startswith("assistant-bridge: interrupted: "), err


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

    def test_seeds_assistants_from_spec_files(self) -> None:
        """--assistant SPEC (repeated) creates each assistant and prints its id; ask finds it."""
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assistant_bridge",
                "emulator",
                "--port",
                "0",
                "--assistant",
                str(EXAMPLES / "triage.toml"),
                "--assistant",
                str(EXAMPLES / "investigator.json"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                assert proc.stdout is not None
                lines = [proc.stdout.readline() for _ in range(6)]
                base_url = lines[0].split()[-1]
                ids = dict(re.findall(r"assistant '([\w-]+)' from .*: (asst_\w+)", "".join(lines)))
                assert set(ids) == {"alert-triage", "alert-investigator"}
                assert lines[-1] == "Press Ctrl-C to stop.\n"
                env = {
                    **_cli_env(None),
                    "OPENAI_API_KEY": "sk-emulator",
                    "OPENAI_BASE_URL": base_url,
                }
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "assistant_bridge",
                        "ask",
                        "Analyze this alert: Server CPU at 100%",
                        "--assistant-id",
                        ids["alert-triage"],
                        "--json",
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=60,
                    check=False,
                )
                assert done.returncode == 0, done.stderr
                assert json.loads(done.stdout)["response"]["action"] in {"escalate", "investigate"}
            finally:
                proc.send_signal(signal.SIGINT)
                assert proc.wait(timeout=10) == 0

    def test_a_port_in_use_is_one_clear_line(self) -> None:
        """A taken port: exit 3 and a message naming the port and --port, no traceback."""
        with Emulator() as taken:
            port = taken.port
            done = _run("emulator", "--port", str(port), emulator=None)
        assert done.returncode == ExitCode.CONFIGURATION
        assert done.stderr == (
            f"assistant-bridge: configuration: port {port} on 127.0.0.1 is already in use: "
            "stop what holds it, or pick another with --port (0 takes any free port).\n"
        )

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

    def test_an_existing_file_is_not_overwritten_without_force(self, tmp_path: Path) -> None:
        """`spec -o FILE` refuses an existing FILE (exit 3, naming --force); --force writes."""
        exported = tmp_path / "assistant.json"
        exported.write_text(json.dumps({"name": "a", "model": "gpt-4o", "instructions": "x"}))
        target = tmp_path / "kept.toml"
        target.write_text("precious")
        err = io.StringIO()
        args = ["spec", "--from-json", str(exported), "-o", str(target)]
        assert _cli.main(args, out=io.StringIO(), err=err) == ExitCode.CONFIGURATION
        assert target.read_text() == "precious"
        assert err.getvalue() == (
            f"assistant-bridge: configuration: {target} exists: pass --force to overwrite it, "
            "or choose another -o FILE\n"
        )
        assert _cli.main([*args, "--force"], out=io.StringIO()) == 0
        assert "gpt-4o" in target.read_text()

    def test_bad_input_file(self, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing file is a clear error and exit 1."""
        code = _cli.main(["spec", "--from-json", f"{tmp_path}/missing.json", "-o", "x.toml"])
        assert code == ExitCode.CONFIGURATION
        assert "Cannot read assistant JSON" in capsys.readouterr().err
