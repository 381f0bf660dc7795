"""Parsers turn a reply's text into a value: text, JSON, or JSON checked against a schema.

All follow one protocol, :class:`Parser`. A parse error keeps the raw text, so nothing the
assistant said is lost when it says it in the wrong shape.
"""

from __future__ import annotations

import enum
import itertools
import json
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Generic, Protocol, TypeVar, Union, cast, get_args, get_origin

import attrs

from assistant_bridge._parsing.jsonschema import check_schema, validate
from assistant_bridge._values.value import Value
from assistant_bridge.exceptions import ConfigurationError, ParseError, SchemaValidationError

__all__ = ["JsonParser", "Parser", "SchemaParser", "TextParser"]

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)


class Parser(Protocol[T_co]):
    """Turns a reply's text into a value, or raises ParseError keeping the text."""

    def parse(self, text: str) -> T_co:
        """Parse ``text``."""
        ...


@attrs.frozen(repr=False)
class TextParser(Value):
    """Returns the text unchanged."""

    def parse(self, text: str) -> str:
        return text


def _preview(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@attrs.frozen(repr=False)
class JsonParser(Value):
    """Finds JSON in a reply: the whole text, a fenced ```json block, or the first object or
    array inside prose, in that order.

    ``strict`` (the default) raises :class:`ParseError` when no JSON is found; with
    ``strict=False`` the text itself is returned, as the seed provider's "try JSON parse" did.
    ``max_chars`` and ``max_depth`` refuse replies too large or too deeply nested to trust;
    ``max_candidates`` bounds how many brackets in prose are tried as a JSON start.
    """

    strict: bool = True
    max_chars: int = 1_000_000
    max_depth: int = 64
    max_candidates: int = 1_000

    def parse(self, text: str) -> Any:
        try:
            return self.extract(text)
        except ParseError:
            if self.strict:
                raise
            return text

    def extract(self, text: str) -> Any:
        """The JSON value found in ``text``; raises ParseError when there is none."""
        if len(text) > self.max_chars:
            msg = (
                f"The reply is {len(text)} characters long, over JsonParser's max_chars="
                f"{self.max_chars}; raise the limit if such replies are expected."
            )
            raise ParseError(msg, raw_text=text)
        for candidate in self._candidates(text):
            value = self._load(candidate, text)
            if value is not _MISSING:
                return value
        found = self._first_embedded(text)
        if found is not _MISSING:
            return found
        msg = (
            f"No JSON object or array found in the reply ({_preview(text)!r}); ask the assistant "
            "for JSON (response_format json_object) or use JsonParser(strict=False)."
        )
        raise ParseError(msg, raw_text=text)

    def _candidates(self, text: str) -> list[str]:
        fences = _FENCE.findall(text)
        tagged = [body for lang, body in fences if lang.lower() == "json"]
        untagged = [body for lang, body in fences if not lang]
        return [text.strip(), *tagged, *untagged]

    def _load(self, candidate: str, text: str) -> Any:
        try:
            value = json.loads(candidate)
        except RecursionError:
            raise self._too_deep(text) from None
        except ValueError:
            return _MISSING
        self._check_depth(value, text)
        return value

    def _first_embedded(self, text: str) -> Any:
        decoder = json.JSONDecoder()
        starts = re.finditer(r"[\[{]", text)
        for match in itertools.islice(starts, self.max_candidates):
            try:
                value, _end = decoder.raw_decode(text, match.start())
            except RecursionError:
                raise self._too_deep(text) from None
            except ValueError:
                continue
            if isinstance(value, (dict, list)):
                self._check_depth(value, text)
                return value
        return _MISSING

    def _too_deep(self, text: str) -> ParseError:
        msg = (
            f"The reply's JSON is nested deeper than max_depth={self.max_depth}; "
            "raise the limit if such replies are expected."
        )
        return ParseError(msg, raw_text=text)

    def _check_depth(self, value: Any, text: str) -> None:
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > self.max_depth:
                raise self._too_deep(text)
            children = node.values() if isinstance(node, dict) else node
            if isinstance(node, (dict, list)):
                stack.extend((child, depth + 1) for child in children)


_MISSING: Any = object()


def _path(parts: typing.Iterable[object]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@attrs.frozen(repr=False)
class SchemaParser(Value, Generic[T]):
    """JSON checked against a schema: an attrs class, a pydantic model (v1 or v2) or a JSON
    Schema dict. Returns an instance of the class, or the validated JSON for a dict schema.

    A mismatch raises :class:`SchemaValidationError` whose ``path`` names the first failing
    place (``$.severity``) and whose ``errors`` list them all.
    """

    schema: type[T] | Mapping[str, Any]
    json: JsonParser = JsonParser()

    def __attrs_post_init__(self) -> None:
        if isinstance(self.schema, Mapping):
            check_schema(self.schema)
        elif not isinstance(self.schema, type) or not (
            attrs.has(self.schema) or _pydantic_kind(self.schema)
        ):
            msg = (
                f"SchemaParser needs an attrs class, a pydantic model or a JSON Schema dict, "
                f"got {self.schema!r}."
            )
            raise ConfigurationError(msg)

    def parse(self, text: str) -> T:
        data = self.json.extract(text)
        schema = self.schema
        if isinstance(schema, Mapping):
            problems = validate(data, schema)
            _raise_if(problems, text)
            return cast(T, data)
        if attrs.has(schema):
            problems = []
            value = _build_attrs(schema, data, "$", problems)
            _raise_if(problems, text)
            return cast(T, value)
        return cast(T, _build_pydantic(schema, data, text))


def _raise_if(problems: list[tuple[str, str]], text: str) -> None:
    if not problems:
        return
    lines = [f"{path}: {problem}" for path, problem in problems]
    msg = (
        f"The reply's JSON does not match the schema at {problems[0][0]}: {problems[0][1]}"
        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        + "; the raw text is kept in .raw_text."
    )
    raise SchemaValidationError(msg, raw_text=text, path=problems[0][0], errors=lines)


def _pydantic_kind(cls: type) -> int:
    if hasattr(cls, "model_validate") and hasattr(cls, "model_fields"):
        return 2
    if hasattr(cls, "parse_obj") and hasattr(cls, "__fields__"):
        return 1
    return 0


def _build_pydantic(cls: type[Any], data: Any, text: str) -> Any:
    try:
        if _pydantic_kind(cls) == 2:
            return cls.model_validate(data)
        return cls.parse_obj(data)
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        if not callable(errors):
            raise
        problems = [(_path(e.get("loc", ())), str(e.get("msg", ""))) for e in errors()]
        _raise_if(problems or [("$", str(exc))], text)
        raise  # pragma: no cover - _raise_if always raises here


def _build_attrs(cls: type[Any], data: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if not isinstance(data, dict):
        problems.append((path, f"expected an object for {cls.__name__}, got {_kind(data)}"))
        return None
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    fields = attrs.fields(cls)
    names = {f.alias or f.name: f for f in fields if f.init}
    for key in data:
        if key not in names:
            problems.append((f"{path}.{key}", f"is not a field of {cls.__name__}"))
    for key, field in names.items():
        if key not in data:
            if field.default is attrs.NOTHING:
                problems.append((f"{path}.{key}", "is required but missing"))
            continue
        kwargs[key] = _coerce(data[key], hints.get(field.name, Any), f"{path}.{key}", problems)
    if any(p[0].startswith(path) for p in problems):
        return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        problems.append((path, str(exc)))
        return None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _coerce(value: Any, hint: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (Union, types.UnionType):
        for option in args:
            trial: list[tuple[str, str]] = []
            result = _coerce(value, option, path, trial)
            if not trial:
                return result
        problems.append((path, f"{_kind(value)} matches none of {hint}"))
        return None
    if origin is typing.Literal:
        if value not in args:
            problems.append((path, f"{value!r} is not one of {list(args)!r}"))
        return value
    if hint is type(None):
        if value is not None:
            problems.append((path, f"expected null, got {_kind(value)}"))
        return None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            problems.append((path, f"{value!r} is not one of {[m.value for m in hint]!r}"))
            return None
    if isinstance(hint, type) and attrs.has(hint):
        return _build_attrs(hint, value, path, problems)
    if origin in (list, tuple, typing.Sequence, set, frozenset) or hint in (list, tuple):
        return _coerce_sequence(value, hint, origin, args, path, problems)
    if origin in (dict, Mapping, typing.Mapping) or hint is dict:
        if not isinstance(value, dict):
            problems.append((path, f"expected an object, got {_kind(value)}"))
            return None
        item = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, item, f"{path}.{k}", problems) for k, v in value.items()}
    return _coerce_scalar(value, hint, path, problems)


def _coerce_sequence(
    value: Any,
    hint: Any,
    origin: Any,
    args: tuple[Any, ...],
    path: str,
    problems: list[tuple[str, str]],
) -> Any:
    if not isinstance(value, list):
        problems.append((path, f"expected an array, got {_kind(value)}"))
        return None
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            problems.append((path, f"expected {len(args)} items, got {len(value)}"))
            return None
        pairs = enumerate(zip(args, value, strict=True))
        return tuple(_coerce(v, a, f"{path}[{i}]", problems) for i, (a, v) in pairs)
    item = args[0] if args else Any
    items = [_coerce(v, item, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    container = origin if origin in (tuple, set, frozenset) else list
    return container(items)


def _coerce_scalar(value: Any, hint: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        problems.append((path, f"expected {hint.__name__}, got bool"))
        return None
    if isinstance(hint, type) and not isinstance(value, hint):
        problems.append((path, f"expected {hint.__name__}, got {_kind(value)}"))
        return None
    return value
