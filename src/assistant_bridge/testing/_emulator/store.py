"""The emulator's state: assistants, threads, messages, runs, steps, files and vector stores.

Each record renders itself as the service's JSON, field for field (checked against recorded
real traffic by ``tests/test_emulator_fidelity.py``). Runs move through their statuses lazily:
:meth:`Store.advance` applies every transition whose time has come, so a poller and a stream
see the same run.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .behaviours import KnowledgeFile, Outcome
from .file_records import BatchRecord, FileRecord, VectorStoreRecord

ACTIVE = {"queued", "in_progress", "requires_action", "cancelling"}
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """An id shaped like the service's: ``run_`` and 24 letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _usage(prompt: str, text: str) -> dict[str, Any]:
    prompt_tokens = max(1, len(prompt) // 4)
    completion = max(1, len(text) // 4)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@attrs.define
class AssistantRecord:
    id: str
    created_at: int
    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = attrs.Factory(list)
    tool_resources: dict[str, Any] = attrs.Factory(dict)
    metadata: dict[str, str] = attrs.Factory(dict)
    temperature: float = 1.0
    top_p: float = 1.0
    response_format: Any = "auto"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "assistant",
            "created_at": self.created_at,
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "top_p": self.top_p,
            "temperature": self.temperature,
            "reasoning_effort": None,
            "tool_resources": self.tool_resources,
            "metadata": self.metadata,
            "response_format": self.response_format,
        }


@attrs.define
class MessageRecord:
    id: str
    thread_id: str
    role: str
    text: str
    created_at: int
    run_id: str | None = None
    assistant_id: str | None = None
    annotations: list[dict[str, Any]] = attrs.Factory(list)
    metadata: dict[str, str] = attrs.Factory(dict)
    status: str = "completed"
    completed_at: int | None = None
    incomplete_reason: str | None = None
    parts: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] = attrs.Factory(list)

    def content(self) -> list[dict[str, Any]]:
        """The content parts as sent (text, image_file, image_url), or the one text part."""
        if self.parts is not None:
            return [
                {"type": "text", "text": {"value": p.get("text", ""), "annotations": []}}
                if p.get("type") == "text"
                else p
                for p in self.parts
            ]
        if not self.text and self.status == "in_progress":
            return []
        return [{"type": "text", "text": {"value": self.text, "annotations": self.annotations}}]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread.message",
            "created_at": self.created_at,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "status": self.status,
            "incomplete_details": (
                {"reason": self.incomplete_reason} if self.incomplete_reason else None
            ),
            "incomplete_at": self.completed_at if self.status == "incomplete" else None,
            "completed_at": self.completed_at,
            "role": self.role,
            "content": self.content(),
            "attachments": self.attachments,
            "metadata": self.metadata,
        }


@attrs.define
class ThreadRecord:
    id: str
    created_at: int
    metadata: dict[str, str] = attrs.Factory(dict)
    tool_resources: dict[str, Any] = attrs.Factory(dict)
    messages: dict[str, MessageRecord] = attrs.Factory(dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread",
            "created_at": self.created_at,
            "metadata": self.metadata,
            "tool_resources": self.tool_resources,
        }


def _without_content(call: dict[str, Any]) -> dict[str, Any]:
    if call.get("type") != "file_search":
        return call
    search = call["file_search"]
    results = [{k: v for k, v in r.items() if k != "content"} for r in search.get("results", [])]
    return {**call, "file_search": {**search, "results": results}}


@attrs.define
class StepRecord:
    id: str
    run: RunRecord
    type: str
    details: dict[str, Any]
    created_at: int
    status: str = "in_progress"
    completed_at: int | None = None
    usage: dict[str, Any] | None = None

    def to_json(self, include_content: bool = False) -> dict[str, Any]:
        """The step; file_search results carry their text only when ``include[]`` asked."""
        details = self.details
        if not include_content and self.type == "tool_calls":
            details = {
                **details,
                "tool_calls": [_without_content(c) for c in details.get("tool_calls", [])],
            }
        return {
            "id": self.id,
            "object": "thread.run.step",
            "created_at": self.created_at,
            "run_id": self.run.id,
            "assistant_id": self.run.assistant_id,
            "thread_id": self.run.thread_id,
            "type": self.type,
            "status": self.status,
            "cancelled_at": None,
            "completed_at": self.completed_at,
            "expires_at": None if self.status == "completed" else self.run.expires_at,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": self.usage,
        }


