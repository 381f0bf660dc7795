"""The Assistants API's event streams: a run's events as the service streams them, from its
state as it moves (run, step, message and delta events, ending with ``done``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from .exchanges import sse
from .state import AppState
from .store import RunRecord, ThreadRecord, chunks_of

__all__ = ["RunEvents"]


class RunEvents(AppState):
    """The event-stream half of the Assistants handlers."""

    async def run_stream(
        self,
        run: RunRecord,
        thread: ThreadRecord | None,
        intro: tuple[str, ...],
        finished_steps: list[Any] | None = None,
    ) -> AsyncIterator[bytes]:
        """The run's events as the service streams them, ending with ``done``."""
        with self.lock:
            snapshot = run.to_json()
            if thread is not None:
                yield sse("thread.created", thread.to_json())
            for step in finished_steps or ():
                yield sse("thread.run.step.completed", step.to_json())
            for name in intro:
                yield sse(name, snapshot)
        shown = "queued"
        while True:
            with self.lock:
                self.store.advance(run)
                status, snapshot, wait = run.status, run.to_json(), run.next_at
                if status != shown:
                    events = self._events_for(run, status, snapshot)
            if status != shown:
                shown = status
                for name, data, delay in events:
                    if delay:
                        await asyncio.sleep(delay)
                    yield sse(name, data)
                if status not in ("queued", "in_progress", "cancelling"):
                    yield sse("done", "[DONE]")
                    return
            pause = 0.05 if wait is None else max(0.001, min(0.05, wait - self.store.clock()))
            await asyncio.sleep(pause)

    def _events_for(
        self, run: RunRecord, status: str, snapshot: dict[str, Any]
    ) -> list[tuple[str, Any, float]]:
        events: list[tuple[str, Any, float]] = []
        if status == "in_progress":
            return [("thread.run.in_progress", snapshot, 0.0)]
        for step in run.steps:
            searched = step.type == "tool_calls" and any(
                c.get("type") == "file_search" for c in step.details.get("tool_calls", [])
            )
            if searched and status in ("completed", "incomplete"):
                events += self._search_step_events(step.to_json(run.include_content))
        if status == "requires_action":
            # As the service does: the step opens empty, deltas carry the calls.
            shown = run.steps[-1].to_json()
            opened = {**shown, "step_details": {"type": "tool_calls", "tool_calls": []}}
            events += [
                ("thread.run.step.created", opened, 0.0),
                ("thread.run.step.in_progress", opened, 0.0),
            ]
            for index, call in enumerate(shown["step_details"]["tool_calls"]):
                events += self._call_deltas(shown["id"], index, call)
            events.append(("thread.run.requires_action", snapshot, 0.0))
        elif status in ("completed", "incomplete") and run.message is not None:
            events += self._message_events(run)
            events.append((f"thread.run.{status}", snapshot, 0.0))
        else:
            events.append((f"thread.run.{status}", snapshot, 0.0))
        return events

    @staticmethod
    def _call_deltas(
        step_id: str, index: int, call: dict[str, Any]
    ) -> list[tuple[str, Any, float]]:
        """A function call as the service streams it: the call with empty arguments, then the
        arguments in pieces."""
        function = call["function"]
        pieces = [{**call, "function": {**function, "arguments": ""}}]
        text = function["arguments"]
        pieces += [
            {"type": "function", "function": {"arguments": text[n : n + 8]}}
            for n in range(0, len(text), 8)
        ]
        return [
            (
                "thread.run.step.delta",
                {
                    "id": step_id,
                    "object": "thread.run.step.delta",
                    "delta": {
                        "step_details": {
                            "type": "tool_calls",
                            "tool_calls": [{"index": index, **piece}],
                        }
                    },
                },
                0.0,
            )
            for piece in pieces
        ]

    @staticmethod
    def _search_step_events(done: dict[str, Any]) -> list[tuple[str, Any, float]]:
        """A file_search step as the service streams it: opened empty, one delta with the call
        (results still empty), then the completed step."""
        opened = {
            **done,
            "status": "in_progress",
            "completed_at": None,
            "usage": None,
            "step_details": {"type": "tool_calls", "tool_calls": []},
        }
        calls = [
            {"index": n, **c, "file_search": {**c["file_search"], "results": []}}
            for n, c in enumerate(done["step_details"]["tool_calls"])
        ]
        delta = {
            "id": done["id"],
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": calls}},
        }
        return [
            ("thread.run.step.created", opened, 0.0),
            ("thread.run.step.in_progress", opened, 0.0),
            ("thread.run.step.delta", delta, 0.0),
            ("thread.run.step.completed", done, 0.0),
        ]

    def _message_events(self, run: RunRecord) -> list[tuple[str, Any, float]]:
        message = run.message
        assert message is not None
        step = next(s for s in run.steps if s.type == "message_creation")
        step_open = {**step.to_json(), "status": "in_progress", "completed_at": None, "usage": None}
        opened = {
            **message.to_json(),
            "status": "in_progress",
            "content": [],
            "completed_at": None,
            "incomplete_details": None,
        }
        events: list[tuple[str, Any, float]] = [
            ("thread.run.step.created", step_open, 0.0),
            ("thread.run.step.in_progress", step_open, 0.0),
            ("thread.message.created", opened, 0.0),
            ("thread.message.in_progress", opened, 0.0),
        ]
        delay = run.outcome.chunk_delay
        position = 0
        for n, piece in enumerate(chunks_of(message.text)):
            text: dict[str, Any] = {"value": piece}
            if n == 0:
                text["annotations"] = []
            notes = [
                {"index": i, **a, "file_citation": {**a.get("file_citation", {}), "quote": ""}}
                for i, a in enumerate(message.annotations)
                if position < a["end_index"] <= position + len(piece)
            ]
            if notes:
                text["annotations"] = notes
            position += len(piece)
            delta = {
                "id": message.id,
                "object": "thread.message.delta",
                "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
            }
            events.append(("thread.message.delta", delta, delay))
        done = "completed" if message.status == "completed" else "incomplete"
        events.append((f"thread.message.{done}", message.to_json(), 0.0))
        events.append(("thread.run.step.completed", step.to_json(), 0.0))
        return events
