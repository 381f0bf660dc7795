"""How replies, messages and errors look in Jupyter: Markdown built from the values.

The values' ``_repr_markdown_`` methods call these, so a notebook cell that ends with a reply
shows its answer, the parsed value as pretty JSON, citations, usage and ids instead of one long
repr line. Pure functions of the values: no I/O.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from assistant_bridge._values.models import Message, Usage
    from assistant_bridge._values.reply import Reply

__all__ = ["conversation_markdown", "error_markdown", "message_markdown", "reply_markdown"]


def reply_markdown(reply: Reply[Any]) -> str:
    """A reply: status and ids, the parsed value as JSON, the text, citations and usage."""
    lines = [
        f"**Reply** · `{reply.status}` · thread `{reply.thread_id}` · run `{reply.run_id}`",
        "",
    ]
    response = reply.to_dict()["response"]
    if reply.parsed is not None and response != reply.text:
        lines += ["parsed:", "", _fenced(_pretty(response), "json"), "", "text:", ""]
    lines += [_quoted(reply.text), ""]
    lines += _citations(reply.messages)
    if reply.usage is not None:
        u = reply.usage
        lines.append(
            f"usage: {u.prompt_tokens} prompt + {u.completion_tokens} completion = "
            f"{u.total_tokens} tokens"
        )
    return "\n".join(lines).rstrip() + "\n"


def conversation_markdown(
    title: str, history: Sequence[tuple[str | None, Reply[Any]]], usage: Usage
) -> str:
    """A session: each prompt (user) and answer (assistant) so far, with ids and usage."""
    lines = [f"**{_escape(title)}**", ""]
    if not history:
        lines.append("_nothing asked yet_")
    for prompt, reply in history:
        if prompt is not None:
            lines += ["**user**", "", _quoted(prompt), ""]
        lines += [f"**assistant** · run `{reply.run_id}` · `{reply.status}`", ""]
        lines += [_quoted(reply.render("footnotes")), ""]
    if usage.total_tokens:
        lines.append(f"usage so far: {usage.total_tokens} tokens")
    return "\n".join(lines).rstrip() + "\n"


def message_markdown(message: Message) -> str:
    """A message: its role and ids, its text, and its citations."""
    ids = f"message `{message.id}`" + (f" · run `{message.run_id}`" if message.run_id else "")
    lines = [f"**{message.role}** · {ids}", "", _quoted(message.text), ""]
    lines += _citations((message,))
    return "\n".join(lines).rstrip() + "\n"


def error_markdown(error: BaseException) -> str:
    """An error: its class, its message, and the ids and fields it carries."""
    lines = [f"**{type(error).__name__}**: {_escape(str(error))}", ""]
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
        lines += ["", "raw text:", "", _fenced(raw_text, "")]
    return "\n".join(lines).rstrip() + "\n"


def _citations(messages: tuple[Message, ...]) -> list[str]:
    from assistant_bridge._values.models import TextContent

    found = [
        annotation
        for message in messages
        for part in message.content
        if isinstance(part, TextContent)
        for annotation in part.annotations
    ]
    if not found:
        return []
    lines = ["citations:", ""]
    for a in found:
        where = f" file `{a.file_id}`" if a.file_id else ""
        quote = f": “{_escape(a.quote)}”" if a.quote else ""
        lines.append(f"- `{a.text}` {a.type}{where}{quote}")
    return [*lines, ""]


def _pretty(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _fenced(text: str, language: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _quoted(text: str) -> str:
    if not text:
        return "> *(no text)*"
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)
