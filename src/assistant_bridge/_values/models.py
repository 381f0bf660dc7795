"""Domain values: threads, messages, runs, tool calls and usage, as frozen attrs classes.

Only a transport builds these from the wire; everything above it reads them. Each value keeps
the wire object it came from in ``raw`` so that nothing the server sent is lost.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from assistant_bridge._values.display import escape, quoted
from assistant_bridge._values.value import Value

__all__ = [
    "Assistant",
    "ImageFileContent",
    "IncompleteDetails",
    "LastError",
    "Message",
    "MessagePage",
    "RequiredAction",
    "Run",
    "RunStatus",
    "RunStep",
    "StepCall",
    "TextAnnotation",
    "TextContent",
    "Thread",
    "ToolCall",
    "ToolOutput",
    "UnknownContent",
    "Usage",
]

JsonObject = Mapping[str, Any]


def _empty() -> Mapping[str, Any]:
    return {}


class RunStatus(enum.StrEnum):
    """The nine statuses a run can have in the Assistants API."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"

    @classmethod
    def parse(cls, value: str) -> RunStatus | str:
        """Return the member for ``value``, or ``value`` itself if this version does not know it."""
        try:
            return cls(value)
        except ValueError:
            return value


@attrs.frozen(repr=False)
class Usage(Value):
    """Tokens a run consumed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@attrs.frozen(repr=False)
class TextAnnotation(Value):
    """A citation inside message text: a ``file_citation`` or a ``file_path``."""

    type: str
    text: str
    start_index: int | None = None
    end_index: int | None = None
    file_id: str | None = None
    quote: str | None = None


@attrs.frozen(repr=False)
class TextContent(Value):
    """A text part of a message, with its annotations."""

    text: str
    annotations: tuple[TextAnnotation, ...] = ()
    type: str = "text"


@attrs.frozen(repr=False)
class ImageFileContent(Value):
    """An image part of a message, by file id."""

    file_id: str
    detail: str | None = None
    type: str = "image_file"


@attrs.frozen(repr=False)
class UnknownContent(Value):
    """A content part of a type this version does not model; ``raw`` keeps it whole."""

    type: str
    raw: JsonObject = attrs.field(factory=_empty, repr=False)


ContentPart = TextContent | ImageFileContent | UnknownContent


@attrs.frozen(repr=False)
class Message(Value):
    """One message of a thread."""

    id: str
    thread_id: str
    role: str
    content: tuple[ContentPart, ...] = ()
    run_id: str | None = None
    assistant_id: str | None = None
    created_at: int | None = None
    status: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    raw: JsonObject = attrs.field(factory=_empty, repr=False, eq=False)

    @property
    def text(self) -> str:
        """The message's text parts joined by blank lines."""
        return "\n\n".join(part.text for part in self.content if isinstance(part, TextContent))

    def _repr_markdown_(self) -> str:
        """Jupyter shows the role, the text, its citations and the ids."""
        return message_markdown(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: id, role, text, run id, creation time and annotations."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.text,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "annotations": [
                attrs.asdict(a)
                for part in self.content
                if isinstance(part, TextContent)
                for a in part.annotations
            ],
        }


@attrs.frozen(repr=False)
class MessagePage(Value):
    """One page of a message listing, oldest first."""

    messages: tuple[Message, ...]
    has_more: bool = False
    last_id: str | None = None


@attrs.frozen(repr=False)
class Thread(Value):
    """A conversation: a thread of the Assistants API."""

    id: str
    created_at: int | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    raw: JsonObject = attrs.field(factory=_empty, repr=False, eq=False)


@attrs.frozen(repr=False)
class ToolCall(Value):
    """A call the run asks the caller to make: a function name and its JSON arguments."""

    id: str
    name: str
    arguments: str
    type: str = "function"


@attrs.frozen(repr=False)
class ToolOutput(Value):
    """The answer to one tool call."""

    tool_call_id: str
    output: str


@attrs.frozen(repr=False)
class RequiredAction(Value):
    """What a run in ``requires_action`` waits for: outputs for these tool calls."""

    tool_calls: tuple[ToolCall, ...]
    type: str = "submit_tool_outputs"


@attrs.frozen(repr=False)
class LastError(Value):
    """Why a run failed: ``server_error``, ``rate_limit_exceeded`` or ``invalid_prompt``."""

    code: str | None
    message: str | None


@attrs.frozen(repr=False)
class IncompleteDetails(Value):
    """Why a run ended incomplete, e.g. ``max_completion_tokens``."""

    reason: str | None


@attrs.frozen(repr=False)
class Run(Value):
    """A run of an assistant on a thread, as last seen.

    ``status`` is a :class:`RunStatus`, or the raw string when a newer server sends a status
    this version does not know. ``poll_after_ms`` is the server's ``openai-poll-after-ms``
    hint from the response that delivered this run, if it sent one.
    """

    id: str
    thread_id: str
    status: RunStatus | str
    assistant_id: str | None = None
    created_at: int | None = None
    started_at: int | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    expires_at: int | None = None
    required_action: RequiredAction | None = None
    last_error: LastError | None = None
    incomplete_details: IncompleteDetails | None = None
    usage: Usage | None = None
    model: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    poll_after_ms: int | None = None
    raw: JsonObject = attrs.field(factory=_empty, repr=False, eq=False)


@attrs.frozen(repr=False)
class Assistant(Value):
    """An assistant object: model, instructions and tools."""

    id: str
    name: str | None = None
    model: str | None = None
    instructions: str | None = None
    tools: tuple[JsonObject, ...] = ()
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    raw: JsonObject = attrs.field(factory=_empty, repr=False, eq=False)


@attrs.frozen(repr=False)
class StepCall(Value):
    """One tool call of a run step. For code interpreter: the code (``input``) and its logs
    (``output``) and any image files; for a function: its arguments and output."""

    id: str
    type: str
    input: str | None = None
    output: str | None = None
    file_ids: tuple[str, ...] = ()


@attrs.frozen(repr=False)
class RunStep(Value):
    """A step of a run: writing a message, or calling tools (with what each call did)."""

    id: str
    run_id: str
    type: str
    status: str
    calls: tuple[StepCall, ...] = ()
    message_id: str | None = None
    raw: JsonObject = attrs.field(factory=_empty, repr=False, eq=False)


def message_markdown(message: Message) -> str:
    """A message: its role and ids, its text, and its citations."""
    ids = f"message `{message.id}`" + (f" · run `{message.run_id}`" if message.run_id else "")
    lines = [f"**{message.role}** · {ids}", "", quoted(message.text), ""]
    lines += citations_markdown((message,))
    return "\n".join(lines).rstrip() + "\n"


def citations_markdown(messages: tuple[Message, ...]) -> list[str]:
    """The citations of ``messages`` as Markdown lines (none when there are none)."""
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
        quote = f": “{escape(a.quote)}”" if a.quote else ""
        lines.append(f"- `{a.text}` {a.type}{where}{quote}")
    return [*lines, ""]
