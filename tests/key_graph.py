"""Where a key hides in an error: a walk of everything reachable from it.

From an error it follows ``__cause__``, ``__context__``, ``args`` and every attribute (an
object's ``__dict__`` and slots), into mappings, sequences, requests, responses, headers and
bodies, and reports every path at which a key shows as text or bytes. Tracebacks and frames
are not followed: they hold the caller's own variables (a transport, hence its key), not
something the error carries.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from typing import Any

_SKIP = (
    types.TracebackType,
    types.FrameType,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    type,
)


def _children(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, BaseException):
        yield ".args", value.args
        yield ".__cause__", value.__cause__
        yield ".__context__", value.__context__
        yield ".__notes__", getattr(value, "__notes__", None)
    if isinstance(value, Mapping):
        for key, item in list(value.items()):
            yield f"[{key!r}]", key
            yield f"[{key!r}]", item
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            yield f"[{i}]", item
        return
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, Mapping):
        for name, item in list(attributes.items()):
            yield f".{name}", item
    for cls in type(value).__mro__:
        for name in getattr(cls, "__slots__", ()) or ():
            if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                try:
                    yield f".{name}", getattr(value, name)
                except Exception:  # an unset slot
                    continue


def key_paths(root: object, keys: tuple[str, ...], limit: int = 100_000) -> list[str]:
    """Every path from ``root`` at which one of ``keys`` (as text or bytes) shows."""
    needles = [k for k in keys if k]
    raw = [k.encode() for k in needles]
    found: list[str] = []
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("error", root)]
    while stack and len(seen) < limit:
        path, value = stack.pop()
        if value is None or isinstance(value, (bool, int, float, complex, *_SKIP)):
            continue
        if isinstance(value, str):
            if any(k in value for k in needles):
                found.append(path)
            continue
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            if any(k in data for k in raw):
                found.append(path)
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        children = list(_children(value))
        if not children and not isinstance(value, (Mapping, list, tuple, set, frozenset)):
            try:
                text = repr(value)
            except Exception:  # a repr that fails shows nothing
                continue
            if any(k in text for k in needles):
                found.append(f"repr({path})")
            continue
        stack.extend((path + step, child) for step, child in children)
    return found
