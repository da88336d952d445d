"""A member may use what admins set but never remove an admin's limit: workspace default
policies apply to every model API of the workspace (those created later too, and a
model API deleted and made again), the strictest limit still wins, and deleting a model
API that has policies attached needs the admin role, in the console and through /v0."""

from datetime import UTC, datetime

import pytest

from models_api.models import ModelAPI
from models_api.policies import enforcement
from models_api.policies import services as policy_services
from models_api.policies.limits import counters_for_call

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


@pytest.fixture
def default_cap(workspace, actor):
    """A workspace default: 100 total tokens a day on every model API of `acme`."""
    return policy_services.policy_create(
        workspace=workspace,
        name="house-cap",
        actor=actor,
        type="maxToken",
        granularity="day",
        max_total_tokens=100,
        is_workspace_default=True,
    )


def caps(model_api) -> set[tuple[str, str, int]]:
    """The caps the gateway's route of the model API carries (`lookups.route_for` takes
    them from `limits_for_model_api`)."""
    limits = enforcement.limits_for_model_api(model_api.pk)
    return {(limit.policy, limit.kind, limit.cap) for limit in limits}


def test_a_workspace_default_limits_every_model_api_also_those_made_later(
    default_cap, workspace, other_workspace, bare_model_api
):
    before = bare_model_api(workspace, name="early")
    later = bare_model_api(workspace, name="later")
    foreign = bare_model_api(other_workspace, name="early")
    assert caps(before) == caps(later) == {("house-cap", "total", 100)}
    assert caps(foreign) == set()


def test_the_strictest_limit_wins_between_a_default_and_an_attached_policy(
    default_cap, daily_cap, workspace, bare_model_api, actor
):
    api = bare_model_api(workspace)
    policy_services.model_api_set_policies(model_api=api, policy_names=["daily-cap"], actor=actor)
    limits = enforcement.limits_for_model_api(api.pk)
    (counter,) = counters_for_call(api.pk, limits, None, datetime.now(UTC))
    assert counter.limit.cap == 100  # the default's 100, not the attached 100,000


def test_a_member_cannot_delete_a_model_api_with_policies_attached(
    daily_cap, workspace, bare_model_api, actor, member_api, member_client
):
    api = bare_model_api(workspace)
    policy_services.model_api_set_policies(model_api=api, policy_names=["daily-cap"], actor=actor)

    answer = member_api.delete(f"/v0/models/{api.name}")
    assert answer.status_code == 403
    assert "Only an admin" in answer.json()["message"]
    page = member_client.get(f"/acme/models/{api.name}/delete/")
    assert "Only an admin can delete" in page.content.decode()
    assert 'name="confirm_name"' not in page.content.decode()
    refused = member_client.post(f"/acme/models/{api.name}/delete/", {"confirm_name": api.name})
    assert refused.status_code == 403
    assert ModelAPI.objects.filter(pk=api.pk).exists()


def test_an_admin_deletes_it_and_a_member_deletes_one_without_policies(
    daily_cap, workspace, bare_model_api, actor, admin_api, member_api
):
    guarded = bare_model_api(workspace, name="guarded")
    policy_services.model_api_set_policies(
        model_api=guarded, policy_names=["daily-cap"], actor=actor
    )
    assert admin_api.delete("/v0/models/guarded").status_code == 200
    bare_model_api(workspace, name="free")
    assert member_api.delete("/v0/models/free").status_code == 200
    assert not ModelAPI.objects.filter(workspace=workspace).exists()


def test_deleting_and_making_again_keeps_the_default(
    default_cap, workspace, bare_model_api, member_api
):
    bare_model_api(workspace, name="again")
    assert member_api.delete("/v0/models/again").status_code == 200
    recreated = bare_model_api(workspace, name="again")
    assert caps(recreated) == {("house-cap", "total", 100)}


def test_defaults_in_the_console_and_the_api(
    default_cap, daily_cap, workspace, bare_model_api, admin_client, member_api, admin_api
):
    api = bare_model_api(workspace)
    listing = admin_client.get("/acme/settings/policies/").content.decode()
    assert "every model API (workspace default)" in listing
    tab = admin_client.get(f"/acme/models/{api.name}/policies/").content.decode()
    assert "house-cap" in tab and "workspace default" in tab
    # Only the policies an admin may attach are offered; the default applies anyway.
    assert 'value="daily-cap"' in tab and 'value="house-cap"' not in tab

    assert member_api.get("/v0/policies/house-cap").json()["spec"]["workspaceDefault"] is True
    body = member_api.get("/v0/policies/daily-cap").json()
    assert body["spec"]["workspaceDefault"] is False
    made_default = {**body, "spec": {**body["spec"], "workspaceDefault": True}}
    assert member_api.put("/v0/policies/daily-cap", made_default, format="json").status_code == 403
    assert admin_api.put("/v0/policies/daily-cap", made_default, format="json").status_code == 200
    assert caps(api) == {("house-cap", "total", 100), ("daily-cap", "total", 100000)}


def test_an_admin_makes_a_policy_a_default_in_the_policy_form(admin_client, workspace):
    admin_client.post(
        "/acme/settings/policies/new/",
        {
            "name": "everywhere",
            "type": "rateLimit",
            "requests_per_minute": 30,
            "is_workspace_default": "on",
        },
    )
    from models_api.policies.models import Policy

    assert Policy.objects.get(workspace=workspace, name="everywhere").is_workspace_default
