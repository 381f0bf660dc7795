"""The ``assistant-bridge`` command: ``demo`` (offline unless a key is set) and ``ask``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from ._models import ToolCall, ToolOutput
from ._openai_transport import OpenAITransport
from ._parsers import JsonParser, TextParser
from ._session import ThreadSession
from ._transport import Transport
from .exceptions import AssistantBridgeError

ALERT_CPU = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"
ALERT_DISK = "Analyze this alert: Disk /var at 97% on db-2"


def _offline_transport() -> Transport:
    """A scripted in-process assistant that plays the seed's triage scenario."""
    from .testing import FakeTransport, RunScript, ScriptedBackend

    cpu_call = ToolCall(id="call_cpu1", name="get_host_metrics", arguments='{"host": "web-1"}')
    backend = ScriptedBackend(
        RunScript(
            steps=["in_progress", "requires_action"],
            tool_calls=[cpu_call],
            on_tools=lambda outputs: json.dumps(
                {
                    "action": "escalate",
                    "reason": f"web-1 reports {outputs[0].output}; runbook cpu-saturation.md "
                    "says page on-call after 10 minutes above 95%",
                    "severity": "critical",
                }
            ),
        ),
        RunScript(
            reply="Runbook cpu-saturation.md, step 2: find the hot process with `top -o %CPU`, "
            "then restart the worker pool if it is the app server."
        ),
        RunScript(
            reply='```json\n{"action": "investigate", "reason": "disk-full.md: rotate logs '
            'first; 97% is below the 99% paging threshold", "severity": "warning"}\n```'
        ),
    )
    return FakeTransport(backend)


def _host_metrics(calls: Sequence[ToolCall]) -> list[ToolOutput]:
    return [ToolOutput(c.id, "cpu=99.7% load=31.2") for c in calls]


def run_demo(out: TextIO, environ: dict[str, str] | None = None) -> int:
    """Triage an alert, ask a follow-up on its thread, triage a second alert on its own."""
    env = dict(os.environ if environ is None else environ)
    assistant_id = env.get("ASSISTANT_BRIDGE_ASSISTANT_ID", "")
    if env.get("OPENAI_API_KEY") and assistant_id:
        transport: Transport = OpenAITransport.from_env(env)
        out.write(f"Using the API at {transport!r} with assistant {assistant_id}.\n")
    else:
        transport = _offline_transport()
        assistant_id = assistant_id or "asst_demo_triage"
        out.write(
            "No OPENAI_API_KEY and ASSISTANT_BRIDGE_ASSISTANT_ID: running offline against a "
            "scripted in-process assistant.\n"
        )

    def step(title: str) -> None:
        out.write(f"\n== {title}\n")

    session = ThreadSession(
        transport, assistant_id, parser=JsonParser(), tool_handler=_host_metrics, timeout=120
    )
    step(f"1. Triage: {ALERT_CPU!r}")
    first = session.ask(ALERT_CPU)
    out.write(f"thread {first.thread_id}, run {first.run_id}\n")
    out.write(f"verdict: {json.dumps(first.parsed, indent=2)}\n")

    step("2. Follow-up on the same thread: 'Which runbook applies?'")
    follow = session.ask("Which runbook applies, and what is the first step?", parser=TextParser())
    out.write(f"same thread: {follow.thread_id == first.thread_id}\n{follow.text}\n")

    step(f"3. A second alert on its own thread: {ALERT_DISK!r}")
    other = ThreadSession(transport, assistant_id, parser=JsonParser(), timeout=120)
    second = other.ask(ALERT_DISK)
    out.write(f"thread {second.thread_id} (a new one: {second.thread_id != first.thread_id})\n")
    out.write(f"verdict: {json.dumps(second.parsed, indent=2)}\n")

    step("4. What a Keep workflow step receives (reply.to_dict())")
    out.write(json.dumps(first.to_dict(), indent=2) + "\n")
    return 0


def run_ask(args: argparse.Namespace, out: TextIO) -> int:
    """Ask once and print the reply as JSON."""
    transport = OpenAITransport.from_env()
    session = ThreadSession(
        transport,
        args.assistant_id,
        thread_id=args.thread_id,
        parser=JsonParser(strict=False) if args.json else TextParser(),
        timeout=args.timeout,
    )
    reply = session.ask(args.prompt)
    out.write(json.dumps(reply.to_dict(), indent=2) + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant-bridge", description="Ask OpenAI assistants and get parsed replies."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="triage sample alerts end to end (offline when no key is set)")
    ask = sub.add_parser("ask", help="ask an assistant once (needs OPENAI_API_KEY)")
    ask.add_argument("prompt")
    ask.add_argument("--assistant-id", required=True)
    ask.add_argument("--thread-id", default=None, help="continue this thread")
    ask.add_argument("--json", action="store_true", help="parse the reply as JSON when it is")
    ask.add_argument("--timeout", type=float, default=60.0)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``assistant-bridge`` command."""
    args = _parser().parse_args(argv)
    stream = sys.stdout if out is None else out
    try:
        if args.command == "demo":
            return run_demo(stream)
        return run_ask(args, stream)
    except AssistantBridgeError as exc:
        print(f"assistant-bridge: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
