"""Python functions as assistant tools: schemas from type hints, checked calls, one submission.

Register plain functions in a :class:`ToolRegistry`; their type hints and docstring become the
function tool's JSON Schema. When a run asks for tool calls, the registry checks each call's
arguments against that schema, runs the functions (concurrently when several are asked for),
and returns one output per call. Only registered functions can ever run. A call to an unknown
tool, with bad arguments, or that raises or times out, becomes an error output the model can
read; with ``on_error="raise"`` it raises :class:`~assistant_bridge.exceptions.ToolError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, overload

import attrs

from assistant_bridge._parsing.jsonschema import validate
from assistant_bridge._values.checks import check_count, check_seconds
from assistant_bridge._values.models import ToolCall, ToolOutput
from assistant_bridge._values.spec import FunctionTool
from assistant_bridge._values.value import Value
from assistant_bridge.exceptions import ConfigurationError, ToolError

__all__ = ["RegisteredTool", "ToolRegistry"]

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _schema_for(hint: Any, where: str) -> dict[str, Any]:
    """The JSON Schema of one parameter type."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return {}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = _schema_for(options[0], where) if len(options) == 1 else {
            "anyOf": [_schema_for(a, where) for a in options]}  # fmt: skip
        return {"anyOf": [inner, {"type": "null"}]} if type(None) in args else inner
    if origin is Literal:
        return {"enum": list(args)}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if hint in simple:
        return {"type": simple[hint]}
    if origin in (list, tuple, set, frozenset, Sequence) or hint in (list, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": _schema_for(item, where)}
    if origin in (dict, Mapping) or hint is dict:
        return {"type": "object"}
    msg = (
        f"{where}: type {hint!r} has no JSON Schema here; use str, int, float, bool, "
        "Literal, an Enum, list[...] or dict."
    )
    raise ConfigurationError(msg)


def _docs(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The summary of a docstring, and per-parameter text from an ``Args:`` section."""
    doc = inspect.getdoc(fn) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    params: dict[str, str] = {}
    section = re.search(r"^(?:Args|Arguments|Parameters):\s*\n((?:[ \t]+.*\n?)+)", doc, re.M)
    if section:
        for line in section.group(1).splitlines():
            found = re.match(r"\s+(\w+)(?:\s*\(.*?\))?\s*:\s*(.+)", line)
            if found:
                params[found.group(1)] = found.group(2).strip()
    return summary, params


@attrs.frozen(repr=False)
class RegisteredTool(Value):
    """A function the assistant may call, with its schema."""

    name: str
    function: Callable[..., Any]
    description: str
    parameters: Mapping[str, Any]
    timeout: float | None = None

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> RegisteredTool:
        """Read name, description and parameter schema off ``fn``."""
        tool_name = name or fn.__name__
        if timeout is not None:
            check_seconds(timeout, "timeout")
        if not _NAME.match(tool_name):
            msg = f"Tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-'."
            raise ConfigurationError(msg)
        summary, notes = _docs(fn)
        hints = typing.get_type_hints(fn)
        properties: dict[str, Any] = {}
        required = []
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                msg = f"Tool {tool_name}: *args and **kwargs cannot be described to the model."
                raise ConfigurationError(msg)
            schema = _schema_for(hints.get(param.name, Any), f"tool {tool_name}, {param.name}")
            if param.name in notes:
                schema["description"] = notes[param.name]
            properties[param.name] = schema
            if param.default is inspect.Parameter.empty:
                required.append(param.name)
        parameters = {"type": "object", "properties": properties, "required": required,
                      "additionalProperties": False}  # fmt: skip
        return cls(tool_name, fn, description or summary, parameters, timeout)

    def as_function_tool(self) -> FunctionTool:
        """The tool's definition for an AssistantSpec."""
        return FunctionTool(self.name, self.description, self.parameters)

    def check(self, arguments: str) -> dict[str, Any]:
        """The call's arguments, parsed and checked; ValueError says what is wrong."""
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError as exc:
            msg = f"arguments are not valid JSON ({exc})"
            raise ValueError(msg) from None
        if not isinstance(parsed, dict):
            msg = "arguments must be a JSON object"
            raise ValueError(msg)
        problems = validate(parsed, self.parameters)
        if problems:
            raise ValueError("; ".join(f"{path}: {problem}" for path, problem in problems))
        return parsed


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


class ToolRegistry:
    """Functions an assistant may call; a tool handler for :class:`ThreadSession`.

    ``tools = ToolRegistry()`` then ``@tools.register`` on each function, and pass
    ``tool_handler=tools`` to the session (sync or async) and ``tools.function_tools()`` to the
    AssistantSpec. ``timeout`` bounds each call (seconds); ``on_error`` says whether a failing
    call becomes an error output ("report", the default) or raises ToolError ("raise").
    """

    def __init__(
        self,
        *functions: Callable[..., Any],
        timeout: float | None = 60.0,
        on_error: Literal["report", "raise"] = "report",
        max_workers: int = 8,
    ) -> None:
        if on_error not in ("report", "raise"):
            msg = f"on_error must be 'report' or 'raise', got {on_error!r}."
            raise ConfigurationError(msg)
        if timeout is not None:
            check_seconds(timeout, "timeout")
        check_count(max_workers, "max_workers", low=1, high=1024)
        self._tools: dict[str, RegisteredTool] = {}
        self._timeout = timeout
        self._on_error = on_error
        self._max_workers = max_workers
        for fn in functions:
            self.register(fn)

    def __repr__(self) -> str:
        return f"<ToolRegistry(tools={sorted(self._tools)})>"

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    @overload
    def register(self, fn: F) -> F: ...

    @overload
    def register(
        self, *, name: str | None = None, description: str | None = None,
        timeout: float | None = None,
    ) -> Callable[[F], F]: ...  # fmt: skip

    def register(
        self,
        fn: F | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> F | Callable[[F], F]:
        """Register ``fn`` (also as a decorator, with or without options)."""

        def add(function: F) -> F:
            tool = RegisteredTool.from_function(
                function, name=name, description=description, timeout=timeout
            )
            if tool.name in self._tools:
                msg = f"A tool named {tool.name!r} is already registered."
                raise ConfigurationError(msg)
            self._tools[tool.name] = tool
            return function

        return add(fn) if fn is not None else add

    def function_tools(self) -> tuple[FunctionTool, ...]:
        """The registered tools as AssistantSpec tools."""
        return tuple(t.as_function_tool() for t in self._tools.values())

    # -- running calls ---------------------------------------------------------------------
    def _prepare(self, call: ToolCall) -> tuple[RegisteredTool, dict[str, Any]] | str:
        """The tool and its checked arguments, or the error output for the model."""
        tool = self._tools.get(call.name)
        if tool is None:
            return self._fail(call, f"unknown tool {call.name!r}; available: {sorted(self._tools)}")
        try:
            return tool, tool.check(call.arguments)
        except ValueError as exc:
            return self._fail(call, f"invalid arguments for {call.name}: {exc}")

    def _fail(self, call: ToolCall, message: str) -> str:
        if self._on_error == "raise":
            raise ToolError(
                f"Tool call {call.id} failed: {message}.", tool=call.name, call_id=call.id
            )
        return _error(message)

    def _limit(self, tool: RegisteredTool, within: float | None = None) -> float | None:
        """The tool's own timeout, or the registry's, but never more than ``within``."""
        limit = tool.timeout if tool.timeout is not None else self._timeout
        if within is None:
            return limit
        return within if limit is None else min(limit, within)

    def __call__(
        self, calls: Sequence[ToolCall], *, within: float | None = None
    ) -> list[ToolOutput]:
        """Run the calls (concurrently in threads) and return one output per call; none may
        take longer than its timeout or ``within`` seconds (what is left of the ask)."""
        prepared = [self._prepare(c) for c in calls]
        outputs: list[str | None] = [p if isinstance(p, str) else None for p in prepared]
        jobs = [(i, p) for i, p in enumerate(prepared) if not isinstance(p, str)]
        if jobs:
            pool = concurrent.futures.ThreadPoolExecutor(min(self._max_workers, len(jobs)))
            try:
                futures = {i: pool.submit(self._invoke, tool, args) for i, (tool, args) in jobs}
                for i, (tool, _args) in jobs:
                    outputs[i] = self._collect(calls[i], tool, futures[i], within)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        return [ToolOutput(c.id, str(o)) for c, o in zip(calls, outputs, strict=True)]

    @staticmethod
    def _invoke(tool: RegisteredTool, args: dict[str, Any]) -> Any:
        result = tool.function(**args)
        if inspect.isawaitable(result):
            return asyncio.run(_awaited(result))
        return result

    def _collect(
        self,
        call: ToolCall,
        tool: RegisteredTool,
        future: concurrent.futures.Future[Any],
        within: float | None,
    ) -> str:
        limit = self._limit(tool, within)
        try:
            return _render(future.result(timeout=limit))
        except concurrent.futures.TimeoutError:
            return self._fail(call, f"{tool.name} did not finish within {limit:g}s")
        except Exception as exc:
            return self._fail(call, f"{tool.name} raised {type(exc).__name__}: {exc}")

    async def acall(
        self, calls: Sequence[ToolCall], *, within: float | None = None
    ) -> list[ToolOutput]:
        """The async twin: coroutine functions are awaited, plain ones run in threads."""
        prepared = [self._prepare(c) for c in calls]

        async def run(call: ToolCall, item: tuple[RegisteredTool, dict[str, Any]] | str) -> str:
            if isinstance(item, str):
                return item
            tool, args = item
            if inspect.iscoroutinefunction(tool.function):
                job: Awaitable[Any] = tool.function(**args)
            else:
                job = asyncio.to_thread(tool.function, **args)
            limit = self._limit(tool, within)
            try:
                return _render(await asyncio.wait_for(job, limit))
            except TimeoutError:
                return self._fail(call, f"{tool.name} did not finish within {limit:g}s")
            except Exception as exc:
                return self._fail(call, f"{tool.name} raised {type(exc).__name__}: {exc}")

        results = await asyncio.gather(*(run(c, p) for c, p in zip(calls, prepared, strict=True)))
        return [ToolOutput(c.id, o) for c, o in zip(calls, results, strict=True)]


async def _awaited(value: Awaitable[Any]) -> Any:
    return await value
