"""Every public argument of the sessions, checked before anything is sent. Sans-I/O.

One table per entry point says how each argument is checked (:mod:`.._values.checks`); the
session's first line hands its arguments over. Bad values raise
:class:`~assistant_bridge.exceptions.InvalidArgumentError` (a ValueError), wrong types and
unknown keywords :class:`~assistant_bridge.exceptions.ArgumentTypeError` (a TypeError), both
naming the argument, so nothing malformed ever reaches the wire.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from assistant_bridge._runstate.table import RunStateMachine
from assistant_bridge._session.polling import PollPolicy
from assistant_bridge._session.retry import RetryPolicy
from assistant_bridge._values.checks import (
    check_callable,
    check_choice,
    check_count,
    check_id,
    check_instance,
    check_metadata,
    check_seconds,
    check_text,
    wrong_type,
)
from assistant_bridge._values.spec import AssistantSpec, JsonSchemaFormat, ResponseFormat
from assistant_bridge.exceptions import ArgumentTypeError, InvalidArgumentError

__all__ = [
    "ASK_CHECKS",
    "SESSION_CHECKS",
    "check_ask_options",
    "check_resume",
    "check_session_options",
]

Check = Callable[[Any, str], Any]
"""How one argument is checked: ``check(value, name)`` returns it or raises."""

THREAD_IDS = ("thread_", "conv_")
RUN_IDS = ("run_", "resp_")
MAX_TOOLS = 128
MAX_OUTPUT_TOKENS = 1_000_000
"""A bound no model's output reaches; larger asks are typos."""
"""The API takes at most 128 tools on an assistant or a run."""

# What every session calls on its transport (sync and async spell them alike).
_OPERATIONS = ("perform", "supports")
_MODEL = re.compile(r"\S{1,256}")


def _response_format(value: Any, name: str) -> ResponseFormat:
    """A reply format for one run: "text", "json_object" or a JsonSchemaFormat."""
    if isinstance(value, JsonSchemaFormat) or value in ("text", "json_object"):
        return value  # type: ignore[no-any-return]
    if not isinstance(value, str):
        raise wrong_type(name, "'text', 'json_object' or a JsonSchemaFormat", value)
    msg = f"{name} must be 'text', 'json_object' or a JsonSchemaFormat, got {value!r}."
    raise InvalidArgumentError(msg, argument=name)


def _optional(check: Check) -> Check:
    """``check``, letting None through (None means "the default")."""
    return lambda value, name: None if value is None else check(value, name)


def _instance(cls: type, expected: str) -> Check:
    return lambda value, name: check_instance(value, name, cls, expected)


def _parser(value: Any, name: str) -> Any:
    if not callable(getattr(value, "parse", None)):
        raise wrong_type(name, "a Parser (TextParser(), JsonParser(), SchemaParser(...))", value)
    return value


def _model(value: Any, name: str) -> str:
    text = check_text(value, name, max_chars=256)
    if not _MODEL.fullmatch(text):
        msg = f"{name} must be a model name without spaces, such as 'gpt-4o-mini', got {text!r}."
        raise InvalidArgumentError(msg, argument=name)
    return text


def _tools(value: Any, name: str) -> Any:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise wrong_type(name, 'a list of tool dicts like {"type": "file_search"}', value)
    if len(value) > MAX_TOOLS:
        msg = f"{name} holds {len(value)} tools, over the API's limit of {MAX_TOOLS}."
        raise InvalidArgumentError(msg, argument=name)
    for i, tool in enumerate(value):
        if not isinstance(tool, Mapping) or not isinstance(tool.get("type"), str):
            raise wrong_type(f"{name}[{i}]", 'a tool dict with a "type" str', tool)
    return value


