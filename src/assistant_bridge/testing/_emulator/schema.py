"""The schema language of the emulator's request checks: known fields, JSON types, enums,
ranges, lengths, tagged unions and cross-field rules.

Each route has a schema; a body that breaks it answers 400 with the service's wording and
codes (``unknown_parameter``, ``invalid_type``, ``invalid_value``,
``missing_required_parameter``) and the dotted ``param`` path, e.g. ``messages[0].role``.
Fields not marked required accept ``null``, as most of the service's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .errors import ApiError

__all__ = [
    "Anything",
    "Arr",
    "Bool",
    "Enum",
    "Filter",
    "Map",
    "Num",
    "Obj",
    "OneOf",
    "Rule",
    "Spec",
    "Str",
    "Tagged",
    "check_fields",
]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_ARTICLE = {"integer": "an integer", "array": "an array", "object": "an object"}


def _a(kind: str) -> str:
    return _ARTICLE.get(kind, f"a {kind}")


def _type_error(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_a(_kind(value))} instead.",
        param=param,
        code="invalid_type",
    )


def _missing(where: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{where}'.",
        param=where,
        code="missing_required_parameter",
    )


def _quoted(values: Sequence[Any]) -> str:
    words = [f"'{v}'" for v in values]
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + f", and {words[-1]}"


#: A check across an object's fields, run after its fields passed: (the object, its param).
Rule = Callable[[Mapping[str, Any], str], None]


class Spec:
    """One node of a schema: checks a value found at ``param``."""

    kinds: frozenset[str] = frozenset()
    expected = "a value"

    def check(self, value: Any, param: str) -> None:
        if _kind(value) not in self.kinds:
            raise _type_error(param, self.expected, value)


def _too_long(param: str, limit: int, length: int) -> ApiError:
    return ApiError(
        400,
        f"Invalid '{param}': string too long. Expected a string with maximum length {limit}, "
        f"but got a string with length {length} instead.",
        param=param,
        code="string_above_max_length",
    )


@attrs.frozen
class Str(Spec):
    max_length: int | None = None
    kinds = frozenset({"string"})
    expected = "a string"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if self.max_length is not None and len(value) > self.max_length:
            raise _too_long(param, self.max_length, len(value))


@attrs.frozen
class Bool(Spec):
    kinds = frozenset({"boolean"})
    expected = "a boolean"


@attrs.frozen
class Num(Spec):
    """A decimal (integers accepted), optionally within [low, high]."""

    low: float | None = None
    high: float | None = None
    integer: bool = False

    @property
    def kinds(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset({"integer"} if self.integer else {"integer", "decimal"})

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "an integer" if self.integer else "a decimal"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        word = "integer" if self.integer else "decimal"
        if self.low is not None and value < self.low:
            raise ApiError(
                400,
                f"Invalid '{param}': {word} below minimum value. Expected a value >= "
                f"{self.low:g}, but got {value:g} instead.",
                param=param,
                code=f"{word}_below_min_value",
            )
        if self.high is not None and value > self.high:
            raise ApiError(
                400,
                f"Invalid '{param}': {word} above maximum value. Expected a value <= "
                f"{self.high:g}, but got {value:g} instead.",
                param=param,
                code=f"{word}_above_max_value",
            )


@attrs.frozen
class Anything(Spec):
    kinds = frozenset({"string", "integer", "decimal", "boolean", "array", "object", "null"})


@attrs.frozen
class Enum(Spec):
    values: tuple[str, ...]
    kinds = frozenset({"string"})
    expected = "a string"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if value not in self.values:
            raise ApiError(
                400,
                f"Invalid value: '{value}'. Supported values are: {_quoted(self.values)}.",
                param=param,
                code="invalid_value",
            )


@attrs.frozen
class Arr(Spec):
    item: Spec = Anything()
    max_items: int | None = None
    kinds = frozenset({"array"})
    expected = "an array"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if self.max_items is not None and len(value) > self.max_items:
            raise ApiError(
                400,
                f"Invalid '{param}': array too long. Expected an array with maximum length "
                f"{self.max_items}, but got an array with length {len(value)} instead.",
                param=param,
                code="array_above_max_length",
            )
        for n, item in enumerate(value):
            self.item.check(item, f"{param}[{n}]")


@attrs.frozen
class Obj(Spec):
    """An object with known ``fields``; ``open`` objects also take fields not listed."""

    fields: Mapping[str, Spec] = attrs.field(factory=dict)
    required: tuple[str, ...] = ()
    open: bool = False
    rules: tuple[Rule, ...] = ()
    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        check_fields(self, value, param)


def check_fields(spec: Obj, value: Mapping[str, Any], prefix: str) -> None:
    """Check each field of ``value`` against ``spec``, then the required ones."""
    for name, item in value.items():
        where = f"{prefix}.{name}" if prefix else name
        field = spec.fields.get(name)
        if field is None:
            if spec.open:
                continue
            raise ApiError(
                400, f"Unknown parameter: '{where}'.", param=where, code="unknown_parameter"
            )
        if item is None and name not in spec.required:
            continue
        field.check(item, where)
    for name in spec.required:
        if value.get(name) is None:
            raise _missing(f"{prefix}.{name}" if prefix else name)
    for rule in spec.rules:
        rule(value, prefix)


@attrs.frozen
class Map(Spec):
    """An object of free keys whose values all follow ``value`` (metadata, attributes)."""

    value: Spec = Anything()
    max_properties: int | None = None
    max_key_length: int | None = None
    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        if self.max_properties is not None and len(value) > self.max_properties:
            raise ApiError(
                400,
                f"Invalid '{param}': too many properties. Expected an object with at most "
                f"{self.max_properties} properties, but got an object with {len(value)} "
                "properties instead.",
                param=param,
                code="object_above_max_properties",
            )
        for key, item in value.items():
            if self.max_key_length is not None and len(key) > self.max_key_length:
                raise _too_long(param, self.max_key_length, len(key))
            self.value.check(item, f"{param}.{key}")


@attrs.frozen
class OneOf(Spec):
    """The first option whose JSON kind fits the value decides."""

    options: tuple[Spec, ...]

    @property
    def kinds(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset().union(*(o.kinds for o in self.options))

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + " or ".join(o.expected.split(" ", 1)[-1] for o in self.options)

    def check(self, value: Any, param: str) -> None:
        for option in self.options:
            if _kind(value) in option.kinds:
                option.check(value, param)
                return
        raise _type_error(param, self.expected, value)


@attrs.frozen
class Tagged(Spec):
    """An object whose ``type`` field picks its shape among ``variants``."""

    variants: Mapping[str, Obj]
    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        where = f"{param}.type" if param else "type"
        kind = value.get("type")
        if kind is None:
            raise _missing(where)
        Enum(tuple(self.variants)).check(kind, where)
        variant = self.variants[kind]
        fields = {"type": Str(), **variant.fields}
        check_fields(attrs.evolve(variant, fields=fields), value, param)


@attrs.frozen
class Filter(Spec):
    """A search filter: a comparison ``{type, key, value}`` or a compound ``{type: and|or,
    filters}`` of them, as vector store search and ``file_search`` take."""

    kinds = frozenset({"object"})
    expected = "an object"

    def check(self, value: Any, param: str) -> None:
        super().check(value, param)
        kind = value.get("type")
        if kind in COMPOUND:
            shape = Obj({"type": Str(), "filters": Arr(self)}, required=("type", "filters"))
        else:
            shape = Obj(
                {
                    "type": Enum((*COMPARISONS, *COMPOUND)),
                    "key": Str(),
                    "value": OneOf((Str(), Num(), Bool(), Arr(OneOf((Str(), Num()))))),
                },
                required=("type", "key", "value"),
            )
        check_fields(shape, value, param)


COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUND = ("and", "or")
FILTER = Filter()
