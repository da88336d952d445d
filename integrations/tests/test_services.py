"""Connection services: encryption at rest, masking, validation, rotation in place,
deletion guarded by the model APIs that use a connection, audit entries."""

import json
import logging

import pytest
from django.core.exceptions import ValidationError
from django.db import connection as db_connection

from integrations import services
from integrations.models import IntegrationConnection, mask_secret
from workspaces.models import AuditLogEntry
from workspaces.services import Conflict

KEY = "sk-proj-Zq81testSecretValue0000a1b2"
NEW_KEY = "sk-proj-Zq81rotatedSecretValue99c3d4"

pytestmark = pytest.mark.django_db


def raw_secret(connection_id: int, column: str = "secret") -> bytes:
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM integrations_integrationconnection WHERE id = %s",
            [connection_id],
        )
        (value,) = cursor.fetchone()
    return bytes(value) if not isinstance(value, str) else value.encode()


def test_mask_secret():
    assert mask_secret("sk-proj-abcdefghijklmnopa1b2") == "sk-…a1b2"
    assert mask_secret("short-key") == "…"
    assert mask_secret("") == ""
    assert mask_secret(None) == ""


def test_secret_is_encrypted_at_rest(make_connection):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    stored = raw_secret(connection.pk)
    assert KEY.encode() not in stored
    assert b"apiKey" not in stored  # the whole JSON is encrypted, not just the value
    assert stored.startswith(b"gAAAA")  # a Fernet token
    reloaded = IntegrationConnection.objects.get(pk=connection.pk)
    assert reloaded.secret_values == {"apiKey": KEY}
    assert reloaded.secret_hint == "sk-…a1b2"
    assert reloaded.masked_secret == {"apiKey": "sk-…a1b2"}
    assert KEY not in repr(reloaded) and KEY not in str(reloaded)


def test_create_sets_checking_and_audits_only_the_hint(make_connection, workspace, caplog):
    caplog.set_level(logging.DEBUG)
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1", organization="org-1")
    assert connection.status == IntegrationConnection.Status.CHECKING
    assert connection.config == {"baseUrl": "http://127.0.0.1:9/v1", "organization": "org-1"}
    assert connection.created_by_label == "ada@example.com"
    entry = AuditLogEntry.objects.for_workspace(workspace).get(action="integration.create")
    assert entry.target_label == "main"
    assert entry.changes["key"] == "sk-…a1b2"
    assert KEY not in json.dumps(entry.changes)
    assert KEY not in caplog.text


def test_create_queues_the_check_on_commit_with_ids_only(
    make_connection, django_capture_on_commit_callbacks, monkeypatch
):
    from integrations import tasks

    queued = []
    monkeypatch.setattr(tasks.validate_connection, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    assert queued == [(connection.pk, connection.secret_version)]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"integration": "nope"}, "integration", "Unknown integration"),
        ({"secret": {}}, "apiKey", "API key is required"),
        ({"secret": {"apiKey": "   "}}, "apiKey", "API key is required"),
        ({"secret": {"apiKey": "sk-…a1b2"}}, "apiKey", "masked value"),
        ({"secret": {"apiKey": "sk-abc def-ghijklmnop"}}, "apiKey", "no spaces"),
        ({"secret": {"apiKey": KEY, "token": "x"}}, "token", "Unknown secret"),
        ({"config": {"region": "eu"}}, "region", "Unknown setting"),
        ({"config": {"baseUrl": "ftp://example.com"}}, "baseUrl", "valid http"),
        ({"config": {"organization": 5}}, "organization", "Must be a string"),
        ({"name": "Not A Slug"}, "name", "lowercase"),
        ({"name": ""}, "name", "cannot be blank"),
        ({"integration": "openai-compatible", "config": {}}, "baseUrl", "Base URL is required"),
    ],
)
def test_create_rejects_bad_input_per_field(workspace, actor, kwargs, field, message):
    arguments = {
        "workspace": workspace,
        "name": "main",
        "integration": "openai",
        "config": {},
        "secret": {"apiKey": KEY},
        "actor": actor,
        **kwargs,
    }
    with pytest.raises(ValidationError) as caught:
        services.integration_connection_create(**arguments)
    assert field in caught.value.message_dict, caught.value.message_dict
    assert message in " ".join(caught.value.message_dict[field])
    assert KEY not in str(caught.value)
    assert not IntegrationConnection.objects.exists()


