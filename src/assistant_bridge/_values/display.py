"""How values look in Jupyter: the Markdown building blocks, and how an error looks.

The values' ``_repr_markdown_`` methods (messages in :mod:`.models`, replies and a session's
conversation in :mod:`.reply`) build on these, so a notebook cell that ends with a reply shows
its answer, the parsed value as pretty JSON, citations, usage and ids instead of one long repr
line. Pure functions: no I/O, and nothing imported from the values they show.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["error_markdown", "escape", "fenced", "pretty", "quoted"]


def error_markdown(error: BaseException) -> str:
    """An error: its class, its message, and the ids and fields it carries."""
    lines = [f"**{type(error).__name__}**: {escape(str(error))}", ""]
    fields = (
        "thread_id",
        "run_id",
        "status",
        "status_code",
        "code",
        "request_id",
        "timeout",
        "cancel_confirmed",
        "reason",
        "path",
        "tool",
        "call_id",
    )
    for name in fields:
        value = getattr(error, name, None)
        if value is not None:
            lines.append(f"- {name}: `{value}`")
    raw_text = getattr(error, "raw_text", None)
    if raw_text:
        lines += ["", "raw text:", "", fenced(raw_text, "")]
    return "\n".join(lines).rstrip() + "\n"


def pretty(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def fenced(text: str, language: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def quoted(text: str) -> str:
    if not text:
        return "> *(no text)*"
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)
