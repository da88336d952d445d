"""Policies through the `/v0` API, also driven by the official `blaxel` SDK: create,
list, get, update and delete, clear validation errors, members read but do not
write, other workspaces' policies are 404, an attached policy is not deleted; and
`spec.policies` of `/v0/models`, which only admins change."""

import pytest

from models_api.policies import services as policy_services
from models_api.policies.models import Policy

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

    listed = member_api.get("/v0/policies?types=all")
    assert [item["metadata"]["name"] for item in listed.json()] == ["daily-cap", "rpm"]
    # By default, only the types Blaxel's SDK parses; other types when named.
    assert [item["metadata"]["name"] for item in member_api.get("/v0/policies").json()] == [
        "daily-cap"
    ]
    only_rates = member_api.get("/v0/policies?types=rateLimit").json()
    assert [item["metadata"]["name"] for item in only_rates] == ["rpm"]
    assert member_api.get("/v0/policies?types=budget").status_code == 400
    envelope = member_api.get(
        "/v0/policies?limit=1&types=all", HTTP_BLAXEL_VERSION="2026-04-28"
    ).json()
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
