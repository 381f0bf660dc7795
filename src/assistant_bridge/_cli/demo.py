"""The seed's alert-triage scenario, end to end: ``assistant-bridge demo``.

Against the built-in emulator (no key, no network) it uploads the bundled sample runbooks to a
vector store, defines a file-search assistant in code, triages "Server CPU at 100%" into a JSON
verdict, asks a follow-up on the same thread while a second alert is triaged in parallel on its
own thread, and prints each step, over the Assistants or the Responses API. With
OPENAI_API_KEY set (and OPENAI_BASE_URL for a compatible server), the same scenario runs there:
against ASSISTANT_BRIDGE_ASSISTANT_ID or ASSISTANT_BRIDGE_SPEC when set, else over the sample
runbooks uploaded to it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from assistant_bridge._parsing.parsers import JsonParser, TextParser
from assistant_bridge._session.sessions import ThreadSession
from assistant_bridge._values.spec import AssistantSpec, FileSearch
from assistant_bridge.knowledge import KnowledgeBase, SyncProgress, sample_runbooks
from assistant_bridge.transports import OpenAITransport, ResponsesTransport
from assistant_bridge.transports._protocol import Transport

ALERT_CPU = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"
ALERT_DISK = "Analyze this alert: Disk /var at 97% on db-2"
FOLLOW_UP = "Which runbook applies, and what is the first step?"
INSTRUCTIONS = (
    "You triage monitoring alerts. Search the runbooks and past incidents, then answer with "
    'JSON only: {"action": "escalate"|"investigate"|"ignore", "reason": "...", '
    '"severity": "critical"|"warning"|"info"}, citing the runbook you used.'
)


DEMO_STORE = "assistant-bridge-demo-runbooks"
"""The demo's knowledge base: found again by name on later runs against the same server."""


def setup_knowledge_base(client: Any, out: TextIO) -> AssistantSpec:
    """Sync the sample runbooks into the demo's vector store; the assistant's spec over it.

    Against a real server the store is reused on later runs and nothing is uploaded twice;
    ``assistant-bridge kb delete --store assistant-bridge-demo-runbooks`` removes it.
    """

    def show(progress: SyncProgress) -> None:
        if progress.stage == "upload":
            out.write(f"  uploaded {progress.path}\n")

    result = KnowledgeBase(client, DEMO_STORE).sync(sample_runbooks(), progress=show)
    held = len(result.uploaded) + len(result.unchanged)
    out.write(
        f"  vector store {result.store_id} holds {held} files "
        f"({len(result.unchanged)} unchanged since the last run)\n"
    )
    return AssistantSpec(
        name="alert-triage",
        model="gpt-4o-mini",
        instructions=INSTRUCTIONS,
        tools=[FileSearch((result.store_id,))],
    )


@contextlib.contextmanager
def _target(
    env: Mapping[str, str], api: str, out: TextIO
) -> Iterator[tuple[Transport, dict[str, Any]]]:
    """A transport and how to name the assistant: the API a key points at, else the emulator.

    With a key, ASSISTANT_BRIDGE_ASSISTANT_ID or ASSISTANT_BRIDGE_SPEC names the assistant;
    without either, the sample runbooks are uploaded there and a spec is made over them.
    """
    if env.get("OPENAI_API_KEY"):
        kind = ResponsesTransport if api == "responses" else OpenAITransport
        with kind.from_env(env) as transport:
            out.write(f"Using {transport!r} over the {api} API.\n")
            yield transport, _who(env, transport, out)
        return
    from assistant_bridge.testing import Emulator

    out.write(
        "No OPENAI_API_KEY set: running against the built-in emulator on loopback, over the "
        f"{api} API.\n"
    )
    with Emulator() as emulator:
        out.write(f"\n== 0. Knowledge base on {emulator.base_url}\n")
        client = emulator.client()
        try:
            spec = setup_knowledge_base(client, out)
        finally:
            client.close()
        out.write(f"  assistant spec {spec.name!r}: file_search over {spec.tools[0]}\n")
        with emulator.transport(api) as transport:
            yield transport, {"assistant": spec}


def _who(env: Mapping[str, str], transport: Any, out: TextIO) -> dict[str, Any]:
    if env.get("ASSISTANT_BRIDGE_SPEC"):
        return {"assistant": AssistantSpec.load(env["ASSISTANT_BRIDGE_SPEC"])}
    if env.get("ASSISTANT_BRIDGE_ASSISTANT_ID"):
        return {"assistant_id": env["ASSISTANT_BRIDGE_ASSISTANT_ID"]}
    out.write("\n== 0. Knowledge base: uploading the sample runbooks\n")
    return {"assistant": setup_knowledge_base(transport.client, out)}


def run_demo(out: TextIO, environ: Mapping[str, str], api: str = "assistants") -> int:
    """Print the scenario step by step; 0 on success."""
    with _target(environ, api, out) as (transport, who):
        session = ThreadSession(transport, parser=JsonParser(), timeout=120, **who)
        out.write(f"\n== 1. Triage: {ALERT_CPU!r}\n")
        first = session.ask(ALERT_CPU)
        out.write(f"thread {first.thread_id}, run {first.run_id}\n")
        out.write(f"verdict: {json.dumps(first.parsed, indent=2, ensure_ascii=False)}\n")
        for citation in first.citations:
            out.write(
                f"citation [{citation.number}]: {citation.filename} "
                f"(file {citation.file_id}, marker {citation.marker!r})\n"
            )
        out.write(f"\nfor people:\n{first.render('footnotes')}\n")

        out.write(
            f"\n== 2. In parallel: a follow-up on {first.thread_id}, and {ALERT_DISK!r} "
            "on a thread of its own\n"
        )
        other = ThreadSession(transport, parser=JsonParser(), timeout=120, **who)
        with ThreadPoolExecutor(max_workers=2) as pool:
            follow_job = pool.submit(session.ask, FOLLOW_UP, parser=TextParser())
            second_job = pool.submit(other.ask, ALERT_DISK)
            follow, second = follow_job.result(), second_job.result()
        out.write(f"follow-up on the same thread: {follow.thread_id == first.thread_id}\n")
        out.write(f"{follow.text}\n")
        out.write(
            f"second alert: thread {second.thread_id} "
            f"(its own: {second.thread_id != first.thread_id})\n"
        )
        out.write(f"verdict: {json.dumps(second.parsed, indent=2, ensure_ascii=False)}\n")

        out.write("\n== 3. What a Keep workflow step receives: reply.to_dict()\n")
        out.write(json.dumps(first.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return 0
