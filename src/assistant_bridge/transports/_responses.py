"""The Responses and Conversations APIs as a wire, for both Responses transports.

A thread is a conversation (``conv_…``), a message a conversation item, a run a response
(``resp_…``) created with ``background=True``. The assistant's definition
(:class:`AssistantSpec`) is sent with every response. A completed response whose output asks
for function calls is presented as ``requires_action``, so tool calls take the same path as on
the Assistants API; their outputs go back on the same conversation as a new response.

Requests go through the ``openai`` client's generic methods, so they work with every openai
version this package supports, 1.37.1 included (which predates the Conversations API).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from assistant_bridge._runstate.table import DEFAULT_MACHINE
from assistant_bridge._values import events, models
from assistant_bridge._values.spec import responses_format
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.transports import _wire as wire
from assistant_bridge.transports import ops
from assistant_bridge.transports._assistants import error_text
from assistant_bridge.transports._assistants_json import (
    incomplete_from,
    last_error_from,
    usage_from_json,
)
from assistant_bridge.transports._decoding import json_object, same_run
from assistant_bridge.transports.ops import Metadata, RunSettings, handles

__all__ = ["ResponsesEvents", "ResponsesWire", "message_from_item", "run_from_response"]

_CACHE_SIZE = 256
T = TypeVar("T")


def _user_item(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _content(part: Mapping[str, Any]) -> models.ContentPart:
    kind = str(part.get("type", ""))
    if kind in ("output_text", "input_text", "text"):
        text = str(part.get("text", ""))
        notes = tuple(
            models.TextAnnotation(
                type=str(a.get("type", "")),
                text=str(a.get("filename") or a.get("title") or ""),
                start_index=a.get("index", a.get("start_index")),
                end_index=a.get("end_index"),
                file_id=a.get("file_id"),
            )
            for a in part.get("annotations") or ()
        )
        return models.TextContent(text=text, annotations=notes)
    if kind == "refusal":
        return models.TextContent(text=str(part.get("refusal", "")), type="refusal")
    return models.UnknownContent(type=kind, raw=dict(part))


def message_from_item(
    item: Mapping[str, Any], thread_id: str, run_id: str | None
) -> models.Message:
    """A conversation item (or response output item) of type message."""
    return models.Message(
        id=str(item.get("id", "")),
        thread_id=thread_id,
        role=str(item.get("role", "")),
        content=tuple(_content(p) for p in item.get("content") or ()),
        run_id=run_id,
        status=item.get("status"),
        raw=dict(item),
    )


def run_from_response(data: Mapping[str, Any], thread_id: str | None = None) -> models.Run:
    """A response as a run: same statuses, and function calls as ``requires_action``."""
    conversation = data.get("conversation") or {}
    thread = str(conversation.get("id") or thread_id or "")
    status = models.RunStatus.parse(str(data.get("status")))
    output = data.get("output") or ()
    answered = {i.get("call_id") for i in output if i.get("type") == "function_call_output"}
    calls = tuple(
        models.ToolCall(
            id=str(i.get("call_id")),
            name=str(i.get("name", "")),
            arguments=str(i.get("arguments", "")),
        )
        for i in output
        if i.get("type") == "function_call" and i.get("call_id") not in answered
    )
    required = None
    if status == models.RunStatus.COMPLETED and calls:
        status = models.RunStatus.REQUIRES_ACTION
        required = models.RequiredAction(tool_calls=calls)
    meta = data.get("metadata") or {}
    return models.Run(
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


def no_assistant_objects(assistant_id: str | None) -> ConfigurationError:
    """The error for a Responses ask that names its assistant by id alone: this API has no
    assistant objects, so nothing says which model to run."""
    hint = f" ({assistant_id!r} is an Assistants API object)" if assistant_id else ""
    msg = (
        "The Responses API has no assistant objects: give the session "
        f"assistant=AssistantSpec(...){hint}. See docs/migration.md."
    )
    return ConfigurationError(msg)


def response_body(request: RunSettings) -> dict[str, Any]:
    """The body of a background response for ``request``: the spec, then the overrides."""
    if request.assistant is None and request.model is None:
        raise no_assistant_objects(request.assistant_id)
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
    if request.response_format is not None:
        body["text"] = {"format": responses_format(request.response_format)}
    if request.max_output_tokens is not None:
        body["max_output_tokens"] = request.max_output_tokens
    body["background"] = True
    body["store"] = True
    return body


def _no_item_metadata(metadata: Metadata) -> None:
    if metadata:
        msg = "Conversation items carry no metadata; put it on the run (ask(metadata=...))."
        raise ConfigurationError(msg)


def _output_items(
    outputs: Sequence[models.ToolOutput], request: RunSettings | None
) -> tuple[RunSettings, list[dict[str, Any]]]:
    """Function call outputs as input items; they go in a new response, so the run's
    request is needed again."""
    if request is None:
        msg = "The Responses API continues with a new response: pass the run's request."
        raise ConfigurationError(msg)
    items = [
        {"type": "function_call_output", "call_id": o.tool_call_id, "output": o.output}
        for o in outputs
    ]
    return request, items


def _steps(data: Mapping[str, Any]) -> tuple[models.RunStep, ...]:
    steps = []
    for item in data.get("output") or ():
        kind = str(item.get("type", ""))
        step_id, status = str(item.get("id", "")), str(item.get("status") or "completed")
        if kind == "message":
            steps.append(
                models.RunStep(step_id, str(data["id"]), "message_creation", status, (), step_id)
            )
            continue
        if kind == "code_interpreter_call":
            outputs = item.get("outputs") or ()
            logs = "".join(str(o.get("logs", "")) for o in outputs if o.get("type") == "logs")
            call = models.StepCall(step_id, "code_interpreter", item.get("code"), logs or None)
        elif kind == "function_call":
            call = models.StepCall(
                str(item.get("call_id", step_id)), "function", item.get("arguments")
            )
        else:
            call = models.StepCall(step_id, kind.removesuffix("_call"))
        steps.append(
            models.RunStep(step_id, str(data["id"]), "tool_calls", status, (call,), raw=item)
        )
    return tuple(steps)


def _thread(answer: wire.Answer) -> models.Thread:
    data = json_object(answer.json, "conversation")
    return models.Thread(
        id=str(data["id"]),
        created_at=data.get("created_at"),
        metadata=dict(data.get("metadata") or {}),
        raw=data,
    )


def _new_conversation(
    metadata: Metadata, then: Callable[[wire.Answer], T | wire.Request[T]]
) -> wire.Request[T]:
    return wire.Request("POST", "/conversations", then, body={"metadata": dict(metadata or {})})


class ResponsesEvents:
    """Turns a Responses API stream into domain events; remembers the response's id."""

    def __init__(
        self, thread_id: str, seen: Callable[[Mapping[str, Any]], object] | None = None
    ) -> None:
        self.thread_id = thread_id
        self.response_id: str | None = None
        self.last_sequence = -1
        self._seen = seen  # told every response object the stream carries

    def convert(self, name: str, data: str) -> events.RunEvent | None:
        if name == "error":
            return events.StreamFailed(error_text(data))
        payload: dict[str, Any] = json.loads(data)
        sequence = payload.get("sequence_number")
        if isinstance(sequence, int):
            self.last_sequence = sequence
        if isinstance(payload.get("response"), dict) and name.startswith("response."):
            response = json_object(payload["response"], "response")
            self.response_id = str(response["id"])
            if self._seen is not None:
                self._seen(response)
            return events.RunStatusChanged(run_from_response(response, self.thread_id))
        if name == "response.output_text.delta":
            return events.TextDelta(str(payload.get("item_id", "")), str(payload.get("delta", "")))
        item = payload.get("item")
        if (
            name == "response.output_item.done"
            and isinstance(item, dict)
            and item.get("type") == "message"
        ):
            return events.MessageDone(message_from_item(item, self.thread_id, self.response_id))
        return None


