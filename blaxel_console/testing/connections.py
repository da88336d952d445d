"""OpenAI connections of the test workspaces, on the fake OpenAI server, made through the
integrations' services; and loopback upstreams allowed in this process, as they are in
the suite's child processes."""

import pytest

from .servers import LOOPBACK


@pytest.fixture
def allow_loopback(settings):
    """This process may reach the fake OpenAI server on 127.0.0.1, as the live server and
    worker subprocesses may (`servers.subprocess_env`)."""
    settings.UPSTREAM_ALLOWED_HOSTS = LOOPBACK
    return settings


def create_openai_connection(
    *, workspace, name, key, actor, base_url=None, config=None, display_name=""
):
    """An OpenAI connection through the service (so its check is queued on commit)."""
    from integrations.services import integration_connection_create

    config = dict(config or {})
    if base_url:
        config["baseUrl"] = base_url
    return integration_connection_create(
        workspace=workspace,
        name=name,
        integration="openai",
        config=config,
        secret={"apiKey": key},
        display_name=display_name,
        actor=actor,
    )


@pytest.fixture
def make_connection(workspace, actor, allow_loopback):
    """`make_connection(name, key=..., base_url=..., workspace=..., **config)`: an OpenAI
    connection through the service (so its check is queued on commit)."""

    def make(name="main", *, key, base_url=None, workspace=workspace, actor=actor, **config):
        return create_openai_connection(
            workspace=workspace, name=name, key=key, base_url=base_url, actor=actor, config=config
        )

    return make


def _named_connection(*, workspace, name, key, base_url, actor):
    return create_openai_connection(
        workspace=workspace,
        name=name,
        key=key,
        base_url=base_url,
        actor=actor,
        display_name=name.replace("-", " ").title(),
    )


@pytest.fixture
def openai_connection(workspace, actor, fake_openai, allow_loopback):
    """`acme`'s OpenAI connection "openai-main", on the fake server with its valid key."""
    return _named_connection(
        workspace=workspace,
        name="openai-main",
        key=fake_openai.key,
        base_url=fake_openai.base_url,
        actor=actor,
    )


@pytest.fixture
def second_connection(workspace, actor, fake_openai, allow_loopback):
    """A second `acme` OpenAI connection ("openai-backup"), with the fake's second key."""
    return _named_connection(
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

    return _named_connection(
        workspace=other_workspace,
        name="openai-main",
        key=fake_openai.key,
        base_url=fake_openai.base_url,
        actor=Principal.for_user(outsider),
    )
