"""The policy screens: Workspace settings → Policies (admins create, edit and delete;
members read; other workspaces see 404) and the model API's Policies tab, where only
admins attach policies; and the same in Chromium."""

import pytest

from models_api.policies.models import Policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


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
    screenshot(page, "policies-policy-form-errors")

    page.get_by_label("Total tokens cap").fill("250000")
    page.get_by_role("button", name="Create policy").click()
    page.wait_for_url(f"{asgi_server}/acme/settings/policies/")
    assert "250,000 total tokens / day" in page.content()
    screenshot(page, "policies-policies-list")

    page.goto(f"{asgi_server}/acme/models/my-gpt/policies/")
    page.get_by_label("daily-tokens", exact=False).check()
    page.get_by_role("button", name="Save policies").click()
    page.wait_for_url(f"{asgi_server}/acme/models/my-gpt/policies/")
    assert "0 / 250,000 total" in page.content()
    screenshot(page, "policies-model-api-policies")
    assert Policy.objects.get(name="daily-tokens").model_api_links.count() == 1
