"""Handlers of the Assistants API: assistants, threads, messages, runs and run steps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .behaviours import RunContext
from .errors import ApiError
from .files_api import FilesRoutes
from .http import Request, Response
from .pages import page
from .parameters import Parameters, apply, tokens
from .resource_table import (
    ASSISTANTS,
    FILES,
    MESSAGES,
    RUNS,
    THREADS,
    VECTOR_STORES,
    includes_content,
)
from .run_events import RunEvents
from .store import ACTIVE, AssistantRecord, MessageRecord, RunRecord, ThreadRecord
from .structured import json_format

__all__ = ["AssistantsRoutes"]

#: What an assistant's field is when created without it, or set to null.
ASSISTANT_DEFAULTS: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0, "response_format": "auto"}


class AssistantsRoutes(RunEvents, FilesRoutes):
    """Assistants, threads, messages, runs and steps, over the store."""

    # -- assistants --------------------------------------------------------------------------
    def assistants_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        record = AssistantRecord(ASSISTANTS.new_id(), self.store.now(), str(body["model"]))
        self._update_assistant(record, body)
        self.store.assistants[record.id] = record
        return record.to_json()

    def _update_assistant(self, record: AssistantRecord, body: dict[str, Any]) -> None:
        if body.get("model") is not None:
            self.models.check(body["model"])
        for field in (
            "model",
            "name",
            "description",
            "instructions",
            "tools",
            "tool_resources",
            "temperature",
            "top_p",
            "response_format",
        ):
            if field in body:
                # null means "not set", as the service reads it: the default, not None.
                value = body[field]
                setattr(record, field, ASSISTANT_DEFAULTS.get(field) if value is None else value)
        if "metadata" in body:
            record.metadata = self._metadata(body)
        record.tools = [self._tool(t) for t in record.tools or []]
        if "tool_resources" in body:
            record.tool_resources = self._tool_resources(body)

    def _tool_resources(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``tool_resources`` as stored: known vector stores, and ``vector_stores`` helpers
        turned into new vector stores, as the service does."""
        resources = dict(body.get("tool_resources") or {})
        search = dict(resources.get("file_search") or {})
        stores = list(search.get("vector_store_ids") or [])
        for store_id in stores:
            VECTOR_STORES.get(self, vector_store_id=store_id)
        for helper in search.pop("vector_stores", None) or []:
            stores.append(self.new_vector_store(helper).id)
        if "file_search" in resources:
            resources["file_search"] = {"vector_store_ids": stores}
        return resources

    @staticmethod
    def _tool(tool: dict[str, Any]) -> dict[str, Any]:
        if tool.get("type") == "function":
            function = {
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
                **tool.get("function", {}),
            }
            return {"type": "function", "function": function}
        if tool.get("type") == "file_search":
            return {
                "type": "file_search",
                "file_search": {
                    "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0}
                },
            }
        return tool

    def assistants_update(
        self, assistant_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        record = ASSISTANTS.get(self, assistant_id=assistant_id)
        self._update_assistant(record, body)
        return record.to_json()

    # -- threads and messages ----------------------------------------------------------------
    def _new_thread(self, body: Mapping[str, Any]) -> ThreadRecord:
        thread = ThreadRecord(
            THREADS.new_id(),
            self.store.now(),
            self._metadata(body),
            self._tool_resources(body),
        )
        for message in body.get("messages") or []:
            self._add_message(thread, message)
        self.store.threads[thread.id] = thread
        return thread

    def _add_message(self, thread: ThreadRecord, body: Mapping[str, Any]) -> MessageRecord:
        """A message as validated (role and content present): text, parts and attachments."""
        role = body["role"]
        content = body["content"]
        message = MessageRecord(
            MESSAGES.new_id(),
            thread.id,
            role,
            _text(content),
            self.store.now(),
            metadata=self._metadata(body),
            parts=[dict(p) for p in content] if isinstance(content, list) else None,
            attachments=[_attachment(a) for a in body.get("attachments") or []],
        )
        for attachment in message.attachments:
            FILES.get(self, file_id=attachment["file_id"])
        thread.messages[message.id] = message
        return message

    def threads_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        return self._new_thread(body).to_json()

    def threads_update(self, thread_id: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        thread = THREADS.get(self, thread_id=thread_id)
        if "metadata" in body:
            thread.metadata = self._metadata(body)
        if "tool_resources" in body:
            thread.tool_resources = self._tool_resources(body)
        return thread.to_json()

    def messages_create(self, thread_id: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        thread = THREADS.get(self, thread_id=thread_id)
        active = self.store.active_run(thread_id)
        if active is not None:
            raise ApiError(
                400, f"Can't add messages to {thread_id} while a run {active.id} is active."
            )
        return self._add_message(thread, body).to_json()

    def messages_list(self, thread_id: str, request: Request, **_: Any) -> dict[str, Any]:
        thread = THREADS.get(self, thread_id=thread_id)
        for run in self.store.runs.values():
            if run.thread_id == thread_id:
                self.store.advance(run)
        run_ids = request.query.get("run_id")
        run_id = run_ids[0] if run_ids else None
        rows = [
            m.to_json() for m in thread.messages.values() if run_id is None or m.run_id == run_id
        ]
        return page(rows, request.query)

    # -- runs --------------------------------------------------------------------------------
    def _new_run(
        self, thread: ThreadRecord, body: Mapping[str, Any], request: Request
    ) -> RunRecord:
        assistant = ASSISTANTS.get(self, assistant_id=str(body["assistant_id"]))
        self.models.check(body.get("model") or assistant.model)
        for message in body.get("additional_messages") or []:
            self._add_message(thread, message)
        users = [m.text for m in thread.messages.values() if m.role == "user"]
        if not users and not (assistant.instructions or body.get("instructions")):
            raise ApiError(
                400,
                "Run creation requires a Thread with a user message or an "
                "assistant with instructions.",
            )
        instructions = body.get("instructions") or assistant.instructions
        if body.get("additional_instructions"):
            instructions = f"{instructions or ''}\n{body['additional_instructions']}".strip()
        truncation = dict(body.get("truncation_strategy") or {"type": "auto"})
        truncation.setdefault("last_messages", None)
        seen = list(thread.messages.values())
        if truncation["type"] == "last_messages" and truncation["last_messages"]:
            seen = seen[-int(truncation["last_messages"]) :]
        tools = [self._tool(t) for t in body.get("tools") or assistant.tools]
        response_format = body.get("response_format") or assistant.response_format
        ctx = RunContext(
            prompt=users[-1] if users else "",
            history=tuple((m.role, m.text) for m in seen[:-1]),
            files=tuple(self.store.knowledge(assistant, thread)),
            instructions=instructions,
            run_id="",
            thread_id=thread.id,
            response_format=json_format(response_format),
        )
        prompt = "\n".join([instructions or "", *(m.text for m in seen)])
        params = Parameters(
            tool_choice=body.get("tool_choice") or "auto",
            parallel_tool_calls=body.get("parallel_tool_calls") is not False,
            functions={
                t["function"]["name"]: t["function"].get("parameters") or {}
                for t in tools
                if t.get("type") == "function"
            },
            max_output_tokens=body.get("max_completion_tokens"),
            max_prompt_tokens=body.get("max_prompt_tokens"),
            prompt_tokens=tokens(prompt),
        )
        outcome = apply(self._behaviour_for(thread.id, assistant.id).outcome(ctx), params)
        created = self.store.now()
        run = RunRecord(
            id=RUNS.new_id(),
            thread_id=thread.id,
            assistant_id=assistant.id,
            created_at=created,
            expires_at=created + int(self.store.run_ttl),
            model=str(body.get("model") or assistant.model),
            instructions=instructions,
            tools=tools,
            metadata=self._metadata(body),
            prompt=prompt,
            outcome=outcome,
            started=self.store.clock(),
            temperature=_given(body.get("temperature"), assistant.temperature),
            top_p=_given(body.get("top_p"), assistant.top_p),
            response_format=response_format,
            tool_choice=params.tool_choice,
            parallel_tool_calls=params.parallel_tool_calls,
            max_prompt_tokens=params.max_prompt_tokens,
            max_completion_tokens=params.max_output_tokens,
            truncation_strategy=truncation,
            include_content=includes_content(request),
        )
        self.store.start_run(run)
        return run

    def _answer_run(
        self,
        run: RunRecord,
        body: Mapping[str, Any],
        thread: ThreadRecord | None,
        intro: tuple[str, ...],
    ) -> Response | dict[str, Any]:
        if body.get("stream"):
            return Response(
                200,
                {"content-type": "text/event-stream; charset=utf-8"},
                stream=self.run_stream(run, thread, intro),
            )
        return run.to_json()

    def threads_create_and_run(
        self, body: dict[str, Any], request: Request, **_: Any
    ) -> Response | dict[str, Any]:
        thread = self._new_thread(body.get("thread") or {})
        try:
            run = self._new_run(thread, body, request)
        except ApiError:
            del self.store.threads[thread.id]
            raise
        return self._answer_run(run, body, thread, ("thread.run.created", "thread.run.queued"))

    def runs_create(
        self, thread_id: str, body: dict[str, Any], request: Request, **_: Any
    ) -> Response | dict[str, Any]:
        thread = THREADS.get(self, thread_id=thread_id)
        active = self.store.active_run(thread_id)
        if active is not None:
            raise ApiError(400, f"Thread {thread_id} already has an active run {active.id}.")
        run = self._new_run(thread, body, request)
        return self._answer_run(run, body, None, ("thread.run.created", "thread.run.queued"))

    def runs_update(
        self, thread_id: str, run_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        run = RUNS.get(self, thread_id=thread_id, run_id=run_id)
        if run.status in ("queued", "in_progress", "cancelling"):
            raise ApiError(400, f"Cannot update run with status '{run.status}'.")
        if "metadata" in body:
            run.metadata = self._metadata(body)
        return run.to_json()

    def runs_cancel(self, thread_id: str, run_id: str, **_: Any) -> dict[str, Any]:
        run = RUNS.get(self, thread_id=thread_id, run_id=run_id)
        if run.status not in ACTIVE:
            raise ApiError(400, f"Cannot cancel run with status '{run.status}'.")
        if run.status != "cancelling":
            self.store.cancel(run)
        return run.to_json()

    def runs_submit_tool_outputs(
        self, thread_id: str, run_id: str, body: dict[str, Any], **_: Any
    ) -> Response | dict[str, Any]:
        run = RUNS.get(self, thread_id=thread_id, run_id=run_id)
        if run.status != "requires_action":
            raise ApiError(400, f'Runs in status "{run.status}" do not accept tool outputs.')
        outputs = body["tool_outputs"]
        expected = {c["id"] for c in run.pending_calls}
        given = {o.get("tool_call_id") for o in outputs if isinstance(o, dict)}
        if given != expected:
            missing = sorted(expected - given)
            raise ApiError(
                400,
                f"Expected tool outputs for call_ids {sorted(expected)}, got "
                f"{sorted(x for x in given if x)}"
                + (f"; missing {missing}" if missing else "")
                + ".",
                param="tool_outputs",
            )
        tool_steps = [s for s in run.steps if s.type == "tool_calls" and s.status == "in_progress"]
        self.store.submit(run, outputs)
        if body.get("stream"):
            return Response(
                200,
                {"content-type": "text/event-stream; charset=utf-8"},
                stream=self.run_stream(
                    run, None, ("thread.run.queued",), finished_steps=tool_steps
                ),
            )
        return run.to_json()


def _attachment(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"file_id": raw.get("file_id"), "tools": [dict(t) for t in raw.get("tools") or []]}


def _given(value: Any, default: float) -> float:
    """A sampling parameter as sent (0 included), else the assistant's."""
    return float(default if value is None else value)


def _text(content: Any) -> str:
    """The text of a message's content (a string, or its text parts; the schema checked it)."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")
