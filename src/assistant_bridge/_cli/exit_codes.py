"""The command's exit codes, one per kind of error, and how an exception maps to one.

Scripts branch on these, so they are part of the public contract: docs/cli.md lists them and a
test keeps that table equal to :class:`ExitCode`.
"""

from __future__ import annotations

import enum

from assistant_bridge.exceptions import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    ParseError,
    RunError,
    RunTimeoutError,
    TransportError,
)

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


# Most specific first: RunTimeoutError is a RunError, AuthenticationError a TransportError.
_BY_CLASS: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (ConfigurationError, ExitCode.CONFIGURATION),
    (AuthenticationError, ExitCode.CONFIGURATION),
    (NotFoundError, ExitCode.NOT_FOUND),
    (RunTimeoutError, ExitCode.TIMEOUT),
    (RunError, ExitCode.RUN_FAILED),
    (ParseError, ExitCode.PARSE),
    (TransportError, ExitCode.SERVICE),
    (KeyboardInterrupt, ExitCode.INTERRUPTED),
)


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an error the command could not recover from."""
    for cls, code in _BY_CLASS:
        if isinstance(exc, cls):
            return code
    return ExitCode.ERROR
