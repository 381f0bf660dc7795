"""The Keep provider ``openaiassistant``: configuration, Keep's rendered values, both ways of
giving the assistant, scopes and errors, over loopback to the emulator. Without Keep
installed it runs on the library's stand-ins; with Keep, on Keep's own classes."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # vcrpy, in the tests group, brings PyYAML

from assistant_bridge.integrations.keep import openaiassistant_provider as module
from assistant_bridge.integrations.keep._standins import ProviderConfig
from assistant_bridge.integrations.keep.openaiassistant_provider import (
    OpenaiassistantProvider,
    OpenaiassistantProviderAuthConfig,
)
from assistant_bridge.knowledge import KnowledgeBase, sample_runbooks
from assistant_bridge.testing import Emulator, FailRun, SayJson, StayInProgress

ALERT = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"


def make(
    auth: dict[str, Any], provider_id: str = "triage", name: str | None = None
) -> OpenaiassistantProvider:
    """The provider as Keep builds it: a context manager, an id and a ProviderConfig (Keep's
    install passes the type as the id and the user's name as the config's name)."""
    context = module.ContextManager(tenant_id="singletenant", workflow_id="test")
    config = module.ProviderConfig(authentication=auth, name=name)
    return OpenaiassistantProvider(context, provider_id, config)


@pytest.fixture
def store_id(assistant_emulator: Emulator) -> str:
    client = assistant_emulator.client()
    try:
        return KnowledgeBase(client, "runbooks").sync(sample_runbooks()).store_id
    finally:
        client.close()


@pytest.fixture
def by_id(assistant_emulator: Emulator, store_id: str) -> Iterator[OpenaiassistantProvider]:
    """A provider configured with assistant_id (Assistants API)."""
    assistant_id = assistant_emulator.create_assistant(
        tools=[{"type": "file_search"}], vector_store_ids=[store_id]
    )
    provider = make(
        {
            "api_key": assistant_emulator.api_key,
            "base_url": assistant_emulator.base_url,
            "assistant_id": assistant_id,
        }
    )
    yield provider
    provider.dispose()


@pytest.fixture
def in_config(assistant_emulator: Emulator, store_id: str) -> Iterator[OpenaiassistantProvider]:
    """A provider with the assistant defined in its config (Responses API)."""
    provider = make(
        {
            "api_key": assistant_emulator.api_key,
            "base_url": assistant_emulator.base_url,
            "model": "gpt-4o-mini",
            "instructions": "Triage alerts from the runbooks; answer with JSON.",
            "vector_store_ids": f" {store_id} ,",
            "response_format": "json_object",
        }
    )
    yield provider
    provider.dispose()


class TestKeepConventions:
    def test_class_attributes_follow_keep(self) -> None:
        """Name, display name, category and scopes are what Keep's factory and UI read."""
        assert OpenaiassistantProvider.PROVIDER_DISPLAY_NAME == "OpenAI Assistant"
        assert OpenaiassistantProvider.PROVIDER_CATEGORY == ["AI"]
        scopes = [s.name for s in OpenaiassistantProvider.PROVIDER_SCOPES]
        assert scopes == ["authenticated", "assistant_available", "vector_stores_readable"]
        # Keep finds the classes by name from the provider type "openaiassistant".
        assert getattr(module, "openaiassistant".title() + "Provider") is OpenaiassistantProvider
        assert (
            getattr(module, "openaiassistant".title() + "ProviderAuthConfig")
            is OpenaiassistantProviderAuthConfig
        )

    def test_auth_config_fields_carry_keep_metadata(self) -> None:
        """Every field says required, description, sensitive and hint; only the key is
        required and sensitive."""
        fields = {f.name: f.metadata for f in dataclasses.fields(OpenaiassistantProviderAuthConfig)}
        assert list(fields) == [
            "api_key",
            "organization_id",
            "base_url",
            "assistant_id",
            "model",
            "instructions",
            "vector_store_ids",
            "response_format",
            "rate_limit",
            "thread_registry",
        ]
        for meta in fields.values():
            assert {"required", "description", "sensitive", "hint"} <= set(meta)
        assert [n for n, m in fields.items() if m["required"]] == ["api_key"]
        assert [n for n, m in fields.items() if m["sensitive"]] == ["api_key", "thread_registry"]

    def test_auth_fields_are_written_as_keep_writes_them(self) -> None:
        """Keep's docs renderer reads the fields from the source: each is a
        ``dataclasses.field(metadata={...})`` with literal required, description, sensitive."""
        tree = ast.parse(inspect.getsource(module))
        (auth,) = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name.endswith("AuthConfig")
        ]
        fields = [item for item in auth.body if isinstance(item, ast.AnnAssign)]
        assert len(fields) == len(dataclasses.fields(OpenaiassistantProviderAuthConfig))
        for item in fields:
            call = item.value
            assert isinstance(call, ast.Call)
            assert ast.unparse(call.func) == "dataclasses.field", ast.unparse(item)
            (metadata,) = [k.value for k in call.keywords if k.arg == "metadata"]
            assert isinstance(metadata, ast.Dict)
            keys = {k.value: v for k, v in zip(metadata.keys, metadata.values, strict=True)}  # type: ignore[union-attr]
            for key in ("required", "description", "sensitive"):
                assert isinstance(keys[key], ast.Constant), (ast.unparse(item), key)

    def test_the_key_never_shows_in_the_config_repr(self) -> None:
        """The auth config's repr leaves the key out."""
        provider = make({"api_key": "sk-secret-123456", "assistant_id": "asst_1"})
        assert "sk-secret" not in repr(provider.authentication_config)


