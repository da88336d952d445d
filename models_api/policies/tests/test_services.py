"""The policy services: creating validates, audits, refuses a duplicate and bumps the
routing version; attaching and detaching policies to a model API (never another
workspace's) sets its limits; an attached policy cannot be deleted; switching a
policy's type clears the other type's fields."""

import pytest
from django.core.exceptions import ValidationError

from blaxel_console import cache_versions
from models_api.policies import enforcement
from models_api.policies import selectors as policy_selectors
from models_api.policies import services as policy_services
from models_api.policies.models import ModelAPIPolicy, Policy
from workspaces.models import AuditLogEntry
from workspaces.principals import Principal
from workspaces.services import Conflict

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


def test_create_validates_and_audits(workspace, actor):
    with pytest.raises(ValidationError) as error:
        policy_services.policy_create(
            workspace=workspace, name="no-caps", actor=actor, type="maxToken"
        )
    assert "max_total_tokens" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        policy_services.policy_create(
            workspace=workspace,
            name="Bad Name",
            actor=actor,
            type="rateLimit",
            requests_per_minute=5,
        )
    assert "name" in error.value.message_dict

    policy = policy_services.policy_create(
        workspace=workspace, name="rpm", actor=actor, type="rateLimit", requests_per_minute=5
    )
    assert policy.summary == "5 requests / minute, per model API"
    assert AuditLogEntry.objects.filter(action="policy.create", target_label="rpm").exists()
    with pytest.raises(Conflict):
        policy_services.policy_create(
            workspace=workspace, name="rpm", actor=actor, type="rateLimit", requests_per_minute=1
        )


def test_create_bumps_the_routing_version(workspace, actor, django_capture_on_commit_callbacks):
    before = cache_versions.current(cache_versions.ROUTING)
    with django_capture_on_commit_callbacks(execute=True):
        policy_services.policy_create(
            workspace=workspace, name="rpm", actor=actor, type="rateLimit", requests_per_minute=5
        )
    assert cache_versions.current(cache_versions.ROUTING) != before


def test_attach_detach_and_limits(workspace, actor, daily_cap, bare_model_api):
    api = bare_model_api(workspace)
    rpm = policy_services.policy_create(
        workspace=workspace, name="rpm", actor=actor, type="rateLimit", requests_per_minute=7
    )
    with pytest.raises(ValidationError) as error:
        policy_services.model_api_set_policies(model_api=api, policy_names=["nope"], actor=actor)
    assert "policies" in error.value.message_dict

    policy_services.model_api_set_policies(
        model_api=api, policy_names=["daily-cap", "rpm"], actor=actor
    )

    assert policy_selectors.policy_names_for_model_api(model_api=api) == ["daily-cap", "rpm"]
    limits = {(limit.kind, limit.cap) for limit in enforcement.limits_for_model_api(api.pk)}
    assert limits == {("total", 100000), ("requests", 7)}
    with pytest.raises(Conflict):
        policy_services.policy_delete(policy=rpm, actor=actor)

    policy_services.model_api_set_policies(model_api=api, policy_names=["daily-cap"], actor=actor)
    policy_services.policy_delete(policy=rpm, actor=actor)
    assert not Policy.objects.filter(name="rpm").exists()


def test_policies_of_another_workspace_cannot_be_attached(
    workspace, other_workspace, outsider, bare_model_api
):
    policy_services.policy_create(
        workspace=other_workspace,
        name="foreign",
        actor=Principal.for_user(outsider),
        type="rateLimit",
        requests_per_minute=1,
    )
    api = bare_model_api(workspace)
    with pytest.raises(ValidationError):
        policy_services.model_api_set_policies(
            model_api=api, policy_names=["foreign"], actor=Principal.for_user(outsider)
        )
    assert not ModelAPIPolicy.objects.exists()


def test_switching_type_clears_the_other_types_fields(daily_cap, actor):
    policy_services.policy_update(
        policy=daily_cap, actor=actor, type="rateLimit", requests_per_minute=3
    )
    daily_cap.refresh_from_db()
    assert (daily_cap.max_total_tokens, daily_cap.requests_per_minute) == (0, 3)
