"""Model API services and the deploy check (DESIGN.md §6)."""

import pytest
from django.core.exceptions import ValidationError

from blaxel_console import cache_versions
from models_api import deployment, services, tasks
from models_api.models import ModelAPI, ModelAPIEvent
from models_api.usage.models import UsageRecord
from workspaces.models import AuditLogEntry
from workspaces.principals import Principal
from workspaces.services import Conflict

pytestmark = pytest.mark.django_db


def statuses(model_api):
    return list(model_api.events.values_list("status", flat=True))


# --- create ------------------------------------------------------------------------------


def test_create_starts_deploying_with_its_connections_an_event_and_an_audit_row(
    workspace, openai_connection, second_connection, admin_user, actor
):
    model_api = services.model_api_create(
        workspace=workspace,
        name="my-gpt",
        display_name="My GPT",
        labels={"team": "search"},
        connections=[openai_connection, second_connection],
        model="gpt-4o-mini",
        actor=actor,
    )
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEPLOYING
    assert model_api.runtime_type == "openai"
    assert model_api.runtime_model == "gpt-4o-mini"
    assert model_api.labels == {"team": "search"}
    assert model_api.created_by == admin_user
    assert model_api.created_by_label == admin_user.email
    links = list(model_api.connection_links.order_by("position"))
    assert [(link.position, link.connection.name) for link in links] == [
        (0, "openai-main"),
        (1, "openai-backup"),
    ]
    event = model_api.events.get()
    assert event.status == "DEPLOYING"
    assert "gpt-4o-mini" in event.message and "openai-main" in event.message
    audit = AuditLogEntry.objects.get(action="model_api.create")
    assert audit.target_label == "my-gpt"
    assert audit.changes["connections"] == ["openai-main", "openai-backup"]


def test_create_without_display_name_uses_the_name(make_model_api):
    assert make_model_api(name="plain").display_name == "plain"


def test_create_queues_the_check_and_invalidates_routes_on_commit(
    make_model_api, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.model_api_deploy, "delay", queued.append)
    before = cache_versions.current(cache_versions.ROUTING)
    with django_capture_on_commit_callbacks(execute=True):
        model_api = make_model_api()
        assert queued == []  # nothing leaves before the commit
    assert queued == [model_api.pk]
    assert cache_versions.current(cache_versions.ROUTING) != before


@pytest.mark.parametrize(
    "name",
    ["My-GPT", "-gpt", "gpt-", "my_gpt", "my gpt", "gpt.4", "", "a" * 50, "new"],
)
def test_create_refuses_bad_names(make_model_api, name):
    with pytest.raises(ValidationError) as error:
        make_model_api(name=name)
    assert "name" in error.value.error_dict
    assert not ModelAPI.objects.exists()


def test_create_accepts_a_name_of_49_characters(make_model_api):
    assert make_model_api(name="a" * 49).name == "a" * 49


def test_create_refuses_a_duplicate_name_with_a_conflict(make_model_api):
    make_model_api(name="my-gpt")
    with pytest.raises(Conflict, match="already exists"):
        make_model_api(name="my-gpt", model="gpt-4o")
    assert ModelAPI.objects.count() == 1


def test_the_same_name_in_another_workspace_is_fine(
    make_model_api, other_workspace, other_connection, outsider
):
    make_model_api(name="my-gpt")
    other = make_model_api(
        name="my-gpt",
        workspace=other_workspace,
        connections=[other_connection],
        actor=Principal.for_user(outsider),
    )
    assert other.workspace == other_workspace


def test_create_refuses_another_workspaces_connection(make_model_api, other_connection):
    with pytest.raises(ValidationError) as error:
        make_model_api(connections=[other_connection])
    assert "connections" in error.value.error_dict
    assert not ModelAPI.objects.exists()


@pytest.mark.parametrize("case", ["none", "twice"])
def test_create_refuses_an_empty_or_repeated_connection_list(
    make_model_api, openai_connection, case
):
    connections = [] if case == "none" else [openai_connection, openai_connection]
    with pytest.raises(ValidationError) as error:
        make_model_api(connections=connections)
    assert "connections" in error.value.error_dict


def test_create_refuses_connections_of_different_providers(
    make_model_api, openai_connection, workspace, actor, fake_openai
):
    from integrations.services import integration_connection_create

    compatible = integration_connection_create(
        workspace=workspace,
        name="vllm",
        integration="openai-compatible",
        config={"baseUrl": fake_openai.base_url},
        secret={"apiKey": "anything"},
        actor=actor,
    )
    with pytest.raises(ValidationError, match="same provider"):
        make_model_api(connections=[openai_connection, compatible])


