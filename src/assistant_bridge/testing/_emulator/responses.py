"""The emulated Responses and Conversations APIs: background responses, streams, items.

A response moves ``queued → in_progress →`` an end, on the same clock and with the same
scripted behaviours as an Assistants run. Function calls end a response ``completed`` with
``function_call`` items; a later response whose input holds their ``function_call_output``
items continues the behaviour. Streams number their events, so a client can resume one with
``GET /responses/{id}?stream=true&starting_after=N``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .behaviours import (
    Behaviour,
    KnowledgeFile,
    Outcome,
    RunContext,
)
from .errors import ApiError
from .http import Request, Response
from .models import Models
from .pages import page
from .parameters import Parameters, apply
from .store import chunks_of, new_id
from .structured import json_format

if TYPE_CHECKING:
    from .store import Store

_MARKER = re.compile(r"【[^】]*】")
FINAL = ("completed", "failed", "cancelled", "incomplete")


def _hex_id(prefix: str) -> str:
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


def _text_of(item: Mapping[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content or () if isinstance(p, Mapping))


def _usage(prompt: str, text: str) -> dict[str, Any]:
    inp, out = max(1, len(prompt) // 4), max(1, len(text) // 4)
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": inp + out,
    }


class ResponsesRoutes:
    """Handlers for /v1/responses and /v1/conversations, mixed into the emulator app."""

    store: Store
    conversations: dict[str, ConversationRecord]
    responses: dict[str, ResponseRecord]
    pending_calls: dict[str, tuple[Callable[[Sequence[str]], Outcome], str]]
    models: Models

    if TYPE_CHECKING:
        lock: Any

        def _behaviour_for(self, thread_id: str, assistant_id: str) -> Behaviour: ...
        def _metadata(self, body: Mapping[str, Any]) -> dict[str, str]: ...

    def _init_responses(self) -> None:
        self.conversations = {}
        self.responses = {}
        self.pending_calls = {}

    # -- conversations -----------------------------------------------------------------------
    def _conversation(self, conversation_id: str) -> ConversationRecord:
        found = self.conversations.get(conversation_id)
        if found is None:
            raise ApiError(404, f"Conversation with id '{conversation_id}' not found.")
        return found

    def _new_item(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        kind = raw.get("type", "message")
        if kind == "message":
            role = raw.get("role", "user")
            if role not in ("user", "assistant", "system", "developer"):
                raise ApiError(
                    400,
                    f"Invalid value: '{role}'. Supported values are: 'user', "
                    "'assistant', 'system', and 'developer'.",
                    param="role",
                )
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

    def _conversations_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        record = ConversationRecord(_hex_id("conv_"), self.store.now(), self._metadata(body))
        record.items = [self._new_item(i) for i in body.get("items") or ()]
        self.conversations[record.id] = record
        return record.to_json()

    def _conversations_retrieve(self, conversation_id: str, **_: Any) -> dict[str, Any]:
        return self._conversation(conversation_id).to_json()

    def _conversations_update(
        self, conversation_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        record = self._conversation(conversation_id)
        record.metadata = self._metadata(body)
        return record.to_json()

    def _conversations_delete(self, conversation_id: str, **_: Any) -> dict[str, Any]:
        self._conversation(conversation_id)
        del self.conversations[conversation_id]
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    def _conversations_items_list(
        self, conversation_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        record = self._conversation(conversation_id)
        self._advance_conversation(conversation_id)
        return page(list(record.items), request.query)

    def _item(self, conversation_id: str, item_id: str) -> dict[str, Any]:
        record = self._conversation(conversation_id)
        self._advance_conversation(conversation_id)
        for item in record.items:
            if item.get("id") == item_id:
                return item
        raise ApiError(404, f"Item with id '{item_id}' not found.", param="item_id")

    def _conversations_items_retrieve(
        self, conversation_id: str, item_id: str, **_: Any
    ) -> dict[str, Any]:
        return self._item(conversation_id, item_id)

    def _conversations_items_delete(
        self, conversation_id: str, item_id: str, **_: Any
    ) -> dict[str, Any]:
        item = self._item(conversation_id, item_id)
        record = self.conversations[conversation_id]
        record.items.remove(item)
        return record.to_json()

    def _conversations_items_create(
        self, conversation_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        record = self._conversation(conversation_id)
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
    def _response(self, response_id: str) -> ResponseRecord:
        found = self.responses.get(response_id)
        if found is None:
            raise ApiError(404, f"Response with id '{response_id}' not found.", param="response_id")
        self._advance_response(found)
        return found

    def _files_for(self, body: Mapping[str, Any]) -> tuple[KnowledgeFile, ...]:
        files = []
        for tool in body.get("tools") or ():
            if tool.get("type") == "file_search":
                for store_id in tool.get("vector_store_ids") or ():
                    store = self.store.vector_stores.get(store_id)
                    for file_id in store.searchable_ids() if store else ():
                        record = self.store.files.get(file_id)
                        if record is not None:
                            text = record.data.decode("utf-8", errors="replace")
                            files.append(KnowledgeFile(file_id, record.filename, text))
        return tuple(files)

    def _responses_create(self, body: dict[str, Any], **_: Any) -> Response | dict[str, Any]:
        self.models.check(body.get("model"))
        if body.get("background") and body.get("store") is False:
            raise ApiError(400, "Background mode requires 'store' to be true.", param="background")
        conversation = body.get("conversation")
        conversation_id = conversation.get("id") if isinstance(conversation, dict) else conversation
        if conversation_id and body.get("previous_response_id"):
            raise ApiError(
                400,
                "Mutually exclusive parameters: Ensure you are only providing one of: "
                "'previous_response_id' or 'conversation'.",
                param="previous_response_id",
                code="mutually_exclusive_parameters",
            )
        record = self._conversation(str(conversation_id)) if conversation_id else None
        earlier = self._previous(body.get("previous_response_id"))
        raw_input = body.get("input") or []
        items = (
            [self._new_item({"type": "message", "role": "user", "content": raw_input})]
            if isinstance(raw_input, str)
            else [self._new_item(i) for i in raw_input]
        )
        if record is not None:
            self._advance_conversation(record.id)
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
        user_texts = [_text_of(i) for i in history if i.get("role") == "user"]
        prompt = "\n".join([body.get("instructions") or "", *(_text_of(i) for i in history)])
        fmt = (body.get("text") or {}).get("format")
        if outcome is None:
            ctx = RunContext(
                prompt=user_texts[-1] if user_texts else "",
                history=tuple(
                    (str(i.get("role")), _text_of(i))
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
            id=_hex_id("resp_"),
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
                stream=self._response_stream(response, -1),
            )
        return response.to_json()

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
        self._advance_response(found)
        return found.history + found.output

    def _continue(self, outputs: Sequence[Mapping[str, Any]]) -> Outcome | None:
        found = [self.pending_calls.pop(str(o.get("call_id")), None) for o in outputs]
        known = [f for f in found if f is not None]
        if not known:
            return None
        then = known[0][0]
        return then([str(o.get("output", "")) for o in outputs])

    def _responses_retrieve(self, response_id: str, request: Request, **_: Any) -> Any:
        response = self._response(response_id)
        if (request.query.get("stream") or ["false"])[0].lower() == "true":
            after = int((request.query.get("starting_after") or ["-1"])[0])
            return Response(
                200,
                {"content-type": "text/event-stream; charset=utf-8"},
                stream=self._response_stream(response, after),
            )
        return response.to_json()

    def _responses_delete(self, response_id: str, **_: Any) -> dict[str, Any]:
        self._response(response_id)
        del self.responses[response_id]
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    def _responses_input_tokens(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        raw = body.get("input") or ""
        text = raw if isinstance(raw, str) else " ".join(_text_of(i) for i in raw)
        text = " ".join([body.get("instructions") or "", text])
        return {"object": "response.input_tokens", "input_tokens": max(1, len(text) // 4)}

    def _responses_compact(self, **_: Any) -> dict[str, Any]:
        from .errors import declined

        raise declined("Compacting a response (POST /v1/responses/compact)")

    def _responses_cancel(self, response_id: str, **_: Any) -> dict[str, Any]:
        response = self._response(response_id)
        if not response.background:
            raise ApiError(400, "Only responses created with background=true can be cancelled.")
        if response.status not in FINAL:
            response.status = "cancelled"
            response.next_at = None
        return response.to_json()

    def _responses_input_items(self, response_id: str, request: Request, **_: Any) -> Any:
        response = self._response(response_id)
        raw = response.body.get("input") or []
        items = (
            [self._new_item({"type": "message", "role": "user", "content": raw})]
            if isinstance(raw, str)
            else [self._new_item(i) for i in raw]
        )
        return page(items, request.query)

    # -- lifecycle ---------------------------------------------------------------------------
    def _advance_conversation(self, conversation_id: str) -> None:
        for response in self.responses.values():
            if response.conversation_id == conversation_id:
                self._advance_response(response)

    def _advance_response(self, response: ResponseRecord) -> None:
        while response.next_at is not None and self.store.clock() >= response.next_at:
            self._step_response(response)

    def _step_response(self, response: ResponseRecord, force: bool = False) -> None:
        """One transition; ``force`` skips the waiting (for a response answered at once)."""
        if response.status != "queued":
            self._finish_response(response)
        elif response.outcome.kind == "forever":
            response.status, response.next_at = "in_progress", None
        else:
            began = self.store.clock() if force or response.next_at is None else response.next_at
            response.status = "in_progress"
            response.next_at = began + (0.0 if force else response.outcome.delay)

    def _finish_response(self, response: ResponseRecord) -> None:
        outcome = response.outcome
        response.next_at = None
        response.completed_at = self.store.now()
        if outcome.searched and self._files_for(response.body):
            response.output.append(self._search_item(response, outcome))
        if outcome.kind == "tools":
            for name, arguments in outcome.tool_calls:
                call_id = new_id("call_")
                item = {
                    "id": new_id("fc_", 48).lower(),
                    "type": "function_call",
                    "status": "completed",
                    "arguments": arguments,
                    "call_id": call_id,
                    "name": name,
                }
                response.output.append(item)
                assert outcome.then is not None
                self.pending_calls[call_id] = (outcome.then, response.id)
            response.status = "completed"
            response.usage = _usage(response.prompt, "")
        elif outcome.kind in ("complete", "incomplete"):
            message = self._message_item(outcome)
            if outcome.kind == "incomplete":
                message["status"] = "incomplete"
            response.output.append(message)
            response.usage = _usage(response.prompt, outcome.text)
            response.status = "completed" if outcome.kind == "complete" else "incomplete"
            if outcome.kind == "incomplete":
                response.incomplete_details = {"reason": outcome.reason}
        elif outcome.kind == "fail":
            response.status = "failed"
            response.error = {"code": outcome.code, "message": outcome.message}
        elif outcome.kind == "expire":
            response.status = "failed"
            response.error = {
                "code": "server_error",
                "message": "The response expired before it finished.",
            }
        if response.conversation_id in self.conversations:
            self.conversations[response.conversation_id].items += [dict(i) for i in response.output]

    @staticmethod
    def _search_item(response: ResponseRecord, outcome: Outcome) -> dict[str, Any]:
        """A ``file_search_call`` output item; its results only with
        ``include=["file_search_call.results"]``, as the service does."""
        wanted = "file_search_call.results" in (response.body.get("include") or [])
        results = [
            {
                "file_id": found.file_id,
                "filename": found.filename,
                "score": 0.75,
                "attributes": {},
                "text": found.text,
            }
            for found in outcome.searched
        ]
        return {
            "id": new_id("fs_", 48).lower(),
            "type": "file_search_call",
            "status": "completed",
            "queries": [
                response.prompt.strip().splitlines()[-1] if response.prompt.strip() else ""
            ],
            "results": results if wanted else None,
        }

    @staticmethod
    def _message_item(outcome: Outcome) -> dict[str, Any]:
        text = outcome.text
        annotations = []
        for note in outcome.annotations:
            marker = str(note.get("text", ""))
            position = text.find(marker) if marker else -1
            if position >= 0:
                text = text[:position] + text[position + len(marker) :]
            filename = _MARKER.sub("", marker)
            filename = marker.split("†", 1)[-1].rstrip("】") if "†" in marker else filename
            annotations.append(
                {
                    "type": "file_citation",
                    "file_id": (note.get("file_citation") or {}).get("file_id"),
                    "filename": filename,
                    "index": max(position, 0),
                }
            )
        return {
            "id": new_id("msg_", 48).lower(),
            "type": "message",
            "status": "completed",
            "content": [
                {"type": "output_text", "annotations": annotations, "logprobs": [], "text": text}
            ],
            "role": "assistant",
        }

    # -- streams -----------------------------------------------------------------------------
    def _response_events(self, response: ResponseRecord) -> list[tuple[str, dict[str, Any]]]:
        """Every event of the response so far, numbered from 0. A background response opens
        ``queued``; one answered at once opens ``in_progress``, as the service streams them."""
        snapshot = response.to_json()
        opened = {
            **snapshot,
            "status": "queued" if response.background else "in_progress",
            "output": [],
            "usage": None,
            "completed_at": None,
            "error": None,
            "incomplete_details": None,
        }
        events: list[tuple[str, dict[str, Any]]] = [("response.created", {"response": opened})]
        if response.background:
            events.append(("response.queued", {"response": opened}))
            if response.status == "queued":
                return self._numbered(events)
        events.append(("response.in_progress", {"response": {**opened, "status": "in_progress"}}))
        if response.status in ("queued", "in_progress"):
            return self._numbered(events)
        for index, item in enumerate(response.output):
            events += self._item_events(index, item, response.outcome.chunk_delay)
        events.append((f"response.{response.status}", {"response": snapshot}))
        return self._numbered(events)

    @staticmethod
    def _numbered(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (name, {"type": name, "sequence_number": n, **data})
            for n, (name, data) in enumerate(events)
        ]

    @staticmethod
    def _item_events(
        index: int, item: dict[str, Any], delay: float
    ) -> list[tuple[str, dict[str, Any]]]:
        events: list[tuple[str, dict[str, Any]]] = []
        if item["type"] == "message":
            part = item["content"][0]
            opened = {**item, "status": "in_progress", "content": []}
            events.append(("response.output_item.added", {"item": opened, "output_index": index}))
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append(
                (
                    "response.content_part.added",
                    {**where, "part": {**part, "text": "", "annotations": []}},
                )
            )
            for piece in chunks_of(part["text"]):
                events.append(
                    (
                        "response.output_text.delta",
                        {**where, "delta": piece, "logprobs": [], "_delay": delay},
                    )
                )
            for n, note in enumerate(part["annotations"]):
                events.append(
                    (
                        "response.output_text.annotation.added",
                        {**where, "annotation_index": n, "annotation": note},
                    )
                )
            events.append(
                ("response.output_text.done", {**where, "text": part["text"], "logprobs": []})
            )
            events.append(("response.content_part.done", {**where, "part": part}))
        elif item["type"] == "file_search_call":
            opened = {**item, "status": "in_progress", "results": None}
            events.append(("response.output_item.added", {"item": opened, "output_index": index}))
            where = {"item_id": item["id"], "output_index": index}
            for stage in ("in_progress", "searching", "completed"):
                events.append((f"response.file_search_call.{stage}", dict(where)))
        else:
            opened = {**item, "status": "in_progress", "arguments": ""}
            events.append(("response.output_item.added", {"item": opened, "output_index": index}))
            if item["type"] == "function_call":
                text = item["arguments"]
                where = {"item_id": item["id"], "output_index": index}
                events += [
                    ("response.function_call_arguments.delta", {**where, "delta": text[n : n + 8]})
                    for n in range(0, len(text), 8)
                ]
                events.append(
                    (
                        "response.function_call_arguments.done",
                        {
                            "item_id": item["id"],
                            "output_index": index,
                            "arguments": item["arguments"],
                        },
                    )
                )
        events.append(("response.output_item.done", {"item": item, "output_index": index}))
        return events

    async def _response_stream(self, response: ResponseRecord, after: int) -> AsyncIterator[bytes]:
        sent = after
        while True:
            with self.lock:
                self._advance_response(response)
                events = self._response_events(response)
                wait, final = response.next_at, response.status in FINAL
            for name, data in events[sent + 1 :]:
                delay = data.pop("_delay", 0.0)
                if delay:
                    await asyncio.sleep(delay)
                yield f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
                sent = data["sequence_number"]
            if final:
                return
            pause = 0.05 if wait is None else max(0.001, min(0.05, wait - self.store.clock()))
            await asyncio.sleep(pause)