def test_duplicate_name_is_a_conflict(make_connection):
    make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(Conflict, match="already exists"):
        make_connection(key=NEW_KEY, base_url="http://127.0.0.1:9/v1")


def test_a_create_that_loses_the_race_for_the_name_is_a_conflict(make_connection, monkeypatch):
    make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    # The second create's name check ran before the first was committed: it saw nothing.
    monkeypatch.setattr(
        services.selectors,
        "connections_for_workspace",
        lambda *, workspace: IntegrationConnection.objects.none(),
    )
    with pytest.raises(Conflict, match="already exists"):
        make_connection(key=NEW_KEY, base_url="http://127.0.0.1:9/v1")
    assert IntegrationConnection.objects.get().secret_values == {"apiKey": KEY}
    assert AuditLogEntry.objects.filter(action="integration.create").count() == 1


def test_same_name_in_another_workspace_is_fine(make_connection, other_workspace):
    make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    other = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1", workspace=other_workspace)
    assert other.workspace == other_workspace


@pytest.mark.parametrize("sent_back", [None, {}, {"apiKey": ""}, {"apiKey": "sk-…a1b2"}])
def test_update_with_masked_or_missing_secret_keeps_it(make_connection, actor, sent_back):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    services.integration_connection_update(
        connection=connection, actor=actor, display_name="Main key", secret=sent_back
    )
    connection.refresh_from_db()
    assert connection.secret_values == {"apiKey": KEY}
    assert connection.display_name == "Main key"
    assert connection.secret_version == 1
    assert AuditLogEntry.objects.filter(action="integration.update").count() == 1
    assert not AuditLogEntry.objects.filter(action="integration.rotate_key").exists()


def test_a_new_key_waits_encrypted_while_the_old_one_serves(make_connection, actor, workspace):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    IntegrationConnection.objects.filter(pk=connection.pk).update(status="valid")
    services.integration_connection_update(
        connection=connection, actor=actor, secret={"apiKey": NEW_KEY}
    )
    rotated = IntegrationConnection.objects.get(pk=connection.pk)
    assert IntegrationConnection.objects.count() == 1
    # Until the provider accepts it, the stored key is unchanged and still serves.
    assert rotated.secret_values == {"apiKey": KEY}
    assert rotated.secret_hint == "sk-…a1b2"
    assert rotated.secret_version == 1
    assert rotated.status == IntegrationConnection.Status.VALID
    assert rotated.pending_secret_values == {"apiKey": NEW_KEY}
    assert rotated.pending_secret_hint == "sk-…c3d4"
    assert rotated.pending_status == "checking"
    assert NEW_KEY.encode() not in raw_secret(connection.pk, "pending_secret")
    entry = AuditLogEntry.objects.for_workspace(workspace).get(action="integration.rotate_key")
    assert entry.changes == {"key": ["sk-…a1b2", "sk-…c3d4"], "key_checked_first": True}


def test_an_accepted_new_key_replaces_the_old_one(make_connection, actor, workspace):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    services.integration_connection_update(
        connection=connection, actor=actor, secret={"apiKey": NEW_KEY}
    )
    version = IntegrationConnection.objects.get(pk=connection.pk).pending_version
    # A result for an older submission is ignored.
    assert (
        services.integration_connection_pending_key_result(
            connection_id=connection.pk, pending_version=version - 1, models=[]
        )
        is None
    )
    services.integration_connection_pending_key_result(
        connection_id=connection.pk, pending_version=version, models=[]
    )
    replaced = IntegrationConnection.objects.get(pk=connection.pk)
    assert replaced.secret_values == {"apiKey": NEW_KEY}
    assert (replaced.secret_hint, replaced.secret_version) == ("sk-…c3d4", 2)
    assert (replaced.status, replaced.pending_status) == ("valid", "")
    assert replaced.pending_secret is None
    assert NEW_KEY.encode() not in raw_secret(connection.pk)
    assert AuditLogEntry.objects.get(action="integration.key_replaced").actor_label == "system"


