"""
Tests for the OpenAI Assistant provider, against assistant-bridge's loopback emulator of the
OpenAI API (no network, no key).
"""

import pytest
from keep.contextmanager.contextmanager import ContextManager
from keep.exceptions.provider_config_exception import ProviderConfigException
from keep.exceptions.provider_exception import ProviderException
from keep.providers.providers_factory import ProvidersFactory

from assistant_bridge.knowledge import KnowledgeBase, sample_runbooks
from assistant_bridge.testing import Emulator, SayJson

ALERT = "Analyze this alert: Server CPU at 100% on web-1 for 10 minutes"
VERDICT = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["escalate", "investigate", "ignore"]},
                "severity": {"type": "string", "enum": ["critical", "warning", "info"]},
            },
            "required": ["action", "severity"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture
def emulator():
    with Emulator() as emu:
        yield emu


@pytest.fixture
def store_id(emulator):
    client = emulator.client()
    try:
        return KnowledgeBase(client, "runbooks").sync(sample_runbooks()).store_id
    finally:
        client.close()


def make(authentication, name="triage-assistant"):
    """The provider as Keep's install builds it: the type as the id, the user's name."""
    context_manager = ContextManager(tenant_id="singletenant", workflow_id="test")
    return ProvidersFactory.get_provider(
        context_manager,
        "openaiassistant",
        "openaiassistant",
        {"authentication": authentication, "name": name},
    )


@pytest.fixture(params=["assistants", "responses"])
def provider(request, emulator, store_id):
    common = {"api_key": emulator.api_key, "base_url": emulator.base_url}
    if request.param == "assistants":
        assistant_id = emulator.create_assistant(
            tools=[{"type": "file_search"}], vector_store_ids=[store_id]
        )
        provider = make({**common, "assistant_id": assistant_id})
    else:
        provider = make({**common, "model": "gpt-4o-mini", "vector_store_ids": store_id})
    yield provider
    provider.dispose()


def test_scopes_are_validated(provider):
    assert provider.validate_scopes() == {
        "authenticated": True,
        "assistant_available": True,
        "vector_stores_readable": True,
    }


def test_structured_output_and_follow_up(provider):
    first = provider.query(prompt=ALERT, structured_output_format=VERDICT, max_tokens=500)
    assert first["response"] == {"action": "escalate", "severity": "critical"}
    second = provider.query(
        prompt="Which runbook applies?", thread_id=first["thread_id"], parse_json=False
    )
    assert second["thread_id"] == first["thread_id"]
    assert "cpu-saturation.md" in second["response"]


def test_reply_outside_the_schema_fails_the_step(provider, emulator):
    emulator.script(SayJson({"action": "panic", "severity": "critical"}))
    with pytest.raises(ProviderException, match=r"'triage-assistant'.*SchemaValidationError"):
        provider.query(prompt=ALERT, structured_output_format=VERDICT)


def test_configuration_errors_name_the_provider():
    with pytest.raises(ProviderConfigException) as error:
        make({"api_key": "sk-test-0123456789"}, name="my-assistant")
    assert "'my-assistant'" in str(error.value)
    assert "0123456789" not in str(error.value)


def test_wrong_key_is_not_echoed(emulator):
    provider = make(
        {
            "api_key": "sk-wrong-0123456789",
            "base_url": emulator.base_url,
            "model": "gpt-4o-mini",
        }
    )
    scopes = provider.validate_scopes()
    provider.dispose()
    assert scopes["authenticated"] is not True
    assert "0123456789" not in str(scopes)
