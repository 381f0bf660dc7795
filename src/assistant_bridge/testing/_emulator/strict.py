"""The service's rules for a ``strict`` JSON schema (a ``json_schema`` format or a strict
function tool): every object names ``additionalProperties: false`` and lists every property
in ``required``. A schema breaking them answers 400 before anything runs, as the service's
structured outputs do; these are rules of the request tables in :mod:`.validation`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .errors import ApiError

__all__ = ["strict_format", "strict_function"]

_Context = tuple[str, ...]


def _objects(schema: Any, context: _Context) -> Iterator[tuple[Mapping[str, Any], _Context]]:
    """Every object schema inside ``schema``, with the path the service's message names."""
    if not isinstance(schema, Mapping):
        return
    if schema.get("type") == "object" or "properties" in schema:
        yield schema, context
    for name, sub in (schema.get("properties") or {}).items():
        yield from _objects(sub, (*context, "properties", str(name)))
    if "items" in schema:
        yield from _objects(schema["items"], (*context, "items"))
    for key in ("anyOf", "allOf"):
        for n, sub in enumerate(schema.get(key) or ()):
            yield from _objects(sub, (*context, key, str(n)))
    for key in ("$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            yield from _objects(sub, (*context, key, str(name)))


def _broken(schema: Any) -> tuple[_Context, str] | None:
    """The first rule ``schema`` breaks: (context, the service's words), or None."""
    for node, context in _objects(schema, ()):
        if node.get("additionalProperties") is not False:
            return context, "'additionalProperties' is required to be supplied and to be false."
        properties = list(node.get("properties") or {})
        required = node.get("required")
        missing = [p for p in properties if not isinstance(required, list) or p not in required]
        if missing:
            return context, (
                "'required' is required to be supplied and to be an array including every "
                f"key in properties. Missing '{missing[0]}'."
            )
    return None


def _refuse(kind: str, name: object, schema: Any, param: str, code: str) -> None:
    broken = _broken(schema)
    if broken is not None:
        context, words = broken
        # The words are the service's (its structured-outputs answers); the ``code`` values are
        # what its Responses API answers, and not confirmed by a recording for the Assistants
        # routes, which may differ in ``param`` and ``code``.
        raise ApiError(
            400,
            f"Invalid schema for {kind} '{name}': In context={context!r}, {words}",
            param=param,
            code=code,
        )


def strict_format(value: Mapping[str, Any], param: str) -> None:
    """Rule of a ``json_schema`` format object (``name``, ``schema``, ``strict``)."""
    if value.get("strict") is True:
        where = f"{param}.schema" if param else "schema"
        _refuse(
            "response_format", value.get("name"), value.get("schema"), where, "invalid_json_schema"
        )


def strict_function(value: Mapping[str, Any], param: str) -> None:
    """Rule of a function definition (``name``, ``parameters``, ``strict``)."""
    if value.get("strict") is True:
        where = f"{param}.parameters" if param else "parameters"
        _refuse(
            "function",
            value.get("name"),
            value.get("parameters") or {"type": "object", "properties": {}},
            where,
            "invalid_function_parameters",
        )
