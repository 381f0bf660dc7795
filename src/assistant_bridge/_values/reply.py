"""The answer to one ask: text, parsed value, ids, this run's messages, usage and the run."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from assistant_bridge._values.models import Message, Run, RunStatus, Usage

__all__ = ["Reply"]

T = TypeVar("T")


@attrs.frozen
class Reply(Generic[T]):
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

    def _repr_markdown_(self) -> str:
        """Jupyter shows the answer, the parsed value, citations, usage and ids."""
        from assistant_bridge._values.display import reply_markdown

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