class TestConfiguration:
    def test_neither_way_is_a_configuration_error(self) -> None:
        """No assistant_id and no model: refused at construction, saying what to set."""
        with pytest.raises(module.ProviderConfigException, match="set assistant_id") as info:
            make({"api_key": "sk-x1234567"})
        assert info.value.provider_id == "triage"

    def test_both_ways_is_a_configuration_error(self) -> None:
        """assistant_id together with a definition: refused, naming the extra fields."""
        with pytest.raises(module.ProviderConfigException, match=r"not both.*model, instructions"):
            make({"api_key": "sk-x", "assistant_id": "asst_1", "model": "m", "instructions": "i"})

    def test_missing_key_is_a_configuration_error(self) -> None:
        """The key is required."""
        with pytest.raises(module.ProviderConfigException, match="api_key"):
            make({"assistant_id": "asst_1"})

    def test_ui_empty_strings_count_as_unset(self) -> None:
        """Keep's UI sends "" for optional fields left empty: that is not "both ways"."""
        provider = make({"api_key": "sk-x", "assistant_id": "asst_1", "model": "", "base_url": ""})
        assert provider.authentication_config.model is None

    def test_bad_response_format_is_a_configuration_error(self) -> None:
        """response_format must be text, json_object or a schema as JSON."""
        with pytest.raises(module.ProviderConfigException, match="response_format"):
            make({"api_key": "sk-x", "model": "gpt-4o-mini", "response_format": "{not json"})

    @pytest.mark.parametrize(
        "value",
        [
            '{"name": "verdict", "schema": {"type": "object"}}',
            '{"type": "json_schema", "json_schema": {"name": "verdict", '
            '"schema": {"type": "object"}}}',
        ],
    )
    def test_schema_response_format_becomes_the_spec_format(self, value: str) -> None:
        """A schema (own form or the chat API's) is the spec's JsonSchemaFormat."""
        provider = make({"api_key": "sk-x", "model": "gpt-4o-mini", "response_format": value})
        spec = provider._who["assistant"]
        assert spec.response_format.name == "verdict"
        assert dict(spec.response_format.schema) == {"type": "object"}

    def test_validate_config_makes_no_request(self, assistant_emulator: Emulator) -> None:
        """Keep builds the provider for every step: building it sends nothing."""
        make({"api_key": "sk-x", "base_url": assistant_emulator.base_url, "assistant_id": "a"})
        assert assistant_emulator.requests == []


