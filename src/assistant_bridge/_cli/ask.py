"""``assistant-bridge ask``: one question, the answer streamed to stdout as it is written.

Progress (the thread, the run and its statuses) goes to stderr, so stdout holds only the
answer, or with ``--json`` only the seed's dict. Ctrl-C cancels the run and names it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO
from urllib.parse import urlsplit

from assistant_bridge import (
    AskOptions,
    AssistantSpec,
    JsonParser,
    OpenAITransport,
    Parser,
    Reply,
    ReplyStream,
    ResponsesTransport,
    RunStatusChanged,
    TextDelta,
    TextParser,
    ThreadSession,
    ToolCallsRequested,
    Transport,
)
from assistant_bridge._cli.progress import Progress
from assistant_bridge._redact import redact
from assistant_bridge.exceptions import AssistantBridgeError, ConfigurationError

__all__ = ["Interrupted", "add_parser", "base_url_warning", "run"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped an ask; the run, if one had started, was cancelled."""

    def __init__(self, thread_id: str | None, run_id: str | None) -> None:
        super().__init__()
        self.thread_id = thread_id
        self.run_id = run_id

    def __str__(self) -> str:
        if self.run_id is None:
            where = f" on thread {self.thread_id}" if self.thread_id else ""
            return f"stopped before a run started{where}"
        return (
            f"cancelled run {self.run_id} on thread {self.thread_id}; ask again on that "
            f"thread with --thread {self.thread_id}"
        )


def add_parser(sub: Any) -> None:
    """Declare ``ask`` and its options."""
    ask = sub.add_parser(
        "ask",
        help="ask an assistant once, streaming the answer (reads OPENAI_API_KEY, OPENAI_BASE_URL)",
        description="Ask an assistant once. The answer streams to stdout; progress to stderr.",
    )
    ask.add_argument("prompt", help="the question or alert; '-' reads it from stdin")
    who = ask.add_mutually_exclusive_group()
    who.add_argument(
        "--assistant-id",
        default=os.environ.get("ASSISTANT_BRIDGE_ASSISTANT_ID"),
        help="an assistant object (Assistants API); default $ASSISTANT_BRIDGE_ASSISTANT_ID",
    )
    who.add_argument(
        "--spec",
        default=None,
        help="an AssistantSpec file (.toml or .json), for either API",
    )
    ask.add_argument(
        "--api", choices=["assistants", "responses"], default="assistants", help="which wire"
    )
    ask.add_argument("--thread", "--thread-id", dest="thread", help="continue this thread")
    ask.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="wait for a run that already exists on --thread instead of asking (the prompt "
        "is ignored; give '-' or anything)",
    )
    ask.add_argument("--instructions", help="replace the assistant's instructions for this run")
    ask.add_argument("--model", help="use this model for this run")
    ask.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="run metadata; repeat for more pairs",
    )
    ask.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole ask")
    ask.add_argument(
        "--json", action="store_true", help="print the seed's dict (response parsed as JSON)"
    )
    ask.add_argument(
        "--expect-json",
        action="store_true",
        help="fail (exit 7) when the answer is not JSON, instead of printing it as text",
    )
    ask.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    ask.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Ask (or resume), stream the answer to ``out``, report progress on ``err``."""
    prompt = _read_prompt(args.prompt) if args.resume is None else "-"
    spec = AssistantSpec.load(args.spec) if args.spec else None
    assistant_id = args.assistant_id
    if spec is None and assistant_id is None:
        env_spec = os.environ.get("ASSISTANT_BRIDGE_SPEC")
        if not env_spec:
            msg = (
                "ask needs an assistant: --assistant-id asst_…, --spec FILE, or "
                "ASSISTANT_BRIDGE_ASSISTANT_ID / ASSISTANT_BRIDGE_SPEC in the environment."
            )
            raise ConfigurationError(msg)
        spec = AssistantSpec.load(env_spec)
    if spec is not None:
        assistant_id = None
    if args.resume is not None and args.thread is None:
        msg = "--resume RUN_ID needs the run's thread: add --thread thread_…"
        raise ConfigurationError(msg)
    parser: Parser[Any] = (
        JsonParser()
        if args.expect_json
        else JsonParser(strict=False)
        if args.json
        else TextParser()
    )
    options: AskOptions = {"timeout": args.timeout}
    if args.instructions is not None:
        options["instructions"] = args.instructions
    if args.model is not None:
        options["model"] = args.model
    if args.metadata:
        options["metadata"] = _metadata(args.metadata)
    progress = Progress(err, quiet=args.quiet)
    warning = base_url_warning(os.environ)
    if warning:
        progress.say(f"warning: {warning}")
    transport: Transport = (
        ResponsesTransport.from_env() if args.api == "responses" else OpenAITransport.from_env()
    )
    try:
        session = ThreadSession(
            transport,
            assistant_id,
            assistant=spec,
            thread_id=args.thread,
            parser=parser,
            timeout=args.timeout,
        )
        with progress:
            if args.resume is not None:
                reply = _resume(session, args.resume, progress)
            else:
                reply = _stream(session, prompt, options, progress, None if args.json else out)
    finally:
        transport.close()
    if args.json:
        out.write(json.dumps(reply.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif not progress.streamed:
        out.write(reply.text + "\n")
    progress.done(reply)
    return 0


def _stream(
    session: ThreadSession[Any],
    prompt: str,
    options: AskOptions,
    progress: Progress,
    out: TextIO | None,
) -> Reply[Any]:
    """Follow the ask's events; text goes to ``out`` as it comes (None: keep it for the end)."""
    message_id: str | None = None
    stream = session.stream(prompt, **options)
    try:
        for event in stream:
            if isinstance(event, RunStatusChanged):
                progress.status(event.run.thread_id, event.run.id, str(event.run.status))
            elif isinstance(event, ToolCallsRequested):
                progress.say("the run asks for tools: " + ", ".join(c.name for c in event.calls))
            elif isinstance(event, TextDelta) and out is not None:
                if message_id is not None and event.message_id != message_id:
                    out.write("\n\n")
                message_id = event.message_id
                progress.streaming()
                out.write(event.text)
                out.flush()
    except BaseException as exc:  # Ctrl-C, stdout closed, ...: the run must not go on
        _close_quietly(stream)
        if not isinstance(exc, KeyboardInterrupt):
            raise
        if out is not None and progress.streamed:
            out.write("\n")
        raise Interrupted(session.thread_id or progress.thread_id, progress.run_id) from None
    if out is not None and progress.streamed:
        out.write("\n")
        out.flush()
    return stream.reply


