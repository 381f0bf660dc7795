"""The error boundary with ``openai``: its exceptions translated into ours.

Every ``openai`` exception is turned into ours in :func:`map_openai_errors`, keeping status
code, request id and error code, never the key. The client transports (:mod:`._client`) send
every request inside it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import openai

from assistant_bridge._redact import redact
from assistant_bridge.exceptions import (
    ActiveRunError,
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)

__all__ = ["map_openai_errors"]

_ACTIVE_RUN = re.compile(
    r"(?:(thread_[A-Za-z0-9]+) already has an active run (run_[A-Za-z0-9]+))"
    r"|(?:to (thread_[A-Za-z0-9]+) while a run (run_[A-Za-z0-9]+) is active)"
)

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


def _status_error(exc: openai.APIStatusError, secrets: Sequence[str | None]) -> TransportError:
    status = exc.status_code
    body = exc.body if isinstance(exc.body, Mapping) else {}
    if isinstance(body.get("error"), Mapping):
        body = body["error"]
    server_text = redact(str(body.get("message") or exc.message), secrets)
    code = body.get("code")
    param = body.get("param")
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": getattr(exc, "request_id", None),
        "code": str(code) if code is not None else None,
        "param": str(param) if param is not None else None,
    }
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


@contextlib.contextmanager
def map_openai_errors(secrets: Sequence[str | None] = ()) -> Iterator[None]:
    """Translate ``openai`` exceptions raised inside the block into ours.

    The original is not chained (``from None``): its request object carries the key in a
    header, and tracebacks print chained exceptions. Everything useful is copied over.
    """
    try:
        yield
    except openai.APIStatusError as exc:
        raise _status_error(exc, secrets) from None
    except openai.APITimeoutError:
        msg = "The request timed out before the server answered; retry, or raise the timeout."
        raise APIConnectionError(msg) from None
    except openai.APIConnectionError as exc:
        cause = redact(repr(exc.__cause__) if exc.__cause__ else str(exc), secrets)
        msg = (
            f"Could not reach the server ({cause}); check the network and the base URL, then retry."
        )
        raise APIConnectionError(msg) from None
