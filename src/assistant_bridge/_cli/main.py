"""The ``assistant-bridge`` command: parse the arguments, run a subcommand, turn what it
raised into one line on stderr and an exit code (see :mod:`.exit_codes`)."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from assistant_bridge import __version__
from assistant_bridge._cli import ask, kb, serve, spec_file
from assistant_bridge._cli.exit_codes import ExitCode, exit_code_for
from assistant_bridge.exceptions import AssistantBridgeError, NotFoundError, RunError

# Each module declares its subcommand with add_parser(sub), setting ``run(args, out, err)``.
COMMANDS = (ask, serve, spec_file, kb)


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser(
        "demo", help="triage sample alerts end to end (on the built-in emulator when no key is set)"
    )
    demo.add_argument(
        "--api", choices=["assistants", "responses"], default="assistants", help="which wire"
    )

    def run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        from assistant_bridge._cli.demo import run_demo

        return run_demo(out, os.environ, args.api)

    demo.set_defaults(run=run_demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="assistant-bridge",
        description="Ask OpenAI assistants and get parsed replies. Exit codes: docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="on error, print the full traceback"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    for command in COMMANDS:
        command.add_parser(sub)
    for subcommand in sub.choices.values():  # -v after the subcommand works too
        subcommand.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="tracebacks"
        )
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Entry point of the ``assistant-bridge`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    stdout = sys.stdout if out is None else out
    stderr = sys.stderr if err is None else err
    try:
        code: int = args.run(args, stdout, stderr)
    except (AssistantBridgeError, KeyboardInterrupt) as exc:
        exit_code = exit_code_for(exc)
        if args.verbose:
            traceback.print_exception(exc, file=stderr)
        stderr.write(f"assistant-bridge: {exit_code.kind}: {describe(exc)}\n")
        stderr.flush()
        return int(exit_code)
    except BrokenPipeError:
        # The reader went away (`| head -1`): the run was cancelled; exit without a word.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.ERROR)
    return code


def describe(exc: BaseException) -> str:
    """The error in one line, with what to do next where the command knows it."""
    if isinstance(exc, KeyboardInterrupt):
        return str(exc) or "stopped"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, RunError) and exc.run_id and exc.run_id not in text:
        text += f" (thread {exc.thread_id}, run {exc.run_id})"
    if isinstance(exc, RunError) and exc.status in {"queued", "in_progress", "requires_action"}:
        resume = f"assistant-bridge ask - --thread {exc.thread_id} --resume {exc.run_id}"
        text += f"; resume with: {resume}"
    if isinstance(exc, NotFoundError):
        warning = ask.base_url_warning(os.environ)
        if warning:
            text += f"; {warning}"
    return text


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
