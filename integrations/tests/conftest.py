"""Fixtures of the integrations tests: loopback upstreams allowed (the fake OpenAI server
listens on 127.0.0.1) and a factory of connections."""

import pytest

LOOPBACK = ["127.0.0.1", "localhost", "::1"]


@pytest.fixture
def allow_loopback(settings):
    """The test process allows loopback upstreams, like the live server and the worker
    subprocesses do (`subprocess_env`)."""
    settings.UPSTREAM_ALLOWED_HOSTS = LOOPBACK
    return settings


@pytest.fixture
def actor(admin_user):
    from workspaces.principals import Principal

    return Principal.for_user(admin_user)


@pytest.fixture
def make_connection(workspace, actor, allow_loopback):
    """`make_connection(name, key=..., base_url=..., workspace=..., **config)`: an OpenAI
    connection through the service (so its check is queued on commit)."""
    from integrations.services import integration_connection_create

    def make(name="main", *, key, base_url=None, workspace=workspace, actor=actor, **config):
        if base_url:
            config["baseUrl"] = base_url
        return integration_connection_create(
            workspace=workspace,
            name=name,
            integration="openai",
            config=config,
            secret={"apiKey": key},
            actor=actor,
        )

    return make


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """The fixtures' users need no costly password hash here (nobody logs in with a
    password: clients use force_login or an API key)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
