"""Request bodies checked as the service checks them: known fields, JSON types, enums, ranges.

Each route has a schema; a body that breaks it answers 400 with the service's wording and
codes (``unknown_parameter``, ``invalid_type``, ``invalid_value``,
``missing_required_parameter``) and the dotted ``param`` path, e.g. ``messages[0].role``.
Fields not marked required accept ``null``, as most of the service's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .errors import ApiError
from .strict import strict_format, strict_function

__all__ = ["SCHEMAS", "validate"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_ARTICLE = {"integer": "an integer", "array": "an array", "object": "an object"}


def _a(kind: str) -> str:
    return _ARTICLE.get(kind, f"a {kind}")


def _type_error(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_a(_kind(value))} instead.",
        param=param,
        code="invalid_type",
    )


def _missing(where: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{where}'.",
        param=where,
        code="missing_required_parameter",
    )


def _quoted(values: Sequence[Any]) -> str:
    words = [f"'{v}'" for v in values]
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + f", and {words[-1]}"


#: A check across an object's fields, run after its fields passed: (the object, its param).
Rule = Callable[[Mapping[str, Any], str], None]


class Spec:
    """One node of a schema: checks a value found at ``param``."""

    kinds: frozenset[str] = frozenset()
    expected = "a value"

    def check(self, value: Any, param: str) -> None:
        if _kind(value) not in self.kinds:
            raise _type_error(param, self.expected, value)


def _too_long(param: str, limit: int, length: int) -> ApiError:
    return ApiError(
        400,
        f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
        f"but got a string with length {length} instead.",
        param=param,
        code="string_above_max_length",
    )


@attrs.frozen
class Str(Spec):
    max_length: int | None = None
    kinds = frozenset({"string"})
    expected = "a string"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if self.max_length is not None and len(value) > self.max_length:
            raise _too_long(param, self.max_length, len(value))


@attrs.frozen
class Bool(Spec):
    kinds = frozenset({"boolean"})
    expected = "a boolean"


@attrs.frozen
class Num(Spec):
    """A decimal (integers accepted), optionally within [low, high]."""

    low: float | None = None
    high: float | None = None
    integer: bool = False

    @property
    def kinds(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset({"integer"} if self.integer else {"integer", "decimal"})

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "an integer" if self.integer else "a decimal"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        word = "integer" if self.integer else "decimal"
        if self.low is not None and value < self.low:
            raise ApiError(
                400,
                f"Invalid '{param}': {word} below minimum value. Expected a value >= "
                f"{self.low:g}, but got {value:g} instead.",
                param=param,
                code=f"{word}_below_min_value",
            )
        if self.high is not None and value > self.high:
            raise ApiError(
                400,
                f"Invalid '{param}': {word} above maximum value. Expected a value <= "
                f"{self.high:g}, but got {value:g} instead.",
                param=param,
                code=f"{word}_above_max_value",
            )


@attrs.frozen
class Anything(Spec):
    kinds = frozenset({"string", "integer", "decimal", "boolean", "array", "object", "null"})


@attrs.frozen
class Enum(Spec):
    values: tuple[str, ...]
    kinds = frozenset({"string"})
    expected = "a string"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if value not in self.values:
            raise ApiError(
                400,
                f"Invalid value: '{value}'. Supported values are: {_quoted(self.values)}.",
                param=param,
                code="invalid_value",
            )


@attrs.frozen
class Arr(Spec):
    item: Spec = Anything()
    max_items: int | None = None
    kinds = frozenset({"array"})
    expected = "an array"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if self.max_items is not None and len(value) > self.max_items:
            raise ApiError(
                400,
                f"Invalid '{param}': array too long. Expected an array with maximum length "
                f"{self.max_items}, but got an array with length {len(value)} instead.",
                param=param,
                code="array_above_max_length",
            )
        for n, item in enumerate(value):
            self.item.check(item, f"{param}[{n}]")


@attrs.frozen
class Obj(Spec):
    """An object with known ``fields``; ``open`` objects also take fields not listed."""

    fields: Mapping[str, Spec] = attrs.field(factory=dict)
    required: tuple[str, ...] = ()
    open: bool = False
    rules: tuple[Rule, ...] = ()
    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        check_fields(self, value, param)


def check_fields(spec: Obj, value: Mapping[str, Any], prefix: str) -> None:
    """Check each field of ``value`` against ``spec``, then the required ones."""
    for name, item in value.items():
        where = f"{prefix}.{name}" if prefix else name
        field = spec.fields.get(name)
        if field is None:
            if spec.open:
                continue
            raise ApiError(
                400, f"Unknown parameter: '{where}'.", param=where, code="unknown_parameter"
            )
        if item is None and name not in spec.required:
            continue
        field.check(item, where)
    for name in spec.required:
        if value.get(name) is None:
            raise _missing(f"{prefix}.{name}" if prefix else name)
    for rule in spec.rules:
        rule(value, prefix)


@attrs.frozen
class Map(Spec):
    """An object of free keys whose values all follow ``value`` (metadata, attributes)."""

    value: Spec = Anything()
    max_properties: int | None = None
    max_key_length: int | None = None
    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if self.max_properties is not None and len(value) > self.max_properties:
            raise ApiError(
                400,
                f"Invalid '{param}': too many properties. Expected an object with at most "
                f"{self.max_properties} properties, but got an object with {len(value)} "
                "properties instead.",
                param=param,
                code="object_above_max_properties",
            )
        for key, item in value.items():
            if self.max_key_length is not None and len(key) > self.max_key_length:
                raise _too_long(param, self.max_key_length, len(key))
            self.value.check(item, f"{param}.{key}")


@attrs.frozen
class OneOf(Spec):
    """The first option whose JSON kind fits the value decides."""

    options: tuple[Spec, ...]

    @property
    def kinds(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset().union(*(o.kinds for o in self.options))

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + " or ".join(o.expected.split(" ", 1)[-1] for o in self.options)

    def check(self, value: Any, param: str) -> None:
        for option in self.options:
            if _kind(value) in option.kinds:
                option.check(value, param)
                return
        raise _type_error(param, self.expected, value)


@attrs.frozen
class Tagged(Spec):
    """An object whose ``type`` field picks its shape among ``variants``."""

    variants: Mapping[str, Obj]
    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        where = f"{param}.type" if param else "type"
        kind = value.get("type")
        if kind is None:
            raise _missing(where)
        Enum(tuple(self.variants)).check(kind, where)
        variant = self.variants[kind]
        fields = {"type": Str(), **variant.fields}
        check_fields(attrs.evolve(variant, fields=fields), value, param)


# -- the shapes ------------------------------------------------------------------------------
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
ITEM = Obj({"type": Str(), "role": Str(), "content": Anything()}, open=True)
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


@attrs.frozen
class Filter(Spec):
    """A search filter: a comparison ``{type, key, value}`` or a compound ``{type: and|or,
    filters}`` of them, as vector store search and ``file_search`` take."""

    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        kind = value.get("type")
        if kind in COMPOUND:
            shape = Obj({"type": Str(), "filters": Arr(self)}, required=("type", "filters"))
        else:
            shape = Obj(
                {
                    "type": Enum((*COMPARISONS, *COMPOUND)),
                    "key": Str(),
                    "value": OneOf((Str(), Num(), Bool(), Arr(OneOf((Str(), Num()))))),
                },
                required=("type", "key", "value"),
            )
        check_fields(shape, value, param)


COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUND = ("and", "or")
FILTER = Filter()
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

SCHEMAS: dict[str, Obj] = {
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
        }
    ),
    "responses.create": Obj(
        RESPONSE_FIELDS, required=("model",), rules=(_chosen_function_in_tools,)
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
