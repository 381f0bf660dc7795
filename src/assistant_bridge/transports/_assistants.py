"""The Assistants API as a wire: each operation's builder, its requests and their decoding.

Sans-I/O: every builder returns a :class:`~._wire.Request` (or a stream request) that the client
transports send. Bodies follow the API's reference; JSON objects become domain values in
:mod:`._assistants_json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from assistant_bridge._values import events, models
from assistant_bridge._values.spec import HASH_KEY, OWNER_KEY, AssistantSpec
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.transports import ops
from assistant_bridge.transports._assistants_json import (
    assistant_from_json,
    message_from_json,
    message_page_from_json,
    parse_poll_after,
    run_from_json,
    run_step_from_json,
    thread_from_json,
)
from assistant_bridge.transports._decoding import json_object, same_run
from assistant_bridge.transports._wire import (
    ASSISTANTS_BETA,
    Answer,
    FileRequests,
    Request,
    StreamRequest,
    without_none,
)
from assistant_bridge.transports.ops import ASK_KEY, Metadata, RunSettings, handles

__all__ = ["AssistantsWire", "assistants_event", "error_text"]


def _run(answer: Answer) -> models.Run:
    poll_after = parse_poll_after(answer.headers.get("openai-poll-after-ms"))
    return run_from_json(json_object(answer.json, "thread.run"), poll_after_ms=poll_after)


def _run_of(thread_id: str, run_id: str) -> Any:
    """Decodes an answer that must be run ``run_id`` of thread ``thread_id``."""
    return lambda answer: same_run(_run(answer), thread_id, run_id)


def _get(path: str, then: Any, **query: Any) -> Request[Any]:
    return Request("GET", path, then, query=without_none(**query) or None, headers=ASSISTANTS_BETA)


def _post(path: str, then: Any, body: Mapping[str, Any] | None = None) -> Request[Any]:
    return Request("POST", path, then, body=dict(body or {}), headers=ASSISTANTS_BETA)


def _run_body(request: RunSettings) -> dict[str, Any]:
    if request.assistant_id is None:
        msg = (
            "The Assistants API runs assistant objects: pass assistant_id='asst_…', or "
            "assistant=AssistantSpec(...) to ThreadSession, which creates the object once."
        )
        raise ConfigurationError(msg)
    return request.body()


def _meta(metadata: Metadata) -> dict[str, Any]:
    return without_none(metadata=None if metadata is None else dict(metadata))


def _start_body(
    request: RunSettings, content: str | None, message_metadata: Metadata
) -> dict[str, Any]:
    body = _run_body(request)
    if content is not None:
        body["additional_messages"] = [
            {"role": "user", "content": content, **_meta(message_metadata)}
        ]
    return body


def _create_and_run_body(
    content: str, request: RunSettings, thread_metadata: Metadata
) -> dict[str, Any]:
    body = _run_body(request)
    if body.pop("additional_instructions", None) is not None:
        msg = "create_thread_and_run cannot carry additional_instructions; use start_run."
        raise ConfigurationError(msg)
    thread: dict[str, Any] = {"messages": [{"role": "user", "content": content}]}
    thread.update(_meta(thread_metadata))
    return {"thread": thread, **body}


def _outputs(outputs: Sequence[models.ToolOutput]) -> list[dict[str, str]]:
    return [{"tool_call_id": o.tool_call_id, "output": o.output} for o in outputs]


def error_text(data: str) -> str:
    """The message of an ``error`` stream event."""
    try:
        payload = json.loads(data)
    except ValueError:
        return data
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


def assistants_event(name: str, data: str) -> events.RunEvent | None:
    """An Assistants API stream event as a domain event; None for events we do not need."""
    if name == "error":
        return events.StreamFailed(error_text(data))
    if name == "done" or data == "[DONE]":
        return None
    if name.startswith("thread.run.") and not name.startswith("thread.run.step."):
        return events.RunStatusChanged(run_from_json(json_object(json.loads(data), "thread.run")))
    if name == "thread.message.delta":
        payload = json.loads(data)
        parts = (payload.get("delta") or {}).get("content") or ()
        text = "".join(str((p.get("text") or {}).get("value", "")) for p in parts)
        return events.TextDelta(str(payload.get("id", "")), text) if text else None
    if name in ("thread.message.completed", "thread.message.incomplete"):
        return events.MessageDone(message_from_json(json.loads(data)))
    return None


def _stream(path: str, body: Mapping[str, Any]) -> StreamRequest:
    return StreamRequest(path, {**body, "stream": True}, lambda: assistants_event, ASSISTANTS_BETA)


class AssistantsWire(FileRequests):
    """Builds and decodes the Assistants API's requests, one builder per operation.

    Its only state is the assistant ids it has resolved specs to, so that sessions sharing a
    transport look a spec up once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._resolved: dict[tuple[str, str], str] = {}

    @handles(ops.CreateThread)
    def create_thread(self, op: ops.CreateThread) -> Request[models.Thread]:
        decode = lambda a: thread_from_json(json_object(a.json, "thread"))  # noqa: E731
        return _post("/threads", decode, _meta(op.metadata))

    @handles(ops.StartRun)
    def start_run(self, op: ops.StartRun) -> Request[models.Run]:
        body = _start_body(op.request, op.content, op.message_metadata)
        return _post(f"/threads/{op.thread_id}/runs", _run, body)

    @handles(ops.CreateThreadAndRun)
    def create_thread_and_run(self, op: ops.CreateThreadAndRun) -> Request[models.Run]:
        body = _create_and_run_body(op.content, op.request, op.thread_metadata)
        return _post("/threads/runs", _run, body)

    @handles(ops.StreamRun)
    def stream_run(self, op: ops.StreamRun) -> StreamRequest:
        body = _start_body(op.request, op.content, op.message_metadata)
        return _stream(f"/threads/{op.thread_id}/runs", body)

    @handles(ops.StreamThreadAndRun)
    def stream_thread_and_run(self, op: ops.StreamThreadAndRun) -> StreamRequest:
        body = _create_and_run_body(op.content, op.request, op.thread_metadata)
        return _stream("/threads/runs", body)

    @handles(ops.StreamToolOutputs)
    def stream_tool_outputs(self, op: ops.StreamToolOutputs) -> StreamRequest:
        path = f"/threads/{op.thread_id}/runs/{op.run_id}/submit_tool_outputs"
        return _stream(path, {"tool_outputs": _outputs(op.outputs)})

    @handles(ops.FindRun)
    def find_run(self, op: ops.FindRun) -> Request[models.Run | None]:
        """The newest run of the thread whose metadata marks it with the ask's key."""

        def pick(answer: Answer) -> models.Run | None:
            for item in json_object(answer.json, "list").get("data") or ():
                if (item.get("metadata") or {}).get(ASK_KEY) == op.key:
                    return run_from_json(item)
            return None

        return _get(f"/threads/{op.thread_id}/runs", pick, limit=20, order="desc")

    @handles(ops.GetRun)
    def get_run(self, op: ops.GetRun) -> Request[models.Run]:
        return _get(f"/threads/{op.thread_id}/runs/{op.run_id}", _run_of(op.thread_id, op.run_id))

    @handles(ops.CancelRun)
    def cancel_run(self, op: ops.CancelRun) -> Request[models.Run]:
        path = f"/threads/{op.thread_id}/runs/{op.run_id}/cancel"
        return _post(path, _run_of(op.thread_id, op.run_id))

    @handles(ops.SubmitToolOutputs)
    def submit_tool_outputs(self, op: ops.SubmitToolOutputs) -> Request[models.Run]:
        path = f"/threads/{op.thread_id}/runs/{op.run_id}/submit_tool_outputs"
        outputs = {"tool_outputs": _outputs(op.outputs)}
        return _post(path, _run_of(op.thread_id, op.run_id), outputs)

    @handles(ops.ListRunMessages)
    def list_run_messages(self, op: ops.ListRunMessages) -> Request[models.MessagePage]:
        return _get(
            f"/threads/{op.thread_id}/messages",
            lambda a: message_page_from_json(json_object(a.json, "list")),
            run_id=op.run_id,
            order="asc",
            limit=op.limit,
            after=op.after,
        )

    @handles(ops.RunSteps)
    def run_steps(self, op: ops.RunSteps) -> Request[tuple[models.RunStep, ...]]:
        return _get(
            f"/threads/{op.thread_id}/runs/{op.run_id}/steps",
            lambda a: tuple(run_step_from_json(s) for s in a.json.get("data") or ()),
            order="asc",
            limit=100,
        )

    @handles(ops.GetAssistant)
    def get_assistant(self, op: ops.GetAssistant) -> Request[models.Assistant]:
        return _get(f"/assistants/{op.assistant_id}", lambda a: assistant_from_json(a.json))

    @handles(ops.ResolveAssistant)
    def resolve_assistant(self, op: ops.ResolveAssistant) -> str | Request[str]:
        """The id of the assistant object for the spec: reused when one we made for it has the
        same content hash, updated in place when ours has another, created otherwise. An
        assistant of the same name that we did not make for this spec is never rewritten: that
        clash is reported. Never a duplicate."""
        spec = op.spec
        wanted = spec.content_hash()
        key = (spec.name, wanted)
        known = self._resolved.get(key)
        if known is not None:
            return known

        def remember(answer: Answer) -> str:
            self._resolved[key] = str(answer.json["id"])
            return self._resolved[key]

        ours: list[Mapping[str, Any]] = []
        theirs: list[Mapping[str, Any]] = []

        def page(after: str | None) -> Request[str]:
            def look(answer: Answer) -> str | Request[str]:
                data = answer.json.get("data") or ()
                for item in data:
                    if item.get("name") != spec.name:
                        continue
                    meta = item.get("metadata") or {}
                    if meta.get(OWNER_KEY, spec.name if HASH_KEY in meta else None) != spec.name:
                        theirs.append(item)
                    elif meta.get(HASH_KEY) == wanted:
                        self._resolved[key] = str(item["id"])
                        return self._resolved[key]
                    else:
                        ours.append(item)
                if answer.json.get("has_more") and data:
                    return page(answer.json.get("last_id") or data[-1]["id"])
                body = spec.assistants_body()
                if ours:
                    return _post(f"/assistants/{ours[0]['id']}", remember, body)
                if theirs:
                    raise _name_clash(spec, theirs[0])
                return _post("/assistants", remember, body)

            return _get("/assistants", look, limit=100, order="asc", after=after)

        return page(None)


def _name_clash(spec: AssistantSpec, other: Mapping[str, Any]) -> ConfigurationError:
    msg = (
        f"An assistant named {spec.name!r} already exists ({other.get('id')}) and was not made "
        "by assistant_bridge from this spec, so it is left alone. Give the spec another name, "
        f"or use that assistant as it is with assistant_id={other.get('id')!r}."
    )
    return ConfigurationError(msg)
