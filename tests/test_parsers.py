"""Parsers: text, JSON found in many shapes, and schema validation naming the failing path."""

from __future__ import annotations

import enum
import json
from typing import Literal

import attrs
import pytest

from assistant_bridge import JsonParser, SchemaParser, TextParser
from assistant_bridge.exceptions import ConfigurationError, ParseError, SchemaValidationError

VERDICT = {"action": "escalate", "reason": "CPU pegged", "severity": "critical"}


class TestTextParser:
    def test_returns_text_unchanged(self) -> None:
        """Text in, same text out."""
        assert TextParser().parse("  hello\n") == "  hello\n"


class TestJsonParser:
    def test_plain_json(self) -> None:
        """A reply that is JSON parses whole."""
        assert JsonParser().parse(json.dumps(VERDICT)) == VERDICT

    def test_fenced_json_block(self) -> None:
        """A ```json fence inside prose is found."""
        text = f"Here is my verdict:\n```json\n{json.dumps(VERDICT, indent=2)}\n```\nThanks."
        assert JsonParser().parse(text) == VERDICT

    def test_untagged_fence(self) -> None:
        """A bare ``` fence works too."""
        assert JsonParser().parse("x\n```\n[1, 2]\n```") == [1, 2]

    def test_tagged_fence_preferred_over_untagged(self) -> None:
        """When both exist, the json-tagged block wins."""
        text = '```\n{"a": 1}\n```\n```json\n{"b": 2}\n```'
        assert JsonParser().parse(text) == {"b": 2}

    def test_first_object_inside_prose(self) -> None:
        """The first JSON object embedded in prose is extracted."""
        text = 'I think {"action": "ignore"} is right, not {"action": "page"}.'
        assert JsonParser().parse(text) == {"action": "ignore"}

    def test_first_array_inside_prose(self) -> None:
        """Arrays count as well as objects."""
        assert JsonParser().parse('hosts: ["a", "b"] done') == ["a", "b"]

    def test_braces_that_are_not_json_are_skipped(self) -> None:
        """A stray brace before the real object does not stop the search."""
        assert JsonParser().parse('use {curly} then {"ok": true}') == {"ok": True}

    def test_strict_raises_and_keeps_raw_text(self) -> None:
        """No JSON in strict mode: ParseError with the text kept whole."""
        with pytest.raises(ParseError) as info:
            JsonParser().parse("Escalate it now.")
        assert info.value.raw_text == "Escalate it now."
        assert "No JSON" in str(info.value)

    def test_lenient_falls_back_to_text(self) -> None:
        """strict=False returns the text, as the seed's 'try JSON parse' did."""
        assert JsonParser(strict=False).parse("Escalate it now.") == "Escalate it now."

    def test_oversized_reply_refused(self) -> None:
        """A reply beyond max_chars is refused before decoding."""
        with pytest.raises(ParseError, match="max_chars"):
            JsonParser(max_chars=10).parse('{"a": "0123456789"}')

    def test_too_deep_refused(self) -> None:
        """Deeply nested JSON is refused, not decoded into a recursion bomb."""
        deep = "[" * 100 + "]" * 100
        with pytest.raises(ParseError, match="max_depth"):
            JsonParser(max_depth=50).parse(deep)

    def test_pathologically_deep_json_does_not_crash(self) -> None:
        """Nesting beyond Python's recursion limit is a ParseError, not a RecursionError."""
        deep = "[" * 100_000 + "]" * 100_000
        with pytest.raises(ParseError):
            JsonParser().parse(deep)


@attrs.frozen
class Evidence:
    runbook: str
    score: float = 0.0


class Severity(enum.Enum):
    LOW = "low"
    CRITICAL = "critical"


@attrs.frozen
class Verdict:
    action: Literal["escalate", "ignore", "investigate"]
    reason: str
    severity: Severity
    evidence: list[Evidence] = attrs.Factory(list)
    ticket: str | None = None


