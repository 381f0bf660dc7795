"""AssistantSpec: an assistant's definition kept in code, reviewed like code.

OpenAI retired assistant objects (and the reusable prompts that replaced them), so the
definition lives with the application: a frozen value that both transports send, loaded from
and saved to a JSON or TOML file. On an Assistants-compatible server the transport turns it into
an assistant object once and finds it again by name and content hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from assistant_bridge._values.checks import check_metadata, check_number, check_text
from assistant_bridge._values.value import Value
from assistant_bridge.exceptions import ConfigurationError

__all__ = [
    "AssistantSpec",
    "CodeInterpreter",
    "FileSearch",
    "FunctionTool",
    "JsonSchemaFormat",
    "Tool",
]

#: Metadata key holding a spec's content hash on an assistant object.
HASH_KEY = "assistant_bridge_spec"
"""Assistant metadata: the content hash of the spec the assistant was made from."""
OWNER_KEY = "assistant_bridge_owner"
"""Assistant metadata: which spec owns the assistant (its name), stable across edits; an
assistant without it was not made by assistant_bridge and is never rewritten."""


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    """Typed for mypy: ``FileSearch(["vs_1"])`` checks, where ``converter=tuple`` did not."""
    return tuple(value)


@attrs.frozen(repr=False)
class FunctionTool(Value):
    """A function the assistant may call; ``parameters`` is its JSON Schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}}, converter=_frozen_mapping
    )
    strict: bool = False


@attrs.frozen(repr=False)
class FileSearch(Value):
    """Search these vector stores (the knowledge base)."""

    vector_store_ids: tuple[str, ...] = attrs.field(default=(), converter=_ids)


@attrs.frozen(repr=False)
class CodeInterpreter(Value):
    """Run code in a sandbox, with these files available."""

    file_ids: tuple[str, ...] = attrs.field(default=(), converter=_ids)


Tool = FunctionTool | FileSearch | CodeInterpreter


@attrs.frozen(repr=False)
class JsonSchemaFormat(Value):
    """Structured output: replies must match ``schema`` (pairs with SchemaParser)."""

    name: str
    schema: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)
    strict: bool = True


ResponseFormat = str | JsonSchemaFormat


def assistants_format(value: ResponseFormat) -> dict[str, Any]:
    """A reply format as the Assistants API writes it (an assistant's or a run's
    ``response_format``)."""
    if isinstance(value, JsonSchemaFormat):
        schema = {"name": value.name, "schema": dict(value.schema), "strict": value.strict}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": value}


def responses_format(value: ResponseFormat) -> dict[str, Any]:
    """A reply format as the Responses API writes it (``text.format``)."""
    if isinstance(value, JsonSchemaFormat):
        return {
            "type": "json_schema",
            "name": value.name,
            "schema": dict(value.schema),
            "strict": value.strict,
        }
    return {"type": value}


def _check_format(_i: object, _a: object, value: ResponseFormat) -> None:
    if isinstance(value, str) and value not in ("text", "json_object"):
        msg = f"response_format must be 'text', 'json_object' or a JsonSchemaFormat, got {value!r}."
        raise ConfigurationError(msg)


