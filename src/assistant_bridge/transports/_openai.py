"""The error boundary with ``openai``: its exceptions translated into ours.

Every ``openai`` exception is turned into ours in :func:`map_openai_errors`, keeping status
code, request id and error code, never the key (in any field). A connection that surely never
carried the request (refused, DNS, TLS) becomes :class:`UnsentRequestError`, safe to repeat.
The client transports (:mod:`._client`) send every request inside it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from assistant_bridge._redact import mask_in_logs, raise_detached, redact
from assistant_bridge.exceptions import (
    ActiveRunError,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnsentRequestError,
)

if TYPE_CHECKING:
    import openai

__all__ = ["map_openai_errors"]

_ACTIVE_RUN = re.compile(
    r"(?:(thread_[A-Za-z0-9]+) already has an active run (run_[A-Za-z0-9]+))"
    r"|(?:to (thread_[A-Za-z0-9]+) while a run (run_[A-Za-z0-9]+) is active)"
)
# The Responses API's active-run conflict: another response is in progress on the conversation.
# The answer names neither the conversation nor the response; the request names the first.
_LOCKED_CODE = "conversation_locked"
_LOCKED_TEXT = re.compile(r"another process is currently operating on this conversation", re.I)
_CONVERSATION = re.compile(r"conv_[A-Za-z0-9_-]+")

_ADVICE = {
    AuthenticationError: "check OPENAI_API_KEY (and OPENAI_ORG_ID) and the key's permissions",
    NotFoundError: "check the assistant, thread and run ids and the base URL",
    BadRequestError: "fix the request as the server's message says",
    ConflictError: "fetch the resource again and retry",
    RateLimitError: "wait and retry, or check the account's quota",
    ServerError: "the service failed; retry later",
}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(value: str) -> float | None:
    """Seconds in a rate-limit reset value such as "1s", "20ms" or "6m0s"."""
    parts = _DURATION.findall(value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """How long the server asks us to wait: Retry-After(-ms), else the rate-limit resets."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    resets = [
        _duration(headers[name])
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if name in headers
    ]
    known = [r for r in resets if r is not None]
    return max(known) if known else None


def _field(value: object, secrets: Sequence[str | None]) -> str | None:
    """A field of the server's error body as text, with the key masked."""
    return None if value is None else redact(str(value), secrets)


