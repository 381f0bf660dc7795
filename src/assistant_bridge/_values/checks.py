"""The API's limits on single values, checked before anything is sent. Sans-I/O.

Each check returns the value it accepts, or raises an error that is both ours and the
matching built-in (:class:`~assistant_bridge.exceptions.InvalidArgumentError`, a ValueError;
:class:`~assistant_bridge.exceptions.ArgumentTypeError`, a TypeError) and names the argument.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from assistant_bridge.exceptions import ArgumentTypeError, InvalidArgumentError

if TYPE_CHECKING:
    from attrs import Attribute

__all__ = [
    "MAX_SECONDS",
    "MAX_TEXT_CHARS",
    "check_callable",
    "check_choice",
    "check_count",
    "check_id",
    "check_instance",
    "check_metadata",
    "check_number",
    "check_seconds",
    "check_text",
    "factor_field",
    "seconds_field",
    "wrong_type",
]

MAX_SECONDS = 1_000_000.0
"""About 11.6 days: a longer duration is a mistake (a unit slip, ``10**400``), not a wish."""

MAX_TEXT_CHARS = 256_000
"""The Assistants API refuses message content and instructions longer than this."""

# Ids the services hand out: a prefix and letters, digits, '_' or '-' (``thread_…``, ``conv_…``,
# ``resp_…``, ``file-…``). Matched whole, so no newline, '/', '.', '..' or space gets through.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}")
_KINDS = {
    "asst_": "an assistant",
    "thread_": "a thread",
    "conv_": "a conversation",
    "run_": "a run",
    "resp_": "a response",
    "msg_": "a message",
    "step_": "a run step",
    "call_": "a tool call",
    "vs_": "a vector store",
    "file-": "a file",
}


def _show(value: object) -> str:
    """A short repr for messages (an absurd value can be huge)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} characters)"


def wrong_type(argument: str, expected: str, value: object) -> ArgumentTypeError:
    """The error for ``argument`` holding a ``value`` that is not ``expected``."""
    msg = f"{argument} must be {expected}, got {type(value).__name__} {_show(value)}."
    return ArgumentTypeError(msg, argument=argument)


def check_instance(value: Any, argument: str, types: type | tuple[type, ...], expected: str) -> Any:
    """``value`` when it is an instance of ``types`` (bool is never a number here)."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise wrong_type(argument, expected, value)
    if not isinstance(value, types):
        raise wrong_type(argument, expected, value)
    return value


def check_callable(value: Any, argument: str, expected: str = "a callable") -> Any:
    """``value`` when it can be called."""
    if not callable(value):
        raise wrong_type(argument, expected, value)
    return value


def check_choice(value: object, argument: str, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
        msg = f"{argument} must be {listed}, got {_show(value)}."
        if not isinstance(value, str):
            raise ArgumentTypeError(msg, argument=argument)
        raise InvalidArgumentError(msg, argument=argument)
    return value


def check_number(
    value: object, argument: str, *, low: float, high: float, low_open: bool = False, unit: str = ""
) -> float:
    """``value`` as a float when it is a finite int or float in [low, high] ((low, high] with
    ``low_open``); huge ints are compared exactly, never converted blindly."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wrong_type(argument, f"a number{unit}", value)
    inside = (value > low if low_open else value >= low) and value <= high
    if not inside or (isinstance(value, float) and not math.isfinite(value)):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        msg = (
            f"{argument} must be a finite number{unit} {bound} and <= {high:g}, got {_show(value)}."
        )
        raise InvalidArgumentError(msg, argument=argument)
    return float(value)


def check_seconds(value: object, argument: str, *, zero: bool = False) -> float:
    """A duration in seconds: finite, > 0 (>= 0 with ``zero``), at most :data:`MAX_SECONDS`."""
    return check_number(value, argument, low=0.0, high=MAX_SECONDS, low_open=not zero,
                        unit=" of seconds")  # fmt: skip


def check_count(value: object, argument: str, *, low: int, high: int) -> int:
    """A whole number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(argument, "an int", value)
    if not low <= value <= high:
        msg = f"{argument} must be an int from {low} to {high}, got {_show(value)}."
        raise InvalidArgumentError(msg, argument=argument)
    return value


def check_text(
    value: object, argument: str, *, empty: bool = False, max_chars: int = MAX_TEXT_CHARS
) -> str:
    """A str the API takes: UTF-8 encodable (no lone surrogates), not blank unless ``empty``,
    at most ``max_chars`` characters."""
    if not isinstance(value, str):
        raise wrong_type(argument, "a str", value)
    if not empty and not value.strip():
        msg = f"{argument} is empty or blank; give it some text."
        raise InvalidArgumentError(msg, argument=argument)
    if len(value) > max_chars:
        msg = f"{argument} is {len(value)} characters, over the API's limit of {max_chars}."
        raise InvalidArgumentError(msg, argument=argument)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = (
            f"{argument} cannot be sent: character {exc.start} ({value[exc.start]!r}) is a lone "
            "surrogate, which UTF-8 cannot encode (decode the source text with "
            "errors='replace')."
        )
        raise InvalidArgumentError(msg, argument=argument) from None
    return value


def check_id(value: object, argument: str, prefixes: tuple[str, ...]) -> str:
    """An id matched whole: letters, digits, '_' and '-' (no newline, '/', '.', space), and
    not another kind's (a run id given as ``thread_id``)."""
    if not isinstance(value, str):
        raise wrong_type(argument, f"an id str like '{prefixes[0]}abc123'", value)
    if not _ID.fullmatch(value):
        msg = (
            f"{argument} must be an id of 1 to 256 letters, digits, '_' or '-' "
            f"(like '{prefixes[0]}abc123'), got {_show(value)}."
        )
        raise InvalidArgumentError(msg, argument=argument)
    for prefix, kind in _KINDS.items():
        if value.startswith(prefix) and prefix not in prefixes:
            msg = f"{argument} {value!r} is {kind} id; it takes ids like '{prefixes[0]}abc123'."
            raise InvalidArgumentError(msg, argument=argument)
    return value


def check_metadata(
    value: object, argument: str = "metadata", *, max_pairs: int = 16
) -> dict[str, str] | None:
    """Metadata the API takes: at most ``max_pairs`` str pairs, keys <= 64 and values <= 512
    characters, all UTF-8 encodable."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise wrong_type(argument, "a mapping of str to str", value)
    problems = []
    if len(value) > max_pairs:
        problems.append(f"{len(value)} pairs (at most {max_pairs})")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            problems.append(f"{_show(key)}: keys and values must be str")
        elif len(key) > 64:
            problems.append(f"key {key[:20]!r}… is {len(key)} characters (at most 64)")
        elif len(item) > 512:
            problems.append(f"value of {key!r} is {len(item)} characters (at most 512)")
        else:
            _encodable(key, item, problems)
    if problems:
        msg = f"{argument} is beyond the API's limits: {'; '.join(problems)}."
        raise InvalidArgumentError(msg, argument=argument)
    return dict(value)


def _encodable(key: str, item: str, problems: list[str]) -> None:
    for text in (key, item):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"{key!r}: a lone surrogate, which UTF-8 cannot encode")
            return


def seconds_field(_instance: object, attribute: Attribute[Any], value: Any) -> None:
    """An attrs validator: a duration in seconds, >= 0 (see :func:`check_seconds`)."""
    check_seconds(value, attribute.name, zero=True)


def factor_field(_instance: object, attribute: Attribute[Any], value: Any) -> None:
    """An attrs validator: a growth factor between waits, from 0 to 100."""
    check_number(value, attribute.name, low=0.0, high=100.0)
