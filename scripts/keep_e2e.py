"""Run examples/keep/triage-workflow.yaml in a real Keep (``keep run``) against the emulator.

Called by scripts/keep_e2e.sh inside a virtual environment that has keephq, assistant_bridge
under Keep's pins, and the drop-in provider copied into Keep. It serves the emulator on
loopback, syncs the sample runbooks into a knowledge base, then runs the workflow twice, once
per way of giving the assistant (``assistant_id`` over the Assistants API, and the assistant in
config over the Responses API), and checks what the workflow printed. Exits non-zero, saying
why, on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant_bridge.knowledge import KnowledgeBase, sample_runbooks
from assistant_bridge.testing import Emulator

INSTRUCTIONS = "You triage monitoring alerts from the runbooks; answer with JSON only."
VERDICT = re.compile(
    r"VERDICT action=(?P<action>\S+) severity=(?P<severity>\S+) thread=(?P<thread>\S+) "
    r"followup_thread=(?P<followup>\S+) first_step=(?P<first_step>.*)"
)


RAN = (
    "Step triage ran successfully",
    "Step first-step ran successfully",
    "Action page-on-call ran successfully",
    "Finish to run workflow openaiassistant-triage",
)


def fail(message: str, output: str = "") -> None:
    """Stop with a loud message (and the tail of Keep's output)."""
    tail = "\n".join(output.splitlines()[-40:])
    sys.exit(f"keep e2e FAILED: {message}\n--- last lines of keep run ---\n{tail}")


def run_keep(keep: str, workflow: Path, auth: dict[str, str], workdir: Path) -> str:
    """``keep run`` the workflow with a providers file holding ``auth``; its output."""
    providers = workdir / "providers.yaml"
    providers.write_text(json.dumps({"triage-assistant": {"authentication": auth}}))  # JSON is YAML
    env = {
        **os.environ,
        "HOME": str(workdir),  # keep writes ~/.keep.yaml
        "KEEP_API_KEY": "local-run",  # keep run refuses to start without one; never sent
        "KEEP_API_URL": "http://127.0.0.1:9",
        "POSTHOG_DISABLED": "true",
        "DISABLE_POSTHOG": "true",
        # Keep's telemetry client ignores the switches above in some releases: send whatever
        # it tries to a closed loopback port, while loopback itself goes direct.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    # keephq 0.2.x's console provider reads ``alert_message``; current Keep's reads ``message``.
    copy = workdir / workflow.name
    copy.write_text(workflow.read_text().replace("message: >-", "alert_message: >-"))
    command = [keep, "run", "--alerts-file", str(copy), "--providers-file", str(providers)]
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    missing = [line for line in RAN if line not in output]
    if missing:
        fail(f"keep run exited {done.returncode} without logging {missing}", output)
    # keephq 0.2.x's `keep run` then fails to save the results of a run it never recorded
    # (its execution id is random), and exits 1; anything else is a failure.
    known = "Error saving workflow openaiassistant-triage results" in output
    if done.returncode != 0 and not (done.returncode == 1 and known):
        fail(f"keep run exited {done.returncode}", output)
    return output


def check(output: str, wire: str, emulator: Emulator) -> str:
    """The workflow's verdict line, checked; returns a one-line summary."""
    found = VERDICT.search(output)
    if found is None:
        fail(f"[{wire}] the page-on-call action printed no VERDICT line", output)
    assert found is not None
    thread, followup = found["thread"], found["followup"]
    prefix = "thread_" if wire == "assistants" else "conv_"
    problems = []
    if (found["action"], found["severity"]) != ("escalate", "critical"):
        problems.append(f"verdict {found['action']}/{found['severity']}, not escalate/critical")
    if not thread.startswith(prefix):
        problems.append(f"thread {thread!r} is not a {prefix}… id")
    if followup != thread:
        problems.append(f"the follow-up ran on {followup!r}, not on the triage thread {thread!r}")
    if "cpu-saturation.md" not in found["first_step"]:
        problems.append(f"the follow-up does not name the runbook: {found['first_step']!r}")
    messages = emulator.thread_messages(thread) if thread.startswith(prefix) else []
    roles = [role for role, _, _ in messages]
    if roles != ["user", "assistant", "user", "assistant"]:
        problems.append(f"the thread holds {roles}, not two questions and two answers")
    if problems:
        fail(f"[{wire}] " + "; ".join(problems), output)
    return f"[{wire}] escalate/critical on {thread}, follow-up on the same thread"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", required=True, help="the keep command of the Keep venv")
    parser.add_argument("--workflow", required=True, type=Path)
    args = parser.parse_args()
    started = time.monotonic()
    with Emulator() as emulator, tempfile.TemporaryDirectory(prefix="keep-e2e-") as tmp:
        client = emulator.client()
        store = KnowledgeBase(client, "runbooks").sync(sample_runbooks())
        client.close()
        assistant_id = emulator.create_assistant(
            name="alert-triage",
            instructions=INSTRUCTIONS,
            tools=[{"type": "file_search"}],
            vector_store_ids=[store.store_id],
        )
        common = {"api_key": emulator.api_key or "sk-any", "base_url": emulator.base_url}
        ways = {
            "assistants": {**common, "assistant_id": assistant_id},
            "responses": {
                **common,
                "model": "gpt-4o-mini",
                "instructions": INSTRUCTIONS,
                "vector_store_ids": store.store_id,
                "response_format": "json_object",
            },
        }
        for wire, auth in ways.items():
            workdir = Path(tmp) / wire
            workdir.mkdir()
            output = run_keep(args.keep, args.workflow.resolve(), auth, workdir)
            if emulator.api_key and emulator.api_key in output:
                fail(f"[{wire}] the API key appears in Keep's output", output)
            print(check(output, wire, emulator))
    print(f"keep e2e passed: 2 workflow runs in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
