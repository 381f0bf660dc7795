"""A response's life on the store's clock (``queued → in_progress →`` an end, with the same
scripted behaviours as an Assistants run) and its event streams: numbered events built from
its state, so a client can resume one with ``GET /responses/{id}?stream=true&starting_after=N``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from .behaviours import KnowledgeFile, Outcome
from .response_records import FINAL, ResponseRecord, usage_of
from .search import matches
from .state import AppState
from .store import chunks_of, new_id

__all__ = ["ResponseFlow"]

_MARKER = re.compile(r"【[^】]*】")


class ResponseFlow(AppState):
    """How a response moves and streams; the Responses handlers build on it."""

    def _files_for(self, body: Mapping[str, Any]) -> tuple[KnowledgeFile, ...]:
        files = []
        for tool in body.get("tools") or ():
            if tool.get("type") == "file_search":
                for store_id in tool.get("vector_store_ids") or ():
                    store = self.store.vector_stores.get(store_id)
                    for file_id in store.searchable_ids(self.store.clock()) if store else ():
                        record = self.store.files.get(file_id)
                        attributes = store.files[file_id].attributes if store else {}
                        if record is not None and matches(tool.get("filters"), attributes):
                            text = record.data.decode("utf-8", errors="replace")
                            files.append(KnowledgeFile(file_id, record.filename, text))
        return tuple(files)

    def advance_conversation(self, conversation_id: str) -> None:
        for response in self.responses.values():
            if response.conversation_id == conversation_id:
                self.advance_response(response)

    def advance_response(self, response: ResponseRecord) -> None:
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
            response.usage = usage_of(response.prompt, "")
        elif outcome.kind in ("complete", "incomplete"):
            message = self._message_item(outcome)
            if outcome.kind == "incomplete":
                message["status"] = "incomplete"
            response.output.append(message)
            response.usage = usage_of(response.prompt, outcome.text)
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

    async def response_stream(self, response: ResponseRecord, after: int) -> AsyncIterator[bytes]:
        sent = after
        while True:
            with self.lock:
                self.advance_response(response)
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
