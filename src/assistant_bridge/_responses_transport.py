"""ResponsesTransport: the Transport protocol over the Responses and Conversations APIs.

A thread is a conversation (``conv_…``), a message a conversation item, a run a response
(``resp_…``) created with ``background=True`` and polled. The assistant's definition
(:class:`AssistantSpec`) is sent with every response. A completed response whose output asks
for function calls is presented as ``requires_action``, so tool calls take the same path as on
the Assistants API; their outputs go back on the same conversation as a new response.

It speaks through the ``openai`` client's generic request methods rather than its typed
resources, so it works with every openai version this package supports, 1.37.1 included
(which predates the Conversations API in the SDK).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import openai

from ._models import (
    Assistant,
    ContentPart,
    Message,
    MessagePage,
    RequiredAction,
    Run,
    RunStatus,
    TextAnnotation,
    TextContent,
    Thread,
    ToolCall,
    ToolOutput,
    UnknownContent,
)
from ._openai_transport import build_client, env_settings, map_openai_errors
from ._spec import AssistantSpec
from ._transport import RunRequest
from ._wire import incomplete_from, last_error_from, usage_from_json
from .exceptions import ConfigurationError

__all__ = ["ResponsesTransport"]

_STATUS = {
    "queued": RunStatus.QUEUED,
    "in_progress": RunStatus.IN_PROGRESS,
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "incomplete": RunStatus.INCOMPLETE,
}
_CACHE_SIZE = 256


def _user_item(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _content(part: Mapping[str, Any]) -> ContentPart:
    kind = str(part.get("type", ""))
    if kind in ("output_text", "input_text", "text"):
        text = str(part.get("text", ""))
        notes = tuple(
            TextAnnotation(
                type=str(a.get("type", "")),
                text=str(a.get("filename") or a.get("title") or ""),
                start_index=a.get("index", a.get("start_index")),
                end_index=a.get("end_index"),
                file_id=a.get("file_id"),
            )
            for a in part.get("annotations") or ()
        )
        return TextContent(text=text, annotations=notes)
    if kind == "refusal":
        return TextContent(text=str(part.get("refusal", "")), type="refusal")
    return UnknownContent(type=kind, raw=dict(part))


def message_from_item(item: Mapping[str, Any], thread_id: str, run_id: str | None) -> Message:
    """A conversation item (or response output item) of type message."""
    return Message(
        id=str(item.get("id", "")),
        thread_id=thread_id,
        role=str(item.get("role", "")),
        content=tuple(_content(p) for p in item.get("content") or ()),
        run_id=run_id,
        status=item.get("status"),
        raw=dict(item),
    )


def run_from_response(data: Mapping[str, Any], thread_id: str | None = None) -> Run:
    """A response as a run: same statuses, and function calls as ``requires_action``."""
    conversation = data.get("conversation") or {}
    thread = str(conversation.get("id") or thread_id or "")
    status: RunStatus | str = _STATUS.get(str(data.get("status")), str(data.get("status")))
    output = data.get("output") or ()
    answered = {i.get("call_id") for i in output if i.get("type") == "function_call_output"}
    calls = tuple(
        ToolCall(
            id=str(i.get("call_id")),
            name=str(i.get("name", "")),
            arguments=str(i.get("arguments", "")),
        )
        for i in output
        if i.get("type") == "function_call" and i.get("call_id") not in answered
    )
    required = None
    if status == RunStatus.COMPLETED and calls:
        status = RunStatus.REQUIRES_ACTION
        required = RequiredAction(tool_calls=calls)
    meta = data.get("metadata") or {}
    return Run(
        id=str(data["id"]),
        thread_id=thread,
        status=status,
        created_at=data.get("created_at"),
        completed_at=data.get("completed_at"),
        required_action=required,
        last_error=last_error_from(data.get("error")),
        incomplete_details=incomplete_from(data.get("incomplete_details")),
        usage=usage_from_json(data.get("usage")),
        model=data.get("model"),
        metadata={str(k): str(v) for k, v in meta.items()},
        raw=dict(data),
    )


class ResponsesTransport:
    """The Responses + Conversations APIs through the ``openai`` client.

    Construct it like :class:`~assistant_bridge.OpenAITransport`: a key (and organization,
    project, base_url), :meth:`from_env`, or a ready ``openai.OpenAI`` as ``client``.
    Sessions on it need ``assistant=AssistantSpec(...)``: the Responses API has no assistant
    objects.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        organization: str | None = None,
        project: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        client: openai.OpenAI | None = None,
    ) -> None:
        if client is None:
            client = build_client(
                "ResponsesTransport", api_key, organization, project, base_url, timeout, max_retries
            )
        self._client = client
        self._secrets: tuple[str | None, ...] = (api_key, getattr(client, "api_key", None))
        self._finished: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **kwargs: Any
    ) -> ResponsesTransport:
        """Build from OPENAI_API_KEY, OPENAI_ORG_ID, OPENAI_PROJECT_ID and OPENAI_BASE_URL."""
        return cls(**env_settings("ResponsesTransport", environ), **kwargs)

    def __repr__(self) -> str:
        return f"<ResponsesTransport(base_url={str(self._client.base_url)!r})>"

    @property
    def client(self) -> openai.OpenAI:
        """The underlying ``openai`` client."""
        return self._client

    # -- plumbing --------------------------------------------------------------------------
    def _post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        with map_openai_errors(self._secrets):
            return self._client.post(path, body=dict(body or {}), cast_to=object)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        with map_openai_errors(self._secrets):
            return self._client.get(path, cast_to=object, options={"params": dict(params or {})})

    def _remember(self, data: Mapping[str, Any]) -> None:
        """Keep finished responses: they never change, and listing their messages is free."""
        if data.get("status") in ("completed", "incomplete", "failed", "cancelled"):
            self._finished[str(data["id"])] = data
            while len(self._finished) > _CACHE_SIZE:
                self._finished.popitem(last=False)

    def _response_body(self, request: RunRequest) -> dict[str, Any]:
        if request.assistant is None and request.model is None:
            hint = (
                f" ({request.assistant_id!r} is an Assistants API object)"
                if request.assistant_id
                else ""
            )
            msg = (
                "The Responses API has no assistant objects: give the session "
                f"assistant=AssistantSpec(...){hint}. See docs/migration.md."
            )
            raise ConfigurationError(msg)
        body = request.assistant.responses_body() if request.assistant is not None else {}
        if request.model is not None:
            body["model"] = request.model
        if request.instructions is not None:
            body["instructions"] = request.instructions
        if request.additional_instructions is not None:
            base = body.get("instructions")
            extra = request.additional_instructions
            body["instructions"] = f"{base}\n\n{extra}" if base else extra
        if request.tools is not None:
            body["tools"] = [dict(t) for t in request.tools]
        if request.metadata is not None:
            body["metadata"] = dict(request.metadata)
        body["background"] = True
        body["store"] = True
        return body

    def _respond(self, thread_id: str, request: RunRequest, items: list[dict[str, Any]]) -> Run:
        body = self._response_body(request)
        body["conversation"] = thread_id
        body["input"] = items
        data = self._post("/responses", body)
        self._remember(data)
        return run_from_response(data, thread_id)

    # -- the Transport protocol ------------------------------------------------------------
    def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        data = self._post("/conversations", {"metadata": dict(metadata or {})})
        return Thread(
            id=str(data["id"]),
            created_at=data.get("created_at"),
            metadata=dict(data.get("metadata") or {}),
            raw=data,
        )

    def add_message(
        self, thread_id: str, content: str, *, metadata: Mapping[str, str] | None = None
    ) -> Message:
        if metadata:
            msg = "Conversation items carry no metadata; put it on the run (ask(metadata=...))."
            raise ConfigurationError(msg)
        data = self._post(f"/conversations/{thread_id}/items", {"items": [_user_item(content)]})
        return message_from_item((data.get("data") or [{}])[0], thread_id, None)

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        if message_metadata:
            msg = "Conversation items carry no metadata; put it on the run (ask(metadata=...))."
            raise ConfigurationError(msg)
        return self._respond(thread_id, request, [] if content is None else [_user_item(content)])

    def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        self._response_body(request)  # refuse a bad request before creating anything
        thread = self.create_thread(metadata=thread_metadata)
        return self.start_run(thread.id, request, content=content)

    def get_run(self, thread_id: str, run_id: str) -> Run:
        cached = self._finished.get(run_id)
        data = cached if cached is not None else self._get(f"/responses/{run_id}")
        self._remember(data)
        return run_from_response(data, thread_id)

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        """Cancel a background response; for one that ended asking for function calls,
        abandon the calls instead, so the conversation can take the next response."""
        current = self.get_run(thread_id, run_id)
        if current.status == RunStatus.REQUIRES_ACTION and current.required_action is not None:
            items = [
                {
                    "type": "function_call_output",
                    "call_id": c.id,
                    "output": "cancelled: the caller did not run this tool",
                }
                for c in current.required_action.tool_calls
            ]
            self._post(f"/conversations/{thread_id}/items", {"items": items})
            return attrs.evolve(current, status=RunStatus.CANCELLED, required_action=None)
        data = self._post(f"/responses/{run_id}/cancel")
        self._remember(data)
        return run_from_response(data, thread_id)

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        if request is None:
            msg = "The Responses API continues with a new response: pass the run's request."
            raise ConfigurationError(msg)
        items = [
            {"type": "function_call_output", "call_id": o.tool_call_id, "output": o.output}
            for o in outputs
        ]
        return self._respond(thread_id, request, items)

    def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        data = self._finished.get(run_id) or self._get(f"/responses/{run_id}")
        items = [i for i in data.get("output") or () if i.get("type") == "message"]
        if after is not None:
            ids = [str(i.get("id")) for i in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:limit]
        messages = tuple(message_from_item(i, thread_id, run_id) for i in page)
        return MessagePage(
            messages=messages,
            has_more=len(items) > limit,
            last_id=messages[-1].id if messages else None,
        )

    def get_assistant(self, assistant_id: str) -> Assistant:
        msg = (
            f"The Responses API has no assistant objects, so {assistant_id!r} cannot be "
            "fetched; keep the definition in an AssistantSpec (see docs/migration.md)."
        )
        raise ConfigurationError(msg)

    def resolve_assistant(self, spec: AssistantSpec) -> None:
        """Nothing to create: the spec travels with every response."""
        return

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ResponsesTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
