"""Keep API keys out of every message, repr and log line we produce, or openai produces for us."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import NoReturn

__all__ = ["mask_in_logs", "raise_detached", "redact", "redact_url", "url_secrets"]

# OpenAI keys (sk-..., sk-proj-...), also in the masked form the service echoes back
# ("Incorrect API key provided: sk-proj-****abcd"), and bearer tokens. A key starts a word,
# so "disk-full" is left alone.
_KEY_LIKE = re.compile(
    r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-*.]{3,}|(?i:bearer)\s+[A-Za-z0-9_\-.~+/=*]{8,}"
)
_KEY_PREFIX = re.compile(r"^sk-(?:proj-|svcacct-|admin-)?")
# The password of a URL's userinfo (``https://gateway:SECRET@host/v1``): a key by another name.
_USERINFO_PASSWORD = re.compile(r"(?<=://)([^/?#@\s:]*):[^/?#@\s]+@")
# A password passed as a URL's query parameter (``postgresql://u@db/x?password=SECRET``,
# ``redis://host/0?password=SECRET``), as libpq and redis-py accept it.
_QUERY_PASSWORD = re.compile(r"([?&](?:password|pass|passwd|pwd|sslpassword)=)[^&#\s]+", re.I)
_PASSWORD_PARAMS = ("password", "pass", "passwd", "pwd", "sslpassword")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with each secret (also without its ``sk-…`` prefix) and anything shaped like
    an API key replaced by ``***``, and so is the password of any URL's userinfo."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
            body = _KEY_PREFIX.sub("", secret)
            if body != secret and len(body) >= 8:
                text = text.replace(body, "***")
    text = _USERINFO_PASSWORD.sub(r"\1:***@", text)
    text = _QUERY_PASSWORD.sub(r"\1***", text)
    return _KEY_LIKE.sub("***", text)


def redact_url(url: str) -> str:
    """A connection URL fit to show (reprs, errors): its passwords, in its userinfo or its
    query, masked."""
    return redact(url, url_secrets(url))


def url_secrets(url: str) -> tuple[str, ...]:
    """The passwords a connection URL holds (in its userinfo or its query), as written and
    decoded, to mask wherever a driver might repeat them."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return ()
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _PASSWORD_PARAMS]
    return tuple({w for v in found if v for w in (v, unquote(v))})


def raise_detached(error: BaseException) -> NoReturn:
    """Raise ``error`` with no link to the exception being handled.

    ``raise ... from None`` only hides that exception from tracebacks: ``__context__`` still
    holds it, and a foreign error (openai's, httpx's) carries the request with the key in a
    header. Code that translates one into ours raises ours through this.
    """
    try:
        raise error from None
    finally:
        error.__context__ = None


# The loggers of the client stack that may print what a server echoed (response headers at
# DEBUG, the request id): a filter only sees records of the logger it sits on, so each is named.
_CLIENT_LOGGERS = (
    "openai",
    "openai._base_client",
    "httpx",
    "httpx2",
    *(f"{pkg}.{part}" for pkg in ("httpcore", "httpcore2")
      for part in ("connection", "connection_pool", "http11", "http2", "proxy", "socks")),
)  # fmt: skip


class _KeyFilter(logging.Filter):
    """Rewrites a record whose text holds a known secret or a key shape; drops nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return True
        clean = redact(text, self.secrets)
        if clean != text:
            record.msg, record.args = clean, ()
        return True


_FILTER = _KeyFilter()
_LOCK = threading.Lock()


def mask_in_logs(secrets: Iterable[str | None]) -> None:
    """Mask ``secrets`` in the log records of openai and its HTTP stack from now on."""
    new = {s for s in secrets if s and len(s) >= 4} - _FILTER.secrets
    if not new:
        return
    with _LOCK:
        if not _FILTER.secrets:
            for name in _CLIENT_LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
        _FILTER.secrets = _FILTER.secrets | new
