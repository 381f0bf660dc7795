"""A small JSON Schema validator: the subset structured outputs use, with no dependency.

Supported: type, enum, const, properties, required, additionalProperties, items,
prefixItems, min/maxItems, min/maxLength, pattern, minimum, maximum, exclusiveMinimum,
exclusiveMaximum, anyOf, oneOf, allOf, $ref into #/$defs or #/definitions. Keywords that only
describe (title, description, default, examples, $schema, $id, format) are ignored. Any other
keyword is refused when the parser is built, so a schema is never half-checked in silence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assistant_bridge.exceptions import ConfigurationError

__all__ = ["check_schema", "validate"]

_VALIDATING = {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
}
_DESCRIPTIVE = {
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "format",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "strict",
    "name",
}

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def check_schema(schema: Mapping[str, Any], path: str = "#") -> None:
    """Refuse a schema that uses keywords this validator cannot check."""
    if not isinstance(schema, Mapping):
        msg = f"JSON Schema at {path} must be an object, got {type(schema).__name__}."
        raise ConfigurationError(msg)
    unknown = set(schema) - _VALIDATING - _DESCRIPTIVE
    if unknown:
        msg = (
            f"JSON Schema at {path} uses {sorted(unknown)}, which SchemaParser cannot check; "
            "remove them, or validate with a pydantic model instead."
        )
        raise ConfigurationError(msg)
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            check_schema(sub, f"{path}/{key}/{name}")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key) or ()):
            check_schema(sub, f"{path}/{key}/{i}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            check_schema(schema[key], f"{path}/{key}")


def _type_ok(value: object, name: str) -> bool:
    if name in {"integer", "number"} and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, ()))


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        msg = f"Only local $ref ('#/$defs/...') is supported, got {ref!r}."
        raise ConfigurationError(msg)
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        msg = f"$ref {ref!r} points to nothing in the schema."
        raise ConfigurationError(msg)
    return node


def validate(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, path: str = "$"
) -> list[tuple[str, str]]:
    """Every (path, problem) where ``value`` breaks ``schema``; empty when it conforms."""
    root = schema if root is None else root
    if "$ref" in schema:
        return validate(value, _resolve(schema["$ref"], root), root, path)
    errors: list[tuple[str, str]] = []
    kind = schema.get("type")
    if kind is not None:
        names = [kind] if isinstance(kind, str) else list(kind)
        if not any(_type_ok(value, n) for n in names):
            got = "null" if value is None else type(value).__name__
            return [(path, f"expected {' or '.join(names)}, got {got}")]
    if "enum" in schema and value not in schema["enum"]:
        errors.append((path, f"{value!r} is not one of {schema['enum']!r}"))
    if "const" in schema and value != schema["const"]:
        errors.append((path, f"expected {schema['const']!r}, got {value!r}"))
    if isinstance(value, str):
        errors += _check_string(value, schema, path)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        errors += _check_number(value, schema, path)
    if isinstance(value, dict):
        errors += _check_object(value, schema, root, path)
    if isinstance(value, list):
        errors += _check_array(value, schema, root, path)
    for sub in schema.get("allOf") or ():
        errors += validate(value, sub, root, path)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options:
            matches = sum(1 for sub in options if not validate(value, sub, root, path))
            if matches == 0 or (key == "oneOf" and matches > 1):
                errors.append((path, f"matches {matches} of the {key} alternatives"))
    return errors


def _check_string(value: str, schema: Mapping[str, Any], path: str) -> list[tuple[str, str]]:
    errors = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append((path, f"shorter than {schema['minLength']} characters"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append((path, f"longer than {schema['maxLength']} characters"))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append((path, f"does not match pattern {schema['pattern']!r}"))
    return errors


def _check_number(value: float, schema: Mapping[str, Any], path: str) -> list[tuple[str, str]]:
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append((path, f"{value} is less than {schema['minimum']}"))
    if "maximum" in schema and value > schema["maximum"]:
        errors.append((path, f"{value} is greater than {schema['maximum']}"))
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        errors.append((path, f"{value} is not greater than {schema['exclusiveMinimum']}"))
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        errors.append((path, f"{value} is not less than {schema['exclusiveMaximum']}"))
    return errors


def _check_object(
    value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str
) -> list[tuple[str, str]]:
    errors = [
        (f"{path}.{name}", "is required but missing")
        for name in schema.get("required") or ()
        if name not in value
    ]
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += validate(item, properties[name], root, f"{path}.{name}")
        elif extra is False:
            errors.append((f"{path}.{name}", "is not allowed (additionalProperties is false)"))
        elif isinstance(extra, Mapping):
            errors += validate(item, extra, root, f"{path}.{name}")
    return errors


def _check_array(
    value: Sequence[Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str
) -> list[tuple[str, str]]:
    errors = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append((path, f"has fewer than {schema['minItems']} items"))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append((path, f"has more than {schema['maxItems']} items"))
    prefix = schema.get("prefixItems") or ()
    for i, sub in enumerate(prefix[: len(value)]):
        errors += validate(value[i], sub, root, f"{path}[{i}]")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i in range(len(prefix), len(value)):
            errors += validate(value[i], items, root, f"{path}[{i}]")
    return errors
