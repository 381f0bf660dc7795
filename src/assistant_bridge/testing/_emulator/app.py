"""The emulated Assistants API: routes, rules, errors and event streams, over :mod:`.store`.

Every handler runs under one lock, so tests may read the state from another thread. Errors
have OpenAI's JSON shape and, where the service's wording is known, its words.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs

from .behaviours import Behaviour, RunContext, Triage
from .faults import Fault, FaultPlan
from .http import Request, Reset, Response, StreamCut
from .responses import ResponsesRoutes
from .store import (
    ACTIVE,
    AssistantRecord,
    BatchRecord,
    FileRecord,
    MessageRecord,
    RunRecord,
    Store,
    ThreadRecord,
    VectorStoreRecord,
    chunks_of,
    new_id,
)


class ApiError(Exception):
    """An error answer in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        self.headers = dict(headers or {})


@attrs.frozen
class LoggedRequest:
    """One request the emulator answered (or dropped)."""

    method: str
    path: str
    route: str
    status: int
    at: float
    seconds: float


Handler = Callable[..., Any]
_ROUTES: list[tuple[str, re.Pattern[str], str]] = []


def _route(method: str, pattern: str, name: str) -> None:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
    _ROUTES.append((method, re.compile(f"^/v1{regex}$"), name))


for _m, _p, _n in [
    ("POST", "/assistants", "assistants.create"),
    ("GET", "/assistants", "assistants.list"),
    ("GET", "/assistants/{assistant_id}", "assistants.retrieve"),
    ("POST", "/assistants/{assistant_id}", "assistants.update"),
    ("DELETE", "/assistants/{assistant_id}", "assistants.delete"),
    ("POST", "/threads/runs", "threads.create_and_run"),
    ("POST", "/threads", "threads.create"),
    ("GET", "/threads/{thread_id}", "threads.retrieve"),
    ("POST", "/threads/{thread_id}", "threads.update"),
    ("DELETE", "/threads/{thread_id}", "threads.delete"),
    ("POST", "/threads/{thread_id}/messages", "messages.create"),
    ("GET", "/threads/{thread_id}/messages", "messages.list"),
    ("GET", "/threads/{thread_id}/messages/{message_id}", "messages.retrieve"),
    ("POST", "/threads/{thread_id}/runs", "runs.create"),
    ("GET", "/threads/{thread_id}/runs", "runs.list"),
    ("GET", "/threads/{thread_id}/runs/{run_id}", "runs.retrieve"),
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel", "runs.cancel"),
    ("POST", "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", "runs.submit_tool_outputs"),
    ("GET", "/threads/{thread_id}/runs/{run_id}/steps", "steps.list"),
    ("GET", "/threads/{thread_id}/runs/{run_id}/steps/{step_id}", "steps.retrieve"),
    ("POST", "/files", "files.create"),
    ("GET", "/files", "files.list"),
    ("GET", "/files/{file_id}", "files.retrieve"),
    ("GET", "/files/{file_id}/content", "files.content"),
    ("DELETE", "/files/{file_id}", "files.delete"),
    ("POST", "/vector_stores", "vector_stores.create"),
    ("GET", "/vector_stores", "vector_stores.list"),
    ("GET", "/vector_stores/{vector_store_id}", "vector_stores.retrieve"),
    ("DELETE", "/vector_stores/{vector_store_id}", "vector_stores.delete"),
    ("POST", "/vector_stores/{vector_store_id}/files", "vector_stores.files.create"),
    ("GET", "/vector_stores/{vector_store_id}/files", "vector_stores.files.list"),
    ("DELETE", "/vector_stores/{vector_store_id}/files/{file_id}", "vector_stores.files.delete"),
    ("POST", "/vector_stores/{vector_store_id}/file_batches", "vector_stores.file_batches.create"),
    (
        "GET",
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}",
        "vector_stores.file_batches.retrieve",
    ),
    (
        "GET",
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
        "vector_stores.file_batches.files",
    ),
    ("POST", "/responses", "responses.create"),
    ("GET", "/responses/{response_id}", "responses.retrieve"),
    ("POST", "/responses/{response_id}/cancel", "responses.cancel"),
    ("GET", "/responses/{response_id}/input_items", "responses.input_items"),
    ("POST", "/conversations", "conversations.create"),
    ("GET", "/conversations/{conversation_id}", "conversations.retrieve"),
    ("POST", "/conversations/{conversation_id}", "conversations.update"),
    ("DELETE", "/conversations/{conversation_id}", "conversations.delete"),
    ("GET", "/conversations/{conversation_id}/items", "conversations.items.list"),
    ("POST", "/conversations/{conversation_id}/items", "conversations.items.create"),
]:
    _route(_m, _p, _n)