@attrs.define
class RunRecord:
    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    expires_at: int
    model: str
    instructions: str | None
    tools: list[dict[str, Any]]
    metadata: dict[str, str]
    prompt: str
    outcome: Outcome
    started: float
    status: str = "queued"
    started_at: int | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    required_action: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    response_format: Any = "auto"
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: dict[str, Any] = attrs.Factory(
        lambda: {"type": "auto", "last_messages": None}
    )
    include_content: bool = False
    next_at: float | None = None
    pending_calls: list[dict[str, Any]] = attrs.Factory(list)
    steps: list[StepRecord] = attrs.Factory(list)
    message: MessageRecord | None = None
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread.run",
            "created_at": self.created_at,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "status": self.status,
            "started_at": self.started_at,
            "expires_at": self.expires_at if self.status in ACTIVE else None,
            "cancelled_at": self.cancelled_at,
            "failed_at": self.failed_at,
            "completed_at": self.completed_at,
            "required_action": self.required_action,
            "last_error": self.last_error,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "tool_resources": {},
            "metadata": self.metadata,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "reasoning_effort": None,
            "max_completion_tokens": self.max_completion_tokens,
            "max_prompt_tokens": self.max_prompt_tokens,
            "truncation_strategy": self.truncation_strategy,
            "incomplete_details": self.incomplete_details,
            "usage": self.usage,
            "response_format": self.response_format,
            "tool_choice": self.tool_choice,
            "parallel_tool_calls": self.parallel_tool_calls,
        }


