"""The ``assistant-bridge`` command: ``demo``, ``emulator`` and ``ask``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from assistant_bridge._parsing.parsers import JsonParser, TextParser
from assistant_bridge._session.sessions import ThreadSession
from assistant_bridge._values.spec import AssistantSpec
from assistant_bridge.exceptions import AssistantBridgeError, ConfigurationError
from assistant_bridge.transports import OpenAITransport, ResponsesTransport
from assistant_bridge.transports._protocol import Transport


def run_ask(args: argparse.Namespace, out: TextIO) -> int:
    """Ask once and print the reply as the seed's JSON."""
    transport: Transport = (
        ResponsesTransport.from_env() if args.api == "responses" else OpenAITransport.from_env()
    )
    session = ThreadSession(
        transport,
        args.assistant_id,
        assistant=AssistantSpec.load(args.spec) if args.spec else None,
        thread_id=args.thread_id,
        parser=JsonParser(strict=False) if args.json else TextParser(),
        timeout=args.timeout,
    )
    reply = session.ask(args.prompt)
    out.write(json.dumps(reply.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return 0


def run_spec(args: argparse.Namespace, out: TextIO) -> int:
    """Turn an assistant object (a JSON file, or fetched by id) into a spec file."""
    if args.from_json:
        try:
            with open(args.from_json, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            msg = f"Cannot read assistant JSON from {args.from_json}: {exc}"
            raise ConfigurationError(msg) from None
        if isinstance(data, dict) and data.get("object") == "list":
            data = (data.get("data") or [{}])[0]
    else:
        with OpenAITransport.from_env() as transport:
            data = dict(transport.get_assistant(args.assistant_id).raw)
    spec = AssistantSpec.from_assistant_json(data)
    spec.save(args.output)
    out.write(f"wrote {args.output}: {spec.name!r} on {spec.model}, {len(spec.tools)} tool(s)\n")
    return 0


def run_emulator(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the emulator in the foreground until interrupted."""
    from assistant_bridge.testing import Emulator

    emulator = Emulator(host=args.host, port=args.port, api_key=args.api_key or None)
    emulator.start()
    out.write(
        f"Emulating the OpenAI Assistants API at {emulator.base_url}\n"
        f"  export OPENAI_BASE_URL={emulator.base_url}\n"
        f"  export OPENAI_API_KEY={args.api_key or 'anything'}\n"
        "Press Ctrl-C to stop.\n"
    )
    out.flush()
    emulator.serve_forever()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant-bridge", description="Ask OpenAI assistants and get parsed replies."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="triage sample alerts end to end (on the built-in emulator when no key is set)"
    )
    demo.add_argument(
        "--api", choices=["assistants", "responses"], default="assistants", help="which wire"
    )
    emulator = sub.add_parser("emulator", help="serve the Assistants API emulator on loopback")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument(
        "--api-key", default="sk-emulator", help="bearer key clients must send ('' accepts any)"
    )
    spec = sub.add_parser(
        "spec", help="turn an assistant object into a spec file (.toml or .json) to keep in code"
    )
    source = spec.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-json", help="an assistant object as exported, or the API's list")
    source.add_argument("--assistant-id", help="fetch it from the server (OPENAI_* variables)")
    spec.add_argument("-o", "--output", required=True, help="the spec file to write")
    ask = sub.add_parser(
        "ask", help="ask an assistant once (reads OPENAI_API_KEY, OPENAI_BASE_URL)"
    )
    ask.add_argument("prompt")
    who = ask.add_mutually_exclusive_group(required=True)
    who.add_argument("--assistant-id", help="an assistant object (Assistants API)")
    who.add_argument("--spec", help="an AssistantSpec file (.toml or .json), for either API")
    ask.add_argument(
        "--api", choices=["assistants", "responses"], default="assistants", help="which wire"
    )
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
            from assistant_bridge._cli.demo import run_demo

            return run_demo(stream, os.environ, args.api)
        if args.command == "emulator":
            return run_emulator(args, stream)
        if args.command == "spec":
            return run_spec(args, stream)
        return run_ask(args, stream)
    except AssistantBridgeError as exc:
        print(f"assistant-bridge: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
