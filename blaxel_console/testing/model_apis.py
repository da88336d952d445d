"""Model APIs of the test workspaces on the fake OpenAI server: made through the services
(`make_model_api`), or as rows directly for the gateway's tests (`make_gateway_model_api`,
so those do not depend on the services' checks); and OpenAI SDK clients aimed at a live
gateway."""

import json

import pytest

from .waiting import wait_until


@pytest.fixture
def make_model_api(workspace, actor, openai_connection):
    """`make_model_api(name="my-gpt", model="gpt-4o-mini", **kwargs)` through the service."""
    from models_api.services import model_api_create

    def make(name="my-gpt", model="gpt-4o-mini", **kwargs):
        kwargs.setdefault("workspace", workspace)
        kwargs.setdefault("connections", [openai_connection])
        kwargs.setdefault("actor", actor)
        return model_api_create(name=name, model=model, **kwargs)

    return make


@pytest.fixture
def settled_background_work(transactional_db):
    """For tests with committed data and a real worker: at the end, wait for the checks
    this test queued (connection validation, deploy check) to finish, so that the
    worker is not writing while the test database is flushed."""
    yield
    from integrations.models import IntegrationConnection
    from models_api.models import ModelAPI

    wait_until(
        lambda: (
            not IntegrationConnection.objects.filter(status="checking").exists()
            and not ModelAPI.objects.filter(status="DEPLOYING").exists()
        ),
        timeout=30,
    )


@pytest.fixture
def make_gateway_model_api(fake_openai, allow_loopback):
    """`make(workspace, name="my-gpt", model="gpt-4o-mini", connections=None, enabled=True)`
    → ModelAPI. `connections` is a list of (connection name, base URL, provider key);
    the default is one connection to the fake with its valid key."""
    from integrations.models import IntegrationConnection
    from models_api.models import ModelAPI, ModelAPIConnection

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


@pytest.fixture
def member_gateway_clients(asgi_server, acme_model_api, member_key, openai_clients):
    """(OpenAI, AsyncOpenAI) of `acme`'s member, aimed at "my-gpt" on a live gateway."""
    return openai_clients(asgi_server, member_key)


@pytest.fixture
def retiring_model(fake_openai):
    """`retiring_model("late-model")`: the fake provider lists that model too (a model API
    may be created on it); `retiring_model.retire()` takes it out of the provider's list
    and forgets the cached catalogs, as when a provider retires a model."""
    from integrations import catalog
    from integrations.fake_openai import BUILTIN_MODELS
    from integrations.models import IntegrationConnection

    listed = [model for model, _, _ in BUILTIN_MODELS]

    def forget_catalogs():
        for connection in IntegrationConnection.objects.all():
            catalog.cache.delete(catalog.cache_key(connection))

    class Retiring:
        def __call__(self, *models: str) -> None:
            fake_openai.configure(models=[*listed, *models])
            forget_catalogs()

        def retire(self) -> None:
            fake_openai.configure(models=listed)
            forget_catalogs()

    return Retiring()
