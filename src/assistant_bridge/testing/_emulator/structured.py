"""Structured outputs: a value that a JSON schema accepts, built from the schema itself.

The default behaviour answers a ``json_schema`` response format with such a value, filled from
its own verdict where the property names match, so ``responses.parse(text_format=Model)`` and
an Agents SDK ``output_type`` get output that validates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["json_format", "value_from_schema"]


def json_format(response_format: Any) -> dict[str, Any] | None:
    """A run's ``response_format`` or a response's ``text.format`` as
    ``{"type": "json_schema", "schema": ...}`` or ``{"type": "json_object"}``; None for text."""
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        inner = response_format.get("json_schema") or response_format
        return {"type": "json_schema", "schema": dict(inner.get("schema") or {})}
    return None


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-0000-0000-000000000000",
}


def value_from_schema(
    schema: Mapping[str, Any], hints: Any = None, *, root: Mapping[str, Any] | None = None
) -> Any:
    """A value ``schema`` accepts, taking ``hints`` (a value of the same shape) where they fit.

    Covers what structured outputs allow: objects, arrays, strings (with ``format``), numbers,
    booleans, null, ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf`` and local ``$ref``s.
    """
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if part else target
        return value_from_schema(target, hints, root=root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return hints if hints in schema["enum"] else schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return value_from_schema(options[0], hints, root=root)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return value_from_schema(merged, hints, root=root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _BUILDERS.get(str(kind), _string)(schema, hints, root)


def _object(schema: Mapping[str, Any], hints: Any, root: Mapping[str, Any]) -> Any:
    given = {str(k).lower(): v for k, v in hints.items()} if isinstance(hints, Mapping) else {}
    return {
        name: value_from_schema(sub, given.get(name.lower()) or _named(name), root=root)
        for name, sub in (schema.get("properties") or {}).items()
    }


class _named(str):
    """A property name offered as a hint: strings without a better hint say what they are."""


def _array(schema: Mapping[str, Any], hints: Any, root: Mapping[str, Any]) -> Any:
    items = schema.get("items") or {}
    count = max(1, int(schema.get("minItems", 1)))
    if "maxItems" in schema:
        count = min(count, int(schema["maxItems"]))
    given = list(hints) if isinstance(hints, list) and hints else [None]
    return [value_from_schema(items, given[n % len(given)], root=root) for n in range(count)]


def _string(schema: Mapping[str, Any], hints: Any, root: Mapping[str, Any]) -> Any:
    fmt = schema.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    if isinstance(hints, _named):
        text = f"example {hints}"
    elif isinstance(hints, str):
        text = hints
    else:
        text = "example"
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    text = text.ljust(low, "x")
    return text[: int(high)] if high is not None else text


def _number(schema: Mapping[str, Any], hints: Any, root: Mapping[str, Any]) -> Any:
    integer = schema.get("type") == "integer"
    if isinstance(hints, (int, float)) and not isinstance(hints, bool):
        value: float = hints
    else:
        value = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        if "exclusiveMinimum" in schema and "minimum" not in schema:
            value += 1
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    return int(value) if integer else float(value)


def _boolean(schema: Mapping[str, Any], hints: Any, root: Mapping[str, Any]) -> Any:
    return hints if isinstance(hints, bool) else False


def _null(schema: Mapping[str, Any], hints: Any, root: Mapping[str, Any]) -> Any:
    return None


_BUILDERS: dict[str, Callable[[Mapping[str, Any], Any, Mapping[str, Any]], Any]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": _boolean,
    "null": _null,
}