ROUTE_NAMES = tuple(name for _, _, name in _ROUTES)


def _page(items: list[dict[str, Any]], query: Mapping[str, list[str]]) -> dict[str, Any]:
    """A list answer with the service's cursor pagination (order, limit, after, before)."""

    def one(name: str, default: str | None = None) -> str | None:
        values = query.get(name)
        return values[0] if values else default

    order = one("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(
            400, f"Invalid 'order': expected 'asc' or 'desc', got '{order}'.", param="order"
        )
    try:
        limit = int(one("limit", "20") or 20)
    except ValueError:
        raise ApiError(400, "Invalid 'limit': expected an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise ApiError(
            400, f"Invalid 'limit': must be between 1 and 100, got {limit}.", param="limit"
        )
    rows = items if order == "asc" else list(reversed(items))
    ids = [r["id"] for r in rows]
    after, before = one("after"), one("before")
    if after is not None:
        rows = rows[ids.index(after) + 1 :] if after in ids else []
        ids = [r["id"] for r in rows]
    if before is not None:
        rows = rows[: ids.index(before)] if before in ids else rows
    data = rows[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(rows) > limit,
    }


def _sse(event: str, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


@attrs.define
class _Script:
    behaviour: Behaviour
    times: int | None


class EmulatorApp(ResponsesRoutes):
    """Routes requests to handlers; applies auth, faults, scripts and the request log."""

    def __init__(
        self,
        *,
        api_key: str | None,
        store: Store,
        faults: FaultPlan,
        poll_after_ms: int | None,
        default: Behaviour,
    ) -> None:
        self.api_key = api_key
        self.store = store
        self.faults = faults
        self.poll_after_ms = poll_after_ms
        self.default = default
        self.lock = threading.RLock()
        self.requests: list[LoggedRequest] = []
        self.scripts: dict[str, list[_Script]] = {}
        self._init_responses()

    # -- configuration ---------------------------------------------------------------------
    def script(self, key: str, behaviour: Behaviour, times: int | None) -> None:
        with self.lock:
            self.scripts.setdefault(key, []).append(_Script(behaviour, times))

    def _behaviour_for(self, thread_id: str, assistant_id: str) -> Behaviour:
        for key in (thread_id, assistant_id, "*"):
            queue = self.scripts.get(key)
            while queue:
                entry = queue[0]
                if entry.times is None:
                    return entry.behaviour
                entry.times -= 1
                if entry.times <= 0:
                    queue.pop(0)
                return entry.behaviour
        return self.default

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r.route for r in self.requests)

    # -- HTTP entry point --------------------------------------------------------------------
    async def __call__(self, request: Request) -> Response | Reset:
        started = time.monotonic()
        route, params = self._match(request)
        fault = self.faults.match(route, request.method, request.path) if route else None
        answer: Response | Reset
        try:
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.kind == "reset_before":
                answer = Reset()
            elif fault is not None and fault.kind == "status":
                answer = self._fault_status(fault)
            else:
                answer = self._handle(request, route, params, fault)
                if fault is not None and fault.kind == "reset_after":
                    answer = Reset()
        except ApiError as exc:
            answer = Response(
                exc.status, self._json_headers(exc.headers), json.dumps(exc.body).encode()
            )
        status = answer.status if isinstance(answer, Response) else 0
        with self.lock:
            self.requests.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    route or "unknown",
                    status,
                    time.time(),
                    time.monotonic() - started,
                )
            )
        return answer

    def _match(self, request: Request) -> tuple[str | None, dict[str, str]]:
        for method, pattern, name in _ROUTES:
            if method == request.method:
                found = pattern.match(request.path)
                if found:
                    return name, found.groupdict()
        return None, {}

    @staticmethod
    def _json_headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "openai-version": "2020-10-01",
            "x-request-id": new_id("req_", 32),
        }
        headers.update(extra or {})
        return headers

    def _fault_status(self, fault: Fault) -> Response:
        headers: dict[str, str] = {}
        if fault.status == 429:
            message, code, kind = (
                "Rate limit reached for requests. Please try again later.",
                "rate_limit_exceeded",
                "requests",
            )
            if fault.retry_after is not None:
                headers["retry-after"] = f"{fault.retry_after:g}"
                headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
        else:
            message, code, kind = (
                "The server had an error while processing your request. Sorry about that!",
                None,
                "server_error",
            )
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return Response(fault.status, self._json_headers(headers), json.dumps(body).encode())

    def _check_auth(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key "
                "in an Authorization header using Bearer auth (i.e. Authorization: "
                "Bearer YOUR_KEY).",
                code=None,
                headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
            )
        given = header[7:].strip()
        if self.api_key is not None and given != self.api_key:
            masked = given[:3] + "*" * 8 + given[-4:] if len(given) > 8 else "*" * len(given)
            raise ApiError(
                401,
                f"Incorrect API key provided: {masked}. You can find your API "
                "key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
                headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
            )

    def _handle(
        self, request: Request, route: str | None, params: dict[str, str], fault: Fault | None
    ) -> Response:
        self._check_auth(request)
        if route is None:
            raise ApiError(404, f"Invalid URL ({request.method} {request.path})")
        body: dict[str, Any] = {}
        if request.body and "json" in request.headers.get("content-type", "json"):
            try:
                parsed = json.loads(request.body)
            except ValueError:
                raise ApiError(400, "We could not parse the JSON body of your request.") from None
            if not isinstance(parsed, dict):
                raise ApiError(400, "The body of your request must be a JSON object.")
            body = parsed
        handler: Handler = getattr(self, "_" + route.replace(".", "_"))
        with self.lock:
            result = handler(request=request, body=body, **params)
        if isinstance(result, Response):
            return result if fault is None else self._with_stream_fault(result, fault)
        headers = self._json_headers()
        if (
            route
            in (
                "runs.retrieve",
                "runs.create",
                "threads.create_and_run",
                "runs.cancel",
                "runs.submit_tool_outputs",
            )
            and self.poll_after_ms is not None
        ):
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        return Response(200, headers, json.dumps(result).encode())

    def _with_stream_fault(self, response: Response, fault: Fault) -> Response:
        if response.stream is None or fault.kind not in ("stream_cut", "stream_error"):
            return response
        inner = response.stream

        async def faulty() -> AsyncIterator[bytes]:
            sent = 0
            async for chunk in inner:
                if sent >= fault.after_events:
                    if fault.kind == "stream_cut":
                        raise StreamCut
                    yield _sse(
                        "error",
                        {
                            "error": {
                                "message": "The server had an error while processing your request.",
                                "type": "server_error",
                                "param": None,
                                "code": "server_error",
                            }
                        },
                    )
                    return
                yield chunk
                sent += chunk.count(b"\n\n")

        return attrs.evolve(response, stream=faulty())

    # -- lookups -----------------------------------------------------------------------------
    def _assistant(self, assistant_id: str) -> AssistantRecord:
        found = self.store.assistants.get(assistant_id)
        if found is None:
            raise ApiError(404, f"No assistant found with id '{assistant_id}'.")
        return found

    def _thread(self, thread_id: str) -> ThreadRecord:
        found = self.store.threads.get(thread_id)
        if found is None:
            raise ApiError(404, f"No thread found with id '{thread_id}'.")
        return found

    def _run(self, thread_id: str, run_id: str) -> RunRecord:
        self._thread(thread_id)
        run = self.store.runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise ApiError(404, f"No run found with id '{run_id}'.")
        self.store.advance(run)
        return run

    @staticmethod
    def _text(content: Any) -> str:
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
        raise ApiError(
            400,
            "Invalid 'content': expected a string or an array of content parts.",
            param="content",
        )

    @staticmethod
    def _metadata(body: Mapping[str, Any]) -> dict[str, str]:
        meta = body.get("metadata") or {}
        if (
            not isinstance(meta, dict)
            or len(meta) > 16
            or any(not isinstance(v, str) or len(k) > 64 or len(v) > 512 for k, v in meta.items())
        ):
            raise ApiError(
                400,
                "Invalid 'metadata': at most 16 string pairs, keys up to 64 and "
                "values up to 512 characters.",
                param="metadata",
            )
        return dict(meta)

    # -- assistants --------------------------------------------------------------------------
    def _assistants_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not body.get("model"):
            raise ApiError(400, "Missing required parameter: 'model'.", param="model")
        record = AssistantRecord(new_id("asst_"), self.store.now(), str(body["model"]))
        self._update_assistant(record, body)
        self.store.assistants[record.id] = record
        return record.to_json()

    def _update_assistant(self, record: AssistantRecord, body: dict[str, Any]) -> None:
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
                setattr(record, field, body[field])
        if "metadata" in body:
            record.metadata = self._metadata(body)
        record.tools = [self._tool(t) for t in record.tools or []]
        resources = body.get("tool_resources") or {}
        stores = (resources.get("file_search") or {}).get("vector_store_ids") or []
        for store_id in stores:
            if store_id not in self.store.vector_stores:
                raise ApiError(404, f"Vector store with id '{store_id}' not found.")

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

    def _assistants_list(self, request: Request, **_: Any) -> dict[str, Any]:
        return _page([a.to_json() for a in self.store.assistants.values()], request.query)

    def _assistants_retrieve(self, assistant_id: str, **_: Any) -> dict[str, Any]:
        return self._assistant(assistant_id).to_json()

    def _assistants_update(
        self, assistant_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        record = self._assistant(assistant_id)
        self._update_assistant(record, body)
        return record.to_json()

    def _assistants_delete(self, assistant_id: str, **_: Any) -> dict[str, Any]:
        self._assistant(assistant_id)
        del self.store.assistants[assistant_id]
        return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}

    # -- threads and messages ----------------------------------------------------------------
    def _new_thread(self, body: Mapping[str, Any]) -> ThreadRecord:
        thread = ThreadRecord(
            new_id("thread_"),
            self.store.now(),
            self._metadata(body),
            dict(body.get("tool_resources") or {}),
        )
        for message in body.get("messages") or []:
            self._add_message(thread, message)
        self.store.threads[thread.id] = thread
        return thread

    def _add_message(self, thread: ThreadRecord, body: Mapping[str, Any]) -> MessageRecord:
        role = body.get("role", "user")
        if role not in ("user", "assistant"):
            raise ApiError(
                400,
                f"Invalid value: '{role}'. Supported values are: 'user' and 'assistant'.",
                param="role",
            )
        if "content" not in body:
            raise ApiError(400, "Missing required parameter: 'content'.", param="content")
        text = self._text(body["content"])
        message = MessageRecord(
            new_id("msg_"), thread.id, role, text, self.store.now(), metadata=self._metadata(body)
        )
        thread.messages.append(message)
        return message

    def _threads_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        return self._new_thread(body).to_json()

    def _threads_retrieve(self, thread_id: str, **_: Any) -> dict[str, Any]:
        return self._thread(thread_id).to_json()

    def _threads_update(self, thread_id: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        thread = self._thread(thread_id)
        if "metadata" in body:
            thread.metadata = self._metadata(body)
        if "tool_resources" in body:
            thread.tool_resources = dict(body["tool_resources"] or {})
        return thread.to_json()

    def _threads_delete(self, thread_id: str, **_: Any) -> dict[str, Any]:
        self._thread(thread_id)
        del self.store.threads[thread_id]
        return {"id": thread_id, "object": "thread.deleted", "deleted": True}

    def _messages_create(self, thread_id: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        thread = self._thread(thread_id)
        active = self.store.active_run(thread_id)
        if active is not None:
            raise ApiError(
                400, f"Can't add messages to {thread_id} while a run {active.id} is active."
            )
        return self._add_message(thread, body).to_json()

    def _messages_list(self, thread_id: str, request: Request, **_: Any) -> dict[str, Any]:
        thread = self._thread(thread_id)
        for run in self.store.runs.values():
            if run.thread_id == thread_id:
                self.store.advance(run)
        run_ids = request.query.get("run_id")
        run_id = run_ids[0] if run_ids else None
        rows = [m.to_json() for m in thread.messages if run_id is None or m.run_id == run_id]
        return _page(rows, request.query)

    def _messages_retrieve(self, thread_id: str, message_id: str, **_: Any) -> dict[str, Any]:
        for message in self._thread(thread_id).messages:
            if message.id == message_id:
                return message.to_json()
        raise ApiError(404, f"No message found with id '{message_id}'.")

    # -- runs --------------------------------------------------------------------------------
    def _new_run(self, thread: ThreadRecord, body: Mapping[str, Any]) -> RunRecord:
        assistant_id = body.get("assistant_id")
        if not assistant_id:
            raise ApiError(400, "Missing required parameter: 'assistant_id'.", param="assistant_id")
        assistant = self._assistant(str(assistant_id))
        for message in body.get("additional_messages") or []:
            self._add_message(thread, message)
        users = [m.text for m in thread.messages if m.role == "user"]
        if not users and not (assistant.instructions or body.get("instructions")):
            raise ApiError(
                400,
                "Run creation requires a Thread with a user message or an "
                "assistant with instructions.",
            )
        instructions = body.get("instructions", assistant.instructions)
        if body.get("additional_instructions"):
            instructions = f"{instructions or ''}\n{body['additional_instructions']}".strip()
        ctx = RunContext(
            prompt=users[-1] if users else "",
            history=tuple((m.role, m.text) for m in thread.messages[:-1]),
            files=tuple(self.store.knowledge(assistant, thread)),
            instructions=instructions,
            run_id="",
            thread_id=thread.id,
        )
        outcome = self._behaviour_for(thread.id, assistant.id).outcome(ctx)
        created = self.store.now()
        run = RunRecord(
            id=new_id("run_"),
            thread_id=thread.id,
            assistant_id=assistant.id,
            created_at=created,
            expires_at=created + int(self.store.run_ttl),
            model=str(body.get("model") or assistant.model),
            instructions=instructions,
            tools=[self._tool(t) for t in body.get("tools") or assistant.tools],
            metadata=self._metadata(body),
            prompt=ctx.prompt,
            outcome=outcome,
            started=self.store.clock(),
            temperature=float(body.get("temperature") or assistant.temperature),
            top_p=float(body.get("top_p") or assistant.top_p),
            response_format=body.get("response_format", assistant.response_format),
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
                stream=self._stream(run, thread, intro),
            )
        return run.to_json()

    def _threads_create_and_run(self, body: dict[str, Any], **_: Any) -> Response | dict[str, Any]:
        thread = self._new_thread(body.get("thread") or {})
        try:
            run = self._new_run(thread, body)
        except ApiError:
            del self.store.threads[thread.id]
            raise
        return self._answer_run(run, body, thread, ("thread.run.created", "thread.run.queued"))

    def _runs_create(
        self, thread_id: str, body: dict[str, Any], **_: Any
    ) -> Response | dict[str, Any]:
        thread = self._thread(thread_id)
        active = self.store.active_run(thread_id)
        if active is not None:
            raise ApiError(400, f"Thread {thread_id} already has an active run {active.id}.")
        run = self._new_run(thread, body)
        return self._answer_run(run, body, None, ("thread.run.created", "thread.run.queued"))

    def _runs_list(self, thread_id: str, request: Request, **_: Any) -> dict[str, Any]:
        self._thread(thread_id)
        rows = []
        for run in self.store.runs.values():
            if run.thread_id == thread_id:
                self.store.advance(run)
                rows.append(run.to_json())
        return _page(rows, request.query)

    def _runs_retrieve(self, thread_id: str, run_id: str, **_: Any) -> dict[str, Any]:
        return self._run(thread_id, run_id).to_json()

    def _runs_cancel(self, thread_id: str, run_id: str, **_: Any) -> dict[str, Any]:
        run = self._run(thread_id, run_id)
        if run.status not in ACTIVE:
            raise ApiError(400, f"Cannot cancel run with status '{run.status}'.")
        if run.status != "cancelling":
            self.store.cancel(run)
        return run.to_json()

    def _runs_submit_tool_outputs(
        self, thread_id: str, run_id: str, body: dict[str, Any], **_: Any
    ) -> Response | dict[str, Any]:
        run = self._run(thread_id, run_id)
        if run.status != "requires_action":
            raise ApiError(400, f'Runs in status "{run.status}" do not accept tool outputs.')
        outputs = body.get("tool_outputs")
        if not isinstance(outputs, list):
            raise ApiError(400, "Missing required parameter: 'tool_outputs'.", param="tool_outputs")
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
                stream=self._stream(run, None, ("thread.run.queued",), finished_steps=tool_steps),
            )
        return run.to_json()

    def _steps_list(
        self, thread_id: str, run_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        run = self._run(thread_id, run_id)
        return _page([s.to_json() for s in run.steps], request.query)

    def _steps_retrieve(
        self, thread_id: str, run_id: str, step_id: str, **_: Any
    ) -> dict[str, Any]:
        for step in self._run(thread_id, run_id).steps:
            if step.id == step_id:
                return step.to_json()
        raise ApiError(404, f"No run step found with id '{step_id}'.")

    # -- files and vector stores -------------------------------------------------------------
    def _files_create(self, request: Request, **_: Any) -> dict[str, Any]:
        fields = _multipart(request)
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if purpose not in ("assistants", "batch", "fine-tune", "vision", "user_data", "evals"):
            raise ApiError(
                400,
                f"'{purpose}' is not one of ['fine-tune', 'assistants', 'batch', "
                "'user_data', 'responses', 'vision', 'evals'] - 'purpose'",
                param="purpose",
            )
        if "file" not in fields:
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        filename, data = fields["file"]
        record = FileRecord(
            new_id("file-", 22), filename or "upload", purpose, data, self.store.now()
        )
        self.store.files[record.id] = record
        return record.to_json()

    def _file(self, file_id: str) -> FileRecord:
        found = self.store.files.get(file_id)
        if found is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return found

    def _files_list(self, request: Request, **_: Any) -> dict[str, Any]:
        return _page([f.to_json() for f in self.store.files.values()], request.query)

    def _files_retrieve(self, file_id: str, **_: Any) -> dict[str, Any]:
        return self._file(file_id).to_json()

    def _files_content(self, file_id: str, **_: Any) -> Response:
        return Response(200, {"content-type": "application/octet-stream"}, self._file(file_id).data)

    def _files_delete(self, file_id: str, **_: Any) -> dict[str, Any]:
        self._file(file_id)
        del self.store.files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    def _vector_store(self, vector_store_id: str) -> VectorStoreRecord:
        found = self.store.vector_stores.get(vector_store_id)
        if found is None:
            raise ApiError(404, f"Vector store with id '{vector_store_id}' not found.")
        return found

    def _attach(self, store: VectorStoreRecord, file_id: str) -> None:
        record = self._file(file_id)
        if file_id not in store.file_ids:
            store.file_ids.append(file_id)
            store.file_added_at[file_id] = self.store.now()
            store.usage_bytes += len(record.data)

    def _vector_stores_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        store = VectorStoreRecord(
            new_id("vs_", 32),
            self.store.now(),
            body.get("name"),
            body.get("description"),
            self._metadata(body),
        )
        for file_id in body.get("file_ids") or []:
            self._attach(store, file_id)
        self.store.vector_stores[store.id] = store
        return store.to_json()

    def _vector_stores_list(self, request: Request, **_: Any) -> dict[str, Any]:
        return _page([s.to_json() for s in self.store.vector_stores.values()], request.query)

    def _vector_stores_retrieve(self, vector_store_id: str, **_: Any) -> dict[str, Any]:
        return self._vector_store(vector_store_id).to_json()

    def _vector_stores_delete(self, vector_store_id: str, **_: Any) -> dict[str, Any]:
        self._vector_store(vector_store_id)
        del self.store.vector_stores[vector_store_id]
        return {"id": vector_store_id, "object": "vector_store.deleted", "deleted": True}

    def _vs_file(self, store: VectorStoreRecord, file_id: str) -> dict[str, Any]:
        return store.file_json(
            file_id, len(self.store.files[file_id].data) if file_id in self.store.files else 0
        )

    def _vector_stores_files_create(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        file_id = str(body.get("file_id") or "")
        self._attach(store, file_id)
        attributes = body.get("attributes")
        if isinstance(attributes, dict):
            store.file_attributes[file_id] = dict(attributes)
        return self._vs_file(store, file_id)

    def _vector_stores_files_list(
        self, vector_store_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        return _page([self._vs_file(store, f) for f in store.file_ids], request.query)

    def _vector_stores_files_delete(
        self, vector_store_id: str, file_id: str, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        if file_id not in store.file_ids:
            raise ApiError(
                404, f"No file found with id '{file_id}' in vector store '{vector_store_id}'."
            )
        store.file_ids.remove(file_id)
        store.file_attributes.pop(file_id, None)
        return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}

    def _vector_stores_file_batches_create(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        file_ids = [str(f) for f in body.get("file_ids") or []]
        for file_id in file_ids:
            self._attach(store, file_id)
        batch = BatchRecord(new_id("vsfb_", 32), store.id, file_ids, self.store.now())
        self.store.batches[batch.id] = batch
        return batch.to_json()

    def _batch(self, vector_store_id: str, batch_id: str) -> BatchRecord:
        batch = self.store.batches.get(batch_id)
        if batch is None or batch.vector_store_id != vector_store_id:
            raise ApiError(404, f"No file batch found with id '{batch_id}'.")
        return batch

    def _vector_stores_file_batches_retrieve(
        self, vector_store_id: str, batch_id: str, **_: Any
    ) -> dict[str, Any]:
        return self._batch(vector_store_id, batch_id).to_json()

    def _vector_stores_file_batches_files(
        self, vector_store_id: str, batch_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        batch = self._batch(vector_store_id, batch_id)
        return _page([self._vs_file(store, f) for f in batch.file_ids], request.query)

    # -- event streams -----------------------------------------------------------------------
    async def _stream(
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
                yield _sse("thread.created", thread.to_json())
            for step in finished_steps or ():
                yield _sse("thread.run.step.completed", step.to_json())
            for name in intro:
                yield _sse(name, snapshot)
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
                    yield _sse(name, data)
                if status not in ("queued", "in_progress", "cancelling"):
                    yield _sse("done", "[DONE]")
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
            if searched and status == "completed":
                events += [
                    ("thread.run.step.created", step.to_json(), 0.0),
                    ("thread.run.step.completed", step.to_json(), 0.0),
                ]
        if status == "requires_action":
            # As the service does: the step opens empty, deltas carry the calls.
            shown = run.steps[-1].to_json()
            opened = {**shown, "step_details": {"type": "tool_calls", "tool_calls": []}}
            events += [
                ("thread.run.step.created", opened, 0.0),
                ("thread.run.step.in_progress", opened, 0.0),
            ]
            for index, call in enumerate(shown["step_details"]["tool_calls"]):
                delta = {
                    "id": shown["id"],
                    "object": "thread.run.step.delta",
                    "delta": {
                        "step_details": {
                            "type": "tool_calls",
                            "tool_calls": [{"index": index, **call}],
                        }
                    },
                }
                events.append(("thread.run.step.delta", delta, 0.0))
            events.append(("thread.run.requires_action", snapshot, 0.0))
        elif status in ("completed", "incomplete") and run.message is not None:
            events += self._message_events(run)
            events.append((f"thread.run.{status}", snapshot, 0.0))
        else:
            events.append((f"thread.run.{status}", snapshot, 0.0))
        return events

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


def _multipart(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename, data)."""
    content_type = request.headers.get("content-type", "")
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ApiError(400, "Expected a multipart/form-data body with a boundary.")
    boundary = b"--" + match.group(1).encode()
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in request.body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", errors="replace")
        name = re.search(r'name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        if name:
            fields[name.group(1)] = (
                filename.group(1) if filename else None,
                data[:-2] if data.endswith(b"\r\n") else data,
            )
    return fields


__all__ = ["ROUTE_NAMES", "ApiError", "EmulatorApp", "LoggedRequest", "Triage"]
