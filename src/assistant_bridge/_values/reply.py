"""The answer to one ask: text, parsed value, ids, this run's messages, citations, output
files, usage and the run."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

import attrs

from assistant_bridge._values.display import escape, fenced, pretty, quoted
from assistant_bridge._values.models import (
    ImageFileContent,
    Message,
    Run,
    RunStatus,
    TextContent,
    Usage,
    citations_markdown,
)
from assistant_bridge._values.value import Value

__all__ = [
    "Citation",
    "OutputFile",
    "Reply",
    "citations_of",
    "conversation_markdown",
    "files_of",
    "strip_markers",
]

T = TypeVar("T")

MARKER = re.compile(r"【[^】]*】")
"""A citation marker the Assistants API writes into the text, like 【4:0†cpu-saturation.md】."""


def strip_markers(text: str) -> str:
    """``text`` without citation markers (and without the space a marker leaves before a
    period or a comma)."""
    return re.sub(r" +([.,;:])", r"\1", MARKER.sub("", text))


@attrs.frozen(repr=False)
class Citation(Value):
    """One source the answer cites: numbered by first appearance, with the file it points at
    (id, and name once resolved), the quoted passage where the service gives one, where the
    marker stands in its message, and the marker itself."""

    number: int
    type: str
    file_id: str | None
    filename: str | None
    quote: str | None
    marker: str
    message_id: str
    start_index: int | None = None
    end_index: int | None = None


@attrs.frozen(repr=False)
class OutputFile(Value):
    """A file the run produced (a code-interpreter image or file): its id, kind and name."""

    file_id: str
    kind: Literal["image", "file"]
    message_id: str
    filename: str | None = None


def _named(marker: str) -> str | None:
    """The file name in a marker like 【4:0†runbook.md】 (the service may write "source")."""
    name = marker.strip("【】").rpartition("†")[2]
    return name if name and name != "source" else None


def citations_of(
    messages: Sequence[Message], names: Mapping[str, str] = {}
) -> tuple[Citation, ...]:
    """The file citations in ``messages``, numbered by first appearance of each file (a file
    cited twice keeps its number); ``names`` maps file ids to names resolved elsewhere."""
    found: list[Citation] = []
    numbers: dict[str, int] = {}
    for message in messages:
        for part in message.content:
            if not isinstance(part, TextContent):
                continue
            for note in part.annotations:
                if note.type not in ("file_citation", "file_path"):
                    continue
                source = note.file_id or note.text
                number = numbers.setdefault(source, len(numbers) + 1)
                marker = note.text if note.text.startswith("【") else ""
                filename = (names or {}).get(note.file_id or "") or (
                    _named(marker) if marker else note.text or None
                )
                found.append(
                    Citation(
                        number=number,
                        type=note.type,
                        file_id=note.file_id,
                        filename=filename,
                        quote=note.quote,
                        marker=note.text,
                        message_id=message.id,
                        start_index=note.start_index,
                        end_index=note.end_index,
                    )
                )
    return tuple(found)


def files_of(messages: Sequence[Message]) -> tuple[OutputFile, ...]:
    """The images and files the run's messages carry (image parts, file_path annotations)."""
    found: dict[str, OutputFile] = {}
    for message in messages:
        for part in message.content:
            if isinstance(part, ImageFileContent):
                found.setdefault(part.file_id, OutputFile(part.file_id, "image", message.id))
            elif isinstance(part, TextContent):
                for note in part.annotations:
                    if note.type == "file_path" and note.file_id:
                        name = note.text.rpartition("/")[2] or None
                        found.setdefault(
                            note.file_id, OutputFile(note.file_id, "file", message.id, name)
                        )
    return tuple(found.values())


@attrs.frozen(repr=False)
class Reply(Value, Generic[T]):
    """What one run answered.

    ``messages`` holds only the messages this run wrote, oldest first; ``text`` is their text
    joined by blank lines; ``parsed`` is what the session's parser made of ``text``.
    """

    text: str
    parsed: T
    thread_id: str
    run_id: str
    status: RunStatus | str
    messages: tuple[Message, ...]
    usage: Usage | None
    run: Run = attrs.field(repr=False)
    citations: tuple[Citation, ...] = ()
    files: tuple[OutputFile, ...] = ()

    @property
    def clean_text(self) -> str:
        """The text without citation markers: what the parser reads."""
        return strip_markers(self.text)

    def render(self, citations: Literal["footnotes", "strip", "keep"] = "footnotes") -> str:
        """The text for people: markers as numbered footnotes ``[1]`` with a source list
        ("footnotes"), removed ("strip"), or as the service wrote them ("keep")."""
        if citations == "keep" or not self.citations:
            return self.text if citations == "keep" else self.clean_text
        if citations == "strip":
            return self.clean_text
        text = self.text
        for citation in self.citations:
            if citation.marker.startswith("【"):
                text = text.replace(citation.marker, f"[{citation.number}]", 1)
        sources: dict[int, Citation] = {}
        for citation in self.citations:
            sources.setdefault(citation.number, citation)
        lines = [
            f"[{n}] {c.filename or c.file_id}" + (f': "{c.quote}"' if c.quote else "")
            for n, c in sorted(sources.items())
        ]
        return text + "\n\nSources:\n" + "\n".join(lines)

    def _repr_markdown_(self) -> str:
        """Jupyter shows the answer, the parsed value, citations, usage and ids."""
        return reply_markdown(self)

    def to_dict(self) -> dict[str, Any]:
        """The seed provider's output: response, thread_id, run_id, messages, raw_response.

        ``response`` is the parsed value when the parser made something other than the text
        itself, else the text; ``raw_response`` is always the text.
        """
        parsed: Any = self.parsed
        if attrs.has(type(parsed)):
            parsed = attrs.asdict(parsed)
        elif hasattr(parsed, "model_dump"):
            parsed = parsed.model_dump()
        elif hasattr(parsed, "dict") and callable(parsed.dict) and hasattr(parsed, "__fields__"):
            parsed = parsed.dict()
        return {
            "response": self.text if parsed is None else parsed,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "messages": [m.to_dict() for m in self.messages],
            "raw_response": self.text,
        }


def reply_markdown(reply: Reply[Any]) -> str:
    """A reply: status and ids, the parsed value as JSON, the text, citations and usage."""
    lines = [
        f"**Reply** · `{reply.status}` · thread `{reply.thread_id}` · run `{reply.run_id}`",
        "",
    ]
    response = reply.to_dict()["response"]
    if reply.parsed is not None and response != reply.text:
        lines += ["parsed:", "", fenced(pretty(response), "json"), "", "text:", ""]
    lines += [quoted(reply.text), ""]
    lines += citations_markdown(reply.messages)
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
    lines = [f"**{escape(title)}**", ""]
    if not history:
        lines.append("_nothing asked yet_")
    for prompt, reply in history:
        if prompt is not None:
            lines += ["**user**", "", quoted(prompt), ""]
        lines += [f"**assistant** · run `{reply.run_id}` · `{reply.status}`", ""]
        lines += [quoted(reply.render("footnotes")), ""]
    if usage.total_tokens:
        lines.append(f"usage so far: {usage.total_tokens} tokens")
    return "\n".join(lines).rstrip() + "\n"