def _close_quietly(stream: ReplyStream) -> None:
    """Close the stream, which cancels its run; a run that has just ended may refuse the
    cancel, and that is no news worth replacing the reason we stopped."""
    with contextlib.suppress(AssistantBridgeError):
        stream.close()


def _resume(session: ThreadSession[Any], run_id: str, progress: Progress) -> Reply[Any]:
    progress.status(session.thread_id, run_id, "resuming")
    try:
        return session.resume(run_id)
    except KeyboardInterrupt:
        raise Interrupted(session.thread_id, run_id) from None


def _read_prompt(value: str) -> str:
    if value != "-":
        return value
    if sys.stdin is None:
        msg = "the prompt is '-' but there is no stdin to read it from."
        raise ConfigurationError(msg)
    return sys.stdin.read()


def _metadata(pairs: list[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            msg = f"--metadata takes KEY=VALUE, got {pair!r}."
            raise ConfigurationError(msg)
        metadata[key] = value
    return metadata


def base_url_warning(environ: Mapping[str, str]) -> str | None:
    """Why ``OPENAI_BASE_URL`` looks wrong (no ``/v1`` path), or None when it looks right."""
    url = redact(environ.get("OPENAI_BASE_URL") or "", [environ.get("OPENAI_API_KEY")])
    if not url:
        return None
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/v1"):
        return None
    return (
        f"OPENAI_BASE_URL={url} does not end in /v1; OpenAI, most compatible servers and the "
        f"emulator serve the API under /v1 (try {url.rstrip('/')}/v1)"
    )
