"""The command's exit codes, one per kind of error, and how an exception maps to one.

Scripts branch on these, so they are part of the public contract: docs/cli.md lists them and a
test keeps that table equal to :class:`ExitCode`.
"""

from __future__ import annotations

import enum

__all__ = ["ExitCode", "exit_code_for"]


class ExitCode(enum.IntEnum):
    """What the ``assistant-bridge`` process exits with."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIGURATION = 3
    NOT_FOUND = 4
    TIMEOUT = 5
    RUN_FAILED = 6
    PARSE = 7
    SERVICE = 8
    INTERRUPTED = 130

    @property
    def kind(self) -> str:
        """The word the one-line error message starts with."""
        return self.name.lower().replace("_", " ")


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an error the command could not recover from."""
    # Imported here: --help and --version never get this far, and pay for nothing.
    from assistant_bridge._cli.arguments import UsageError
    from assistant_bridge.exceptions import (
        AuthenticationError,
        ConfigurationError,
        NotFoundError,
        ParseError,
        RunError,
        RunTimeoutError,
        TransportError,
    )

    # Most specific first: RunTimeoutError is a RunError, AuthenticationError a TransportError.
    by_class: tuple[tuple[type[BaseException], ExitCode], ...] = (
        (UsageError, ExitCode.USAGE),
        (ConfigurationError, ExitCode.CONFIGURATION),
        (AuthenticationError, ExitCode.CONFIGURATION),
        (NotFoundError, ExitCode.NOT_FOUND),
        (RunTimeoutError, ExitCode.TIMEOUT),
        (RunError, ExitCode.RUN_FAILED),
        (ParseError, ExitCode.PARSE),
        (TransportError, ExitCode.SERVICE),
        (KeyboardInterrupt, ExitCode.INTERRUPTED),
    )
    for cls, code in by_class:
        if isinstance(exc, cls):
            return code
    return ExitCode.ERROR
