"""The alert-triage scenario the library was built for, end to end: ``assistant-bridge demo``.

It uploads the bundled sample runbooks to a vector store, defines a file-search assistant in
code, triages "Server CPU at 100%" into a JSON verdict, asks a follow-up on the same thread
while a second alert is triaged in parallel on its own thread, and prints each step, over the
Responses API (what OpenAI serves today) or the Assistants API.

It runs on the built-in emulator (no key, no network, nothing spent) unless ``--live`` asks for
the server OPENAI_API_KEY and OPENAI_BASE_URL point at. Live, it first says what it will create,
and removes it all at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from assistant_bridge._cli.arguments import require_key

if TYPE_CHECKING:
    from assistant_bridge import AssistantSpec, Reply
    from assistant_bridge.knowledge import SyncProgress
    from assistant_bridge.transports import ClientTransport

__all__ = ["DEMO_STORE", "add_parser", "run_demo", "setup_knowledge_base"]

ALERT_CPU = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"
ALERT_DISK = "Analyze this alert: Disk /var at 97% on db-2"
FOLLOW_UP = "Which runbook applies, and what is the first step?"
INSTRUCTIONS = (
    "You triage monitoring alerts. Search the runbooks and past incidents, then answer with "
    'JSON only: {"action": "escalate"|"investigate"|"ignore", "reason": "...", '
    '"severity": "critical"|"warning"|"info"}, citing the runbook you used.'
)
MODEL = "gpt-4o-mini"

DEMO_STORE = "assistant-bridge-demo-runbooks"
"""The demo's knowledge base: found again by name on later runs against the same server."""
DEMO_ASSISTANT = "assistant-bridge-demo"
"""The name of the demo's assistant (an assistant object on the Assistants wire)."""


def add_parser(sub: Any) -> None:
    """Declare ``demo`` and its options."""
    demo = sub.add_parser(
        "demo",
        help="triage sample alerts end to end, on the built-in emulator (--live: on a server)",
        description="Triage sample alerts end to end: upload runbooks, ask for a JSON verdict "
        "with citations, a follow-up and a second alert in parallel. Runs on the built-in "
        "emulator (no key, no network) unless --live.",
    )
    demo.add_argument(
        "--api",
        choices=["assistants", "responses"],
        default="responses",
        help="which wire (default: %(default)s)",
    )
    demo.add_argument(
        "--live",
        action="store_true",
        help="run on the server OPENAI_API_KEY (and OPENAI_BASE_URL) point at: it creates a "
        "vector store, 5 files and the threads or conversations of 3 asks, and spends tokens",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="with --live: keep what the demo created (default: remove it at the end)",
    )
    demo.set_defaults(run=_run)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.keep and not args.live:
        args.parser.error("--keep only applies with --live (the emulator keeps nothing)")
    return run_demo(out, os.environ, args.api, live=args.live, keep=args.keep)


def setup_knowledge_base(client: Any, out: TextIO) -> AssistantSpec:
    """Sync the sample runbooks into the demo's vector store; the assistant's spec over it.

    The store is found again by name on later runs, so nothing is uploaded twice;
    ``assistant-bridge kb delete --store assistant-bridge-demo-runbooks`` removes it.
    """
    from assistant_bridge import AssistantSpec, FileSearch
    from assistant_bridge.knowledge import KnowledgeBase, sample_runbooks

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
        name=DEMO_ASSISTANT,
        model=MODEL,
        instructions=INSTRUCTIONS,
        tools=[FileSearch((result.store_id,))],
    )