def _status_error(exc: openai.APIStatusError, secrets: Sequence[str | None]) -> TransportError:
    status = exc.status_code
    body = exc.body if isinstance(exc.body, Mapping) else {}
    if isinstance(body.get("error"), Mapping):
        body = body["error"]
    server_text = redact(str(body.get("message") or exc.message), secrets)
    # Every field is masked, not only the message: a server may echo the key in any of them.
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": _field(getattr(exc, "request_id", None), secrets),
        "code": _field(body.get("code"), secrets),
        "param": _field(body.get("param"), secrets),
    }
    if status == 400 and (
        body.get("code") == _LOCKED_CODE or _LOCKED_TEXT.search(server_text) is not None
    ):
        return _conversation_locked(exc, server_text, kwargs)
    active = _ACTIVE_RUN.search(server_text) if status == 400 else None
    if active:
        thread_id = active.group(1) or active.group(3)
        run_id = active.group(2) or active.group(4)
        msg = (
            f"The server refused the request: {server_text} Wait for run {run_id} to finish, "
            "or cancel it, before asking again on this thread."
        )
        return ActiveRunError(msg, thread_id=thread_id, run_id=run_id, **kwargs)
    cls: type[TransportError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status == 429:
        cls = RateLimitError
        kwargs["retry_after"] = _retry_after(exc.response.headers)
    elif status >= 500:
        cls = ServerError
    else:
        cls = BadRequestError
    msg = f"The server answered {status}: {server_text} ({_ADVICE[cls]})."
    return cls(msg, **kwargs)


def _conversation_locked(
    exc: openai.APIStatusError, server_text: str, fields: dict[str, Any]
) -> ActiveRunError:
    """``conversation_locked``: the conversation (from the request: the answer does not name
    it) has a response in progress whose id the server does not give."""
    thread_id = None
    request: Any = getattr(exc, "request", None)
    with contextlib.suppress(Exception):
        found = _CONVERSATION.search(request.url.path + request.content.decode("utf-8", "replace"))
        thread_id = found.group(0) if found else None
    where = f"conversation {thread_id}" if thread_id else "the conversation"
    msg = (
        f"The server refused the request: {server_text} Another response is in progress on "
        f"{where}; wait for it to finish, or cancel it, before asking again."
    )
    fields["code"] = fields.get("code") or _LOCKED_CODE
    return ActiveRunError(msg, thread_id=thread_id, run_id=None, **fields)


def _other_error(exc: openai.APIError, secrets: Sequence[str | None]) -> TransportError:
    """Any other ``openai`` error (a response that failed its validation, say)."""
    detail = redact(f"{type(exc).__name__}: {exc.message}", secrets)[:200]
    return MalformedResponseError(f"The server's answer could not be used ({detail}).")


# The HTTP stacks openai speaks through (httpx for openai 1.x/2.x, httpx2 for 3.x, and their
# httpcore): their exceptions are matched by package and name, as either may be absent.
_HTTP_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2"})
# Raised only while a connection is being opened (TCP connect, TLS handshake, proxy) or
# waited for from the pool: the request was never written, so it never reached the server.
_BEFORE_SENDING = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes (or contexts), outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _why_unsent(exc: openai.APIConnectionError) -> str | None:
    """Why the request certainly never reached the server, or None when it may have.

    The first HTTP-stack exception in the chain decides: a connect or pool error means nothing
    was written (a read, write or protocol error means something may have been). Without
    one, only a refused connection or a failed DNS lookup is certain.
    """
    chain = list(_chain(exc))[1:]
    http = [e for e in chain if type(e).__module__.split(".")[0] in _HTTP_PACKAGES]
    if http and type(http[0]).__name__ not in _BEFORE_SENDING:
        return None
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(error, socket.gaierror):
            return "the host name could not be resolved"
        if http and isinstance(error, ssl.SSLError):
            return "the TLS handshake failed"
    if not http:
        return None
    if type(http[0]).__name__ == "PoolTimeout":
        return "no connection of the pool came free in time"
    if type(http[0]).__name__ == "ConnectTimeout":
        return "the connection could not be opened in time"
    return "the connection could not be opened"


def _connection_error(
    exc: openai.APIConnectionError, secrets: Sequence[str | None]
) -> APIConnectionError:
    """Ours for a failed connection: :class:`UnsentRequestError` when it certainly never
    reached the server (safe to repeat, even a write), else an ambiguous APIConnectionError."""
    import openai

    cause = redact(repr(exc.__cause__) if exc.__cause__ else str(exc), secrets)
    why = _why_unsent(exc)
    if why is not None:
        msg = (
            f"The request never reached the server: {why} ({cause}). Nothing was done, so "
            "it is safe to retry; check the network, the proxy and the base URL."
        )
        return UnsentRequestError(msg)
    if isinstance(exc, openai.APITimeoutError):
        msg = "The request timed out before the server answered; retry, or raise the timeout."
        return APIConnectionError(msg)
    msg = f"Could not reach the server ({cause}); check the network and the base URL, then retry."
    return APIConnectionError(msg)


@contextlib.contextmanager
def map_openai_errors(secrets: Sequence[str | None] = ()) -> Iterator[None]:
    """Translate ``openai`` exceptions raised inside the block into ours (a body that is not
    JSON is the caller's to report: see ``_reading.parse_json``).

    The original is neither chained nor kept as ``__context__`` (:func:`raise_detached`): its
    request object carries the key in a header. Everything useful is copied over, with the key
    masked in every field; the client stack's log lines are masked too.
    """
    import openai  # here, not at the top: a first import of the library does not pay for it

    mask_in_logs(secrets)
    try:
        yield
    except openai.APIStatusError as exc:
        mapped = _status_error(exc, secrets)
    except openai.APIConnectionError as exc:  # APITimeoutError included
        mapped = _connection_error(exc, secrets)
    except openai.APIError as exc:
        mapped = _other_error(exc, secrets)
    else:
        return
    raise_detached(mapped)