def chunks_of(text: str) -> list[str]:
    """Split text into word-sized deltas, as the service streams it."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch == " " and word:
            out.append(word)
            word = ""
        word += ch
    if word:
        out.append(word)
    return out


class Store:
    """All records, and the rules that move runs along."""

    def __init__(
        self,
        *,
        queue_delay: float = 0.01,
        cancel_delay: float = 0.01,
        run_ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue_delay = queue_delay
        self.cancel_delay = cancel_delay
        self.run_ttl = run_ttl
        self.clock = clock
        self.assistants: dict[str, AssistantRecord] = {}
        self.threads: dict[str, ThreadRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.vector_stores: dict[str, VectorStoreRecord] = {}
        self.batches: dict[str, BatchRecord] = {}

    @staticmethod
    def now() -> int:
        return int(time.time())

    def active_run(self, thread_id: str) -> RunRecord | None:
        for run in self.runs.values():
            if run.thread_id == thread_id:
                self.advance(run)
                if run.status in ACTIVE:
                    return run
        return None

    def knowledge(
        self, assistant: AssistantRecord | None, thread: ThreadRecord
    ) -> list[KnowledgeFile]:
        store_ids: list[str] = []
        for resources in (assistant.tool_resources if assistant else {}, thread.tool_resources):
            store_ids += (resources.get("file_search") or {}).get("vector_store_ids") or []
        files: list[KnowledgeFile] = []
        for store_id in store_ids:
            store = self.vector_stores.get(store_id)
            for file_id in store.searchable_ids(self.clock()) if store else ():
                record = self.files.get(file_id)
                if record is not None:
                    text = record.data.decode("utf-8", errors="replace")
                    files.append(KnowledgeFile(file_id, record.filename, text))
        return files

    def start_run(self, run: RunRecord) -> None:
        self.runs[run.id] = run
        run.next_at = run.started + self.queue_delay

    def cancel(self, run: RunRecord) -> None:
        run.status = "cancelling"
        run.required_action = None
        run.next_at = self.clock() + self.cancel_delay
        run.version += 1

    def submit(self, run: RunRecord, outputs: Sequence[dict[str, Any]]) -> None:
        by_id = {o.get("tool_call_id"): str(o.get("output", "")) for o in outputs}
        ordered = [by_id.get(call["id"], "") for call in run.pending_calls]
        for step in run.steps:
            if step.type == "tool_calls" and step.status == "in_progress":
                for call in step.details["tool_calls"]:
                    call["function"]["output"] = by_id.get(call["id"])
                self._complete_step(step)
        assert run.outcome.then is not None
        run.outcome = run.outcome.then(ordered)
        run.pending_calls = []
        run.required_action = None
        run.status = "queued"
        run.next_at = self.clock() + self.queue_delay
        run.version += 1

    def _complete_step(self, step: StepRecord) -> None:
        step.status = "completed"
        step.completed_at = self.now()

    def advance(self, run: RunRecord) -> None:
        """Apply every transition of ``run`` whose time has come."""
        now = self.clock()
        while True:
            if run.status == "requires_action" and now >= run.started + self.run_ttl:
                self._end(run, "expired")
                continue
            if run.next_at is None or now < run.next_at:
                return
            self._step(run)

    def _end(self, run: RunRecord, status: str) -> None:
        run.status = status
        run.next_at = None
        run.required_action = None
        stamp = self.now()
        if status == "cancelled":
            run.cancelled_at = stamp
        elif status == "failed":
            run.failed_at = stamp
        elif status in ("completed", "incomplete"):
            run.completed_at = stamp
        run.version += 1

    def _step(self, run: RunRecord) -> None:
        assert run.next_at is not None
        if run.status == "cancelling":
            self._end(run, "cancelled")
        elif run.status == "queued":
            run.status = "in_progress"
            run.started_at = run.started_at or self.now()
            outcome = run.outcome
            # A slow stream (chunk_delay) only slows the stream's delivery, not the run.
            run.next_at = None if outcome.kind == "forever" else run.next_at + outcome.delay
            if run.started + self.run_ttl < (run.next_at or float("inf")):
                run.next_at = run.started + self.run_ttl
            run.version += 1
        elif run.status == "in_progress":
            if self.clock() >= run.started + self.run_ttl:
                self._end(run, "expired")
            else:
                self._finish(run)

    def _finish(self, run: RunRecord) -> None:
        outcome = run.outcome
        stamp = self.now()
        for found in outcome.searched:
            details = {
                "type": "tool_calls",
                "tool_calls": [
                    {
                        "id": new_id("call_"),
                        "type": "file_search",
                        "file_search": {
                            "ranking_options": {
                                "ranker": "default_2024_08_21",
                                "score_threshold": 0.0,
                            },
                            "results": [
                                {
                                    "file_id": found.file_id,
                                    "file_name": found.filename,
                                    "score": 0.75,
                                    "attributes": {},
                                    "content": [{"type": "text", "text": found.text}],
                                }
                            ],
                        },
                    }
                ],
            }
            step = StepRecord(new_id("step_"), run, "tool_calls", details, stamp)
            self._complete_step(step)
            run.steps.append(step)
        if outcome.kind == "tools":
            calls: list[dict[str, Any]] = [
                {
                    "id": new_id("call_"),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for name, arguments in outcome.tool_calls
            ]
            run.pending_calls = calls
            details = {
                "type": "tool_calls",
                "tool_calls": [{**c, "function": {**c["function"], "output": None}} for c in calls],
            }
            run.steps.append(StepRecord(new_id("step_"), run, "tool_calls", details, stamp))
            run.status = "requires_action"
            run.required_action = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": calls},
            }
            run.next_at = None
            run.version += 1
        elif outcome.kind in ("complete", "incomplete"):
            self._write_message(run, outcome, stamp)
            run.usage = _usage(run.prompt, outcome.text)
            if outcome.kind == "incomplete":
                run.incomplete_details = {"reason": outcome.reason}
            self._end(run, "completed" if outcome.kind == "complete" else "incomplete")
        elif outcome.kind == "fail":
            run.last_error = {"code": outcome.code, "message": outcome.message}
            self._end(run, "failed")
        elif outcome.kind == "expire":
            self._end(run, "expired")

    def _write_message(self, run: RunRecord, outcome: Outcome, stamp: int) -> None:
        thread = self.threads[run.thread_id]
        message = MessageRecord(
            id=new_id("msg_"),
            thread_id=run.thread_id,
            role="assistant",
            text=outcome.text,
            created_at=stamp,
            run_id=run.id,
            assistant_id=run.assistant_id,
            annotations=[dict(a) for a in outcome.annotations],
            status="incomplete" if outcome.kind == "incomplete" else "completed",
            completed_at=stamp,
            incomplete_reason=outcome.reason if outcome.kind == "incomplete" else None,
        )
        thread.messages[message.id] = message
        run.message = message
        step = StepRecord(
            new_id("step_"),
            run,
            "message_creation",
            {"type": "message_creation", "message_creation": {"message_id": message.id}},
            stamp,
            usage=_usage(run.prompt, outcome.text),
        )
        self._complete_step(step)
        run.steps.append(step)