class _Cleanup:
    """What a live demo created on the server, removed at the end (unless kept)."""

    def __init__(self, transport: ClientTransport, api: str, out: TextIO) -> None:
        self._transport = transport
        self._api = api
        self._out = out
        self.paths: dict[str, str] = {}  # API path -> what it is, in the order created

    def created(self, path: str, what: str) -> None:
        self.paths.setdefault(path, what)

    def replies(self, *replies: Reply[Any]) -> None:
        """The threads (or conversations and responses) the asks made."""
        for reply in replies:
            if self._api == "responses":
                self.created(f"/conversations/{reply.thread_id}", f"conversation {reply.thread_id}")
                self.created(f"/responses/{reply.run_id}", f"response {reply.run_id}")
            else:
                self.created(f"/threads/{reply.thread_id}", f"thread {reply.thread_id}")

    def remove(self) -> None:
        """Delete it all, newest first, then the knowledge base; say what could not go."""
        from assistant_bridge.exceptions import AssistantBridgeError, NotFoundError
        from assistant_bridge.knowledge import KnowledgeBase
        from assistant_bridge.transports import map_openai_errors

        client = self._transport.client
        self._out.write("\n== 4. Removing what the demo created (--keep keeps it)\n")
        for path, what in reversed(self.paths.items()):
            try:
                with map_openai_errors((client.api_key,)):
                    client.delete(
                        path, cast_to=object, options={"headers": {"OpenAI-Beta": "assistants=v2"}}
                    )
                self._out.write(f"  removed {what}\n")
            except NotFoundError:
                self._out.write(f"  {what} was already gone\n")
            except AssistantBridgeError as exc:
                self._out.write(f"  could not remove {what}: {exc}\n")
        try:
            KnowledgeBase(self._transport, DEMO_STORE).delete()
            self._out.write(f"  removed vector store {DEMO_STORE!r} and the files synced to it\n")
        except AssistantBridgeError as exc:
            self._out.write(
                f"  could not remove vector store {DEMO_STORE!r}: {exc}; "
                f"`assistant-bridge kb delete --store {DEMO_STORE}` removes it\n"
            )


@contextlib.contextmanager
def _live(
    env: Mapping[str, str], api: str, out: TextIO, keep: bool
) -> Iterator[tuple[Any, dict[str, Any], _Cleanup | None]]:
    """The server the key points at: say what will be created, create it, remove it after."""
    from assistant_bridge import OpenAITransport, ResponsesTransport

    require_key(env, "demo --live")
    kind = ResponsesTransport if api == "responses" else OpenAITransport
    with kind.from_env(env) as transport:
        where = env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        made = (
            "2 conversations and their 3 responses"
            if api == "responses"
            else f"an assistant {DEMO_ASSISTANT!r} and 2 threads"
        )
        out.write(
            f"Live on {where}, over the {api} API. This creates a vector store {DEMO_STORE!r} "
            f"with the 5 sample runbooks, {made}, and spends the tokens of 3 asks of {MODEL}; "
            + ("it is all kept (--keep).\n" if keep else "it is all removed at the end.\n")
        )
        cleanup = None if keep else _Cleanup(transport, api, out)
        try:
            out.write("\n== 0. Knowledge base: uploading the sample runbooks\n")
            spec = setup_knowledge_base(transport.client, out)
            who: dict[str, Any] = {"assistant": spec}
            if api == "assistants":
                assistant_id = transport.resolve_assistant(spec)
                if cleanup is not None and assistant_id:
                    cleanup.created(f"/assistants/{assistant_id}", f"assistant {assistant_id}")
                who = {"assistant_id": assistant_id}
            yield transport, who, cleanup
        finally:
            if cleanup is not None:
                cleanup.remove()


@contextlib.contextmanager
def _emulated(api: str, out: TextIO) -> Iterator[tuple[Any, dict[str, Any], None]]:
    """The built-in emulator on loopback, with the runbooks in a vector store."""
    from assistant_bridge.testing import Emulator

    out.write(
        f"On the built-in emulator on loopback, over the {api} API: no key, no network "
        "(--live runs on the server OPENAI_API_KEY points at).\n"
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
            yield transport, {"assistant": spec}, None


def run_demo(
    out: TextIO,
    environ: Mapping[str, str],
    api: str = "responses",
    *,
    live: bool = False,
    keep: bool = False,
) -> int:
    """Print the scenario step by step; 0 on success."""
    from concurrent.futures import ThreadPoolExecutor

    from assistant_bridge import JsonParser, TextParser, ThreadSession

    target = _live(environ, api, out, keep) if live else _emulated(api, out)
    with target as (transport, who, cleanup):
        session = ThreadSession(transport, parser=JsonParser(), timeout=120, **who)
        out.write(f"\n== 1. Triage: {ALERT_CPU!r}\n")
        first = session.ask(ALERT_CPU)
        if cleanup is not None:
            cleanup.replies(first)
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
        if cleanup is not None:
            cleanup.replies(follow, second)
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
