"""Every error assistant_bridge raises, in one tree.

    AssistantBridgeError
    ├── ConfigurationError          the library was set up wrongly (missing key, bad id, ...)
    │   ├── InvalidArgumentError    an argument's value is refused (also a ValueError)
    │   └── ArgumentTypeError       an argument of the wrong type, or unknown (also a TypeError)
    ├── TransportError              the server or the network said no
    │   ├── AuthenticationError     401/403: the key is missing, wrong or lacks a permission
    │   ├── NotFoundError           404: the assistant, thread or run does not exist
    │   ├── BadRequestError         400/422: the server rejected what was sent
    │   │   └── ActiveRunError      400: the thread already has an active run
    │   ├── ConflictError           409: the resource changed under us
    │   ├── RateLimitError          429: too many requests or no quota left
    │   ├── ServerError             5xx: the service failed
    │   └── APIConnectionError      no answer: connection refused, reset or timed out
    │       ├── UnsentRequestError  the request never reached the server: safe to repeat
    │       ├── StreamInterruptedError  an event stream broke off, went silent or ended mid-event
    │       └── MalformedResponseError  an answer that cannot be read: not JSON, or the wrong object
    ├── RunError                    the run itself did not end well
    │   ├── RunFailedError          status "failed", with last_error code and message
    │   ├── RunCancelledError       status "cancelled"
    │   ├── RunExpiredError         status "expired"
    │   ├── RunIncompleteError      status "incomplete", with the partial reply
    │   ├── RunTimeoutError         our deadline passed; the run was cancelled
    │   ├── ActionRequiredError     the run wants tool outputs and nobody can give them
    │   └── UnexpectedStatusError   a status the state table cannot handle
    ├── ToolError                   a registered tool failed (with on_error="raise")
    └── ParseError                  the reply text is not what the parser expects
        └── SchemaValidationError   the JSON does not match the schema, at ``path``

Foreign exceptions (``openai``'s) are translated at one boundary, in the transport, so code
above it only ever catches these. No field of an error (message, code, param, request id)
ever holds an API key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from typing_extensions import Unpack

from assistant_bridge._redact import redact

if TYPE_CHECKING:
    from assistant_bridge._values.models import ToolCall
    from assistant_bridge._values.reply import Reply

__all__ = [
    "AssistantBridgeError",
    "ConfigurationError",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "UnsupportedOperationError",
    "TransportError",
    "AuthenticationError",
    "NotFoundError",
    "BadRequestError",
    "ActiveRunError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "APIConnectionError",
    "UnsentRequestError",
    "StreamInterruptedError",
    "MalformedResponseError",
    "RunError",
    "RunFailedError",
    "RunCancelledError",
    "RunExpiredError",
    "RunIncompleteError",
    "RunTimeoutError",
    "ActionRequiredError",
    "UnexpectedStatusError",
    "ToolError",
    "ParseError",
    "SchemaValidationError",
]


class AssistantBridgeError(Exception):
    """Base class of every error this library raises."""

    def _repr_markdown_(self) -> str:
        """Jupyter shows the class, the message and the ids the error carries."""
        from assistant_bridge._values.display import error_markdown

        return error_markdown(self)


class ConfigurationError(AssistantBridgeError, ValueError):
    """The library was configured or called with values it cannot use."""


class InvalidArgumentError(ConfigurationError):
    """An argument's value was refused before anything was sent; ``argument`` names it."""

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class ArgumentTypeError(ConfigurationError, TypeError):
    """An argument of the wrong type, or an unknown keyword, refused before anything was sent.

    Also a ``TypeError`` (and, as every ConfigurationError, a ``ValueError``); ``argument``
    names it.
    """

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class UnsupportedOperationError(ConfigurationError):
    """A transport was asked for an operation it cannot perform (nothing was sent);
    ``operation`` names the operation's type."""

    def __init__(self, message: str, *, operation: str) -> None:
        super().__init__(message)
        self.operation = operation


class ErrorFields(TypedDict, total=False):
    """What the server said of an error beside its message; the keyword arguments every
    :class:`TransportError` takes."""

    status_code: int | None
    request_id: str | None
    code: str | None
    param: str | None


def _masked(text: str | None) -> str | None:
    return None if text is None else redact(text)


class TransportError(AssistantBridgeError):
    """The server answered with an error, or did not answer at all.

    When the failure concerns a run, ``thread_id`` and ``run_id`` name it (None when unknown)
    and ``cancel_confirmed`` says whether the session saw the run stop after cancelling it
    (None when it had nothing to cancel).
    """

    thread_id: str | None = None
    run_id: str | None = None
    cancel_confirmed: bool | None = None

    def __init__(self, message: str, **fields: Unpack[ErrorFields]) -> None:
        # Key-shaped text is masked here too, whoever builds the error (the transport's
        # boundary also masks the exact key, which need not look like one).
        unknown = sorted(fields.keys() - ErrorFields.__optional_keys__)
        if unknown:
            msg = f"{type(self).__name__}() got unexpected keyword arguments: {unknown}"
            raise TypeError(msg)
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status_code = fields.get("status_code")
        self.request_id = _masked(fields.get("request_id"))
        self.code = _masked(fields.get("code"))
        self.param = _masked(fields.get("param"))

    def __str__(self) -> str:
        extra = []
        if self.status_code is not None:
            extra.append(f"status {self.status_code}")
        if self.code:
            extra.append(f"code {self.code}")
        if self.request_id:
            extra.append(f"request id {self.request_id}")
        return f"{self.message} ({', '.join(extra)})" if extra else self.message