class TestQuery:
    def test_assistant_id_triages_into_the_seed_dict(self, by_id: OpenaiassistantProvider) -> None:
        """The reply is the seed's dict of plain JSON values, the verdict parsed."""
        out = by_id.query(prompt=ALERT)
        assert set(out) == {"response", "thread_id", "run_id", "messages", "raw_response"}
        assert out["response"]["action"] == "escalate"
        assert out["thread_id"].startswith("thread_")
        assert out["messages"][0]["annotations"][0]["file_id"].startswith("file-")
        assert json.loads(json.dumps(out)) == out

    def test_follow_up_continues_the_thread(
        self, by_id: OpenaiassistantProvider, assistant_emulator: Emulator
    ) -> None:
        """thread_id from the first step continues the same conversation."""
        first = by_id.query(prompt=ALERT)
        second = by_id.query(
            prompt="Which runbook applies?", thread_id=first["thread_id"], parse_json="false"
        )
        assert second["thread_id"] == first["thread_id"]
        assert "cpu-saturation.md" in second["response"]
        assert len(assistant_emulator.thread_messages(first["thread_id"])) == 4

    @pytest.mark.parametrize("nothing", ["", "None", "null", "  none "])
    def test_rendered_nothing_means_a_new_thread(
        self, by_id: OpenaiassistantProvider, nothing: str
    ) -> None:
        """What Keep renders for a missing thread id starts a new thread."""
        first = by_id.query(prompt=ALERT)
        out = by_id.query(prompt=ALERT, thread_id=nothing, additional_instructions=nothing)
        assert out["thread_id"] != first["thread_id"]

    def test_numbers_and_booleans_rendered_as_text(
        self, by_id: OpenaiassistantProvider, assistant_emulator: Emulator
    ) -> None:
        """ "90" seconds, "False" and a JSON metadata string are understood."""
        out = by_id.query(
            prompt=ALERT, max_wait_time="90", parse_json="False", metadata='{"alert": 42}'
        )
        assert isinstance(out["response"], str)
        assert out["response"] == out["raw_response"]
        run = assistant_emulator.store.runs[out["run_id"]]
        assert run.metadata["alert"] == "42"

    def test_assistant_in_config_over_responses(self, in_config: OpenaiassistantProvider) -> None:
        """The assistant defined in config runs over Responses, with the knowledge base."""
        first = in_config.query(prompt="Analyze this alert: Disk /var at 97% on db-2")
        assert first["thread_id"].startswith("conv_")
        assert first["response"]["action"] in ("escalate", "investigate")
        assert "disk-full.md" in first["raw_response"]
        second = in_config.query(
            prompt="Which runbook applies?", thread_id=first["thread_id"], parse_json=False
        )
        assert second["thread_id"] == first["thread_id"]

    def test_failed_run_is_a_provider_exception_with_the_message(
        self, by_id: OpenaiassistantProvider, assistant_emulator: Emulator
    ) -> None:
        """A library error becomes Keep's ProviderException, keeping its message."""
        assistant_emulator.script(FailRun("server_error", "The model crashed."))
        with pytest.raises(module.ProviderException, match=r"RunFailedError.*model crashed"):
            by_id.query(prompt=ALERT)

    def test_timeout_is_a_provider_exception(
        self, by_id: OpenaiassistantProvider, assistant_emulator: Emulator
    ) -> None:
        """A run that outlasts max_wait_time is cancelled and reported."""
        assistant_emulator.script(StayInProgress())
        with pytest.raises(module.ProviderException, match="RunTimeoutError"):
            by_id.query(prompt=ALERT, max_wait_time="0.5")

    @pytest.mark.parametrize(
        ("params", "match"),
        [
            ({"prompt": ""}, "prompt is required"),
            ({"prompt": ALERT, "max_wait_time": "soon"}, "max_wait_time"),
            ({"prompt": ALERT, "parse_json": "maybe"}, "parse_json"),
            ({"prompt": ALERT, "metadata": "[1]"}, "metadata must be a mapping"),
        ],
    )
    def test_bad_parameters_are_provider_exceptions(
        self, by_id: OpenaiassistantProvider, params: dict[str, Any], match: str
    ) -> None:
        """Values no template could mean are refused with the parameter's name."""
        with pytest.raises(module.ProviderException, match=match):
            by_id.query(**params)

    def test_wrong_key_error_does_not_echo_it(self, assistant_emulator: Emulator) -> None:
        """A refused key is reported without the key."""
        provider = make(
            {
                "api_key": "sk-wrong-key-0123456789",
                "base_url": assistant_emulator.base_url,
                "assistant_id": "asst_x",
            }
        )
        with pytest.raises(module.ProviderException) as info:
            provider.query(prompt=ALERT)
        provider.dispose()
        assert "AuthenticationError" in str(info.value)
        assert "0123456789" not in str(info.value)

    def test_unknown_parameters_are_logged_and_keep_own_ignored(
        self, by_id: OpenaiassistantProvider, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A typo is warned about; Keep's own enrich_alert passes silently."""
        with caplog.at_level(logging.WARNING):
            by_id.query(prompt=ALERT, thread="t", enrich_alert=[])
        assert "ignores unknown parameters: thread" in caplog.text
        assert "enrich_alert" not in caplog.text


SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "environment_restoration",
        "schema": {
            "type": "object",
            "properties": {
                "environment": {"type": "string", "enum": ["production", "debug", "pre-prod"]},
            },
            "required": ["environment"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


class TestAiStepConventions:
    """A step's ``model``, ``max_tokens`` and ``structured_output_format``, as Keep's openai
    provider takes them."""

    @pytest.mark.parametrize("way", ["by_id", "in_config"])
    def test_schema_format_is_sent_and_the_reply_follows_it(
        self, way: str, request: pytest.FixtureRequest
    ) -> None:
        """The step's schema is the run's format (the emulator answers in it) and the parsed
        reply is the schema's object, both ways."""
        provider: OpenaiassistantProvider = request.getfixturevalue(way)
        result = provider.query(prompt=ALERT, structured_output_format=SCHEMA_FORMAT)
        assert set(result["response"]) == {"environment"}
        assert result["response"]["environment"] in ("production", "debug", "pre-prod")

    def test_schema_format_as_rendered_json_text(self, by_id: OpenaiassistantProvider) -> None:
        """A format rendered to JSON text by a template is read the same."""
        result = by_id.query(prompt=ALERT, structured_output_format=json.dumps(SCHEMA_FORMAT))
        assert set(result["response"]) == {"environment"}

    def test_json_object_format(self, by_id: OpenaiassistantProvider) -> None:
        """{type: json_object}: the reply is parsed as JSON even with parse_json off."""
        result = by_id.query(
            prompt=ALERT, structured_output_format={"type": "json_object"}, parse_json=False
        )
        assert isinstance(result["response"], dict)

    def test_reply_outside_the_schema_fails_the_step(
        self, by_id: OpenaiassistantProvider, assistant_emulator: Emulator
    ) -> None:
        """A reply the schema refuses fails the step, naming the provider and the place."""
        assistant_emulator.script(SayJson({"environment": "staging"}))
        with pytest.raises(module.ProviderException) as info:
            by_id.query(prompt=ALERT, structured_output_format=SCHEMA_FORMAT)
        message = str(info.value)
        assert "'triage'" in message
        assert "SchemaValidationError" in message
        assert "environment" in message

    def test_config_schema_checks_replies_too(
        self, assistant_emulator: Emulator, store_id: str
    ) -> None:
        """The assistant's own schema (response_format in the config) checks its replies."""
        provider = make(
            {
                "api_key": assistant_emulator.api_key,
                "base_url": assistant_emulator.base_url,
                "model": "gpt-4o-mini",
                "response_format": json.dumps(SCHEMA_FORMAT),
            }
        )
        assistant_emulator.script(SayJson({"other": 1}))
        with pytest.raises(module.ProviderException, match="SchemaValidationError"):
            provider.query(prompt=ALERT)
        provider.dispose()

    @pytest.mark.parametrize("way", ["by_id", "in_config"])
    def test_max_tokens_is_sent(self, way: str, request: pytest.FixtureRequest) -> None:
        """max_tokens bounds the reply: one token cuts the run short, and the step fails."""
        provider: OpenaiassistantProvider = request.getfixturevalue(way)
        with pytest.raises(module.ProviderException, match=r"(?i)incomplete|max_"):
            provider.query(prompt=ALERT, max_tokens="1")
        assert provider.query(prompt=ALERT, max_tokens=2000)["response"]

    @pytest.mark.parametrize("way", ["assistant_id", "model"])
    def test_model_per_step(self, way: str) -> None:
        """The step's model replaces the assistant's: one the server does not serve is
        refused (and named), one it serves answers."""
        with Emulator(models=["gpt-4o-mini", "gpt-4o"]) as emulator:
            chosen = (
                {"assistant_id": emulator.create_assistant()}
                if way == "assistant_id"
                else {"model": "gpt-4o-mini"}
            )
            provider = make({"api_key": emulator.api_key, "base_url": emulator.base_url, **chosen})
            try:
                with pytest.raises(module.ProviderException, match="no-such-model"):
                    provider.query(prompt=ALERT, model="no-such-model")
                assert provider.query(prompt=ALERT, model="gpt-4o")["response"]
            finally:
                provider.dispose()

    @pytest.mark.parametrize(
        ("params", "match"),
        [
            ({"structured_output_format": {"type": "yaml"}}, "structured_output_format"),
            ({"structured_output_format": "{nope"}, "structured_output_format"),
            ({"structured_output_format": {"type": "json_schema"}}, "structured_output_format"),
            ({"max_tokens": "many"}, "max_tokens"),
            ({"max_tokens": 0}, "max_tokens"),
        ],
    )
    def test_bad_step_values_are_refused_before_sending(
        self,
        by_id: OpenaiassistantProvider,
        assistant_emulator: Emulator,
        params: dict[str, Any],
        match: str,
    ) -> None:
        """A format or token count no template could mean fails the step, sending nothing."""
        before = len(assistant_emulator.requests)
        with pytest.raises(module.ProviderException, match=match):
            by_id.query(prompt=ALERT, **params)
        assert len(assistant_emulator.requests) == before


class TestNamesAndSecrets:
    """Errors name the provider as configured; the key shows nowhere."""

    def test_install_errors_name_the_configured_provider(self) -> None:
        """Keep's install passes the type as the id: the error names the user's name."""
        with pytest.raises(module.ProviderConfigException) as info:
            make({"api_key": "sk-x1234567"}, provider_id="openaiassistant", name="triage-bot")
        assert "'triage-bot'" in str(info.value)
        assert "'openaiassistant'" not in str(info.value)

    def test_step_errors_name_the_configured_provider(self, assistant_emulator: Emulator) -> None:
        """A failed step names the provider as configured, then the error's type."""
        provider = make(
            {
                "api_key": assistant_emulator.api_key,
                "base_url": assistant_emulator.base_url,
                "assistant_id": assistant_emulator.create_assistant(),
            },
            provider_id="openaiassistant",
            name="triage-bot",
        )
        assistant_emulator.script(FailRun("server_error", "The model crashed."))
        with pytest.raises(module.ProviderException) as info:
            provider.query(prompt=ALERT)
        provider.dispose()
        assert str(info.value).startswith("openaiassistant provider 'triage-bot': RunFailedError")

    @pytest.mark.parametrize("wrong", [False, True])
    def test_install_and_run_never_echo_the_key(
        self,
        assistant_emulator: Emulator,
        store_id: str,
        caplog: pytest.LogCaptureFixture,
        wrong: bool,
    ) -> None:
        """Building, checking and running the provider (a good key or a refused one) puts the
        key in no log line, result, scope or error."""
        key = "sk-wrong-0123456789abcdef" if wrong else assistant_emulator.api_key
        assert key
        seen: list[str] = []
        with caplog.at_level(logging.DEBUG):
            for auth in (
                {"assistant_id": assistant_emulator.create_assistant()},
                {"model": "gpt-4o-mini", "vector_store_ids": store_id},
            ):
                provider = make(
                    {"api_key": key, "base_url": assistant_emulator.base_url, **auth},
                    provider_id="openaiassistant",
                    name="triage-bot",
                )
                seen.append(repr(provider.authentication_config))
                seen.append(json.dumps(provider.validate_scopes()))
                try:
                    seen.append(json.dumps(provider.query(prompt=ALERT)))
                except module.ProviderException as exc:
                    assert wrong
                    chain: BaseException | None = exc
                    while chain is not None:
                        seen.extend([str(chain), repr(chain), repr(vars(chain))])
                        chain = chain.__cause__ or chain.__context__
                finally:
                    provider.dispose()
        seen.extend(record.getMessage() + repr(vars(record)) for record in caplog.records)
        assert caplog.records
        assert not [text for text in seen if key in text]


class TestScopes:
    def test_all_scopes_granted(self, by_id: OpenaiassistantProvider) -> None:
        """A working key, an existing assistant and readable stores: all True."""
        assert by_id.validate_scopes() == {
            "authenticated": True,
            "assistant_available": True,
            "vector_stores_readable": True,
        }

    def test_scopes_only_read(
        self, by_id: OpenaiassistantProvider, assistant_emulator: Emulator
    ) -> None:
        """validate_scopes sends only GET requests: nothing is left on the server."""
        before = len(assistant_emulator.requests)
        by_id.validate_scopes()
        methods = {r.method for r in assistant_emulator.requests[before:]}
        assert methods == {"GET"}

    def test_wrong_key_fails_scopes_without_echoing_it(self, assistant_emulator: Emulator) -> None:
        """A refused key marks every scope with a reason that leaves the key out."""
        provider = make(
            {
                "api_key": "sk-wrong-key-0123456789",
                "base_url": assistant_emulator.base_url,
                "assistant_id": "asst_x",
            }
        )
        scopes = provider.validate_scopes()
        provider.dispose()
        assert all(value is not True for value in scopes.values())
        assert "0123456789" not in json.dumps(scopes)

    def test_missing_vector_store_is_reported(self, assistant_emulator: Emulator) -> None:
        """A vector store that cannot be read is named in the scope's reason."""
        provider = make(
            {
                "api_key": assistant_emulator.api_key,
                "base_url": assistant_emulator.base_url,
                "model": "gpt-4o-mini",
                "vector_store_ids": "vs_missing",
            }
        )
        scopes = provider.validate_scopes()
        provider.dispose()
        assert scopes["authenticated"] is True
        assert "vs_missing" in str(scopes["vector_stores_readable"])


def test_stand_ins_are_used_without_keep() -> None:
    """Without Keep the module runs on the stand-ins; with Keep, on Keep's classes."""
    try:
        import keep.providers.base.base_provider as keep_base  # type: ignore[import-not-found]
    except ImportError:
        assert module.ProviderConfig is ProviderConfig
    else:
        assert issubclass(OpenaiassistantProvider, keep_base.BaseProvider)


def test_docs_show_the_example_files_as_they_are() -> None:
    """docs/keep.md quotes the example providers file and workflow verbatim."""
    root = Path(__file__).parent.parent
    page = (root / "docs" / "keep.md").read_text()
    examples = root / "examples" / "keep"
    for example in ("providers/triage-assistant.yaml", "triage-workflow.yaml"):
        assert f"```yaml\n{(examples / example).read_text()}```" in page, example


def test_example_providers_file_is_a_keep_provisioning_file() -> None:
    """The example providers file has what Keep's provisioning reads: name, type, and an
    authentication the provider accepts (the Responses way)."""
    path = (
        Path(__file__).parent.parent / "examples" / "keep" / "providers" / "triage-assistant.yaml"
    )
    data = yaml.safe_load(path.read_text())
    assert (data["name"], data["type"]) == ("triage-assistant", "openaiassistant")
    provider = make({**data["authentication"], "api_key": "sk-x1234567"})
    assert isinstance(provider._who["assistant"], module.AssistantSpec)


class TestInstallIntoKeep:
    """``python -m assistant_bridge.integrations.keep install``."""

    @staticmethod
    def fake_keep(root: Path) -> Path:
        providers = root / "keep" / "providers"
        (providers / "base").mkdir(parents=True)
        (root / "keep" / "__init__.py").write_text("raise RuntimeError('Keep was imported')\n")
        (providers / "__init__.py").touch()
        return providers

    def test_copies_the_drop_in_into_the_keep_it_finds(self, tmp_path: Path) -> None:
        """Run with the Keep on the path, it writes the drop-in into Keep's package, without
        importing Keep."""
        providers = self.fake_keep(tmp_path)
        env = {**os.environ, "PYTHONPATH": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-m", "assistant_bridge.integrations.keep", "install"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        target = providers / "openaiassistant_provider" / "openaiassistant_provider.py"
        assert target.read_text() == Path(module.__file__ or "").read_text()
        assert (target.parent / "__init__.py").exists()
        assert str(target) in done.stdout

    def test_without_keep_it_says_so(self, tmp_path: Path) -> None:
        """No Keep in the environment: exit 1 with the reason, nothing written."""
        done = subprocess.run(
            [sys.executable, "-m", "assistant_bridge.integrations.keep", "install"],
            env={**os.environ, "PYTHONPATH": ""},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        try:
            import keep  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            assert done.returncode == 1
            assert "Keep is not installed" in done.stderr
        else:  # pragma: no cover - a Keep beside the suite: it is found instead
            assert done.returncode == 0


def test_example_workflow_triages_then_continues_the_thread() -> None:
    """The example's first step triages, the next continues its thread, an action reads
    the verdict's action."""
    path = Path(__file__).parent.parent / "examples" / "keep" / "triage-workflow.yaml"
    workflow = yaml.safe_load(path.read_text())["workflow"]
    triage, follow = workflow["steps"]
    assert triage["name"] == "triage"
    assert triage["provider"]["type"] == follow["provider"]["type"] == "openaiassistant"
    assert follow["provider"]["with"]["thread_id"] == "{{ steps.triage.results.thread_id }}"
    assert "steps.triage.results.response.action" in workflow["actions"][0]["if"]
