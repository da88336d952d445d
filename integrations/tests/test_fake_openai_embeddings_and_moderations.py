"""The fake OpenAI server's embeddings (base64 and float encodings, batches,
dimensions, deterministic vectors) and moderations, driven by the official `openai`
SDK."""

import array
import base64

import openai
import pytest

# --- embeddings ------------------------------------------------------------------------------


def test_embeddings_default_base64_decodes_to_floats(fake_openai_client, fake_openai):
    # The SDK asks for base64 unless told otherwise and decodes it itself.
    embedding = fake_openai_client.embeddings.create(
        model="text-embedding-3-small", input="hello world"
    )
    assert fake_openai.requests("/v1/embeddings")[-1]["body"]["encoding_format"] == "base64"
    vector = embedding.data[0].embedding
    assert len(vector) == 1536
    assert all(isinstance(value, float) for value in vector)
    assert abs(sum(value * value for value in vector) - 1.0) < 1e-3
    assert embedding.usage.prompt_tokens == 2

    as_floats = fake_openai_client.embeddings.create(
        model="text-embedding-3-small", input="hello world", encoding_format="float"
    )
    assert as_floats.data[0].embedding == vector


def test_embeddings_lists_dimensions_and_models(fake_openai_client):
    result = fake_openai_client.embeddings.create(
        model="text-embedding-3-large", input=["first text", "second", "first text"]
    )
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(len(item.embedding) == 3072 for item in result.data)
    assert result.data[0].embedding == result.data[2].embedding
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.total_tokens == 5

    small = fake_openai_client.embeddings.create(
        model="text-embedding-3-small", input=[1, 2, 3], dimensions=256, encoding_format="base64"
    )
    decoded = array.array("f", base64.b64decode(small.data[0].embedding))
    assert len(decoded) == 256
    assert small.usage.prompt_tokens == 3

    with pytest.raises(openai.BadRequestError) as error:
        fake_openai_client.embeddings.create(
            model="text-embedding-3-small", input="x", dimensions=0
        )
    assert error.value.param == "dimensions"


# --- moderations -----------------------------------------------------------------------------


def test_moderations(fake_openai_client):
    result = fake_openai_client.moderations.create(input=["a kind sentence", "I will kill the bug"])
    assert result.id.startswith("modr-")
    assert result.model == "omni-moderation-latest"
    first, second = result.results
    assert first.flagged is False
    assert second.flagged is True
    assert second.categories.violence is True
    assert second.category_scores.violence > 0.5
    assert first.category_applied_input_types.violence == ["text"]
