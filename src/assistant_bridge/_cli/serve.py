"""``assistant-bridge emulator``: the loopback emulator in the foreground, started with
assistants from spec files so that ``ask --assistant-id`` has something to ask."""

from __future__ import annotations

import argparse
import errno
from typing import Any, TextIO

from assistant_bridge._cli.arguments import port

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Declare ``emulator`` and its options."""
    emulator = sub.add_parser(
        "emulator",
        help="serve the emulated OpenAI API (Assistants and Responses) on loopback",
        description="Serve the emulated OpenAI API (Assistants and Responses) on loopback until "
        "Ctrl-C; it prints the OPENAI_BASE_URL and OPENAI_API_KEY to export.",
    )
    emulator.add_argument(
        "--port", type=port, default=8765, help="0 takes any free port (default: %(default)s)"
    )
    emulator.add_argument("--host", default="127.0.0.1", help="(default: %(default)s)")
    emulator.add_argument(
        "--api-key",
        default="sk-emulator",
        help="bearer key clients must send; '' accepts any (default: %(default)s)",
    )
    emulator.add_argument(
        "--assistant",
        action="append",
        default=[],
        metavar="SPEC",
        help="create an assistant from this spec file (.toml or .json) and print its id; "
        "repeatable",
    )
    emulator.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Start the emulator, create its assistants, print how to use it, serve until Ctrl-C."""
    from assistant_bridge import AssistantSpec
    from assistant_bridge.exceptions import ConfigurationError
    from assistant_bridge.testing import Emulator

    specs = [(path, AssistantSpec.load(path)) for path in args.assistant]
    emulator = Emulator(host=args.host, port=args.port, api_key=args.api_key or None)
    try:
        emulator.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            msg = (
                f"port {args.port} on {args.host} is already in use: stop what holds it, or "
                "pick another with --port (0 takes any free port)."
            )
            raise ConfigurationError(msg) from None
        msg = f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        raise ConfigurationError(msg) from None
    try:
        out.write(
            f"Emulating the OpenAI API (Assistants and Responses) at {emulator.base_url}\n"
            f"  export OPENAI_BASE_URL={emulator.base_url}\n"
            f"  export OPENAI_API_KEY={args.api_key or 'anything'}\n"
        )
        if specs:
            with emulator.transport() as transport:
                for path, spec in specs:
                    assistant_id = transport.resolve_assistant(spec)
                    out.write(f"  assistant {spec.name!r} from {path}: {assistant_id}\n")
        out.write("Press Ctrl-C to stop.\n")
        out.flush()
    except KeyboardInterrupt:  # Ctrl-C is how this command ends, even while it starts
        emulator.stop()
        return 0
    except BaseException:
        emulator.stop()
        raise
    emulator.serve_forever()
    return 0
