"""The ``assistant-bridge`` command: parse the arguments, run a subcommand, turn what it
raised into one line on stderr, ``assistant-bridge: KIND: message``, and an exit code (see
:mod:`.exit_codes`), the same for every subcommand.

Nothing heavy is imported at the top: a subcommand imports ``openai`` or the emulator when it
runs, so ``--help`` and ``--version`` stay fast, and a Ctrl-C at any moment (even while those
imports are under way) lands in :func:`main`, which reports it in one line and exits 130.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import argparse

__all__ = ["build_parser", "describe", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from assistant_bridge._cli import ask, demo, kb, serve, spec_file
    from assistant_bridge._cli.arguments import CommandParser, add_verbose
    from assistant_bridge._version import __version__

    parser = CommandParser(
        prog="assistant-bridge",
        description="Ask OpenAI assistants and get parsed replies. Exit codes: docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (demo, ask, serve, spec_file, kb):
        command.add_parser(sub)
    _remember_parsers(sub)
    add_verbose(parser, top=True)
    return parser


def _remember_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """Each (sub)subcommand records itself as ``args.parser``; the innermost one wins, so a
    mistake found after parsing is shown under the usage of the command that has it."""
    import argparse

    for subcommand in sub.choices.values():
        subcommand.set_defaults(parser=subcommand)
        for action in subcommand._actions:
            if isinstance(action, argparse._SubParsersAction):
                _remember_parsers(action)


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Entry point of the ``assistant-bridge`` command; returns the exit code."""
    stdout = sys.stdout if out is None else out
    stderr = sys.stderr if err is None else err
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
        code: int = args.run(args, stdout, stderr)
    except KeyboardInterrupt as exc:
        code = _report(exc, args, stderr)
        if argv is None:  # the real command: leave now, with no worker thread to wait for
            _leave(code)
        return code
    except BrokenPipeError:
        # The reader went away (`| head -1`): the run was cancelled; exit without a word.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:
        if not _ours(exc):
            raise
        from assistant_bridge._cli.arguments import as_usage

        return _report(as_usage(exc, args), args, stderr)
    return code


def _leave(code: int) -> None:
    """End the process with ``code`` at once: after Ctrl-C, finishing the interpreter would
    wait for threads still busy with the run (and a second interrupt there would end the
    process with a traceback or a signal instead of the code)."""
    import contextlib
    import os

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _ours(exc: Exception) -> bool:
    """Whether the command reports ``exc`` in one line (anything else is a bug: a traceback)."""
    from assistant_bridge._cli.arguments import UsageError
    from assistant_bridge.exceptions import AssistantBridgeError

    return isinstance(exc, (AssistantBridgeError, UsageError))


def _report(exc: BaseException, args: argparse.Namespace | None, stderr: TextIO) -> int:
    """Write the one line (after the traceback with ``-v``, the usage for a usage mistake)."""
    import signal
    import traceback

    from assistant_bridge._cli.arguments import UsageError
    from assistant_bridge._cli.exit_codes import exit_code_for

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the report
    exit_code = exit_code_for(exc)
    if isinstance(exc, UsageError):
        stderr.write(exc.parser.format_usage())
    elif args is not None and getattr(args, "verbose", False):
        traceback.print_exception(exc, file=stderr)
    stderr.write(f"assistant-bridge: {exit_code.kind}: {describe(exc, args)}\n")
    stderr.flush()
    return int(exit_code)


def describe(exc: BaseException, args: argparse.Namespace | None = None) -> str:
    """The error in one line, in the command line's terms (flags, environment variables, the
    line to paste), with what to do next where the command knows it."""
    from assistant_bridge._cli import ask
    from assistant_bridge._cli.arguments import UsageError
    from assistant_bridge.exceptions import (
        ActionRequiredError,
        NotFoundError,
        ParseError,
        RunError,
        RunTimeoutError,
    )
    from assistant_bridge.runstate import ACTIVE_STATUSES

    if isinstance(exc, KeyboardInterrupt):
        return str(exc) or "stopped by Ctrl-C"
    if isinstance(exc, UsageError):
        return f"{exc} (see {exc.parser.prog} --help)"
    if isinstance(exc, ParseError):
        preview = " ".join(exc.raw_text.split())
        preview = preview if len(preview) <= 60 else preview[:57] + "..."
        return f"the answer is not JSON: {preview!r}; without --expect-json it is printed as text"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, RunTimeoutError):
        text = (
            f"run {exc.run_id} on thread {exc.thread_id} did not finish within "
            f"{exc.timeout:g} s and was cancelled"
        )
        if not exc.cancel_confirmed:
            text += f" (not confirmed: the run is still {exc.status})"
        text += "; ask again with a longer --timeout"
        if exc.thread_id:
            text += f" on that thread with --thread {exc.thread_id}"
    elif isinstance(exc, ActionRequiredError):
        names = ", ".join(call.name for call in exc.tool_calls) or "tools"
        text = (
            f"run {exc.run_id} on thread {exc.thread_id} asked for {names}, which the command "
            "line cannot run, and was cancelled; ask an assistant whose tools are file_search "
            "or code_interpreter only (--spec FILE)"
        )
    elif isinstance(exc, RunError) and exc.run_id and exc.run_id not in text:
        text += f" (thread {exc.thread_id}, run {exc.run_id})"
    if isinstance(exc, RunError) and exc.status and exc.status in ACTIVE_STATUSES:
        # The run may still end otherwise (the state table says which statuses are active).
        text += f"; resume with: {ask.resume_line(args, exc.thread_id, exc.run_id)}"
    if isinstance(exc, NotFoundError):
        import os

        warning = ask.base_url_warning(os.environ)
        if warning:
            text += f"; {warning}"
    return text


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
