"""Chromium against a live server: an admin creates an OpenAI connection and sees it
validate without reloading; a member sees it read-only, cannot reach the create form,
and a crafted POST is refused."""

import json

import pytest
from django.test import Client
from playwright.sync_api import expect

from blaxel_console.testing.browser import screenshot
from blaxel_console.testing.waiting import wait_until
from integrations import tasks
from integrations.models import IntegrationConnection

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def sign_in(page, server_url: str, user) -> None:
    """Log the browser in with a session made by Django's test client (no password form
    needed: signing in is the accounts screens' business)."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server_url}]
    )


def test_admin_creates_a_connection_and_sees_it_validate(
    page, asgi_server, workspace, admin_user, fake_openai, allow_loopback
):
    sign_in(page, asgi_server, admin_user)
    page.goto(f"{asgi_server}/acme/settings/integrations/")
    screenshot(page, "integrations-tab")
    page.get_by_role("link", name="OpenAI GPT").click()
    page.wait_for_url("**/settings/integrations/openai/")

    form = page.locator("form.connection-form")
    form.get_by_label("Integration name").fill("team-openai")
    form.get_by_label("API key").fill(fake_openai.key)
    form.locator("summary").click()  # the optional settings
    form.get_by_label("Base URL").fill(fake_openai.base_url)
    screenshot(page, "integrations-create-form")
    form.get_by_role("button", name="Create integration").click()

    page.wait_for_url("**/openai/connections/team-openai/")
    page.get_by_text("Integration “team-openai” created").wait_for()
    status = page.locator("#status-team-openai")
    # Checked in the background (a worker, or eagerly); the badge turns valid by itself.
    status.locator(".badge.valid").wait_for(timeout=30_000)
    assert "12 models available" in status.inner_text()
    assert page.get_by_test_id("key-hint").inner_text() == "sk-…-key"
    assert fake_openai.key not in page.content()

    # The catalog loads and filters as one types.
    expect(page.locator("table.catalog tbody tr")).to_have_count(12)
    page.get_by_label("Search models").fill("4o-mi")
    expect(page.locator("table.catalog tbody tr")).to_have_count(1)
    expect(page.locator("table.catalog code")).to_have_text("gpt-4o-mini")
    screenshot(page, "integrations-connection-valid")

    # Polling, proved without a reload: the connection goes back to "checking" (as after
    # a rotation), the page is loaded once, then the check completes elsewhere.
    connection = IntegrationConnection.objects.get(name="team-openai")
    IntegrationConnection.objects.filter(pk=connection.pk).update(
        status="checking", status_message=""
    )
    page.reload()
    page.locator("#status-team-openai .badge.checking").wait_for()
    page.evaluate("window.notReloaded = true")
    screenshot(page, "integrations-connection-checking")
    tasks.validate_connection(connection.pk, connection.secret_version)
    page.locator("#status-team-openai .badge.valid").wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True

    # A mistyped key through the rotate form is checked first and refused, with the
    # provider's reason; the working key stays (before: it was swapped in at once and the
    # connection turned invalid).
    page.get_by_label("New API key").fill("sk-proj-BrowserWrongKey00000000aa11")
    page.get_by_role("button", name="Replace key").click()
    pending = page.get_by_test_id("pending-key")
    expect(pending).to_contain_text("was not accepted", timeout=30_000)
    assert "Incorrect API key provided: sk-…aa11" in pending.inner_text()
    assert "sk-…-key" in pending.inner_text()  # the key still in use
    page.locator("#status-team-openai .badge.valid").wait_for()
    assert page.get_by_test_id("key-hint").inner_text() == "sk-…-key"
    assert "sk-proj-BrowserWrongKey00000000aa11" not in page.content()
    screenshot(page, "integrations-connection-key-refused")

    # The right key replaces it once the provider accepts it.
    page.get_by_label("New API key").fill(fake_openai.second_key)
    page.get_by_role("button", name="Replace key").click()
    # Checked, accepted: the note about a new key goes away by itself (polling).
    expect(page.get_by_test_id("pending-key")).to_have_count(0, timeout=30_000)
    assert IntegrationConnection.objects.get(name="team-openai").secret_values == {
        "apiKey": fake_openai.second_key
    }


def test_member_sees_read_only_and_cannot_create(
    page, asgi_server, workspace, member_user, make_connection, fake_openai
):
    connection = make_connection("team-openai", key=fake_openai.key, base_url=fake_openai.base_url)
    wait_until(lambda: IntegrationConnection.objects.get(pk=connection.pk).status == "valid")
    sign_in(page, asgi_server, member_user)

    page.goto(f"{asgi_server}/acme/settings/integrations/openai/")
    row = page.locator("tr[data-connection=team-openai]")
    assert "sk-…-key" in row.inner_text() and "Valid" in row.inner_text()
    assert page.get_by_role("button", name="Create integration").count() == 0
    assert page.locator("input[name=apiKey]").count() == 0
    screenshot(page, "integrations-provider-member")

    page.goto(f"{asgi_server}/acme/settings/integrations/openai/connections/team-openai/")
    assert page.get_by_role("button", name="Replace key").count() == 0
    assert page.get_by_role("link", name="Delete connection…").count() == 0
    expect(page.locator("table.catalog tbody tr")).to_have_count(12)
    screenshot(page, "integrations-connection-member")

    response = page.goto(f"{asgi_server}/acme/settings/integrations/openai/new/")
    assert response.status == 403

    # A crafted POST from the member's own browser session, with a valid CSRF token.
    page.goto(f"{asgi_server}/acme/settings/integrations/openai/")
    token = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]
    status = page.evaluate(
        """async ([url, token, key]) => {
            const body = new URLSearchParams({name: "sneaky", apiKey: key, baseUrl: ""});
            const response = await fetch(url, {method: "POST", body,
                headers: {"X-CSRFToken": token}});
            return response.status;
        }""",
        [f"{asgi_server}/acme/settings/integrations/openai/new/", token, fake_openai.key],
    )
    assert status == 403
    rotate = page.evaluate(
        """async ([url, token]) => (await fetch(url, {method: "POST",
            body: new URLSearchParams({apiKey: "sk-proj-member-tries-0000"}),
            headers: {"X-CSRFToken": token}})).status""",
        [f"{asgi_server}/acme/settings/integrations/openai/connections/team-openai/rotate/", token],
    )
    assert rotate == 403
    assert list(IntegrationConnection.objects.values_list("name", flat=True)) == ["team-openai"]
    assert IntegrationConnection.objects.get().secret_values == {"apiKey": fake_openai.key}
