"""The emulated Assistants API: routes, rules, errors and event streams, over :mod:`.store`.

Every handler runs under one lock, so tests may read the state from another thread. Errors
have OpenAI's JSON shape and, where the service's wording is known, its words.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs

from .behaviours import Behaviour, RunContext, Triage, relevance
from .errors import ApiError
from .faults import Fault, FaultPlan
from .http import Request, Reset, Response, StreamCut
from .models import Models
from .pages import page
from .parameters import Parameters, apply, tokens
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
    VectorStoreFile,
    VectorStoreRecord,
    chunks_of,
    new_id,
)
from .structured import json_format
from .validation import validate


@attrs.frozen
class LoggedRequest:
    """One request the emulator answered (or dropped)."""

    method: str
    path: str
    route: str
    status: int
    at: float
    seconds: float


@attrs.define
class Exchange:
    """One request and the bytes answered (a stream's grow as it is sent), kept when the
    emulator records bodies."""

    method: str
    path: str
    route: str
    status: int
    request_body: bytes
    response_body: bytearray = attrs.Factory(bytearray)

    def json(self) -> Any:
        """The answer parsed: a JSON value, or a list of (event, data) for a stream."""
        text = self.response_body.decode()
        if not text.startswith("event:"):
            return json.loads(text) if text else None
        return sse_events(text)


def sse_events(text: str) -> list[tuple[str, Any]]:
    """The (event, data) pairs of a server-sent event stream; data is JSON, or ``"[DONE]"``."""
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.strip().splitlines() if ": " in line)
        if "event" in lines:
            data = lines.get("data", "")
            events.append((lines["event"], data if data == "[DONE]" else json.loads(data)))
    return events


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
    ("POST", "/threads/{thread_id}/messages/{message_id}", "messages.update"),
    ("DELETE", "/threads/{thread_id}/messages/{message_id}", "messages.delete"),
    ("POST", "/threads/{thread_id}/runs", "runs.create"),
    ("GET", "/threads/{thread_id}/runs", "runs.list"),
    ("GET", "/threads/{thread_id}/runs/{run_id}", "runs.retrieve"),
    ("POST", "/threads/{thread_id}/runs/{run_id}", "runs.update"),
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
    ("POST", "/vector_stores/{vector_store_id}", "vector_stores.update"),
    ("DELETE", "/vector_stores/{vector_store_id}", "vector_stores.delete"),
    ("POST", "/vector_stores/{vector_store_id}/search", "vector_stores.search"),
    ("POST", "/vector_stores/{vector_store_id}/files", "vector_stores.files.create"),
    ("GET", "/vector_stores/{vector_store_id}/files", "vector_stores.files.list"),
    ("GET", "/vector_stores/{vector_store_id}/files/{file_id}", "vector_stores.files.retrieve"),
    ("POST", "/vector_stores/{vector_store_id}/files/{file_id}", "vector_stores.files.update"),
    ("DELETE", "/vector_stores/{vector_store_id}/files/{file_id}", "vector_stores.files.delete"),
    (
        "GET",
        "/vector_stores/{vector_store_id}/files/{file_id}/content",
        "vector_stores.files.content",
    ),
    ("POST", "/vector_stores/{vector_store_id}/file_batches", "vector_stores.file_batches.create"),
    (
        "GET",
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}",
        "vector_stores.file_batches.retrieve",
    ),
    (
        "POST",
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel",
        "vector_stores.file_batches.cancel",
    ),
    (
        "GET",
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
        "vector_stores.file_batches.files",
    ),
    ("POST", "/responses", "responses.create"),
    ("POST", "/responses/input_tokens", "responses.input_tokens"),
    ("POST", "/responses/compact", "responses.compact"),
    ("GET", "/responses/{response_id}", "responses.retrieve"),
    ("DELETE", "/responses/{response_id}", "responses.delete"),
    ("POST", "/responses/{response_id}/cancel", "responses.cancel"),
    ("GET", "/responses/{response_id}/input_items", "responses.input_items"),
    ("GET", "/models", "models.list"),
    ("GET", "/models/{model}", "models.retrieve"),
    ("POST", "/conversations", "conversations.create"),
    ("GET", "/conversations/{conversation_id}", "conversations.retrieve"),
    ("POST", "/conversations/{conversation_id}", "conversations.update"),
    ("DELETE", "/conversations/{conversation_id}", "conversations.delete"),
    ("GET", "/conversations/{conversation_id}/items", "conversations.items.list"),
    ("POST", "/conversations/{conversation_id}/items", "conversations.items.create"),
    ("GET", "/conversations/{conversation_id}/items/{item_id}", "conversations.items.retrieve"),
    ("DELETE", "/conversations/{conversation_id}/items/{item_id}", "conversations.items.delete"),
]:
    _route(_m, _p, _n)

ROUTE_NAMES = tuple(name for _, _, name in _ROUTES)
BETA_ROUTES = {"assistants", "threads", "messages", "runs", "steps"}
POLLED_ROUTES = {
    "runs.retrieve",
    "runs.create",
    "threads.create_and_run",
    "runs.cancel",
    "runs.submit_tool_outputs",
}
VECTOR_STORE_POLL_MS = 20
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "30000",
    "x-ratelimit-limit-tokens": "150000000",
    "x-ratelimit-remaining-requests": "29999",
    "x-ratelimit-remaining-tokens": "149999000",
    "x-ratelimit-reset-requests": "2ms",
    "x-ratelimit-reset-tokens": "0s",
}


def _check_beta(request: Request) -> None:
    """The Assistants API answers 400 without ``OpenAI-Beta: assistants=v2``."""
    beta = request.headers.get("openai-beta", "")
    if "assistants=v2" in beta:
        return
    if "assistants=v1" in beta:
        raise ApiError(
            400,
            "The v1 Assistants API has been deprecated. Please try again by setting the header "
            "'OpenAI-Beta: assistants=v2'.",
            code="invalid_beta",
        )
    raise ApiError(
        400,
        "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try "
        "again by setting the header 'OpenAI-Beta: assistants=v2'.",
        code="invalid_beta",
    )


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
        models: Models | None = None,
    ) -> None:
        self.api_key = api_key
        self.models = models if models is not None else Models()
        self.store = store
        self.faults = faults
        self.poll_after_ms = poll_after_ms
        self.default = default
        self.lock = threading.RLock()
        self.requests: list[LoggedRequest] = []
        self.exchanges: list[Exchange] | None = None  # a list when bodies are recorded
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
        except Exception as exc:  # a bug of ours answers 500, as the service would, not a reset
            body = {
                "error": {
                    "message": f"The server had an error while processing your request: {exc!r}",
                    "type": "server_error",
                    "param": None,
                    "code": "server_error",
                }
            }
            answer = Response(500, self._json_headers(), json.dumps(body).encode())
        if isinstance(answer, Response):
            answer = self._with_service_headers(answer, route, started)
        status = answer.status if isinstance(answer, Response) else 0
        if self.exchanges is not None and isinstance(answer, Response):
            answer = self._recorded(request, route, answer)
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

    def log_unreadable(self, reason: str) -> None:
        """Log bytes that were no HTTP request (answered 400 by the HTTP layer)."""
        with self.lock:
            self.requests.append(LoggedRequest("?", reason, "unknown", 400, time.time(), 0.0))

    def _recorded(self, request: Request, route: str | None, answer: Response) -> Response:
        exchange = Exchange(
            request.method, request.path, route or "unknown", answer.status, request.body
        )
        with self.lock:
            assert self.exchanges is not None
            self.exchanges.append(exchange)
        if answer.stream is None:
            exchange.response_body += answer.body
            return answer
        inner = answer.stream

        async def copied() -> AsyncIterator[bytes]:
            async for chunk in inner:
                exchange.response_body += chunk
                yield chunk

        return attrs.evolve(answer, stream=copied())

    @staticmethod
    def _with_service_headers(answer: Response, route: str | None, started: float) -> Response:
        """Headers every answer of the service carries (request id, processing time), and the
        rate-limit headers of ``/v1/responses``."""
        headers = {
            "x-request-id": "req_" + secrets.token_hex(16),  # the service's shape: 32 hex digits
            "openai-version": "2020-10-01",
            **answer.headers,
            "openai-processing-ms": str(max(1, int((time.monotonic() - started) * 1000))),
        }
        if route is not None and route.startswith("responses."):
            headers.update(RATE_LIMIT_HEADERS)
        return attrs.evolve(answer, headers=headers)

    def _match(self, request: Request) -> tuple[str | None, dict[str, str]]:
        for method, pattern, name in _ROUTES:
            if method == request.method:
                found = pattern.match(request.path)
                if found:
                    return name, found.groupdict()
        return None, {}

    @staticmethod
    def _json_headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"content-type": "application/json", **(extra or {})}

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
        if route.split(".")[0] in BETA_ROUTES:
            _check_beta(request)
        body: dict[str, Any] = {}
        if request.body and "json" in request.headers.get("content-type", "json"):
            try:
                parsed = json.loads(request.body)
            except ValueError:
                raise ApiError(
                    400,
                    "We could not parse the JSON body of your request. (HINT: This likely means "
                    "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                    "payload, but what was sent was not valid JSON.)",
                ) from None
            if not isinstance(parsed, dict):
                raise ApiError(
                    400,
                    f"Invalid type for body: expected an object, but got "
                    f"{type(parsed).__name__} instead.",
                    code="invalid_type",
                )
            body = parsed
        validate(route, body)
        handler: Handler = getattr(self, "_" + route.replace(".", "_"))
        with self.lock:
            result = handler(request=request, body=body, **params)
        if isinstance(result, Response):
            if result.stream is not None:
                result = attrs.evolve(
                    result,
                    headers={
                        "content-type": "text/event-stream; charset=utf-8",
                        "cache-control": "no-cache",
                        **result.headers,
                    },
                )
            return result if fault is None else self._with_stream_fault(result, fault)
        headers = self._json_headers()
        if route in POLLED_ROUTES and self.poll_after_ms is not None:
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        if route.startswith("vector_stores."):
            headers["openai-poll-after-ms"] = str(self.poll_after_ms or VECTOR_STORE_POLL_MS)
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

    # -- models ------------------------------------------------------------------------------
    def _models_list(self, **_: Any) -> dict[str, Any]:
        return self.models.listing()

    def _models_retrieve(self, model: str, **_: Any) -> dict[str, Any]:
        return self.models.retrieve(model)

    # -- assistants --------------------------------------------------------------------------
    def _assistants_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not body.get("model"):
            raise ApiError(400, "Missing required parameter: 'model'.", param="model")
        record = AssistantRecord(new_id("asst_"), self.store.now(), str(body["model"]))
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
                setattr(record, field, body[field])
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
            if store_id not in self.store.vector_stores:
                raise ApiError(404, f"Vector store with id '{store_id}' not found.")
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

    def _assistants_list(self, request: Request, **_: Any) -> dict[str, Any]:
        return page([a.to_json() for a in self.store.assistants.values()], request.query)

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
            new_id("msg_"),
            thread.id,
            role,
            self._text(content),
            self.store.now(),
            metadata=self._metadata(body),
            parts=[dict(p) for p in content] if isinstance(content, list) else None,
            attachments=[_attachment(a) for a in body.get("attachments") or []],
        )
        for attachment in message.attachments:
            self._file(attachment["file_id"])
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
            thread.tool_resources = self._tool_resources(body)
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
        return page(rows, request.query)

    def _messages_retrieve(self, thread_id: str, message_id: str, **_: Any) -> dict[str, Any]:
        return self._message(thread_id, message_id).to_json()

    def _message(self, thread_id: str, message_id: str) -> MessageRecord:
        for message in self._thread(thread_id).messages:
            if message.id == message_id:
                return message
        raise ApiError(404, f"No message found with id '{message_id}'.")

    def _messages_update(
        self, thread_id: str, message_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        message = self._message(thread_id, message_id)
        if "metadata" in body:
            message.metadata = self._metadata(body)
        return message.to_json()

    def _messages_delete(self, thread_id: str, message_id: str, **_: Any) -> dict[str, Any]:
        message = self._message(thread_id, message_id)
        self.store.threads[thread_id].messages.remove(message)
        return {"id": message_id, "object": "thread.message.deleted", "deleted": True}

    # -- runs --------------------------------------------------------------------------------
    def _new_run(
        self, thread: ThreadRecord, body: Mapping[str, Any], request: Request
    ) -> RunRecord:
        assistant = self._assistant(str(body["assistant_id"]))
        self.models.check(body.get("model") or assistant.model)
        for message in body.get("additional_messages") or []:
            self._add_message(thread, message)
        users = [m.text for m in thread.messages if m.role == "user"]
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
        seen = thread.messages
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
            id=new_id("run_"),
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
            include_content=_includes_content(request),
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

    def _threads_create_and_run(
        self, body: dict[str, Any], request: Request, **_: Any
    ) -> Response | dict[str, Any]:
        thread = self._new_thread(body.get("thread") or {})
        try:
            run = self._new_run(thread, body, request)
        except ApiError:
            del self.store.threads[thread.id]
            raise
        return self._answer_run(run, body, thread, ("thread.run.created", "thread.run.queued"))

    def _runs_create(
        self, thread_id: str, body: dict[str, Any], request: Request, **_: Any
    ) -> Response | dict[str, Any]:
        thread = self._thread(thread_id)
        active = self.store.active_run(thread_id)
        if active is not None:
            raise ApiError(400, f"Thread {thread_id} already has an active run {active.id}.")
        run = self._new_run(thread, body, request)
        return self._answer_run(run, body, None, ("thread.run.created", "thread.run.queued"))

    def _runs_list(self, thread_id: str, request: Request, **_: Any) -> dict[str, Any]:
        self._thread(thread_id)
        rows = []
        for run in self.store.runs.values():
            if run.thread_id == thread_id:
                self.store.advance(run)
                rows.append(run.to_json())
        return page(rows, request.query)

    def _runs_retrieve(self, thread_id: str, run_id: str, **_: Any) -> dict[str, Any]:
        return self._run(thread_id, run_id).to_json()

    def _runs_update(
        self, thread_id: str, run_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        run = self._run(thread_id, run_id)
        if run.status in ("queued", "in_progress", "cancelling"):
            raise ApiError(400, f"Cannot update run with status '{run.status}'.")
        if "metadata" in body:
            run.metadata = self._metadata(body)
        return run.to_json()

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
        include = _includes_content(request)
        return page([s.to_json(include) for s in run.steps], request.query)

    def _steps_retrieve(
        self, thread_id: str, run_id: str, step_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        for step in self._run(thread_id, run_id).steps:
            if step.id == step_id:
                return step.to_json(_includes_content(request))
        raise ApiError(404, f"No run step found with id '{step_id}'.")

    # -- files and vector stores -------------------------------------------------------------
    def _files_create(self, request: Request, **_: Any) -> dict[str, Any]:
        fields = _multipart(request)
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if purpose not in ("assistants", "batch", "fine-tune", "vision", "user_data", "evals"):
            raise ApiError(
                400,
                f"'{purpose}' is not one of ['fine-tune', 'assistants', 'batch', "
                "'user_data', 'vision', 'evals'] - 'purpose'",
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
        return page([f.to_json() for f in self.store.files.values()], request.query)

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

    def _attach(self, store: VectorStoreRecord, file_id: str, body: Mapping[str, Any]) -> None:
        """Add a file; it is ``in_progress`` for one queue delay, as the service indexes it."""
        record = self._file(file_id)
        if file_id not in store.files:
            entry = VectorStoreFile(
                file_id,
                self.store.now(),
                self.store.clock() + self.store.queue_delay,
                len(record.data),
                dict(body.get("attributes") or {}),
            )
            if body.get("chunking_strategy"):
                entry.chunking = _chunking(body["chunking_strategy"])
            store.files[file_id] = entry

    def new_vector_store(self, body: Mapping[str, Any]) -> VectorStoreRecord:
        """A vector store holding ``body["file_ids"]`` (also made by ``tool_resources``)."""
        store = VectorStoreRecord(
            new_id("vs_", 32),
            self.store.now(),
            body.get("name"),
            body.get("description"),
            self._metadata(body),
            expires_after=body.get("expires_after"),
        )
        for file_id in body.get("file_ids") or []:
            self._attach(store, file_id, body)
        self.store.vector_stores[store.id] = store
        return store

    def _vector_stores_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        return self.new_vector_store(body).to_json(self.store.clock())

    def _vector_stores_list(self, request: Request, **_: Any) -> dict[str, Any]:
        clock = self.store.clock()
        rows = [s.to_json(clock) for s in self.store.vector_stores.values()]
        return page(rows, request.query)

    def _vector_stores_retrieve(self, vector_store_id: str, **_: Any) -> dict[str, Any]:
        return self._vector_store(vector_store_id).to_json(self.store.clock())

    def _vector_stores_update(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        if "name" in body:
            store.name = body["name"]
        if "expires_after" in body:
            store.expires_after = body["expires_after"]
        if "metadata" in body:
            store.metadata = self._metadata(body)
        return store.to_json(self.store.clock())

    def _vector_stores_delete(self, vector_store_id: str, **_: Any) -> dict[str, Any]:
        self._vector_store(vector_store_id)
        del self.store.vector_stores[vector_store_id]
        return {"id": vector_store_id, "object": "vector_store.deleted", "deleted": True}

    def _vector_stores_search(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        store.last_active_at = self.store.now()
        query = body["query"]
        queries = [query] if isinstance(query, str) else list(query)
        limit = int(body.get("max_num_results") or 10)
        hits: list[dict[str, Any]] = []
        for file_id in store.searchable_ids():
            record = self.store.files.get(file_id)
            if record is None:
                continue
            text = record.data.decode("utf-8", errors="replace")
            score = max(relevance(q, text + " " + record.filename) for q in queries)
            if score > 0:
                hits.append(
                    {
                        "file_id": file_id,
                        "filename": record.filename,
                        "score": score,
                        "attributes": store.files[file_id].attributes,
                        "content": [{"type": "text", "text": text}],
                    }
                )
        hits.sort(key=lambda h: -float(h["score"]))
        return {
            "object": "vector_store.search_results.page",
            "search_query": queries,
            "data": hits[:limit],
            "has_more": False,
            "next_page": None,
        }

    def _vs_file(self, store: VectorStoreRecord, file_id: str) -> dict[str, Any]:
        if file_id not in store.files:
            raise ApiError(404, f"No file found with id '{file_id}' in vector store '{store.id}'.")
        return store.file_json(file_id, self.store.clock())

    def _vector_stores_files_create(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        file_id = str(body["file_id"])
        self._attach(store, file_id, body)
        return self._vs_file(store, file_id)

    def _vector_stores_files_list(
        self, vector_store_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        rows = [self._vs_file(store, f) for f in store.file_ids]
        wanted = request.query.get("filter")
        if wanted:
            rows = [r for r in rows if r["status"] == wanted[0]]
        return page(rows, request.query)

    def _vector_stores_files_retrieve(
        self, vector_store_id: str, file_id: str, **_: Any
    ) -> dict[str, Any]:
        return self._vs_file(self._vector_store(vector_store_id), file_id)

    def _vector_stores_files_update(
        self, vector_store_id: str, file_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        self._vs_file(store, file_id)
        store.files[file_id].attributes = dict(body["attributes"])
        return self._vs_file(store, file_id)

    def _vector_stores_files_content(
        self, vector_store_id: str, file_id: str, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        self._vs_file(store, file_id)
        text = self._file(file_id).data.decode("utf-8", errors="replace")
        return {
            "object": "vector_store.file_content.page",
            "data": [{"type": "text", "text": text}],
            "has_more": False,
            "next_page": None,
        }

    def _vector_stores_files_delete(
        self, vector_store_id: str, file_id: str, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        self._vs_file(store, file_id)
        del store.files[file_id]
        return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}

    def _vector_stores_file_batches_create(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        entries = [{"file_id": f} for f in body.get("file_ids") or []]
        entries += [dict(f) for f in body.get("files") or []]
        if not entries:
            raise ApiError(
                400,
                "Missing required parameter: 'file_ids'.",
                param="file_ids",
                code="missing_required_parameter",
            )
        for entry in entries:
            self._attach(store, str(entry["file_id"]), {**body, **entry})
        file_ids = [str(e["file_id"]) for e in entries]
        batch = BatchRecord(new_id("vsfb_", 32), store.id, file_ids, self.store.now())
        self.store.batches[batch.id] = batch
        return self._batch_json(batch)

    def _batch(self, vector_store_id: str, batch_id: str) -> BatchRecord:
        batch = self.store.batches.get(batch_id)
        if batch is None or batch.vector_store_id != vector_store_id:
            raise ApiError(404, f"No file batch found with id '{batch_id}'.")
        return batch

    def _batch_json(self, batch: BatchRecord) -> dict[str, Any]:
        store = self.store.vector_stores.get(batch.vector_store_id)
        return batch.to_json(store, self.store.clock())

    def _vector_stores_file_batches_retrieve(
        self, vector_store_id: str, batch_id: str, **_: Any
    ) -> dict[str, Any]:
        return self._batch_json(self._batch(vector_store_id, batch_id))

    def _vector_stores_file_batches_cancel(
        self, vector_store_id: str, batch_id: str, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        batch = self._batch(vector_store_id, batch_id)
        clock = self.store.clock()
        if self._batch_json(batch)["status"] == "in_progress":
            batch.cancelled = True
            for file_id in batch.file_ids:
                entry = store.files.get(file_id)
                if entry is not None and entry.status(clock) == "in_progress":
                    entry.cancelled = True
        return self._batch_json(batch)

    def _vector_stores_file_batches_files(
        self, vector_store_id: str, batch_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        store = self._vector_store(vector_store_id)
        batch = self._batch(vector_store_id, batch_id)
        rows = [self._vs_file(store, f) for f in batch.file_ids if f in store.files]
        wanted = request.query.get("filter")
        if wanted:
            rows = [r for r in rows if r["status"] == wanted[0]]
        return page(rows, request.query)

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


def _attachment(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {"file_id": raw.get("file_id"), "tools": [dict(t) for t in raw.get("tools") or []]}


def _given(value: Any, default: float) -> float:
    """A sampling parameter as sent (0 included), else the assistant's."""
    return float(default if value is None else value)


FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def _includes_content(request: Request) -> bool:
    """Whether ``include[]`` asks for the text of file_search results."""
    return FILE_SEARCH_CONTENT in request.query.get("include[]", []) + request.query.get(
        "include", []
    )


def _chunking(strategy: Mapping[str, Any]) -> dict[str, Any]:
    """The chunking strategy as the service reports it: ``auto`` is static 800/400."""
    if strategy.get("type") == "static":
        return {"type": "static", "static": dict(strategy["static"])}
    return {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}


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


__all__ = [
    "ROUTE_NAMES",
    "ApiError",
    "EmulatorApp",
    "Exchange",
    "LoggedRequest",
    "Triage",
    "sse_events",
]