SESSION_CHECKS: Mapping[str, Check] = {
    "assistant": _optional(_instance(AssistantSpec, "an AssistantSpec")),
    "thread_id": _optional(lambda v, n: check_id(v, n, THREAD_IDS)),
    "parser": _optional(_parser),
    "timeout": check_seconds,
    "poll_policy": _optional(_instance(PollPolicy, "a PollPolicy (AdaptivePolling(), ...)")),
    "state_machine": _optional(_instance(RunStateMachine, "a RunStateMachine")),
    "tool_handler": _optional(lambda v, n: check_callable(v, n, "a tool handler (ToolRegistry)")),
    "max_tool_rounds": lambda v, n: check_count(v, n, low=0, high=1000),
    "cancel_grace": lambda v, n: check_seconds(v, n, zero=True),
    "thread_metadata": lambda v, n: check_metadata(v, n, max_pairs=16),
    "wait": lambda v, n: check_choice(v, n, ("auto", "stream", "poll")),
    "stall_timeout": check_seconds,
    "retry": _optional(_instance(RetryPolicy, "a RetryPolicy")),
    "on_active_run": lambda v, n: check_choice(v, n, ("wait", "cancel", "raise")),
    "first_ask": lambda v, n: check_choice(v, n, ("fast", "safe")),
    "clock": check_callable,
}
"""How each of :class:`~assistant_bridge.SessionOptions` is checked."""

ASK_CHECKS: Mapping[str, Check] = {
    "timeout": _optional(check_seconds),
    "instructions": _optional(lambda v, n: check_text(v, n, empty=True)),
    "additional_instructions": _optional(lambda v, n: check_text(v, n, empty=True)),
    "model": _optional(_model),
    "tools": _optional(_tools),
    # Run metadata holds 15 pairs: the library uses one to mark the ask (see reliability).
    "metadata": lambda v, n: check_metadata(v, n, max_pairs=15),
    "wait": _optional(lambda v, n: check_choice(v, n, ("auto", "stream", "poll"))),
    "response_format": _optional(_response_format),
    "max_output_tokens": _optional(lambda v, n: check_count(v, n, low=1, high=MAX_OUTPUT_TOKENS)),
}
"""How each of :class:`~assistant_bridge.AskOptions` is checked."""


def _check_options(method: str, options: Mapping[str, Any], checks: Mapping[str, Check]) -> None:
    for name, value in options.items():
        check = checks.get(name)
        if check is None:
            import difflib  # only for a misspelt name: not on every first import

            close = difflib.get_close_matches(name, checks, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"{method}() got an unexpected keyword argument {name!r}{hint}"
            raise ArgumentTypeError(msg, argument=name)
        check(value, name)


def check_session_options(
    owner: str,
    transport: object,
    assistant_id: object,
    sleep: object,
    options: Mapping[str, Any],
) -> None:
    """Check what ``owner(transport, assistant_id, sleep=..., **options)`` was given."""
    missing = [name for name in _OPERATIONS if not callable(getattr(transport, name, None))]
    if missing:
        msg = (
            "transport must be a Transport (OpenAITransport(...), ResponsesTransport(...), "
            f"FakeTransport(...)), got {type(transport).__name__}, which has no "
            f"{', '.join(missing)}."
        )
        raise ArgumentTypeError(msg, argument="transport")
    if assistant_id is not None:
        check_id(assistant_id, "assistant_id", ("asst_",))
    check_callable(sleep, "sleep")
    _check_options(owner, options, SESSION_CHECKS)


def check_ask_options(
    method: str, prompt: object, parser: object, options: Mapping[str, Any]
) -> None:
    """Check an ask's (or a stream's) prompt, parser and options; ``method`` names it."""
    check_text(prompt, "prompt")
    if parser is not None:
        _parser(parser, "parser")
    _check_options(method, options, ASK_CHECKS)


def check_resume(run_id: object, parser: object, timeout: object) -> None:
    """Check what ``resume`` was given."""
    check_id(run_id, "run_id", RUN_IDS)
    if parser is not None:
        _parser(parser, "parser")
    if timeout is not None:
        check_seconds(timeout, "timeout")
