"""The model catalog: the live list from the (fake) provider, the cache, the built-in
fallback when the provider is unreachable, and ranked search."""

import pytest

from integrations import catalog
from integrations.catalog import (
    CatalogModel,
    builtin_model,
    catalog_for_connection,
    catalog_snapshot,
    model_in_catalog,
)
from integrations.catalog_search import catalog_search, closest_model_id, rank_models
from integrations.models import IntegrationConnection

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(make_connection, fake_openai):
    # Plain `django_db`: the check queued on commit never runs, so the catalog starts cold.
    return make_connection(key=fake_openai.key, base_url=fake_openai.base_url)


def ids(models):
    return [model.id for model in models]


def test_live_list_is_fetched_with_the_key_and_described(connection, fake_openai):
    models = catalog_for_connection(connection)
    assert ids(models) == sorted(ids(models))
    assert set(ids(models)) == {
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3-mini",
        "gpt-3.5-turbo", "gpt-3.5-turbo-instruct", "text-embedding-3-small",
        "text-embedding-3-large", "text-embedding-ada-002", "omni-moderation-latest",
    }  # fmt: skip
    by_id = {model.id: model for model in models}
    mini = by_id["gpt-4o-mini"]
    assert mini.source == "live"
    assert mini.owned_by == "system"  # as the provider said
    assert (mini.input_price_per_million, mini.output_price_per_million) == (0.15, 0.60)
    assert mini.context_window == 128_000
    # A model the built-in table does not know is listed, undescribed.
    instruct = by_id["gpt-3.5-turbo-instruct"]
    assert instruct.source == "live" and instruct.input_price_per_million is None
    request = fake_openai.requests("/v1/models")[0]
    assert request["headers"]["authorization"] == f"Bearer {fake_openai.key}"


def test_second_read_is_a_cache_hit(connection, fake_openai):
    first = catalog_for_connection(connection)
    assert len(fake_openai.requests("/v1/models")) == 1
    assert catalog_for_connection(connection) == first
    assert catalog_search(connection, "gpt") and model_in_catalog(connection, "gpt-4o")
    assert len(fake_openai.requests("/v1/models")) == 1
    # Even with the provider gone, the cached live list answers.
    with fake_openai.stopped():
        snapshot = catalog_snapshot(connection)
        assert snapshot.live and ids(snapshot.models) == ids(first)


def test_refresh_asks_again(connection, fake_openai):
    catalog_for_connection(connection)
    fake_openai.configure(models=["gpt-5", "gpt-5-mini"])
    assert ids(catalog_for_connection(connection, refresh=True)) == ["gpt-5", "gpt-5-mini"]
    assert len(fake_openai.requests("/v1/models")) == 2
    assert ids(catalog_for_connection(connection)) == ["gpt-5", "gpt-5-mini"]


def test_a_new_secret_version_fetches_anew(connection, fake_openai):
    catalog_for_connection(connection)
    IntegrationConnection.objects.filter(pk=connection.pk).update(secret_version=2)
    connection.refresh_from_db()
    catalog_for_connection(connection)
    assert len(fake_openai.requests("/v1/models")) == 2


def test_fallback_to_the_builtin_table_when_unreachable(connection, fake_openai):
    with fake_openai.stopped():
        snapshot = catalog_snapshot(connection)
    assert not snapshot.live
    assert snapshot.error.startswith("unreachable")
    assert {model.source for model in snapshot.models} == {"builtin"}
    assert "gpt-5" in ids(snapshot.models)  # from the table, not the provider
    gpt4o = snapshot.by_id["gpt-4o"]
    assert (gpt4o.input_price_per_million, gpt4o.output_price_per_million) == (2.50, 10.00)
    # The fallback is remembered briefly; `model_in_catalog` can tell for known models only.
    assert model_in_catalog(connection, "gpt-4o") is True
    assert model_in_catalog(connection, "my-fine-tune") is None


def test_failed_refresh_keeps_the_live_list(connection, fake_openai):
    live = ids(catalog_for_connection(connection))
    with fake_openai.stopped():
        snapshot = catalog_snapshot(connection, refresh=True)
    assert snapshot.live and snapshot.stale and ids(snapshot.models) == live


def test_wrong_key_falls_back_too(make_connection, fake_openai):
    connection = make_connection(
        name="bad", key="sk-proj-not-a-valid-key-000000", base_url=fake_openai.base_url
    )
    snapshot = catalog_snapshot(connection)
    assert not snapshot.live
    assert snapshot.error.startswith("Incorrect API key provided")


def test_model_in_catalog_from_the_live_list(connection, fake_openai):
    fake_openai.configure(models=["gpt-4o-mini", "ft:gpt-4o-mini:acme::abc"])
    assert model_in_catalog(connection, "ft:gpt-4o-mini:acme::abc") is True
    assert model_in_catalog(connection, "gpt-4o") is False  # known model, not for this key


