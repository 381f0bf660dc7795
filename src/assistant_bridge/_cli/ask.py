"""``assistant-bridge ask``: one question, the answer streamed to stdout as it is written.

Progress (the thread, the run and its statuses) goes to stderr, so stdout holds only the
answer, or with ``--json`` only the reply's dict (what the Keep provider returns). Ctrl-C
cancels the run and names it. The library is imported when the command runs, not before.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from assistant_bridge._cli.arguments import require_key, seconds

if TYPE_CHECKING:
    from assistant_bridge import AskOptions, Reply, ReplyStream, ThreadSession
    from assistant_bridge._cli.progress import Progress

__all__ = ["Interrupted", "add_parser", "base_url_warning", "resume_line", "run"]

DEFAULT_TIMEOUT = 60.0


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
        description="Ask an assistant once. The answer streams to stdout; progress to stderr. "
        "Needs OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server or the emulator).",
    )
    ask.add_argument("prompt", help="the question or alert; '-' reads it from stdin")
    who = ask.add_mutually_exclusive_group()
    who.add_argument(
        "--assistant-id",
        default=os.environ.get("ASSISTANT_BRIDGE_ASSISTANT_ID"),
        help="an assistant object, asst_... (Assistants API) (default: "
        "$ASSISTANT_BRIDGE_ASSISTANT_ID)",
    )
    who.add_argument(
        "--spec",
        default=None,
        metavar="FILE",
        help="the assistant defined in a spec file (.toml or .json), for either API "
        "(default: $ASSISTANT_BRIDGE_SPEC)",
    )
    ask.add_argument(
        "--api",
        choices=["assistants", "responses"],
        default=None,
        help="which wire (default: assistants with --assistant-id, else responses, which is "
        "what OpenAI serves today)",
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
        type=metadata_pair,
        metavar="KEY=VALUE",
        help="run metadata; repeat for more pairs",
    )
    ask.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="deadline of the whole ask; the run is cancelled when it passes "
        "(default: %(default)g)",
    )
    ask.add_argument(
        "--json",
        action="store_true",
        help="print the reply as JSON instead of its text: the dict the Keep provider returns "
        "(response parsed as JSON when it is, thread_id, run_id, messages, raw_response)",
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
    if args.resume is not None and args.thread is None:
        args.parser.error("--resume RUN_ID needs the run's thread: add --thread THREAD_ID")
    require_key(os.environ, "ask")
    from assistant_bridge import (
        AssistantSpec,
        JsonParser,
        OpenAITransport,
        Parser,
        ResponsesTransport,
        TextParser,
        ThreadSession,
        Transport,
    )
    from assistant_bridge._cli.progress import Progress
    from assistant_bridge.exceptions import ConfigurationError

    prompt = _read_prompt(args.prompt) if args.resume is None else "-"
    spec = AssistantSpec.load(args.spec) if args.spec else None
    assistant_id = args.assistant_id
    if spec is None and assistant_id is None:
        env_spec = os.environ.get("ASSISTANT_BRIDGE_SPEC")
        if not env_spec:
            msg = (
                "ask needs an assistant: --spec FILE (the assistant defined in a spec file), "
                "--assistant-id asst_..., or ASSISTANT_BRIDGE_SPEC / ASSISTANT_BRIDGE_ASSISTANT_ID "
                "in the environment"
            )
            raise ConfigurationError(msg)
        spec = AssistantSpec.load(env_spec)
    if spec is not None:
        assistant_id = None
    if args.api is None:  # an assistant object only exists on the Assistants wire
        args.api = "assistants" if assistant_id is not None else "responses"
    if args.api == "responses" and assistant_id is not None:
        args.parser.error(
            f"--assistant-id {assistant_id} names an Assistants API object, which the Responses "
            "API does not have: define the assistant in a spec file and pass --spec FILE "
            "(assistant-bridge spec --assistant-id ID -o FILE writes one), or --api assistants"
        )
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
        options["metadata"] = dict(args.metadata)
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


def resume_line(args: argparse.Namespace | None, thread_id: str | None, run_id: str | None) -> str:
    """The command to paste to pick a run up again, naming the assistant as this one did."""
    line = f"assistant-bridge ask - --thread {thread_id} --resume {run_id}"
    if args is None or getattr(args, "command", None) != "ask":
        return line
    if args.spec:
        line += f" --spec {args.spec}"
    elif args.assistant_id and args.assistant_id != os.environ.get("ASSISTANT_BRIDGE_ASSISTANT_ID"):
        line += f" --assistant-id {args.assistant_id}"
    if args.api:
        line += f" --api {args.api}"
    return line


def _stream(
    session: ThreadSession[Any],
    prompt: str,
    options: AskOptions,
    progress: Progress,
    out: TextIO | None,
) -> Reply[Any]:
    """Follow the ask's events; text goes to ``out`` as it comes (None: keep it for the end)."""
    from assistant_bridge import RunStatusChanged, TextDelta, ToolCallsRequested

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
    from assistant_bridge.exceptions import AssistantBridgeError

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
        from assistant_bridge.exceptions import ConfigurationError

        msg = "the prompt is '-' but there is no stdin to read it from."
        raise ConfigurationError(msg)
    return sys.stdin.read()


def metadata_pair(text: str) -> tuple[str, str]:
    """``--metadata KEY=VALUE``: a pair, or a usage mistake."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        msg = f"expected KEY=VALUE, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return key, value


def base_url_warning(environ: Mapping[str, str]) -> str | None:
    """Why ``OPENAI_BASE_URL`` looks wrong (no ``/v1`` path), or None when it looks right."""
    from assistant_bridge._redact import redact  # the URL's userinfo may hold a key

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
