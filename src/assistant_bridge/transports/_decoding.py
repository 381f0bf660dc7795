"""What an answer must be before an operation uses it, checked where it is decoded.

A server, proxy or gateway that answers 200 with something else than the API's object (a
thread where a run was asked for, a list, a string, a half-written object) must not be taken
for the answer: the wires check the object's type, and a run poll checks the run is the one of
that thread. Whatever a decoder trips over becomes :class:`MalformedResponseError`, a typed
error, never a bare ``KeyError`` or ``AttributeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from assistant_bridge._redact import raise_detached, redact
from assistant_bridge._values.models import Run
from assistant_bridge.exceptions import AssistantBridgeError, MalformedResponseError

__all__ = ["decoded", "json_object", "same_run"]

A = TypeVar("A")
T = TypeVar("T")


def _shape(value: object) -> str:
    if isinstance(value, Mapping):
        kind = value.get("object")
        return f"a {kind!r} object" if isinstance(kind, str) else "an object without a type"
    return f"a JSON {type(value).__name__}"


def json_object(value: Any, *kinds: str) -> Mapping[str, Any]:
    """``value`` as a JSON object whose ``object`` field is one of ``kinds`` (an object that
    names no type is taken as it is: compatible servers often leave the field out)."""
    if not isinstance(value, Mapping):
        msg = f"The server answered {_shape(value)} where a {' or '.join(kinds)} was expected."
        raise MalformedResponseError(redact(msg))
    kind = value.get("object")
    if kind is not None and kind not in kinds:
        named = f" ({str(value.get('id'))[:64]})" if value.get("id") is not None else ""
        msg = (
            f"The server answered {_shape(value)}{named} where a {' or '.join(kinds)} was "
            "expected; a proxy or a redirect may have answered instead of the API."
        )
        raise MalformedResponseError(redact(msg))
    return value


def same_run(run: Run, thread_id: str, run_id: str) -> Run:
    """``run``, when it is run ``run_id`` of thread ``thread_id`` (a thread the server leaves
    unnamed is taken as the one asked for)."""
    if run.id != run_id or (run.thread_id and run.thread_id != thread_id):
        msg = (
            f"Asked for run {run_id} of thread {thread_id}, the server answered with run "
            f"{run.id[:64]!r} of thread {run.thread_id[:64]!r}."
        )
        raise MalformedResponseError(redact(msg))
    return run


def decoded(then: Callable[[A], T], answer: A) -> T:
    """``then(answer)``, with whatever the decoding trips over (a missing field, a list where
    an object belongs) raised as :class:`MalformedResponseError`."""
    try:
        return then(answer)
    except AssistantBridgeError:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        error = MalformedResponseError(
            f"The server's answer is not the object the API sends ({type(exc).__name__}: "
            f"{redact(str(exc))[:120]}); a proxy or gateway may have answered instead."
        )
        raise_detached(error)