def test_openai_compatible_server_has_no_builtin_fallback(workspace, actor, allow_loopback):
    from integrations.services import integration_connection_create

    connection = integration_connection_create(
        workspace=workspace,
        name="vllm",
        integration="openai-compatible",
        config={"baseUrl": "http://127.0.0.1:9/v1"},  # the discard port: refused
        secret={},
        actor=actor,
    )
    snapshot = catalog_snapshot(connection)
    assert not snapshot.live and snapshot.models == []
    assert model_in_catalog(connection, "gpt-4o") is None


def test_openai_compatible_server_lists_its_own_models(
    workspace, actor, fake_openai, allow_loopback
):
    from integrations.services import integration_connection_create

    fake_openai.configure(models=["meta-llama/Llama-3.1-8B-Instruct"])
    connection = integration_connection_create(
        workspace=workspace,
        name="vllm",
        integration="openai-compatible",
        config={"baseUrl": fake_openai.base_url},
        secret={"apiKey": fake_openai.key},
        actor=actor,
    )
    [model] = catalog_for_connection(connection)
    assert model.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert model.input_price_per_million is None  # no OpenAI list prices for it


def test_search_ranks_exact_then_prefix_then_substring(connection, fake_openai):
    fake_openai.configure(
        models=["chatgpt-4o-latest", "gpt-4o-mini", "gpt-4o", "gpt-4o-2024-08-06", "o3-mini"]
    )
    assert ids(catalog_search(connection, "GPT-4o")) == [
        "gpt-4o",  # exact
        "gpt-4o-mini",  # prefix, shortest first
        "gpt-4o-2024-08-06",
        "chatgpt-4o-latest",  # substring
    ]
    assert ids(catalog_search(connection, "mini")) == ["o3-mini", "gpt-4o-mini"]
    assert ids(catalog_search(connection, "gpt", limit=2)) == ["gpt-4o", "gpt-4o-mini"]
    assert catalog_search(connection, "claude") == []
    assert len(catalog_search(connection, "  ")) == 5


def test_rank_models_is_pure():
    models = [CatalogModel(id=name) for name in ("b-x", "x", "xa", "ax")]
    assert ids(rank_models(models, "X")) == ["x", "xa", "ax", "b-x"]


def test_search_forgives_separators_and_typos():
    models = [CatalogModel(id=name) for name in ("gpt-4o", "gpt-4o-mini", "o3-mini", "gpt-5")]
    # Before fuzzy search, "gpt4o" and "gtp-4o" found nothing.
    assert ids(rank_models(models, "gpt4o")) == ["gpt-4o", "gpt-4o-mini"]
    assert ids(rank_models(models, "GPT 4o mini")) == ["gpt-4o-mini"]
    assert ids(rank_models(models, "gtp-4o"))[:2] == ["gpt-4o", "gpt-4o-mini"]
    assert rank_models(models, "claude") == []


def test_closest_model_id_suggests_what_was_meant():
    catalog_ids = ["gpt-4o", "gpt-4o-mini", "o3-mini", "text-embedding-3-small"]
    assert closest_model_id(catalog_ids, "gpt4o") == "gpt-4o"
    assert closest_model_id(catalog_ids, "gpt-4o-mni") == "gpt-4o-mini"
    assert closest_model_id(catalog_ids, "o3mini") == "o3-mini"
    assert closest_model_id(catalog_ids, "claude-3-opus") is None


def test_builtin_facts():
    assert builtin_model("gpt-4o-mini-2024-07-18").input_price_per_million == 0.15
    assert builtin_model("gpt-4o-mini-2024-07-18").id == "gpt-4o-mini-2024-07-18"
    # The first gpt-4o snapshot kept its own, higher price.
    assert builtin_model("gpt-4o-2024-05-13").input_price_per_million == 5.00
    assert builtin_model("text-embedding-3-small").output_price_per_million is None
    assert builtin_model("claude-3-opus") is None
    entry = builtin_model("gpt-4.1").to_openai()
    assert entry["object"] == "model"
    assert entry["pricing"] == {
        "currency": "USD", "unit": "1M tokens", "input": 2.0, "output": 8.0,
        "kind": "list price", "as_of": "2025-08-07",
    }  # fmt: skip


def test_catalog_uses_the_shared_cache(connection, fake_openai):
    from django.core.cache import cache

    catalog_for_connection(connection)
    cached = cache.get(catalog.cache_key(connection))
    assert cached["live"] is True
    assert "gpt-4o" in [model["id"] for model in cached["models"]]
    assert fake_openai.key not in str(cached)
