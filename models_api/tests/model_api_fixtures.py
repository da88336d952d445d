"""Fixtures of the model-API tests (services, API, screens, tasks): OpenAI connections
pointing at the fake OpenAI server, and model APIs made through the services.

Test modules import them with `from .model_api_fixtures import *` (kept out of a
conftest.py so that other suites of this app are unaffected)."""

import pytest

__all__ = [
    "actor",
    "allow_loopback",
    "fast_password_hashing",
    "make_model_api",
    "openai_connection",
    "other_connection",
    "second_connection",
    "settled_background_work",
]

LOOPBACK = ["127.0.0.1", "localhost", "::1"]


@pytest.fixture
def fast_password_hashing(settings):
    """Test users' passwords hashed cheaply (PBKDF2 costs about a second per user). Only
    for tests that stay in this process: a live server would not know this hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def allow_loopback(settings):
    """This process may reach the fake OpenAI server on 127.0.0.1, as the live server and
    worker subprocesses may (`subprocess_env`)."""
    settings.UPSTREAM_ALLOWED_HOSTS = LOOPBACK
    return settings


@pytest.fixture
def actor(admin_user):
    from workspaces.principals import Principal

    return Principal.for_user(admin_user)


def _connection(*, workspace, name, key, base_url, actor):
    from integrations.services import integration_connection_create

    return integration_connection_create(
        workspace=workspace,
        name=name,
        integration="openai",
        config={"baseUrl": base_url},
        secret={"apiKey": key},
        display_name=name.replace("-", " ").title(),
        actor=actor,
    )


@pytest.fixture
def openai_connection(workspace, actor, fake_openai, allow_loopback):
    """`acme`'s OpenAI connection "openai-main", on the fake server with its valid key."""
    return _connection(
        workspace=workspace,
        name="openai-main",
        key=fake_openai.key,
        base_url=fake_openai.base_url,
        actor=actor,
    )


@pytest.fixture
def second_connection(workspace, actor, fake_openai, allow_loopback):
    """A second `acme` OpenAI connection ("openai-backup"), with the fake's second key."""
    return _connection(
        workspace=workspace,
        name="openai-backup",
        key=fake_openai.second_key,
        base_url=fake_openai.base_url,
        actor=actor,
    )


@pytest.fixture
def other_connection(other_workspace, outsider, fake_openai, allow_loopback):
    """`globex`'s OpenAI connection, also named "openai-main"."""
    from workspaces.principals import Principal

    return _connection(
        workspace=other_workspace,
        name="openai-main",
        key=fake_openai.key,
        base_url=fake_openai.base_url,
        actor=Principal.for_user(outsider),
    )


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
    from conftest import wait_until
    from integrations.models import IntegrationConnection
    from models_api.models import ModelAPI

    wait_until(
        lambda: (
            not IntegrationConnection.objects.filter(status="checking").exists()
            and not ModelAPI.objects.filter(status="DEPLOYING").exists()
        ),
        timeout=30,
    )
