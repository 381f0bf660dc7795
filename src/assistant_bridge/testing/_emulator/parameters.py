"""Request parameters that change what a run or a response does, applied to any behaviour.

``tool_choice`` forces or forbids function calls, ``parallel_tool_calls=false`` asks for one
call at a time, token limits end the answer ``incomplete`` with the service's reason, and a
forced call's arguments are built from the function's parameter schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .behaviours import Outcome
from .structured import value_from_schema

__all__ = ["Parameters", "apply", "tokens"]


def tokens(text: str) -> int:
    """The emulator's token count: about four characters a token, at least one."""
    return max(1, len(text) // 4)


@attrs.frozen
class Parameters:
    """What a request asked for, on either wire."""

    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    functions: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    max_output_tokens: int | None = None
    output_reason: str = "max_completion_tokens"
    max_prompt_tokens: int | None = None
    prompt_tokens: int = 0


def apply(outcome: Outcome, params: Parameters) -> Outcome:
    """``outcome`` as the parameters change it (tool choice on the first turn only)."""
    outcome = _choose_tools(outcome, params)
    return _limited(outcome, params)


def _forced(params: Parameters) -> str | None:
    choice = params.tool_choice
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        return str(name) if name else None
    if choice == "required" and params.functions:
        return next(iter(params.functions))
    return None


def _choose_tools(outcome: Outcome, params: Parameters) -> Outcome:
    forced = _forced(params)
    if params.tool_choice == "none" and outcome.kind == "tools":
        return Outcome("complete", text="(no tool was called: tool_choice is 'none')")
    if forced is not None and outcome.kind != "tools" and outcome.kind != "forever":
        schema = params.functions.get(forced) or {}
        arguments = json.dumps(value_from_schema(schema)) if schema else "{}"
        original = outcome
        return Outcome(
            "tools",
            tool_calls=((forced, arguments),),
            then=lambda _outputs: original,
            delay=outcome.delay,
        )
    if outcome.kind == "tools" and not params.parallel_tool_calls and len(outcome.tool_calls) > 1:
        return _one_at_a_time(outcome, outcome.tool_calls, [])
    return outcome


def _one_at_a_time(outcome: Outcome, calls: Sequence[tuple[str, str]], done: list[str]) -> Outcome:
    """Ask for ``calls`` one by one, then hand every output to the original ``then``."""
    then = outcome.then
    assert then is not None

    def after(outputs: Sequence[str]) -> Outcome:
        collected = [*done, *outputs]
        if len(calls) > 1:
            return _one_at_a_time(outcome, calls[1:], collected)
        return then(collected)

    return attrs.evolve(outcome, tool_calls=(calls[0],), then=after)


def _limited(outcome: Outcome, params: Parameters) -> Outcome:
    if outcome.kind == "tools" and outcome.then is not None:
        then = outcome.then
        return attrs.evolve(outcome, then=_then_limited(then, params))
    if outcome.kind not in ("complete", "incomplete"):
        return outcome
    if params.max_prompt_tokens is not None and params.prompt_tokens > params.max_prompt_tokens:
        return attrs.evolve(outcome, kind="incomplete", reason="max_prompt_tokens")
    limit = params.max_output_tokens
    if limit is not None and tokens(outcome.text) > limit:
        cut = outcome.text[: limit * 4]
        notes = tuple(a for a in outcome.annotations if int(a.get("end_index", 0)) <= len(cut))
        return attrs.evolve(
            outcome, kind="incomplete", text=cut, reason=params.output_reason, annotations=notes
        )
    return outcome


def _then_limited(
    then: Callable[[Sequence[str]], Outcome], params: Parameters
) -> Callable[[Sequence[str]], Outcome]:
    def limited(outputs: Sequence[str]) -> Outcome:
        return _limited(then(outputs), params)

    return limited
