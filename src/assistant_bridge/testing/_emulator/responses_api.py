"""Handlers of the Responses and Conversations APIs: create (foreground, background,
streamed), retrieve (or resume a stream), cancel, input items; conversations and their items.
Function calls end a response ``completed`` with ``function_call`` items; a later response
whose input answers them with ``function_call_output`` items continues the behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .behaviours import Outcome, RunContext
from .errors import ApiError, declined
from .http import Request, Response
from .pages import page
from .parameters import Parameters, apply
from .resource_table import CONVERSATIONS, ITEMS, RESPONSES
from .response_flow import ResponseFlow
from .response_records import FINAL, ConversationRecord, ResponseRecord, hex_id, text_of
from .store import new_id
from .structured import json_format

__all__ = ["ResponsesRoutes"]


class ResponsesRoutes(ResponseFlow):
    """Handlers of ``/v1/responses`` and ``/v1/conversations``."""

    # -- conversations -----------------------------------------------------------------------
    def _new_item(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        kind = raw.get("type", "message")
        if kind == "message":
            role = raw.get("role", "user")  # its values are checked by the schemas
            content = raw.get("content")
            parts = (
                [{"type": "input_text", "text": content}]
                if isinstance(content, str)
                else [dict(p) for p in content or ()]
            )
            return {
                "id": new_id("msg_", 48).lower(),
                "type": "message",
                "status": "completed",
                "content": parts,
                "role": role,
            }
        if kind == "function_call_output":
            return {
                "id": new_id("fco_", 48).lower(),
                "type": kind,
                "status": "completed",
                "call_id": raw.get("call_id"),
                "output": raw.get("output", ""),
            }
        return {"id": new_id("item_", 48).lower(), **dict(raw)}

    def conversations_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        record = ConversationRecord(hex_id("conv_"), self.store.now(), self._metadata(body))
        record.items = [self._new_item(i) for i in body.get("items") or ()]
        self.conversations[record.id] = record
        return record.to_json()

    def conversations_items_delete(
        self, conversation_id: str, item_id: str, **_: Any
    ) -> dict[str, Any]:
        item = ITEMS.get(self, conversation_id=conversation_id, item_id=item_id)
        record = self.conversations[conversation_id]
        record.items.remove(item)
        return record.to_json()

    def conversations_items_create(
        self, conversation_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        record = CONVERSATIONS.get(self, conversation_id=conversation_id)
        items = [self._new_item(i) for i in body.get("items") or ()]
        for item in items:
            if item["type"] == "function_call_output":
                self.pending_calls.pop(str(item.get("call_id")), None)  # answered by hand
        record.items += items
        return {
            "object": "list",
            "data": items,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
            "has_more": False,
        }

    # -- responses ---------------------------------------------------------------------------
    def responses_create(self, body: dict[str, Any], **_: Any) -> Response | dict[str, Any]:
        self.models.check(body.get("model"))
        conversation = body.get("conversation")
        conversation_id = conversation.get("id") if isinstance(conversation, dict) else conversation
        record = (
            CONVERSATIONS.get(self, conversation_id=str(conversation_id))
            if conversation_id
            else None
        )
        earlier = self._previous(body.get("previous_response_id"))
        raw_input = body.get("input") or []
        items = (
            [self._new_item({"type": "message", "role": "user", "content": raw_input})]
            if isinstance(raw_input, str)
            else [self._new_item(i) for i in raw_input]
        )
        if record is not None:
            self.advance_conversation(record.id)
            self._check_unlocked(record.id)
        made = {
            i.get("call_id")
            for i in (record.items if record else earlier) + items
            if i.get("type") == "function_call"
        }
        for item in items:
            call_id = item.get("call_id")
            known = call_id in made or call_id in self.pending_calls
            if item["type"] == "function_call_output" and not known:
                raise ApiError(
                    400,
                    f"No tool call found for function call output with call_id {call_id}.",
                    param="input",
                )
        if record is not None:
            answered = {
                i.get("call_id")
                for i in record.items + items
                if i.get("type") == "function_call_output"
            }
            for item in record.items:
                if item.get("type") == "function_call" and item.get("call_id") not in answered:
                    raise ApiError(
                        400,
                        f"No tool output found for function call {item.get('call_id')}.",
                        param="input",
                    )
        history = (record.items if record else earlier) + items
        outputs = [i for i in items if i["type"] == "function_call_output"]
        outcome = self._continue(outputs) if outputs else None
        user_texts = [text_of(i) for i in history if i.get("role") == "user"]
        prompt = "\n".join([body.get("instructions") or "", *(text_of(i) for i in history)])
        fmt = (body.get("text") or {}).get("format")
        if outcome is None:
            ctx = RunContext(
                prompt=user_texts[-1] if user_texts else "",
                history=tuple(
                    (str(i.get("role")), text_of(i))
                    for i in history[:-1]
                    if i.get("type") == "message"
                ),
                files=self._files_for(body),
                instructions=body.get("instructions"),
                run_id="",
                thread_id=str(conversation_id or ""),
                response_format=json_format(fmt),
            )
            outcome = self._behaviour_for(str(conversation_id or ""), "").outcome(ctx)
            tools = body.get("tools") or []
            outcome = apply(
                outcome,
                Parameters(
                    tool_choice=body.get("tool_choice") or "auto",
                    parallel_tool_calls=body.get("parallel_tool_calls") is not False,
                    functions={
                        str(t.get("name")): t.get("parameters") or {}
                        for t in tools
                        if t.get("type") == "function"
                    },
                    max_output_tokens=body.get("max_output_tokens"),
                    output_reason="max_output_tokens",
                ),
            )
        elif body.get("max_output_tokens"):
            limit = Parameters(
                max_output_tokens=body["max_output_tokens"], output_reason="max_output_tokens"
            )
            outcome = apply(outcome, limit)
        if record is not None:
            record.items += items
        response = ResponseRecord(
            id=hex_id("resp_"),
            created_at=self.store.now(),
            conversation_id=record.id if record else None,
            body=body,
            outcome=outcome,
            started=self.store.clock(),
            background=bool(body.get("background")),
            prompt=prompt,
            history=history,
        )
        response.next_at = response.started + self.store.queue_delay
        if body.get("store") is not False:
            self.responses[response.id] = response
        if not response.background and outcome.kind != "forever":
            response.next_at = response.started  # answer at once, finished
            while response.status not in FINAL:
                self._step_response(response, force=True)
        if body.get("stream"):
            return Response(
                200,
                {"content-type": "text/event-stream; charset=utf-8"},
                stream=self.response_stream(response, -1),
            )
        return response.to_json()

    def _check_unlocked(self, conversation_id: str) -> None:
        """The service's refusal of a second response while one is working on the
        conversation (its words and code; ``param`` null, as far as reported)."""
        if not self.conversation_locks:
            return
        for response in self.responses.values():
            if response.conversation_id == conversation_id and response.status not in FINAL:
                raise ApiError(
                    400,
                    "Another process is currently operating on this conversation.",
                    code="conversation_locked",
                )

    def _previous(self, response_id: str | None) -> list[dict[str, Any]]:
        """The items of ``previous_response_id``'s exchange (its input and output), which a
        follow-up sees as history; an unknown id is refused as the service refuses it."""

        if not response_id:
            return []
        found = self.responses.get(response_id)
        if found is None:
            raise ApiError(
                400,
                f"Previous response with id '{response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        self.advance_response(found)
        return found.history + found.output

    def _continue(self, outputs: Sequence[Mapping[str, Any]]) -> Outcome | None:
        found = [self.pending_calls.pop(str(o.get("call_id")), None) for o in outputs]
        known = [f for f in found if f is not None]
        if not known:
            return None
        then = known[0][0]
        return then([str(o.get("output", "")) for o in outputs])

    def responses_retrieve(self, response_id: str, request: Request, **_: Any) -> Any:
        response = RESPONSES.get(self, response_id=response_id)
        if (request.query.get("stream") or ["false"])[0].lower() == "true":
            after = int((request.query.get("starting_after") or ["-1"])[0])
            return Response(
                200,
                {"content-type": "text/event-stream; charset=utf-8"},
                stream=self.response_stream(response, after),
            )
        return response.to_json()

    def responses_input_tokens(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        raw = body.get("input") or ""
        text = raw if isinstance(raw, str) else " ".join(text_of(i) for i in raw)
        text = " ".join([body.get("instructions") or "", text])
        return {"object": "response.input_tokens", "input_tokens": max(1, len(text) // 4)}

    def responses_compact(self, **_: Any) -> dict[str, Any]:
        raise declined("Compacting a response (POST /v1/responses/compact)")

    def responses_cancel(self, response_id: str, **_: Any) -> dict[str, Any]:
        response = RESPONSES.get(self, response_id=response_id)
        if not response.background:
            raise ApiError(400, "Only responses created with background=true can be cancelled.")
        if response.status not in FINAL:
            response.status = "cancelled"
            response.next_at = None
        return response.to_json()

    def responses_input_items(self, response_id: str, request: Request, **_: Any) -> Any:
        response = RESPONSES.get(self, response_id=response_id)
        raw = response.body.get("input") or []
        items = (
            [self._new_item({"type": "message", "role": "user", "content": raw})]
            if isinstance(raw, str)
            else [self._new_item(i) for i in raw]
        )
        return page(items, request.query)
