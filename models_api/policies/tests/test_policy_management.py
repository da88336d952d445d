"""Policies: services, `/v0/policies` (also driven by the official `blaxel` SDK), the
Workspace settings → Policies screens and the model API's Policies tab; admins edit,
members read, other workspaces see 404."""

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

DAILY_CAP = {
    "metadata": {"name": "daily-cap", "displayName": "Daily cap", "labels": {"team": "ml"}},
    "spec": {
        "type": "maxToken",
        "resourceTypes": ["model"],
        "maxTokens": {"granularity": "day", "input": 0, "output": 0, "total": 100000},
    },
}
RPM = {
    "metadata": {"name": "rpm"},
    "spec": {"type": "rateLimit", "rateLimit": {"requestsPerMinute": 60, "perCaller": True}},
}


# --- services ------------------------------------------------------------------------------


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


# --- /v0/policies --------------------------------------------------------------------------------


def test_api_create_list_get_update_delete(admin_api, member_api, workspace):
    created = admin_api.post("/v0/policies", DAILY_CAP, format="json")
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["metadata"]["name"] == "daily-cap"
    assert body["metadata"]["workspace"] == "acme"
    assert body["metadata"]["createdBy"] == "ada@example.com"
    assert body["spec"]["maxTokens"] == {
        "granularity": "day",
        "step": 1,
        "input": 0,
        "output": 0,
        "total": 100000,
    }
    assert body["usage"] == {"models": 0}
    assert admin_api.post("/v0/policies", RPM, format="json").status_code == 200

    listed = member_api.get("/v0/policies")
    assert [item["metadata"]["name"] for item in listed.json()] == ["daily-cap", "rpm"]
    envelope = member_api.get("/v0/policies?limit=1", HTTP_BLAXEL_VERSION="2026-04-28").json()
    assert envelope["meta"]["hasMore"] is True and len(envelope["data"]) == 1

    # Get-edit-put: read-only fields sent back are ignored.
    document = member_api.get("/v0/policies/rpm").json()
    assert document["spec"]["rateLimit"] == {"requestsPerMinute": 60, "perCaller": True}
    document["spec"]["rateLimit"]["requestsPerMinute"] = 30
    updated = admin_api.put("/v0/policies/rpm", document, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["spec"]["rateLimit"]["requestsPerMinute"] == 30

    deleted = admin_api.delete("/v0/policies/rpm")
    assert deleted.status_code == 200 and deleted.json()["metadata"]["name"] == "rpm"
    assert admin_api.get("/v0/policies/rpm").status_code == 404


def test_api_validation_errors_are_clear(admin_api, workspace):
    bad = {
        "metadata": {"name": "x"},
        "spec": {"type": "maxToken", "maxTokens": {"granularity": "week", "total": -1}},
    }
    response = admin_api.post("/v0/policies", bad, format="json")
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "spec.maxTokens.granularity" in fields and "spec.maxTokens.total" in fields

    no_caps = {
        "metadata": {"name": "x"},
        "spec": {"type": "maxToken", "maxTokens": {"granularity": "day"}},
    }
    assert admin_api.post("/v0/policies", no_caps, format="json").status_code == 400
    missing = {"metadata": {"name": "x"}, "spec": {"type": "rateLimit"}}
    assert (
        "spec.rateLimit" in admin_api.post("/v0/policies", missing, format="json").json()["fields"]
    )
    assert admin_api.post("/v0/policies", DAILY_CAP, format="json").status_code == 200
    duplicate = admin_api.post("/v0/policies", DAILY_CAP, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["code"] == 409
    renamed = {**DAILY_CAP, "metadata": {"name": "other"}}
    assert admin_api.put("/v0/policies/daily-cap", renamed, format="json").status_code == 400


def test_api_member_reads_but_cannot_write(member_api, daily_cap):
    assert member_api.get("/v0/policies/daily-cap").status_code == 200
    assert member_api.post("/v0/policies", RPM, format="json").status_code == 403
    document = member_api.get("/v0/policies/daily-cap").json()
    assert member_api.put("/v0/policies/daily-cap", document, format="json").status_code == 403
    assert member_api.delete("/v0/policies/daily-cap").status_code == 403
    assert Policy.objects.filter(name="daily-cap").exists()


def test_api_other_workspaces_policies_are_404(
    api_client_for, outsider, other_workspace, daily_cap
):
    globex = api_client_for(outsider, "globex")
    assert globex.get("/v0/policies/daily-cap").status_code == 404
    assert globex.delete("/v0/policies/daily-cap").status_code == 404
    assert globex.get("/v0/policies").json() == []
    # And their key cannot reach acme at all.
    assert api_client_for(outsider, "acme").get("/v0/policies").status_code == 403


def test_api_delete_of_an_attached_policy_is_409(
    admin_api, daily_cap, bare_model_api, workspace, actor
):
    api = bare_model_api(workspace)
    policy_services.model_api_set_policies(model_api=api, policy_names=["daily-cap"], actor=actor)
    response = admin_api.delete("/v0/policies/daily-cap")
    assert response.status_code == 409
    assert "my-gpt" in response.json()["message"]


@pytest.mark.live
def test_the_blaxel_sdk_manages_policies(asgi_server, workspace, admin_user, personal_key):
    from blaxel.core.client.api.policies import (
        create_policy,
        delete_policy,
        get_policy,
        list_policies,
        update_policy,
    )
    from blaxel.core.client.client import Client
    from blaxel.core.client.models import Metadata, PolicyMaxTokens, PolicySpec
    from blaxel.core.client.models import Policy as SdkPolicy
    from blaxel.core.client.models.policy_spec_type import PolicySpecType

    client = Client(
        base_url=f"{asgi_server}/v0",
        headers={
            "Authorization": f"Bearer {personal_key(admin_user)}",
            "X-Blaxel-Workspace": "acme",
        },
    )
    body = SdkPolicy(
        metadata=Metadata(name="sdk-cap", display_name="SDK cap"),
        spec=PolicySpec(
            type_=PolicySpecType.MAXTOKEN,
            max_tokens=PolicyMaxTokens(granularity="hour", input_=0, output=500, total=0),
        ),
    )
    created = create_policy.sync(client=client, body=body)
    assert created.metadata.name == "sdk-cap"
    assert created.spec.max_tokens.output == 500

    listed = list_policies.sync(client=client)
    assert [policy.metadata.name for policy in listed.data] == ["sdk-cap"]

    fetched = get_policy.sync("sdk-cap", client=client)
    fetched.spec.max_tokens.output = 800
    updated = update_policy.sync("sdk-cap", client=client, body=fetched)
    assert updated.spec.max_tokens.output == 800
    assert Policy.objects.get(name="sdk-cap").max_output_tokens == 800

    deleted = delete_policy.sync("sdk-cap", client=client)
    assert deleted.metadata.name == "sdk-cap"
    assert not Policy.objects.filter(name="sdk-cap").exists()


# --- screens -------------------------------------------------------------------------------------


def test_admin_creates_a_policy_in_the_settings_screen(admin_client, workspace):
    page = admin_client.get("/acme/settings/policies/")
    assert page.status_code == 200 and b"Create policy" in page.content

    invalid = admin_client.post(
        "/acme/settings/policies/new/",
        {"name": "Bad Name", "type": "maxToken", "granularity": "day"},
    )
    assert invalid.status_code == 200
    errors = invalid.context["form"].errors
    assert "name" in errors and "max_total_tokens" in errors

    created = admin_client.post(
        "/acme/settings/policies/new/",
        {
            "name": "daily",
            "type": "maxToken",
            "granularity": "day",
            "step": 1,
            "max_total_tokens": 5000,
        },
    )
    assert created.status_code == 302
    assert Policy.objects.get(name="daily").max_total_tokens == 5000
    assert b"5,000 total tokens / day" in admin_client.get("/acme/settings/policies/").content


def test_member_reads_policies_but_cannot_edit(member_client, daily_cap):
    listing = member_client.get("/acme/settings/policies/")
    assert listing.status_code == 200
    assert b"daily-cap" in listing.content and b"Create policy" not in listing.content
    detail = member_client.get("/acme/settings/policies/daily-cap/")
    assert detail.status_code == 200
    assert all(field.disabled for field in detail.context["form"].fields.values())

    assert member_client.get("/acme/settings/policies/new/").status_code == 403
    assert member_client.post("/acme/settings/policies/new/", {"name": "x"}).status_code == 403
    edit = member_client.post(
        "/acme/settings/policies/daily-cap/",
        {"type": "maxToken", "granularity": "day", "max_total_tokens": 1},
    )
    assert edit.status_code == 403
    assert member_client.post("/acme/settings/policies/daily-cap/delete/").status_code == 403
    daily_cap.refresh_from_db()
    assert daily_cap.max_total_tokens == 100000


def test_policy_screens_of_another_workspace_are_404(outsider_client, daily_cap):
    assert outsider_client.get("/acme/settings/policies/").status_code == 404
    assert outsider_client.get("/acme/settings/policies/daily-cap/").status_code == 404
    assert outsider_client.get("/globex/settings/policies/daily-cap/").status_code == 404
    assert outsider_client.post("/acme/settings/policies/daily-cap/delete/").status_code == 404


def test_admin_edits_and_deletes_a_policy(admin_client, daily_cap):
    response = admin_client.post(
        "/acme/settings/policies/daily-cap/",
        {"type": "rateLimit", "requests_per_minute": 12, "per_caller": "on"},
    )
    assert response.status_code == 302
    daily_cap.refresh_from_db()
    assert (daily_cap.type, daily_cap.requests_per_minute, daily_cap.per_caller) == (
        "rateLimit",
        12,
        True,
    )
    assert admin_client.post("/acme/settings/policies/daily-cap/delete/").status_code == 302
    assert not Policy.objects.filter(pk=daily_cap.pk).exists()


def test_model_api_policies_tab_attach_by_admin_only(
    admin_client, member_client, outsider_client, daily_cap, bare_model_api, workspace
):
    bare_model_api(workspace)
    tab = member_client.get("/acme/models/my-gpt/policies/")
    assert tab.status_code == 200 and b"No policy is attached" in tab.content
    assert (
        member_client.post("/acme/models/my-gpt/policies/", {"policies": ["daily-cap"]}).status_code
        == 403
    )
    assert outsider_client.get("/acme/models/my-gpt/policies/").status_code == 404

    response = admin_client.post("/acme/models/my-gpt/policies/", {"policies": ["daily-cap"]})
    assert response.status_code == 302
    tab = member_client.get("/acme/models/my-gpt/policies/")
    assert b"daily-cap" in tab.content and b"0 / 100,000 total" in tab.content
    bogus = admin_client.post("/acme/models/my-gpt/policies/", {"policies": ["nope"]})
    assert bogus.status_code == 200 and "policies" in bogus.context["form"].errors


# --- spec.policies of /v0/models ------------------------------------------------------------


def test_admins_attach_policies_through_spec_policies(
    admin_api, member_api, daily_cap, bare_model_api, workspace
):
    bare_model_api(workspace, connected=True)
    document = member_api.get("/v0/models/my-gpt").json()
    assert document["spec"]["policies"] == []

    document["spec"]["policies"] = ["daily-cap"]
    refused = member_api.put("/v0/models/my-gpt", document, format="json")
    assert refused.status_code == 403
    assert member_api.get("/v0/models/my-gpt").json()["spec"]["policies"] == []

    accepted = admin_api.put("/v0/models/my-gpt", document, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["spec"]["policies"] == ["daily-cap"]
    # A member's get-edit-put that sends the policies back unchanged is fine.
    document = member_api.get("/v0/models/my-gpt").json()
    document["metadata"]["displayName"] = "Renamed"
    assert member_api.put("/v0/models/my-gpt", document, format="json").status_code == 200
    assert admin_api.get("/v0/policies/daily-cap").json()["usage"] == {"models": 1}


def test_an_unknown_policy_in_spec_policies_is_a_400_that_changes_nothing(
    admin_api, daily_cap, bare_model_api, workspace
):
    bare_model_api(workspace, display_name="Before", connected=True)
    document = admin_api.get("/v0/models/my-gpt").json()
    document["metadata"]["displayName"] = "After"
    document["spec"]["policies"] = ["daily-cap", "no-such-policy"]

    response = admin_api.put("/v0/models/my-gpt", document, format="json")

    assert response.status_code == 400
    assert "no-such-policy" in response.json()["fields"]["spec.policies"]
    after = admin_api.get("/v0/models/my-gpt").json()
    assert after["spec"]["policies"] == [] and after["metadata"]["displayName"] == "Before"


@pytest.mark.browser
@pytest.mark.live
def test_an_admin_creates_and_attaches_a_policy_in_chromium(
    asgi_server, page, admin_user, bare_model_api, workspace
):
    from django.test import Client

    from blaxel_console.testing.browser import screenshot

    bare_model_api(workspace, connected=True)
    console = Client()
    console.force_login(admin_user, backend="django.contrib.auth.backends.ModelBackend")
    page.context.add_cookies(
        [{"name": "sessionid", "value": console.cookies["sessionid"].value, "url": asgi_server}]
    )

    page.goto(f"{asgi_server}/acme/settings/policies/")
    page.get_by_role("link", name="Create policy").first.click()
    page.get_by_label("Name", exact=True).fill("daily-tokens")
    page.get_by_label("Token cap").check()
    page.get_by_label("Token window").select_option("day")
    page.get_by_role("button", name="Create policy").click()
    # No cap set: the form says which field needs one.
    assert page.locator(".has-error").count() >= 1
    assert "at least one cap" in page.content()
    screenshot(page, "observability-policy-form-errors")

    page.get_by_label("Total tokens cap").fill("250000")
    page.get_by_role("button", name="Create policy").click()
    page.wait_for_url(f"{asgi_server}/acme/settings/policies/")
    assert "250,000 total tokens / day" in page.content()
    screenshot(page, "observability-policies-list")

    page.goto(f"{asgi_server}/acme/models/my-gpt/policies/")
    page.get_by_label("daily-tokens", exact=False).check()
    page.get_by_role("button", name="Save policies").click()
    page.wait_for_url(f"{asgi_server}/acme/models/my-gpt/policies/")
    assert "0 / 250,000 total" in page.content()
    screenshot(page, "observability-model-api-policies")
    assert Policy.objects.get(name="daily-tokens").model_api_links.count() == 1
