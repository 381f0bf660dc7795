"""Convert the Assistants API's JSON objects into domain values.

Transports call these on the JSON the server sent; nothing above the transport sees the wire
shape. Fields this version does not model stay in each value's ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assistant_bridge._values import models

JsonObject = Mapping[str, Any]


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _metadata(obj: JsonObject) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, Mapping) else {}


def usage_from_json(obj: JsonObject | None) -> models.Usage | None:
    """Usage of a run, or None when the run has none yet."""
    if not isinstance(obj, Mapping):
        return None
    prompt = _opt_int(obj.get("prompt_tokens", obj.get("input_tokens"))) or 0
    completion = _opt_int(obj.get("completion_tokens", obj.get("output_tokens"))) or 0
    total = _opt_int(obj.get("total_tokens")) or prompt + completion
    return models.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def _annotation(obj: JsonObject) -> models.TextAnnotation:
    kind = str(obj.get("type", ""))
    detail = obj.get(kind) if isinstance(obj.get(kind), Mapping) else {}
    return models.TextAnnotation(
        type=kind,
        text=str(obj.get("text", "")),
        start_index=_opt_int(obj.get("start_index")),
        end_index=_opt_int(obj.get("end_index")),
        file_id=detail.get("file_id") if detail else None,
        quote=detail.get("quote") if detail else None,
    )


def content_part_from_json(obj: JsonObject) -> models.ContentPart:
    """One content part of a message; unknown types are kept as :class:`UnknownContent`."""
    kind = str(obj.get("type", ""))
    if kind == "text" and isinstance(obj.get("text"), Mapping):
        text = obj["text"]
        return models.TextContent(
            text=str(text.get("value", "")),
            annotations=tuple(_annotation(a) for a in text.get("annotations") or ()),
        )
    if kind == "image_file" and isinstance(obj.get("image_file"), Mapping):
        image = obj["image_file"]
        return models.ImageFileContent(
            file_id=str(image.get("file_id", "")), detail=image.get("detail")
        )
    return models.UnknownContent(type=kind, raw=dict(obj))


def message_from_json(obj: JsonObject) -> models.Message:
    """A thread message."""
    content = obj.get("content")
    parts: tuple[models.ContentPart, ...]
    if isinstance(content, str):
        parts = (models.TextContent(text=content),)
    else:
        parts = tuple(content_part_from_json(p) for p in content or ())
    return models.Message(
        id=str(obj["id"]),
        thread_id=str(obj.get("thread_id") or ""),
        role=str(obj.get("role", "")),
        content=parts,
        run_id=obj.get("run_id"),
        assistant_id=obj.get("assistant_id"),
        created_at=_opt_int(obj.get("created_at")),
        status=obj.get("status"),
        metadata=_metadata(obj),
        raw=dict(obj),
    )


def message_page_from_json(obj: JsonObject) -> models.MessagePage:
    """A page of a message listing."""
    return models.MessagePage(
        messages=tuple(message_from_json(m) for m in obj.get("data") or ()),
        has_more=bool(obj.get("has_more", False)),
        last_id=obj.get("last_id"),
    )


def thread_from_json(obj: JsonObject) -> models.Thread:
    """A thread."""
    return models.Thread(
        id=str(obj["id"]),
        created_at=_opt_int(obj.get("created_at")),
        metadata=_metadata(obj),
        raw=dict(obj),
    )


def _tool_call(obj: JsonObject) -> models.ToolCall:
    function = obj.get("function") or {}
    return models.ToolCall(
        id=str(obj.get("id", "")),
        name=str(function.get("name", "")),
        arguments=str(function.get("arguments", "")),
        type=str(obj.get("type", "function")),
    )


def last_error_from(error: object) -> models.LastError | None:
    """A run's or response's error object, or None."""
    if not isinstance(error, Mapping):
        return None
    return models.LastError(code=error.get("code"), message=error.get("message"))


def incomplete_from(details: object) -> models.IncompleteDetails | None:
    """Why a run or response stopped early, or None."""
    return (
        models.IncompleteDetails(reason=details.get("reason"))
        if isinstance(details, Mapping)
        else None
    )


def run_from_json(obj: JsonObject, *, poll_after_ms: int | None = None) -> models.Run:
    """A run; ``poll_after_ms`` is the server's polling hint from the response headers."""
    action = obj.get("required_action")
    required = None
    if isinstance(action, Mapping):
        outputs = action.get("submit_tool_outputs") or {}
        required = models.RequiredAction(
            tool_calls=tuple(_tool_call(c) for c in outputs.get("tool_calls") or ()),
            type=str(action.get("type", "submit_tool_outputs")),
        )
    return models.Run(
        id=str(obj["id"]),
        thread_id=str(obj.get("thread_id") or ""),
        status=models.RunStatus.parse(str(obj.get("status", ""))),
        assistant_id=obj.get("assistant_id"),
        created_at=_opt_int(obj.get("created_at")),
        started_at=_opt_int(obj.get("started_at")),
        completed_at=_opt_int(obj.get("completed_at")),
        cancelled_at=_opt_int(obj.get("cancelled_at")),
        failed_at=_opt_int(obj.get("failed_at")),
        expires_at=_opt_int(obj.get("expires_at")),
        required_action=required,
        last_error=last_error_from(obj.get("last_error")),
        incomplete_details=incomplete_from(obj.get("incomplete_details")),
        usage=usage_from_json(obj.get("usage")),
        model=obj.get("model"),
        metadata=_metadata(obj),
        poll_after_ms=poll_after_ms,
        raw=dict(obj),
    )


def assistant_from_json(obj: JsonObject) -> models.Assistant:
    """An assistant object."""
    return models.Assistant(
        id=str(obj["id"]),
        name=obj.get("name"),
        model=obj.get("model"),
        instructions=obj.get("instructions"),
        tools=tuple(dict(t) for t in obj.get("tools") or ()),
        metadata=_metadata(obj),
        raw=dict(obj),
    )


def parse_poll_after(value: str | None) -> int | None:
    """The ``openai-poll-after-ms`` header as milliseconds, or None when absent or malformed."""
    if value is None:
        return None
    try:
        ms = int(value.strip())
    except ValueError:
        return None
    return ms if ms >= 0 else None


def _step_call(obj: JsonObject) -> models.StepCall:
    kind = str(obj.get("type", ""))
    detail = obj.get(kind) if isinstance(obj.get(kind), Mapping) else {}
    assert isinstance(detail, Mapping)
    if kind == "code_interpreter":
        outputs = detail.get("outputs") or ()
        logs = "".join(str(o.get("logs", "")) for o in outputs if o.get("type") == "logs")
        files = tuple(
            str((o.get("image") or {}).get("file_id")) for o in outputs if o.get("type") == "image"
        )
        return models.StepCall(
            str(obj.get("id", "")), kind, detail.get("input"), logs or None, files
        )
    if kind == "function":
        return models.StepCall(
            str(obj.get("id", "")), kind, detail.get("arguments"), detail.get("output")
        )
    return models.StepCall(str(obj.get("id", "")), kind)


def run_step_from_json(obj: JsonObject) -> models.RunStep:
    """A run step, with its tool calls (code and logs for code interpreter)."""
    details = obj.get("step_details") or {}
    calls = tuple(_step_call(c) for c in details.get("tool_calls") or ())
    message = (details.get("message_creation") or {}).get("message_id")
    return models.RunStep(
        id=str(obj["id"]),
        run_id=str(obj.get("run_id") or ""),
        type=str(obj.get("type", details.get("type", ""))),
        status=str(obj.get("status", "")),
        calls=calls,
        message_id=message,
        raw=dict(obj),
    )
