"""Keep API keys out of every message, repr and log line we produce."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["redact"]

# OpenAI keys (sk-..., sk-proj-...), also in the masked form the service echoes back
# ("Incorrect API key provided: sk-proj-****abcd"), and bearer tokens. A key starts a word,
# so "disk-full" is left alone.
_KEY_LIKE = re.compile(
    r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-*.]{3,}|(?i:bearer)\s+[A-Za-z0-9_\-.~+/=*]{8,}"
)


_KEY_PREFIX = re.compile(r"^sk-(?:proj-|svcacct-|admin-)?")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with each secret (also without its ``sk-…`` prefix) and anything shaped like
    an API key replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
            body = _KEY_PREFIX.sub("", secret)
            if body != secret and len(body) >= 8:
                text = text.replace(body, "***")
    return _KEY_LIKE.sub("***", text)