def _check_name(_i: object, _a: object, value: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        msg = f"An AssistantSpec needs a name of 1 to 256 characters, got {value!r}."
        raise ConfigurationError(msg)


def _check_model(_i: object, _a: object, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        msg = f"An AssistantSpec needs a model, such as 'gpt-4o-mini', got {value!r}."
        raise ConfigurationError(msg)


def _check_instructions(_i: object, _a: object, value: str | None) -> None:
    if value is not None:
        check_text(value, "instructions", empty=True)


def _check_temperature(_i: object, _a: object, value: float | None) -> None:
    if value is not None:
        check_number(value, "temperature", low=0.0, high=2.0)


def _to_metadata(value: Mapping[str, str] | None) -> Mapping[str, str]:
    # 15 pairs: the assistant object carries one more, the spec's content hash.
    return check_metadata(value, "metadata", max_pairs=15) or {}


def _to_tools(value: Sequence[Tool]) -> tuple[Tool, ...]:
    tools = tuple(value)
    for tool in tools:
        if not isinstance(tool, (FunctionTool, FileSearch, CodeInterpreter)):
            msg = f"tools take FunctionTool, FileSearch or CodeInterpreter values, got {tool!r}."
            raise ConfigurationError(msg)
    return tools


@attrs.frozen(repr=False)
class AssistantSpec(Value):
    """What an assistant is: name, model, instructions, tools, reply format, temperature."""

    name: str = attrs.field(validator=_check_name)
    model: str = attrs.field(validator=_check_model)
    instructions: str | None = attrs.field(default=None, validator=_check_instructions)
    tools: tuple[Tool, ...] = attrs.field(default=(), converter=_to_tools)
    response_format: ResponseFormat = attrs.field(default="text", validator=_check_format)
    temperature: float | None = attrs.field(default=None, validator=_check_temperature)
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_to_metadata)

    # -- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain dict (the file format), without unset fields."""
        out: dict[str, Any] = {"name": self.name, "model": self.model}
        if self.instructions is not None:
            out["instructions"] = self.instructions
        if self.tools:
            out["tools"] = [_tool_to_dict(t) for t in self.tools]
        if self.response_format != "text":
            out["response_format"] = (
                self.response_format
                if isinstance(self.response_format, str)
                else {
                    "type": "json_schema",
                    "name": self.response_format.name,
                    "schema": dict(self.response_format.schema),
                    "strict": self.response_format.strict,
                }
            )
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssistantSpec:
        """Build from :meth:`to_dict`'s shape; unknown keys are refused, not dropped."""
        known = {
            "name",
            "model",
            "instructions",
            "tools",
            "response_format",
            "temperature",
            "metadata",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"Unknown AssistantSpec fields {unknown}; known fields are {sorted(known)}."
            raise ConfigurationError(msg)
        fmt = data.get("response_format", "text")
        if isinstance(fmt, Mapping):
            if fmt.get("type") != "json_schema" or "schema" not in fmt:
                msg = "response_format as a table must be {type = 'json_schema', name, schema}."
                raise ConfigurationError(msg)
            fmt = JsonSchemaFormat(
                name=str(fmt.get("name", "reply")),
                schema=fmt["schema"],
                strict=bool(fmt.get("strict", True)),
            )
        return cls(
            name=data.get("name", ""),
            model=data.get("model", ""),
            instructions=data.get("instructions"),
            tools=tuple(_tool_from_dict(t) for t in data.get("tools") or ()),
            response_format=fmt,
            temperature=data.get("temperature"),
            metadata=data.get("metadata") or {},
        )

    @classmethod
    def load(cls, path: str | Path) -> AssistantSpec:
        """Read a spec from a ``.json`` or ``.toml`` file."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"Cannot read the spec file {file}: {exc.strerror}."
            raise ConfigurationError(msg) from None
        if file.suffix not in (".toml", ".json"):
            msg = f"A spec file must end in .json or .toml, got {file.name!r}."
            raise ConfigurationError(msg)
        try:
            if file.suffix == ".toml":
                import tomllib  # only specs in TOML pay for it

                data = tomllib.loads(text)
            else:
                data = json.loads(text)
        except ValueError as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            msg = f"The spec file {file} is not valid {file.suffix[1:].upper()}: {exc}."
            raise ConfigurationError(msg) from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        """Write the spec to a ``.json`` or ``.toml`` file."""
        file = Path(path)
        if file.suffix == ".json":
            file.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        elif file.suffix == ".toml":
            file.write_text(_toml(self.to_dict()), encoding="utf-8")
        else:
            msg = f"A spec file must end in .json or .toml, got {file.name!r}."
            raise ConfigurationError(msg)

    @classmethod
    def from_assistant_json(cls, data: Mapping[str, Any]) -> AssistantSpec:
        """A spec from an assistant object as the Assistants API returns it."""
        resources = data.get("tool_resources") or {}
        tools: list[Tool] = []
        for tool in data.get("tools") or ():
            kind = tool.get("type")
            if kind == "function":
                fn = tool.get("function") or {}
                tools.append(
                    FunctionTool(
                        name=fn.get("name", ""),
                        description=fn.get("description") or "",
                        parameters=fn.get("parameters") or {"type": "object", "properties": {}},
                        strict=bool(fn.get("strict") or False),
                    )
                )
            elif kind == "file_search":
                ids = (resources.get("file_search") or {}).get("vector_store_ids") or ()
                tools.append(FileSearch(tuple(ids)))
            elif kind == "code_interpreter":
                ids = (resources.get("code_interpreter") or {}).get("file_ids") or ()
                tools.append(CodeInterpreter(tuple(ids)))
            else:
                msg = f"Assistant tool type {kind!r} has no AssistantSpec equivalent."
                raise ConfigurationError(msg)
        fmt: Any = data.get("response_format") or "auto"
        if isinstance(fmt, Mapping):
            if fmt.get("type") == "json_schema":
                schema = fmt.get("json_schema") or {}
                fmt = JsonSchemaFormat(
                    name=schema.get("name", "reply"),
                    schema=schema.get("schema") or {},
                    strict=bool(schema.get("strict", True)),
                )
            else:
                fmt = fmt.get("type", "text")
        if fmt == "auto":
            fmt = "text"
        metadata = {
            k: v for k, v in (data.get("metadata") or {}).items() if k not in (HASH_KEY, OWNER_KEY)
        }
        return cls(
            name=data.get("name") or str(data.get("id") or "assistant"),
            model=data.get("model", ""),
            instructions=data.get("instructions"),
            tools=tuple(tools),
            response_format=fmt,
            temperature=data.get("temperature"),
            metadata=metadata,
        )

    # -- wire shapes -----------------------------------------------------------------------
    def content_hash(self) -> str:
        """A short hash of everything but the name: it changes when the definition does."""
        body = {k: v for k, v in self.to_dict().items() if k != "name"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def assistants_body(self) -> dict[str, Any]:
        """The body of an Assistants API create or update call for this spec."""
        tools: list[dict[str, Any]] = []
        resources: dict[str, Any] = {}
        for tool in self.tools:
            if isinstance(tool, FunctionTool):
                tools.append({"type": "function", "function": _function(tool)})
            elif isinstance(tool, FileSearch):
                tools.append({"type": "file_search"})
                if tool.vector_store_ids:
                    resources["file_search"] = {"vector_store_ids": list(tool.vector_store_ids)}
            else:
                tools.append({"type": "code_interpreter"})
                if tool.file_ids:
                    resources["code_interpreter"] = {"file_ids": list(tool.file_ids)}
        body: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "instructions": self.instructions,
            "tools": tools,
            "tool_resources": resources,
            "metadata": {
                **self.metadata,
                HASH_KEY: self.content_hash(),
                OWNER_KEY: self.name,
            },
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        body["response_format"] = assistants_format(self.response_format)
        return body

    def responses_body(self) -> dict[str, Any]:
        """The fields of a Responses API call that carry this spec."""
        tools: list[dict[str, Any]] = []
        for tool in self.tools:
            if isinstance(tool, FunctionTool):
                tools.append({"type": "function", **_function(tool)})
            elif isinstance(tool, FileSearch):
                tools.append(
                    {"type": "file_search", "vector_store_ids": list(tool.vector_store_ids)}
                )
            else:
                container: dict[str, Any] = {"type": "auto"}
                if tool.file_ids:
                    container["file_ids"] = list(tool.file_ids)
                tools.append({"type": "code_interpreter", "container": container})
        fmt = responses_format(self.response_format)
        body: dict[str, Any] = {"model": self.model, "text": {"format": fmt}}
        if self.instructions is not None:
            body["instructions"] = self.instructions
        if tools:
            body["tools"] = tools
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body


def _function(tool: FunctionTool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": dict(tool.parameters),
        "strict": tool.strict,
    }


def _tool_to_dict(tool: Tool) -> dict[str, Any]:
    if isinstance(tool, FunctionTool):
        return {"type": "function", **_function(tool)}
    if isinstance(tool, FileSearch):
        return {"type": "file_search", "vector_store_ids": list(tool.vector_store_ids)}
    return {"type": "code_interpreter", "file_ids": list(tool.file_ids)}


def _tool_from_dict(data: Mapping[str, Any]) -> Tool:
    kind = data.get("type")
    if kind == "function":
        return FunctionTool(
            name=str(data.get("name", "")),
            description=str(data.get("description", "")),
            parameters=data.get("parameters") or {"type": "object", "properties": {}},
            strict=bool(data.get("strict", False)),
        )
    if kind == "file_search":
        return FileSearch(tuple(data.get("vector_store_ids") or ()))
    if kind == "code_interpreter":
        return CodeInterpreter(tuple(data.get("file_ids") or ()))
    msg = f"Unknown tool type {kind!r}; use 'function', 'file_search' or 'code_interpreter'."
    raise ConfigurationError(msg)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    msg = f"cannot write {type(value).__name__} to TOML"
    raise TypeError(msg)


def _toml(data: Mapping[str, Any]) -> str:
    """TOML for a spec dict: scalars first, then [metadata], [response_format], [[tools]]."""
    lines = []
    for key, value in data.items():
        if not isinstance(value, (Mapping, list)):
            if isinstance(value, str) and "\n" in value:
                escaped = value.replace("\\", "\\\\").replace('"', '\\"')
                lines.append(f'{key} = """\n{escaped}"""')
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    for key in ("metadata", "response_format"):
        if isinstance(data.get(key), Mapping):
            lines.append(f"\n[{key}]")
            lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data[key].items()]
    for tool in data.get("tools") or ():
        lines.append("\n[[tools]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in tool.items()]
    return "\n".join(lines) + "\n"
