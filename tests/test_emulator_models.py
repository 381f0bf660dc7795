"""``/v1/models`` on the emulator, with the real openai client: the listing, one model, and
``Emulator(models=...)`` narrowing what every route that names a model accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from assistant_bridge.testing import Emulator

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def narrowed() -> Iterator[openai.OpenAI]:
    with Emulator(models=["gpt-4o-mini", "gpt-4.1"]) as emu, emu.client(max_retries=0) as c:
        yield c


def test_the_listing_has_the_service_shape_and_a_retrieve_answers_each() -> None:
    with Emulator() as emu, emu.client(max_retries=0) as client:
        listed = client.models.list()
        ids = [m.id for m in listed.data]
        assert {"gpt-4o-mini", "gpt-4o"} <= set(ids)
        raw: Any = client.get("/models", cast_to=object)
        assert raw["object"] == "list"
        assert set(raw["data"][0]) == {"id", "object", "created", "owned_by"}
        for model_id in ids:
            model = client.models.retrieve(model_id)
            assert (model.id, model.object) == (model_id, "model")
            assert isinstance(model.created, int)
        # Not narrowed: any model a run accepts is answered, as runs accept any name.
        assert client.models.retrieve("my-fine-tune").id == "my-fine-tune"


def test_a_narrowed_emulator_lists_only_its_models(narrowed: openai.OpenAI) -> None:
    assert [m.id for m in narrowed.models.list().data] == ["gpt-4o-mini", "gpt-4.1"]
    assert narrowed.models.retrieve("gpt-4.1").owned_by == "system"
    with pytest.raises(openai.NotFoundError) as caught:
        narrowed.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"


def test_an_unknown_model_is_model_not_found_wherever_it_is_used(
    narrowed: openai.OpenAI,
) -> None:
    attempts = [
        lambda: narrowed.beta.assistants.create(model="gpt-4o"),
        lambda: narrowed.post(
            "/responses", body={"model": "gpt-4o", "input": "hi"}, cast_to=object
        ),
    ]
    assistant = narrowed.beta.assistants.create(model="gpt-4o-mini")
    thread = narrowed.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    attempts += [
        lambda: narrowed.beta.assistants.update(assistant.id, model="gpt-4o"),
        lambda: narrowed.beta.threads.runs.create(
            thread.id, assistant_id=assistant.id, model="gpt-4o"
        ),
        lambda: narrowed.beta.threads.create_and_run(assistant_id=assistant.id, model="o3-mini"),
    ]
    for attempt in attempts:
        with pytest.raises(openai.NotFoundError) as caught:
            attempt()
        assert caught.value.code == "model_not_found"
        assert "does not exist" in caught.value.message
    # A model it has still runs.
    run = narrowed.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    assert run.model == "gpt-4o-mini"
