"""Fixtures of the gateway tests: model APIs on the fake OpenAI server (rows created
directly, so these tests do not depend on the model-API services' checks), console keys,
and OpenAI SDK clients aimed at a live gateway.

Test modules import them with `from .gateway_fixtures import *`."""

import json

import pytest

__all__ = [
    "acme_model_api",
    "gateway_url",
    "make_gateway_model_api",
    "openai_clients",
]


@pytest.fixture
def make_gateway_model_api(fake_openai, settings):
    """`make(workspace, name="my-gpt", model="gpt-4o-mini", connections=None, enabled=True)`
    → ModelAPI. `connections` is a list of (connection name, base URL, provider key);
    the default is one connection to the fake with its valid key."""
    from integrations.models import IntegrationConnection
    from models_api.models import ModelAPI, ModelAPIConnection

    settings.UPSTREAM_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]

    def make(
        workspace,
        name="my-gpt",
        *,
        model="gpt-4o-mini",
        connections=None,
        enabled=True,
        organization="",
    ):
        if connections is None:
            connections = [("openai-main", fake_openai.base_url, fake_openai.key)]
        model_api = ModelAPI.objects.create(
            workspace=workspace,
            name=name,
            display_name=name,
            enabled=enabled,
            runtime_type="openai",
            runtime_model=model,
            status=ModelAPI.Status.DEPLOYED if enabled else ModelAPI.Status.DEACTIVATED,
        )
        for position, (connection_name, base_url, key) in enumerate(connections):
            connection = IntegrationConnection.objects.filter(
                workspace=workspace, name=connection_name
            ).first()
            if connection is None:
                config = {"baseUrl": base_url}
                if organization:
                    config["organization"] = organization
                connection = IntegrationConnection.objects.create(
                    workspace=workspace,
                    name=connection_name,
                    integration="openai",
                    config=config,
                    secret=json.dumps({"apiKey": key}),
                    status=IntegrationConnection.Status.VALID,
                )
            ModelAPIConnection.objects.create(
                model_api=model_api, connection=connection, position=position
            )
        return model_api

    return make


@pytest.fixture
def acme_model_api(workspace, make_gateway_model_api):
    """`acme`'s model API "my-gpt" (gpt-4o-mini) on the fake OpenAI server."""
    return make_gateway_model_api(workspace)


@pytest.fixture
def gateway_url():
    """`gateway_url(server, workspace="acme", model_api="my-gpt")` → the OpenAI base URL."""

    def url(server, workspace="acme", model_api="my-gpt"):
        return f"{server}/run/{workspace}/models/{model_api}/v1"

    return url


@pytest.fixture
def openai_clients(gateway_url):
    """`openai_clients(server, key, ...)` → (OpenAI, AsyncOpenAI) with no retries."""
    import openai

    def make(server, key, workspace="acme", model_api="my-gpt", **options):
        base_url = gateway_url(server, workspace, model_api)
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 30)
        return (
            openai.OpenAI(base_url=base_url, api_key=key, **options),
            openai.AsyncOpenAI(base_url=base_url, api_key=key, **options),
        )

    return make