class AuthenticationError(TransportError):
    """The API key is missing, wrong, revoked or lacks a permission (401/403)."""


class NotFoundError(TransportError):
    """The assistant, thread, run or path does not exist (404)."""


class BadRequestError(TransportError):
    """The server rejected the request as invalid (400/422)."""


class ActiveRunError(BadRequestError):
    """The thread already has an active run, so no message or run can be added (400)."""

    def __init__(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        run_id: str | None = None,
        **fields: Unpack[ErrorFields],
    ) -> None:
        fields.setdefault("status_code", 400)
        super().__init__(message, **fields)
        self.thread_id = thread_id
        self.run_id = run_id


class ConflictError(TransportError):
    """The resource was changed by someone else meanwhile (409)."""


class RateLimitError(TransportError):
    """Too many requests, or the account has no quota left (429)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, **fields: Unpack[ErrorFields]
    ) -> None:
        fields.setdefault("status_code", 429)
        super().__init__(message, **fields)
        self.retry_after = retry_after


class ServerError(TransportError):
    """The service failed to handle a valid request (5xx)."""


class APIConnectionError(TransportError):
    """No answer came back: the connection was refused, reset or timed out.

    ``unsent`` is True when the request certainly never reached the server (the connection
    could not be opened), so repeating it cannot duplicate anything.
    """

    def __init__(
        self, message: str, *, unsent: bool = False, **fields: Unpack[ErrorFields]
    ) -> None:
        super().__init__(message, **fields)
        self.unsent = unsent


class UnsentRequestError(APIConnectionError):
    """The request certainly never reached the server (connection refused, DNS or TLS failure):
    repeating it, even a write, cannot do anything twice."""

    def __init__(self, message: str, **fields: Unpack[ErrorFields]) -> None:
        super().__init__(message, unsent=True, **fields)


class StreamInterruptedError(APIConnectionError):
    """An event stream broke off, stayed silent longer than allowed, or ended in the middle of
    an event, before the run settled."""


class MalformedResponseError(APIConnectionError):
    """The server answered, but not with what the operation returns: a body that is not JSON
    (cut short, an HTML page from a proxy) or an object of another type (a thread where a run
    of that thread was asked for).

    Nothing in it can be trusted, so it counts as a lost answer: the request may have been
    carried out (a write is looked up, not repeated), and a read is simply tried again.
    """


class RunIds(TypedDict):
    """Which run an error is about: the keyword arguments every :class:`RunError` takes."""

    thread_id: str
    run_id: str


class RunPlace(RunIds):
    """A run and the status it was in."""

    status: str


class RunError(AssistantBridgeError):
    """A run ended, or was left, in a state that gives no reply."""

    def __init__(self, message: str, *, thread_id: str, run_id: str, status: str) -> None:
        super().__init__(message)
        self.message = message
        self.thread_id = thread_id
        self.run_id = run_id
        self.status = status


class RunFailedError(RunError):
    """The run ended with status "failed"; ``code`` and ``error_message`` come from last_error."""

    def __init__(
        self, message: str, *, code: str | None, error_message: str | None, **ids: Unpack[RunIds]
    ) -> None:
        super().__init__(message, status="failed", **ids)
        self.code = code
        self.error_message = error_message


class RunCancelledError(RunError):
    """The run ended with status "cancelled" (someone cancelled it)."""


class RunExpiredError(RunError):
    """The run ended with status "expired": it waited too long, usually for tool outputs."""


class RunIncompleteError(RunError):
    """The run ended "incomplete"; ``reason`` says why and ``partial`` holds what was written."""

    def __init__(
        self, message: str, *, reason: str | None, partial: Reply[Any], **ids: Unpack[RunIds]
    ) -> None:
        super().__init__(message, status="incomplete", **ids)
        self.reason = reason
        self.partial = partial


class RunTimeoutError(RunError, TimeoutError):
    """The ask's deadline passed; the run was cancelled, ``cancel_confirmed`` says if it stopped."""

    def __init__(
        self, message: str, *, timeout: float, cancel_confirmed: bool, **run: Unpack[RunPlace]
    ) -> None:
        super().__init__(message, **run)
        self.timeout = timeout
        self.cancel_confirmed = cancel_confirmed


class ActionRequiredError(RunError):
    """The run asked for tool outputs that no handler could give; it was cancelled."""

    def __init__(
        self,
        message: str,
        *,
        tool_calls: Sequence[ToolCall],
        cancel_confirmed: bool,
        **run: Unpack[RunPlace],
    ) -> None:
        super().__init__(message, **run)
        self.tool_calls = tuple(tool_calls)
        self.cancel_confirmed = cancel_confirmed


class UnexpectedStatusError(RunError):
    """The run reached a status the state table was told to refuse."""


class ToolError(AssistantBridgeError):
    """A tool call could not be answered: unknown tool, bad arguments, raised or timed out."""

    def __init__(self, message: str, *, tool: str, call_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.tool = tool
        self.call_id = call_id


class ParseError(AssistantBridgeError, ValueError):
    """The reply text could not be parsed; ``raw_text`` keeps it whole."""

    def __init__(self, message: str, *, raw_text: str) -> None:
        super().__init__(message)
        self.message = message
        self.raw_text = raw_text
        #: The reply whose text failed to parse (``parsed`` is None), when a session parsed it.
        self.reply: Reply[Any] | None = None


class SchemaValidationError(ParseError):
    """The reply is JSON but does not match the schema; ``path`` names the failing place."""

    def __init__(self, message: str, *, raw_text: str, path: str, errors: Sequence[str]) -> None:
        super().__init__(message, raw_text=raw_text)
        self.path = path
        self.errors = tuple(errors)