def test_a_refused_new_key_is_dropped_and_the_old_one_kept(make_connection, actor):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    services.integration_connection_update(
        connection=connection, actor=actor, secret={"apiKey": NEW_KEY}
    )
    version = IntegrationConnection.objects.get(pk=connection.pk).pending_version
    services.integration_connection_pending_key_result(
        connection_id=connection.pk, pending_version=version, models=None, reason="Incorrect"
    )
    kept = IntegrationConnection.objects.get(pk=connection.pk)
    assert kept.secret_values == {"apiKey": KEY} and kept.secret_version == 1
    assert (kept.pending_status, kept.pending_message) == ("rejected", "Incorrect")
    assert kept.pending_secret is None and kept.pending_secret_hint == "sk-…c3d4"


def test_changing_the_base_url_checks_again(make_connection, actor):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    services.integration_connection_update(
        connection=connection, actor=actor, config={"baseUrl": "http://127.0.0.1:10/v1"}
    )
    connection.refresh_from_db()
    assert connection.secret_version == 2
    assert connection.config == {"baseUrl": "http://127.0.0.1:10/v1"}
    # Only the display name: no new check.
    services.integration_connection_update(connection=connection, actor=actor, display_name="x")
    connection.refresh_from_db()
    assert connection.secret_version == 2


def test_update_rejects_bad_config_and_keeps_the_row(make_connection, actor):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValidationError) as caught:
        services.integration_connection_update(
            connection=connection, actor=actor, config={"baseUrl": "not a url"}
        )
    assert "baseUrl" in caught.value.message_dict
    connection.refresh_from_db()
    assert connection.config == {"baseUrl": "http://127.0.0.1:9/v1"}


def _model_api_using(connection, name):
    from models_api.models import ModelAPI, ModelAPIConnection

    model_api = ModelAPI.objects.create(
        workspace=connection.workspace, name=name, runtime_type="openai", runtime_model="gpt-4o"
    )
    ModelAPIConnection.objects.create(model_api=model_api, connection=connection, position=0)
    return model_api


def test_delete_refused_while_model_apis_use_it(make_connection, actor, workspace):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    first = _model_api_using(connection, "chat-bot")
    _model_api_using(connection, "summarizer")
    with pytest.raises(Conflict) as caught:
        services.integration_connection_delete(connection=connection, actor=actor)
    assert "“chat-bot”" in str(caught.value) and "“summarizer”" in str(caught.value)
    assert IntegrationConnection.objects.filter(pk=connection.pk).exists()

    first.delete()
    from models_api.models import ModelAPI

    ModelAPI.objects.filter(name="summarizer").delete()
    services.integration_connection_delete(connection=connection, actor=actor)
    assert not IntegrationConnection.objects.exists()
    entry = AuditLogEntry.objects.for_workspace(workspace).get(action="integration.delete")
    assert entry.changes == {"integration": "openai", "key": "sk-…a1b2"}


def test_model_apis_using_connection_counts_per_workspace(make_connection):
    from integrations.selectors import connections_for_workspace, model_apis_using_connection

    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    _model_api_using(connection, "chat-bot")
    assert [m.name for m in model_apis_using_connection(connection=connection)] == ["chat-bot"]
    annotated = connections_for_workspace(workspace=connection.workspace).get()
    assert annotated.model_api_count == 1


def test_openai_compatible_without_key(workspace, actor, allow_loopback):
    connection = services.integration_connection_create(
        workspace=workspace,
        name="vllm",
        integration="openai-compatible",
        config={"baseUrl": "http://localhost:8000/v1/"},
        secret={},
        actor=actor,
    )
    assert connection.config == {"baseUrl": "http://localhost:8000/v1"}
    assert connection.secret_hint == ""
    assert connection.provider.upstream_headers(config=connection.config, secret={}) == {}