def _stream(
    thread_id: str,
    request: RunSettings,
    items: list[dict[str, Any]],
    seen: Callable[[Mapping[str, Any]], object] | None = None,
) -> wire.StreamRequest:
    body = {**response_body(request), "conversation": thread_id, "input": items, "stream": True}
    return wire.StreamRequest("/responses", body, lambda: ResponsesEvents(thread_id, seen).convert)


class ResponsesWire(wire.FileRequests):
    """Builds and decodes the Responses and Conversations requests.

    It keeps the finished responses it has seen (they never change), so listing a finished
    response's messages costs no second request.
    """

    def __init__(self) -> None:
        super().__init__()
        self._finished: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    def _run(self, thread_id: str, run_id: str | None = None) -> Any:
        """Decodes a response (which must be ``run_id`` when given) on ``thread_id``."""

        def decode(answer: wire.Answer) -> models.Run:
            run = self._remember(json_object(answer.json, "response"), thread_id)
            if run_id is not None:
                same_run(run, thread_id, run_id)
            return run

        return decode

    def _remember(self, data: Mapping[str, Any], thread_id: str | None = None) -> models.Run:
        """``data`` as a run, kept when it ended: it never changes then (one that ended asking
        for function calls included: their outputs go to a new response)."""
        run = run_from_response(data, thread_id)
        if not DEFAULT_MACHINE.is_active(run.status) or run.required_action:
            self._finished[run.id] = data
            while len(self._finished) > _CACHE_SIZE:
                self._finished.popitem(last=False)
        return run

    def _respond(
        self, thread_id: str, request: RunSettings, items: list[dict[str, Any]]
    ) -> wire.Request[models.Run]:
        body = {**response_body(request), "conversation": thread_id, "input": items}
        return wire.Request("POST", "/responses", self._run(thread_id), body=body)

    @handles(ops.CreateThread)
    def create_thread(self, op: ops.CreateThread) -> wire.Request[models.Thread]:
        return _new_conversation(op.metadata, _thread)

    @handles(ops.StartRun)
    def start_run(self, op: ops.StartRun) -> wire.Request[models.Run]:
        _no_item_metadata(op.message_metadata)
        items = [] if op.content is None else [_user_item(op.content)]
        return self._respond(op.thread_id, op.request, items)

    @handles(ops.CreateThreadAndRun)
    def create_thread_and_run(self, op: ops.CreateThreadAndRun) -> wire.Request[models.Run]:
        response_body(op.request)  # refuse a bad request before creating anything

        def start(answer: wire.Answer) -> wire.Request[models.Run]:
            made = _thread(answer).id
            respond = self._respond(made, op.request, [_user_item(op.content)])
            return attrs.evolve(respond, made_thread=made)

        return _new_conversation(op.thread_metadata, start)

    @handles(ops.StreamRun)
    def stream_run(self, op: ops.StreamRun) -> wire.StreamRequest:
        _no_item_metadata(op.message_metadata)
        items = [] if op.content is None else [_user_item(op.content)]
        return _stream(op.thread_id, op.request, items, self._remember)

    @handles(ops.StreamThreadAndRun)
    def stream_thread_and_run(self, op: ops.StreamThreadAndRun) -> wire.Request[wire.StreamRequest]:
        """Create the conversation, then stream a response on it (two requests)."""
        response_body(op.request)  # refuse a bad request before creating anything

        def stream(answer: wire.Answer) -> wire.StreamRequest:
            made = _thread(answer).id
            opened = _stream(made, op.request, [_user_item(op.content)], self._remember)
            return attrs.evolve(opened, made_thread=made)

        return _new_conversation(op.thread_metadata, stream)

    @handles(ops.StreamToolOutputs)
    def stream_tool_outputs(self, op: ops.StreamToolOutputs) -> wire.StreamRequest:
        return _stream(op.thread_id, *_output_items(op.outputs, op.request), self._remember)

    @handles(ops.GetRun)
    def get_run(self, op: ops.GetRun) -> models.Run | wire.Request[models.Run]:
        data = self._finished.get(op.run_id)
        if data is not None:
            return run_from_response(data, op.thread_id)
        return wire.Request("GET", f"/responses/{op.run_id}", self._run(op.thread_id, op.run_id))

    @handles(ops.CancelRun)
    def cancel_run(self, op: ops.CancelRun) -> models.Run | wire.Request[models.Run]:
        """Cancel a background response; for one that ended asking for function calls,
        abandon the calls instead, so the conversation can take the next response."""
        thread_id, run_id = op.thread_id, op.run_id

        def cancel(current: models.Run) -> models.Run | wire.Request[models.Run]:
            if current.required_action:
                items = [
                    {
                        "type": "function_call_output",
                        "call_id": c.id,
                        "output": "cancelled: the caller did not run this tool",
                    }
                    for c in current.required_action.tool_calls
                ]
                abandoned = attrs.evolve(
                    current, status=models.RunStatus.CANCELLED, required_action=None
                )
                path = f"/conversations/{thread_id}/items"
                return wire.Request("POST", path, lambda _: abandoned, body={"items": items})
            path = f"/responses/{run_id}/cancel"
            return wire.Request("POST", path, self._run(thread_id, run_id))

        finished = self._finished.get(run_id)
        if finished is not None:
            return cancel(run_from_response(finished, thread_id))
        # Not seen finished, so in progress as far as we know: cancel at once, without reading
        # it first (a read that hangs would keep the cancel from being sent within the grace).
        return wire.Request("POST", f"/responses/{run_id}/cancel", self._run(thread_id, run_id))

    @handles(ops.SubmitToolOutputs)
    def submit_tool_outputs(self, op: ops.SubmitToolOutputs) -> wire.Request[models.Run]:
        return self._respond(op.thread_id, *_output_items(op.outputs, op.request))

    @handles(ops.ListRunMessages)
    def list_run_messages(
        self, op: ops.ListRunMessages
    ) -> models.MessagePage | wire.Request[models.MessagePage]:
        thread_id, run_id, after, limit = op.thread_id, op.run_id, op.after, op.limit

        def page(data: Mapping[str, Any]) -> models.MessagePage:
            items = [i for i in data.get("output") or () if i.get("type") == "message"]
            if after is not None:
                ids = [str(i.get("id")) for i in items]
                items = items[ids.index(after) + 1 :] if after in ids else []
            messages = tuple(message_from_item(i, thread_id, run_id) for i in items[:limit])
            return models.MessagePage(
                messages=messages,
                has_more=len(items) > limit,
                last_id=messages[-1].id if messages else None,
            )

        data = self._finished.get(run_id)
        if data is not None:
            return page(data)
        return wire.Request(
            "GET", f"/responses/{run_id}", lambda a: page(json_object(a.json, "response"))
        )

    @handles(ops.RunSteps)
    def run_steps(
        self, op: ops.RunSteps
    ) -> tuple[models.RunStep, ...] | wire.Request[tuple[models.RunStep, ...]]:
        """The response's output items as steps: messages, and tool calls with what they did
        (code and logs for code interpreter)."""
        data = self._finished.get(op.run_id)
        if data is not None:
            return _steps(data)
        return wire.Request("GET", f"/responses/{op.run_id}", lambda a: _steps(a.json))

    @handles(ops.ResolveAssistant)
    def resolve_assistant(self, op: ops.ResolveAssistant) -> str | None:
        """Nothing to create: the spec travels with every response."""
        return None
