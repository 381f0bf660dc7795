"""Request bodies checked as the service checks them, one schema per route (both wires share
the shapes: metadata, tools, formats, filters). A body that breaks its schema answers 400
with the service's wording and codes (``unknown_parameter``, ``invalid_type``,
``invalid_value``, ``missing_required_parameter``, ``string_above_max_length``, …) and the
dotted ``param`` path, e.g. ``messages[0].role``. Fields not marked required accept ``null``,
as most of the service's do. Checks across fields are rules of the schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .errors import ApiError
from .http import FormFile
from .schema import (
    Anything,
    Arr,
    Bool,
    Enum,
    Filter,
    Map,
    Num,
    Obj,
    OneOf,
    Spec,
    Str,
    Tagged,
    check_fields,
)
from .strict import strict_format, strict_function

__all__ = ["SCHEMAS", "validate"]

FILTER = Filter()
# The service's limits on metadata (16 pairs, keys up to 64, values up to 512 characters), with
# the codes of its Responses answers; the Assistants routes check the same table.
META = Map(Str(max_length=512), max_properties=16, max_key_length=64)
FILE_IDS = Arr(Str())
RANKING = Obj({"ranker": Str(), "score_threshold": Num(0, 1), "hybrid_search": Anything()})
ASSISTANT_TOOL = Tagged(
    {
        "code_interpreter": Obj(),
        "file_search": Obj(
            {"file_search": Obj({"max_num_results": Num(1, 50, True), "ranking_options": RANKING})}
        ),
        "function": Obj(
            {
                "function": Obj(
                    {
                        "name": Str(),
                        "description": Str(),
                        "parameters": Map(),
                        "strict": Bool(),
                    },
                    required=("name",),
                    rules=(strict_function,),
                )
            },
            required=("function",),
        ),
    }
)
TOOLS = Arr(ASSISTANT_TOOL, max_items=128)
TOOL_RESOURCES = Obj(
    {
        "code_interpreter": Obj({"file_ids": FILE_IDS}),
        "file_search": Obj(
            {
                "vector_store_ids": FILE_IDS,
                "vector_stores": Arr(
                    Obj({"file_ids": FILE_IDS, "chunking_strategy": Map(), "metadata": META})
                ),
            }
        ),
    }
)
JSON_SCHEMA = Obj(
    {"name": Str(), "description": Str(), "schema": Map(), "strict": Bool()},
    required=("name",),
    rules=(strict_format,),
)
RESPONSE_FORMAT = OneOf(
    (
        Enum(("auto",)),
        Tagged(
            {
                "text": Obj(),
                "json_object": Obj(),
                "json_schema": Obj({"json_schema": JSON_SCHEMA}, required=("json_schema",)),
            }
        ),
    )
)
DETAIL = Enum(("auto", "low", "high"))
CONTENT_PART = Tagged(
    {
        "text": Obj({"text": Str()}, required=("text",)),
        "image_file": Obj(
            {"image_file": Obj({"file_id": Str(), "detail": DETAIL}, required=("file_id",))},
            required=("image_file",),
        ),
        "image_url": Obj(
            {"image_url": Obj({"url": Str(), "detail": DETAIL}, required=("url",))},
            required=("image_url",),
        ),
    }
)
ATTACHMENT = Obj(
    {
        "file_id": Str(),
        "tools": Arr(Tagged({"code_interpreter": Obj(), "file_search": Obj()})),
    }
)
MESSAGE_FIELDS: dict[str, Spec] = {
    "role": Enum(("user", "assistant")),
    "content": OneOf((Str(), Arr(CONTENT_PART))),
    "attachments": Arr(ATTACHMENT),
    "metadata": META,
}
MESSAGE = Obj(MESSAGE_FIELDS, required=("role", "content"))
TOOL_CHOICE = OneOf(
    (
        Enum(("none", "auto", "required")),
        Tagged(
            {
                "function": Obj({"function": Obj({"name": Str()}, required=("name",))}),
                "file_search": Obj(),
                "code_interpreter": Obj(),
            }
        ),
    )
)
RUN_FIELDS: dict[str, Spec] = {
    "assistant_id": Str(),
    "model": Str(),
    "instructions": Str(),
    "tools": TOOLS,
    "metadata": META,
    "temperature": Num(0, 2),
    "top_p": Num(0, 1),
    "stream": Bool(),
    "max_prompt_tokens": Num(256, None, True),
    "max_completion_tokens": Num(16, None, True),
    "truncation_strategy": Obj(
        {"type": Enum(("auto", "last_messages")), "last_messages": Num(1, None, True)},
        required=("type",),
    ),
    "tool_choice": TOOL_CHOICE,
    "parallel_tool_calls": Bool(),
    "response_format": RESPONSE_FORMAT,
    "reasoning_effort": Enum(("minimal", "low", "medium", "high")),
}
THREAD = Obj({"messages": Arr(MESSAGE), "tool_resources": TOOL_RESOURCES, "metadata": META})
ASSISTANT_FIELDS: dict[str, Spec] = {
    "model": Str(),
    "name": Str(),
    "description": Str(),
    "instructions": Str(),
    "tools": TOOLS,
    "tool_resources": TOOL_RESOURCES,
    "metadata": META,
    "temperature": Num(0, 2),
    "top_p": Num(0, 1),
    "response_format": RESPONSE_FORMAT,
    "reasoning_effort": Enum(("minimal", "low", "medium", "high")),
}
CHUNKING = Tagged(
    {
        "auto": Obj(),
        "static": Obj(
            {
                "static": Obj(
                    {
                        "max_chunk_size_tokens": Num(100, 4096, True),
                        "chunk_overlap_tokens": Num(0, None, True),
                    },
                    required=("max_chunk_size_tokens", "chunk_overlap_tokens"),
                )
            },
            required=("static",),
        ),
    }
)
EXPIRES_AFTER = Obj(
    {"anchor": Enum(("last_active_at",)), "days": Num(1, 365, True)}, required=("anchor", "days")
)
ATTRIBUTES = Map(OneOf((Str(), Num(), Bool())))
ITEM = Obj(
    {
        "type": Str(),
        "role": Enum(("user", "assistant", "system", "developer")),
        "content": Anything(),
    },
    open=True,
)
TEXT_FORMAT = Tagged(
    {
        "text": Obj(),
        "json_object": Obj(),
        "json_schema": Obj(
            {"name": Str(), "description": Str(), "schema": Map(), "strict": Bool()},
            required=("name", "schema"),
            rules=(strict_format,),
        ),
    }
)


_HOSTED = Obj(open=True)  # hosted tools the emulator accepts and never calls
RESPONSE_TOOL = Tagged(
    {
        "function": Obj(
            {"name": Str(), "description": Str(), "parameters": Map(), "strict": Bool()},
            required=("name",),
            rules=(strict_function,),
        ),
        "file_search": Obj(
            {
                "vector_store_ids": FILE_IDS,
                "max_num_results": Num(1, 50, True),
                "ranking_options": RANKING,
                "filters": FILTER,
            },
            required=("vector_store_ids",),
        ),
        **dict.fromkeys(
            (
                "web_search",
                "web_search_preview",
                "web_search_2025_08_26",
                "web_search_preview_2025_03_11",
                "code_interpreter",
                "computer_use_preview",
                "image_generation",
                "local_shell",
                "shell",
                "mcp",
                "custom",
                "apply_patch",
            ),
            _HOSTED,
        ),
    }
)
#: The ``include`` values the service knows (an unknown one is its 400 ``invalid_value``).
RESPONSE_INCLUDES = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)


def _background_is_stored(body: Mapping[str, Any], param: str) -> None:
    """Rule of a response: background mode keeps the response, so it needs ``store``."""
    if body.get("background") and body.get("store") is False:
        raise ApiError(400, "Background mode requires 'store' to be true.", param="background")


def _one_history(body: Mapping[str, Any], param: str) -> None:
    """Rule of a response: a conversation or a previous response, not both."""
    if body.get("conversation") and body.get("previous_response_id"):
        raise ApiError(
            400,
            "Mutually exclusive parameters: Ensure you are only providing one of: "
            "'previous_response_id' or 'conversation'.",
            param="previous_response_id",
            code="mutually_exclusive_parameters",
        )


def _some_files(body: Mapping[str, Any], param: str) -> None:
    """Rule of a file batch: ``file_ids`` or ``files``, not neither."""
    if not body.get("file_ids") and not body.get("files"):
        raise ApiError(
            400,
            "Missing required parameter: 'file_ids'.",
            param="file_ids",
            code="missing_required_parameter",
        )


def _chosen_function_in_tools(body: Mapping[str, Any], param: str) -> None:
    """Rule of a response: a ``tool_choice`` naming a function needs that function in
    ``tools`` (the service's words; its ``code`` here is not known from a recording)."""
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        names = {t.get("name") for t in body.get("tools") or () if t.get("type") == "function"}
        if choice.get("name") not in names:
            raise ApiError(
                400,
                f"Tool choice '{choice.get('name')}' not found in 'tools' parameter.",
                param="tool_choice",
            )


RESPONSE_FIELDS: dict[str, Spec] = {
    "model": Str(),
    "input": OneOf((Str(), Arr(ITEM))),
    "instructions": Str(),
    "tools": Arr(RESPONSE_TOOL),
    "tool_choice": OneOf(
        (
            Enum(("none", "auto", "required")),
            Tagged(
                {
                    "function": Obj({"name": Str()}, required=("name",)),
                    "file_search": Obj(),
                    "allowed_tools": _HOSTED,
                    "mcp": _HOSTED,
                    "custom": _HOSTED,
                    "web_search_preview": Obj(),
                    "code_interpreter": Obj(),
                    "image_generation": Obj(),
                    "computer_use_preview": Obj(),
                }
            ),
        )
    ),
    "parallel_tool_calls": Bool(),
    "temperature": Num(0, 2),
    "top_p": Num(0, 1),
    "max_output_tokens": Num(16, None, True),
    "max_tool_calls": Num(1, None, True),
    "text": Obj({"format": TEXT_FORMAT, "verbosity": Enum(("low", "medium", "high"))}),
    "stream": Bool(),
    "stream_options": Map(),
    "store": Bool(),
    "background": Bool(),
    "previous_response_id": Str(),
    "conversation": OneOf((Str(), Obj({"id": Str()}, required=("id",)))),
    "include": Arr(Enum(RESPONSE_INCLUDES)),
    "metadata": META,
    "reasoning": Map(),
    "truncation": Enum(("auto", "disabled")),
    "user": Str(),
    "service_tier": Str(),
    "prompt": Map(),
    "prompt_cache_key": Str(),
    "prompt_cache_retention": Str(),
    "safety_identifier": Str(),
    "top_logprobs": Num(0, 20, True),
    "context_management": Anything(),
}

PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")


@attrs.frozen
class Purpose(Spec):
    """A file's ``purpose``, refused in the service's recorded words (not its enum wording)."""

    kinds = frozenset({"string"})
    expected = "a string"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if value not in PURPOSES:
            listed = ", ".join(f"'{p}'" for p in PURPOSES)
            raise ApiError(400, f"'{value}' is not one of [{listed}] - 'purpose'", param=param)


@attrs.frozen
class Upload(Spec):
    """The file of a multipart upload."""

    kinds = frozenset({"object"})
    expected = "a file"

    def check(self, value: Any, param: str) -> None:
        if not isinstance(value, FormFile):
            raise ApiError(400, f"Expected '{param}' to be a file.", param=param)


SCHEMAS: dict[str, Obj] = {
    "files.create": Obj({"purpose": Purpose(), "file": Upload()}, required=("purpose", "file")),
    "assistants.create": Obj(ASSISTANT_FIELDS, required=("model",)),
    "assistants.update": Obj(ASSISTANT_FIELDS),
    "threads.create": THREAD,
    "threads.update": Obj({"tool_resources": TOOL_RESOURCES, "metadata": META}),
    "threads.create_and_run": Obj(
        {**RUN_FIELDS, "thread": THREAD, "tool_resources": TOOL_RESOURCES},
        required=("assistant_id",),
    ),
    "messages.create": MESSAGE,
    "messages.update": Obj({"metadata": META}),
    "runs.create": Obj(
        {
            **RUN_FIELDS,
            "additional_instructions": Str(),
            "additional_messages": Arr(MESSAGE),
        },
        required=("assistant_id",),
    ),
    "runs.update": Obj({"metadata": META}),
    "runs.submit_tool_outputs": Obj(
        {
            "tool_outputs": Arr(Obj({"tool_call_id": Str(), "output": Str()})),
            "stream": Bool(),
        },
        required=("tool_outputs",),
    ),
    "vector_stores.create": Obj(
        {
            "name": Str(),
            "description": Str(),
            "file_ids": Arr(Str(), max_items=500),
            "expires_after": EXPIRES_AFTER,
            "chunking_strategy": CHUNKING,
            "metadata": META,
        }
    ),
    "vector_stores.update": Obj({"name": Str(), "expires_after": EXPIRES_AFTER, "metadata": META}),
    "vector_stores.search": Obj(
        {
            "query": OneOf((Str(), Arr(Str()))),
            "filters": FILTER,
            "max_num_results": Num(1, 50, True),
            "ranking_options": RANKING,
            "rewrite_query": Bool(),
        },
        required=("query",),
    ),
    "vector_stores.files.create": Obj(
        {"file_id": Str(), "chunking_strategy": CHUNKING, "attributes": ATTRIBUTES},
        required=("file_id",),
    ),
    "vector_stores.files.update": Obj({"attributes": ATTRIBUTES}, required=("attributes",)),
    "vector_stores.file_batches.create": Obj(
        {
            "file_ids": Arr(Str(), max_items=500),
            "files": Arr(Obj({"file_id": Str()}, required=("file_id",), open=True)),
            "chunking_strategy": CHUNKING,
            "attributes": ATTRIBUTES,
        },
        rules=(_some_files,),
    ),
    "responses.create": Obj(
        RESPONSE_FIELDS,
        required=("model",),
        rules=(_background_is_stored, _one_history, _chosen_function_in_tools),
    ),
    "responses.input_tokens": Obj(RESPONSE_FIELDS, open=True),
    "conversations.create": Obj({"items": Arr(ITEM, max_items=20), "metadata": META}),
    "conversations.update": Obj({"metadata": META}, required=("metadata",)),
    "conversations.items.create": Obj({"items": Arr(ITEM, max_items=20)}, required=("items",)),
}


def validate(route: str, body: Mapping[str, Any]) -> None:
    """Raise the service's 400 when ``body`` does not fit ``route``'s schema."""
    schema = SCHEMAS.get(route)
    if schema is not None:
        check_fields(schema, body, "")
