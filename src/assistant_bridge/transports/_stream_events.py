"""The services' stream events as domain events (:mod:`._events`). Sans-I/O."""

from __future__ import annotations

import json
from typing import Any

from assistant_bridge._values.events import (
    MessageDone,
    RunEvent,
    RunStatusChanged,
    StreamFailed,
    TextDelta,
)
from assistant_bridge.transports._assistants_json import message_from_json, run_from_json
from assistant_bridge.transports._responses import message_from_item, run_from_response

_RUN_STEPS = ("thread.run.step.",)


def assistants_event(name: str, data: str) -> RunEvent | None:
    """An Assistants API stream event as a domain event; None for events we do not need."""
    if name == "error":
        return StreamFailed(_error_text(data))
    if name == "done" or data == "[DONE]":
        return None
    if name.startswith("thread.run.") and not name.startswith(_RUN_STEPS):
        return RunStatusChanged(run_from_json(json.loads(data)))
    if name == "thread.message.delta":
        payload = json.loads(data)
        parts = (payload.get("delta") or {}).get("content") or ()
        text = "".join(str((p.get("text") or {}).get("value", "")) for p in parts)
        return TextDelta(str(payload.get("id", "")), text) if text else None
    if name in ("thread.message.completed", "thread.message.incomplete"):
        return MessageDone(message_from_json(json.loads(data)))
    return None


class ResponsesEvents:
    """Turns a Responses API stream into domain events; remembers the response's id."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        self.response_id: str | None = None
        self.last_sequence = -1

    def convert(self, name: str, data: str) -> RunEvent | None:
        if name == "error":
            return StreamFailed(_error_text(data))
        payload: dict[str, Any] = json.loads(data)
        sequence = payload.get("sequence_number")
        if isinstance(sequence, int):
            self.last_sequence = sequence
        if isinstance(payload.get("response"), dict) and name.startswith("response."):
            self.response_id = str(payload["response"]["id"])
            return RunStatusChanged(run_from_response(payload["response"], self.thread_id))
        if name == "response.output_text.delta":
            return TextDelta(str(payload.get("item_id", "")), str(payload.get("delta", "")))
        item = payload.get("item")
        if (
            name == "response.output_item.done"
            and isinstance(item, dict)
            and item.get("type") == "message"
        ):
            return MessageDone(message_from_item(item, self.thread_id, self.response_id))
        return None


def _error_text(data: str) -> str:
    try:
        payload = json.loads(data)
    except ValueError:
        return data
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)
