"""AssistantSpec: files, wire shapes, and one assistant object per spec on the Assistants API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_bridge import (
    AssistantSpec,
    CodeInterpreter,
    FileSearch,
    FixedInterval,
    FunctionTool,
    JsonSchemaFormat,
    ThreadSession,
)
from assistant_bridge._values.spec import HASH_KEY, OWNER_KEY
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.testing import Emulator, SayText

SPEC = AssistantSpec(
    name="alert-triage",
    model="gpt-4o-mini",
    instructions='Triage alerts.\nAnswer with "JSON" only.',
    tools=[
        FileSearch(["vs_123"]),
        FunctionTool(
            "get_host",
            "Look up a host",
            {"type": "object", "properties": {"host": {"type": "string"}}, "required": ["host"]},
        ),
        CodeInterpreter(),
    ],
    response_format=JsonSchemaFormat(
        "verdict",
        {"type": "object", "properties": {"action": {"type": "string"}}, "required": ["action"]},
    ),
    temperature=0.2,
    metadata={"team": "sre"},
)


class TestFiles:
    @pytest.mark.parametrize("suffix", [".json", ".toml"])
    def test_round_trip(self, tmp_path: Path, suffix: str) -> None:
        """save then load gives the same spec, in JSON and in TOML."""
        path = tmp_path / f"spec{suffix}"
        SPEC.save(path)
        assert AssistantSpec.load(path) == SPEC

    def test_unknown_field_refused(self, tmp_path: Path) -> None:
        """A typo in a spec file is an error, not silently dropped."""
        path = tmp_path / "spec.json"
        path.write_text(json.dumps({"name": "a", "model": "m", "temprature": 0.1}))
        with pytest.raises(ConfigurationError, match="temprature"):
            AssistantSpec.load(path)

    def test_bad_files(self, tmp_path: Path) -> None:
        """Wrong suffix, bad syntax and missing files get clear errors."""
        with pytest.raises(ConfigurationError, match=r"\.json or \.toml"):
            SPEC.save(tmp_path / "spec.yaml")
        bad = tmp_path / "bad.toml"
        bad.write_text("name = ")
        with pytest.raises(ConfigurationError, match="not valid TOML"):
            AssistantSpec.load(bad)
        with pytest.raises(ConfigurationError, match="Cannot read"):
            AssistantSpec.load(tmp_path / "missing.json")

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"name": "", "model": "m"}, "name"),
            ({"name": "a", "model": ""}, "model"),
            ({"name": "a", "model": "m", "response_format": "yaml"}, "response_format"),
            ({"name": "a", "model": "m", "tools": [{"type": "file_search"}]}, "tools take"),
        ],
    )
    def test_invalid_specs(self, kwargs: dict[str, object], match: str) -> None:
        """Each invalid field is named."""
        with pytest.raises(ConfigurationError, match=match):
            AssistantSpec(**kwargs)  # type: ignore[arg-type]


class TestWireShapes:
    def test_assistants_body(self) -> None:
        """Tools nest functions; vector stores go to tool_resources; the hash to metadata."""
        body = SPEC.assistants_body()
        assert body["tools"][0] == {"type": "file_search"}
        assert body["tools"][1]["function"]["name"] == "get_host"
        assert body["tool_resources"] == {"file_search": {"vector_store_ids": ["vs_123"]}}
        assert body["metadata"]["assistant_bridge_spec"] == SPEC.content_hash()
        assert body["response_format"]["json_schema"]["name"] == "verdict"

    def test_responses_body(self) -> None:
        """Tools are flat; vector stores ride on the tool; the format goes to text.format."""
        body = SPEC.responses_body()
        assert body["tools"][0] == {"type": "file_search", "vector_store_ids": ["vs_123"]}
        assert body["tools"][1]["name"] == "get_host"
        assert body["tools"][2] == {"type": "code_interpreter", "container": {"type": "auto"}}
        assert body["text"]["format"]["type"] == "json_schema"
        assert body["instructions"].startswith("Triage")

    def test_hash_changes_with_the_definition_only(self) -> None:
        """Same content, same hash; any change, a new one."""
        import attrs

        assert SPEC.content_hash() == attrs.evolve(SPEC).content_hash()
        assert SPEC.content_hash() != attrs.evolve(SPEC, temperature=0.3).content_hash()

    def test_from_assistant_json(self) -> None:
        """An exported assistant object becomes an equivalent spec."""
        exported = {
            "id": "asst_1",
            "object": "assistant",
            "name": "alert-triage",
            "model": "gpt-4o-mini",
            "instructions": SPEC.instructions,
            "temperature": 0.2,
            "tools": SPEC.assistants_body()["tools"],
            "tool_resources": SPEC.assistants_body()["tool_resources"],
            "response_format": SPEC.assistants_body()["response_format"],
            "metadata": {"team": "sre", "assistant_bridge_spec": "old"},
        }
        assert AssistantSpec.from_assistant_json(exported) == SPEC


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


class TestOneAssistantPerSpec:
    def test_rerun_creates_no_duplicate(self, emu: Emulator) -> None:
        """Three runs of the same code: one assistant object, created once, then reused."""
        emu.script(SayText("ok"))
        spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="Be brief.")
        ids = set()
        for _ in range(3):
            with emu.transport() as transport:
                session = ThreadSession(transport, assistant=spec, poll_policy=FixedInterval(0.01))
                assert session.ask("hi").text == "ok"
                ids.add(session.assistant_id)
        assert len(ids) == 1
        assert len(emu.store.assistants) == 1
        assert emu.counts()["assistants.create"] == 1
        assert emu.counts().get("assistants.update", 0) == 0

    def test_changed_spec_updates_the_same_object(self, emu: Emulator) -> None:
        """A new definition under the same name updates that assistant, not a second one."""
        import attrs

        spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="v1")
        with emu.transport() as transport:
            first = transport.resolve_assistant(spec)
            second = transport.resolve_assistant(attrs.evolve(spec, instructions="v2"))
            third = transport.resolve_assistant(attrs.evolve(spec, instructions="v2"))
        assert first == second == third
        assert len(emu.store.assistants) == 1
        assert emu.store.assistants[first].instructions == "v2"
        assert emu.counts()["assistants.update"] == 1

    def test_an_assistant_we_did_not_make_is_never_rewritten(self, emu: Emulator) -> None:
        """A hand-made assistant shares the spec's name: the clash is reported, and that
        assistant keeps its definition (nothing is created or updated)."""
        theirs = emu.create_assistant(name="triage", instructions="hand-made", tools=[])
        spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="from code")
        with emu.transport() as transport, pytest.raises(ConfigurationError) as caught:
            transport.resolve_assistant(spec)
        assert theirs in str(caught.value)
        assert emu.store.assistants[theirs].instructions == "hand-made"
        assert emu.counts().get("assistants.update", 0) == 0
        assert emu.counts().get("assistants.create", 0) == 0

    def test_ours_are_marked_with_an_owner_key(self, emu: Emulator) -> None:
        """The assistant made for a spec carries the owner key and the spec's hash; a later
        edit of the spec updates it in place, beside someone else's of another name."""
        import attrs

        emu.create_assistant(name="other", instructions="hand-made")
        spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="v1")
        with emu.transport() as transport:
            made = transport.resolve_assistant(spec)
            assert transport.resolve_assistant(attrs.evolve(spec, instructions="v2")) == made
        meta = emu.store.assistants[made].metadata
        assert meta[OWNER_KEY] == "triage"
        assert meta[HASH_KEY] == attrs.evolve(spec, instructions="v2").content_hash()

    def test_finds_it_past_the_first_page(self, emu: Emulator) -> None:
        """Many other assistants: the listing is paged until the spec's is found."""
        for n in range(120):
            emu.create_assistant(name=f"other-{n}")
        spec = AssistantSpec(name="triage", model="gpt-4o-mini")
        with emu.transport() as transport:
            first = transport.resolve_assistant(spec)
            assert transport.resolve_assistant(spec) == first
        assert emu.counts()["assistants.create"] == 1

    def test_session_needs_one_of_id_or_spec(self, emu: Emulator) -> None:
        """Both or neither is a configuration error."""
        with emu.transport() as transport:
            with pytest.raises(ConfigurationError, match="either"):
                ThreadSession(transport)
            with pytest.raises(ConfigurationError, match="either"):
                ThreadSession(transport, "asst_1", assistant=SPEC)
