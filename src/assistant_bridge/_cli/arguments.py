"""What every subcommand shares about its arguments: one parser class that reports a mistake
as ``assistant-bridge: usage: ...`` under the usage of the subcommand that made it, and the
value types, so that a timeout or a port is checked the same way wherever a command takes one.

Light on purpose (argparse and math only): ``--help`` and ``--version`` pay for nothing else.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from typing import NoReturn

__all__ = [
    "CommandParser",
    "UsageError",
    "add_verbose",
    "port",
    "require_key",
    "seconds",
]


class UsageError(Exception):
    """The arguments are wrong; ``parser`` is the (sub)command whose usage to show."""

    def __init__(self, message: str, parser: argparse.ArgumentParser) -> None:
        super().__init__(message)
        self.parser = parser


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are raised (as :class:`UsageError`) rather than
    printed and exited on, so the command reports them in its one-line form."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self)


def seconds(text: str) -> float:
    """A duration in seconds: a finite number over 0, at most the library's limit (``abc``,
    ``-1``, ``0``, ``inf`` and ``nan`` are all the same mistake, as the library sees them)."""
    from assistant_bridge._values.checks import MAX_SECONDS

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        msg = f"expected seconds, a finite number over 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    if value > MAX_SECONDS:
        msg = f"expected seconds, at most {MAX_SECONDS:g}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def port(text: str) -> int:
    """A TCP port: 1 to 65535, or 0 for any free port."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        msg = f"expected a port from 1 to 65535 (or 0 for any free port), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_verbose(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v``/``--verbose`` on ``parser`` and every subcommand under it, so it works wherever
    a user puts it (``assistant-bridge -v kb sync ...`` or ``... kb sync DIR -v``)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        # Only the top level sets the default: a subcommand's must not reset a -v given before.
        default=False if top else argparse.SUPPRESS,
        help="on error, print the full traceback before the one-line message",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subcommand in action.choices.values():
                add_verbose(subcommand)


FLAGS = {
    "assistant_id": "--assistant-id",
    "thread_id": "--thread",
    "run_id": "--resume",
    "timeout": "--timeout",
    "instructions": "--instructions",
    "model": "--model",
    "metadata": "--metadata",
    "prompt": "PROMPT",
}
"""The command's name for each argument of the library it passes a flag's value to."""


def as_usage(exc: BaseException, args: argparse.Namespace | None) -> BaseException:
    """A value the library refused before sending anything, that came from a flag, is a usage
    mistake (exit 2) named by its flag, as argparse reports one; anything else is unchanged."""
    from assistant_bridge.exceptions import ArgumentTypeError, InvalidArgumentError

    if not isinstance(exc, (InvalidArgumentError, ArgumentTypeError)) or args is None:
        return exc
    flag = FLAGS.get(exc.argument)
    parser = getattr(args, "parser", None)
    if flag is None or parser is None or getattr(args, "command", None) != "ask":
        return exc
    message = " ".join(str(exc).split())
    message = message.removeprefix(exc.argument).lstrip().rstrip(".")
    return UsageError(f"argument {flag}: {message}", parser)


def require_key(environ: Mapping[str, str], command: str) -> None:
    """Refuse (exit 3) before anything is built when no key is set, saying what to export."""
    if environ.get("OPENAI_API_KEY", "").strip():
        return
    from assistant_bridge.exceptions import ConfigurationError

    msg = (
        f"{command} needs OPENAI_API_KEY: export OPENAI_API_KEY=sk-... (and OPENAI_BASE_URL=.../v1 "
        "for a compatible server, or the URL `assistant-bridge emulator` prints); "
        "`assistant-bridge demo` runs with no key"
    )
    raise ConfigurationError(msg)