class TestSchemaParserAttrs:
    def test_builds_the_attrs_class(self) -> None:
        """Valid JSON becomes an instance, nested classes and enums included."""
        text = json.dumps({**VERDICT, "evidence": [{"runbook": "cpu.md", "score": 1}]})
        verdict = SchemaParser(Verdict).parse(text)
        assert verdict == Verdict(
            action="escalate",
            reason="CPU pegged",
            severity=Severity.CRITICAL,
            evidence=[Evidence(runbook="cpu.md", score=1.0)],
        )

    def test_wrong_literal_names_the_path(self) -> None:
        """The error points at the failing field."""
        with pytest.raises(SchemaValidationError) as info:
            SchemaParser(Verdict).parse(json.dumps({**VERDICT, "action": "panic"}))
        assert info.value.path == "$.action"
        assert "panic" in str(info.value)

    def test_nested_error_path(self) -> None:
        """Paths go into lists and nested objects."""
        bad = {**VERDICT, "evidence": [{"runbook": "a"}, {"runbook": 3}]}
        with pytest.raises(SchemaValidationError) as info:
            SchemaParser(Verdict).parse(json.dumps(bad))
        assert info.value.path == "$.evidence[1].runbook"

    def test_missing_required_field(self) -> None:
        """A required field that is absent is named."""
        with pytest.raises(SchemaValidationError) as info:
            SchemaParser(Verdict).parse('{"action": "ignore", "severity": "low"}')
        assert info.value.path == "$.reason"
        assert info.value.raw_text == '{"action": "ignore", "severity": "low"}'

    def test_unknown_field_is_not_dropped_silently(self) -> None:
        """An extra key is an error, not silently lost."""
        with pytest.raises(SchemaValidationError, match="not a field"):
            SchemaParser(Verdict).parse(json.dumps({**VERDICT, "owner": "sre"}))

    def test_bool_is_not_a_number(self) -> None:
        """true does not pass for a float."""
        with pytest.raises(SchemaValidationError, match="bool"):
            SchemaParser(Evidence).parse('{"runbook": "x", "score": true}')

    def test_no_json_is_a_parse_error(self) -> None:
        """Prose without JSON fails as ParseError with the text."""
        with pytest.raises(ParseError) as info:
            SchemaParser(Verdict).parse("I would escalate.")
        assert not isinstance(info.value, SchemaValidationError)
        assert info.value.raw_text == "I would escalate."


class TestSchemaParserPydantic:
    def test_pydantic_model(self) -> None:
        """A pydantic model validates, and its errors carry the path."""
        pydantic = pytest.importorskip("pydantic")

        class Model(pydantic.BaseModel):  # type: ignore[misc,name-defined]
            action: str
            severity: int

        assert SchemaParser(Model).parse('{"action": "a", "severity": 2}').severity == 2
        with pytest.raises(SchemaValidationError) as info:
            SchemaParser(Model).parse('{"action": "a", "severity": "high"}')
        assert info.value.path == "$.severity"


SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["escalate", "ignore"]},
        "severity": {"$ref": "#/$defs/severity"},
        "hosts": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    },
    "required": ["action", "severity"],
    "additionalProperties": False,
    "$defs": {"severity": {"type": "string", "enum": ["low", "critical"]}},
}


class TestSchemaParserJsonSchema:
    def test_valid(self) -> None:
        """Valid JSON comes back as parsed."""
        assert SchemaParser(SCHEMA).parse('{"action": "ignore", "severity": "low"}') == {
            "action": "ignore",
            "severity": "low",
        }

    @pytest.mark.parametrize(
        ("doc", "path"),
        [
            ({"action": "ignore"}, "$.severity"),
            ({"action": "x", "severity": "low"}, "$.action"),
            ({"action": "ignore", "severity": "meh"}, "$.severity"),
            ({"action": "ignore", "severity": "low", "hosts": ["a", 1]}, "$.hosts[1]"),
            ({"action": "ignore", "severity": "low", "hosts": ["a", "b", "c"]}, "$.hosts"),
            ({"action": "ignore", "severity": "low", "x": 1}, "$.x"),
            ([1], "$"),
        ],
    )
    def test_mismatch_names_the_path(self, doc: object, path: str) -> None:
        """Each kind of mismatch is reported at its place."""
        with pytest.raises(SchemaValidationError) as info:
            SchemaParser(SCHEMA).parse(json.dumps(doc))
        assert info.value.path == path

    def test_unsupported_keyword_refused_up_front(self) -> None:
        """A keyword the validator cannot check is a configuration error, not ignored."""
        with pytest.raises(ConfigurationError, match="uniqueItems"):
            SchemaParser({"type": "array", "uniqueItems": True})

    def test_not_a_schema(self) -> None:
        """A plain class is not accepted as a schema."""
        with pytest.raises(ConfigurationError, match="attrs class"):
            SchemaParser(int)