def test_the_runtime_type_is_the_connections_provider(
    make_model_api, workspace, actor, fake_openai
):
    from integrations.services import integration_connection_create

    compatible = integration_connection_create(
        workspace=workspace,
        name="vllm",
        integration="openai-compatible",
        config={"baseUrl": fake_openai.base_url},
        secret={"apiKey": "anything"},
        actor=actor,
    )
    assert make_model_api(connections=[compatible]).runtime_type == "openai-compatible"


@pytest.mark.parametrize("model", ["", "   "])
def test_create_refuses_a_blank_model(make_model_api, model):
    with pytest.raises(ValidationError) as error:
        make_model_api(model=model)
    assert "model" in error.value.error_dict


@pytest.mark.parametrize(
    "labels", ["not a dict", {"": "empty key"}, {"k": 1}, {"k" * 64: "v"}, {"k": "v" * 256}]
)
def test_create_refuses_bad_labels(make_model_api, labels):
    with pytest.raises(ValidationError) as error:
        make_model_api(labels=labels)
    assert "labels" in error.value.error_dict


def test_create_disabled_is_deactivated_and_not_checked(
    make_model_api, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.model_api_deploy, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        model_api = make_model_api(enabled=False)
    assert model_api.status == ModelAPI.Status.DEACTIVATED
    assert statuses(model_api) == ["DEACTIVATED"]
    assert queued == []


# --- update ------------------------------------------------------------------------------


def test_update_display_name_and_labels_keeps_the_status(make_model_api, actor, member_user):
    model_api = make_model_api()
    tasks.model_api_deploy(model_api.pk)
    member = Principal.for_user(member_user)
    services.model_api_update(
        model_api=model_api, actor=member, display_name="Renamed", labels={"env": "prod"}
    )
    model_api.refresh_from_db()
    assert (model_api.display_name, model_api.labels) == ("Renamed", {"env": "prod"})
    assert model_api.status == ModelAPI.Status.DEPLOYED
    assert model_api.updated_by_label == member_user.email
    assert AuditLogEntry.objects.get(action="model_api.update").changes["display_name"] == [
        "my-gpt",
        "Renamed",
    ]


def test_an_update_that_changes_nothing_writes_nothing(make_model_api, actor):
    model_api = make_model_api(display_name="Same")
    services.model_api_update(
        model_api=model_api, actor=actor, display_name="Same", model="gpt-4o-mini"
    )
    assert not AuditLogEntry.objects.filter(action="model_api.update").exists()
    assert statuses(model_api) == ["DEPLOYING"]


def test_disabling_deactivates_and_re_enabling_checks_again(
    make_model_api, actor, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.model_api_deploy, "delay", queued.append)
    model_api = make_model_api()
    tasks.model_api_deploy(model_api.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.model_api_update(model_api=model_api, actor=actor, enabled=False)
    model_api.refresh_from_db()
    assert (model_api.enabled, model_api.status) == (False, ModelAPI.Status.DEACTIVATED)
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        services.model_api_update(model_api=model_api, actor=actor, enabled=True)
    model_api.refresh_from_db()
    assert (model_api.enabled, model_api.status) == (True, ModelAPI.Status.DEPLOYING)
    assert queued == [model_api.pk]
    tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEPLOYED
    assert statuses(model_api) == ["DEPLOYING", "DEPLOYED", "DEACTIVATED", "DEPLOYING", "DEPLOYED"]


def test_changing_the_model_checks_it_again(make_model_api, actor, retiring_model):
    model_api = make_model_api()
    tasks.model_api_deploy(model_api.pk)
    retiring_model("late-model")
    services.model_api_update(model_api=model_api, actor=actor, model="late-model")
    retiring_model.retire()
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEPLOYING
    tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.FAILED


def test_changing_the_connections_reorders_them(
    make_model_api, actor, openai_connection, second_connection
):
    model_api = make_model_api(connections=[openai_connection, second_connection])
    services.model_api_update(
        model_api=model_api, actor=actor, connections=[second_connection, openai_connection]
    )
    assert list(
        model_api.connection_links.order_by("position").values_list("connection__name", flat=True)
    ) == ["openai-backup", "openai-main"]


def test_update_refuses_another_workspaces_connection(make_model_api, actor, other_connection):
    model_api = make_model_api()
    with pytest.raises(ValidationError):
        services.model_api_update(model_api=model_api, actor=actor, connections=[other_connection])
    assert model_api.connection_links.get().connection.workspace == model_api.workspace


def test_an_update_invalidates_routes(make_model_api, actor, django_capture_on_commit_callbacks):
    model_api = make_model_api()
    before = cache_versions.current(cache_versions.ROUTING)
    with django_capture_on_commit_callbacks(execute=True):
        services.model_api_update(model_api=model_api, actor=actor, enabled=False)
    assert cache_versions.current(cache_versions.ROUTING) != before


# --- delete ------------------------------------------------------------------------------


def test_delete_removes_it_keeps_usage_and_invalidates_routes(
    make_model_api, actor, workspace, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    model_api = make_model_api()
    UsageRecord.objects.create(
        request_id="r1",
        time=timezone.now(),
        workspace=workspace,
        model_api=model_api,
        model_api_name=model_api.name,
        caller="ada@example.com",
        path="v1/chat/completions",
        status_code=200,
        latency_ms=12.0,
    )
    before = cache_versions.current(cache_versions.ROUTING)
    with django_capture_on_commit_callbacks(execute=True):
        services.model_api_delete(model_api=model_api, actor=actor)
    assert not ModelAPI.objects.exists()
    assert not ModelAPIEvent.objects.exists()
    record = UsageRecord.objects.get()
    assert (record.model_api, record.model_api_name) == (None, "my-gpt")
    assert AuditLogEntry.objects.filter(action="model_api.delete", target_label="my-gpt").exists()
    assert cache_versions.current(cache_versions.ROUTING) != before


# --- the deploy check --------------------------------------------------------------------------


def test_the_check_deploys_a_model_of_the_catalog(make_model_api, fake_openai):
    model_api = make_model_api(model="gpt-4.1-mini")
    tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEPLOYED
    event = model_api.events.last()
    assert event.status == "DEPLOYED" and "gpt-4.1-mini" in event.message
    # It asked the provider with the connection's key.
    seen = fake_openai.requests("/v1/models")
    assert seen and seen[-1]["headers"]["authorization"] == f"Bearer {fake_openai.key}"


def test_the_check_fails_an_unknown_model_saying_why(make_model_api, retiring_model):
    retiring_model("gpt-7-imaginary")
    model_api = make_model_api(model="gpt-7-imaginary")
    retiring_model.retire()
    tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.FAILED
    event = model_api.events.last()
    assert event.status == "FAILED"
    assert "Unknown model" in event.message
    assert "gpt-7-imaginary" in event.message and "openai-main" in event.message
    # Events are kept: the start of the check is still there.
    assert statuses(model_api) == ["DEPLOYING", "FAILED"]


def test_the_check_fails_when_the_provider_is_unreachable(
    make_model_api, fake_openai, retiring_model
):
    retiring_model("my-finetune-v2")
    model_api = make_model_api(model="my-finetune-v2")
    retiring_model.retire()
    with fake_openai.stopped():
        tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.FAILED
    message = model_api.events.last().message
    assert "Provider unreachable" in message and "my-finetune-v2" in message
    assert fake_openai.key not in message


def test_a_well_known_model_deploys_even_when_the_provider_is_unreachable(
    make_model_api, fake_openai
):
    """The catalog's built-in table vouches for well-known OpenAI models."""
    model_api = make_model_api(model="gpt-4o-mini")
    with fake_openai.stopped():
        tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEPLOYED


def test_a_stale_check_result_is_ignored(make_model_api, actor):
    """A check of the old model finishing after the model changed must not win."""
    model_api = make_model_api(model="gpt-4o-mini")
    connection_id = model_api.connection_links.get().connection_id
    services.model_api_update(model_api=model_api, actor=actor, model="gpt-4o")
    result = deployment.model_api_record_deploy_result(
        model_api_id=model_api.pk,
        checked_model="gpt-4o-mini",
        checked_connection_id=connection_id,
        available=True,
    )
    assert result is None
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEPLOYING


def test_a_check_of_a_disabled_or_deleted_model_api_does_nothing(make_model_api, actor):
    model_api = make_model_api()
    services.model_api_update(model_api=model_api, actor=actor, enabled=False)
    tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEACTIVATED
    pk = model_api.pk
    services.model_api_delete(model_api=model_api, actor=actor)
    tasks.model_api_deploy(pk)  # no error


def test_check_again_after_a_failure(make_model_api, actor, fake_openai, retiring_model):
    retiring_model("late-model")
    model_api = make_model_api(model="late-model")
    retiring_model.retire()
    tasks.model_api_deploy(model_api.pk)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.FAILED
    services.model_api_check_again(model_api=model_api, actor=actor)
    model_api.refresh_from_db()
    assert model_api.status == ModelAPI.Status.DEPLOYING
    services.model_api_update(model_api=model_api, actor=actor, enabled=False)
    with pytest.raises(Conflict, match="disabled"):
        services.model_api_check_again(model_api=model_api, actor=actor)
