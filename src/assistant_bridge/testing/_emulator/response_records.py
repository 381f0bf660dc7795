"""Records of the Responses and Conversations APIs (a response, a conversation) and the small
helpers that render them as the service's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .behaviours import Outcome
from .store import new_id

__all__ = ["FINAL", "ConversationRecord", "ResponseRecord", "hex_id", "text_of", "usage_of"]

FINAL = ("completed", "failed", "cancelled", "incomplete")


def hex_id(prefix: str) -> str:
    return prefix + new_id("", 48).lower()


@attrs.define
class ConversationRecord:
    id: str
    created_at: int
    metadata: dict[str, str] = attrs.Factory(dict)
    items: list[dict[str, Any]] = attrs.Factory(list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "conversation",
            "created_at": self.created_at,
            "metadata": self.metadata,
        }


@attrs.define
class ResponseRecord:
    id: str
    created_at: int
    conversation_id: str | None
    body: dict[str, Any]
    outcome: Outcome
    started: float
    background: bool
    status: str = "queued"
    next_at: float | None = None
    completed_at: int | None = None
    output: list[dict[str, Any]] = attrs.Factory(list)
    error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    prompt: str = ""
    history: list[dict[str, Any]] = attrs.Factory(list)

    def to_json(self) -> dict[str, Any]:
        body = self.body
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status,
            "background": self.background,
            "billing": {"payer": "developer"},
            "completed_at": self.completed_at,
            "conversation": {"id": self.conversation_id} if self.conversation_id else None,
            "error": self.error,
            "frequency_penalty": 0.0,
            "incomplete_details": self.incomplete_details,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": body.get("model"),
            "moderation": None,
            "output": self.output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "presence_penalty": 0.0,
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": None,
            "prompt_cache_retention": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": _given(body.get("temperature")),
            "text": {
                "format": (body.get("text") or {}).get("format") or {"type": "text"},
                "verbosity": "medium",
            },
            "tool_choice": body.get("tool_choice") or "auto",
            "tool_usage": {"web_search": {"num_requests": 0}},
            "tools": body.get("tools") or [],
            "top_logprobs": 0,
            "top_p": _given(body.get("top_p")),
            "truncation": body.get("truncation") or "disabled",
            "usage": self.usage,
            "user": None,
            "metadata": body.get("metadata") or {},
        }


def _given(value: Any) -> float:
    return 1.0 if value is None else float(value)


def text_of(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content or () if isinstance(p, Mapping))


def usage_of(prompt: str, text: str) -> dict[str, Any]:
    inp, out = max(1, len(prompt) // 4), max(1, len(text) // 4)
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": inp + out,
    }
