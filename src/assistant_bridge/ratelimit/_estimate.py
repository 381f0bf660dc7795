"""How many tokens an ask is charged before it is sent, until its reply says."""

from __future__ import annotations

import math

__all__ = ["CHARS_PER_TOKEN", "REPLY_TOKENS", "estimate_tokens"]

CHARS_PER_TOKEN = 4
"""OpenAI's rule of thumb for English text: about four characters a token."""

REPLY_TOKENS = 256
"""What a reply is expected to cost before it is written."""


def estimate_tokens(*texts: str | None, reply_tokens: int = REPLY_TOKENS) -> int:
    """The tokens an ask sending ``texts`` is charged up front: a token per four characters
    of what is sent, plus ``reply_tokens`` for the reply. The run's usage corrects it once
    known (the thread's history and the assistant's instructions, which are not sent with
    the ask, are counted then)."""
    chars = sum(len(t) for t in texts if t)
    return math.ceil(chars / CHARS_PER_TOKEN) + reply_tokens
