"""What a streamed ask tells you as it happens, as typed values.

``session.stream(prompt)`` yields these in order and ends with :class:`ReplyReady`, which holds
the same :class:`~assistant_bridge.Reply` that ``ask`` returns. Transports produce the first
three from the service's event stream; the session adds the rest.
"""

from __future__ import annotations

from typing import Any

import attrs

from assistant_bridge._values.models import Message, Run, ToolCall
from assistant_bridge._values.reply import Reply
from assistant_bridge._values.value import Value

__all__ = [
    "MessageDone",
    "ReplyReady",
    "RunStatusChanged",
    "StreamEvent",
    "TextDelta",
    "ToolCallsRequested",
]


@attrs.frozen(repr=False)
class RunStatusChanged(Value):
    """The run (or response) reached a new status."""

    run: Run


@attrs.frozen(repr=False)
class TextDelta(Value):
    """A piece of the assistant's text, as it is written."""

    message_id: str
    text: str


@attrs.frozen(repr=False)
class MessageDone(Value):
    """A message of the run is complete."""

    message: Message


@attrs.frozen(repr=False)
class ToolCallsRequested(Value):
    """The run asked for tool calls; the session is answering them."""

    calls: tuple[ToolCall, ...]
    run: Run


@attrs.frozen(repr=False)
class ReplyReady(Value):
    """The last event: the reply, exactly as ``ask`` would return it."""

    reply: Reply[Any]


@attrs.frozen(repr=False)
class StreamFailed(Value):
    """The service reported an error inside the stream (transport-level, not yielded)."""

    message: str


StreamEvent = RunStatusChanged | TextDelta | MessageDone | ToolCallsRequested | ReplyReady
RunEvent = RunStatusChanged | TextDelta | MessageDone | StreamFailed
"""What a transport's event stream carries."""
