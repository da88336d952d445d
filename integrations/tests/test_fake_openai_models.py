"""The fake OpenAI server's model catalog, driven by the official `openai` SDK: list
and retrieve in OpenAI's shapes, a configurable catalog, and strict models refusing
a model outside it."""

import openai
import pytest

USER_MESSAGE = [{"role": "user", "content": "Say hello to the tests"}]


def test_models_list_and_retrieve(fake_openai_client):
    models = {model.id: model for model in fake_openai_client.models.list()}
    for expected in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini", "text-embedding-3-small"):
        assert expected in models
    assert models["gpt-4o"].object == "model"
    assert models["gpt-4o"].owned_by == "system"
    assert models["gpt-4o"].created > 1_600_000_000

    assert fake_openai_client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError) as error:
        fake_openai_client.models.retrieve("gpt-nonexistent")
    assert error.value.code == "model_not_found"
    assert error.value.body["type"] == "invalid_request_error"


def test_catalog_and_strict_models_are_configurable(fake_openai, fake_openai_client):
    fake_openai.configure(models=["my-model", "gpt-4o"], strict_models=True)
    assert [model.id for model in fake_openai_client.models.list()] == ["my-model", "gpt-4o"]
    with pytest.raises(openai.NotFoundError) as error:
        fake_openai_client.chat.completions.create(model="gpt-4.1", messages=USER_MESSAGE)
    assert error.value.code == "model_not_found"
    fake_openai.configure(strict_models=False)
    answer = fake_openai_client.chat.completions.create(model="anything", messages=USER_MESSAGE)
    assert answer.model == "anything"
