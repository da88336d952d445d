"""Finding one's way in the console: where the home page sends a visitor (login, the
last used workspace, creating a first one), a workspace's home, the header's
workspace switcher, and the error pages in the console's layout."""

import pytest
from django.urls import reverse

from workspaces import services

pytestmark = pytest.mark.django_db


def test_home_signed_out_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")


def test_home_with_workspaces_goes_to_the_first_then_the_last_used(
    admin_client, admin_user, workspace, other_workspace
):
    services.workspace_create(name="zeta", display_name="Zeta", creator=admin_user)
    assert admin_client.get("/")["Location"] == "/acme/"
    admin_client.get("/zeta/settings/")
    assert admin_client.get("/")["Location"] == "/zeta/"
    # Someone else's workspace is never the target, whatever the session says.
    session = admin_client.session
    session["last_workspace"] = "globex"
    session.save()
    assert admin_client.get("/")["Location"] == "/acme/"


def test_home_without_a_workspace_asks_to_create_one(make_user, client):
    user = make_user("lonely@example.com")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("workspace_create")
    assert "Create your workspace" in response.content.decode()


def test_workspace_home_opens_its_model_apis_or_else_its_settings(admin_client):
    from django.urls import Resolver404, resolve

    response = admin_client.get("/acme/")
    try:
        resolve("/acme/models/")
    except Resolver404:
        assert response["Location"] == "/acme/settings/"
    else:
        assert response["Location"] == "/acme/models/"


# --- header -------------------------------------------------------------------------------


def test_header_switcher_lists_only_my_workspaces_and_marks_the_current_one(
    admin_client, admin_user, other_workspace
):
    services.workspace_create(name="zeta", display_name="Zeta Team", creator=admin_user)
    html = admin_client.get("/acme/settings/").content.decode()
    assert 'href="/acme/" aria-current="true"' in html
    assert 'href="/zeta/"' in html and "Zeta Team" in html
    assert "/globex/" not in html
    assert 'href="/workspaces/new/"' in html
    assert "ada@example.com" in html  # the user menu
    assert 'aria-current="page">Workspace settings<' in html


# --- error pages -------------------------------------------------------------------------------


def test_error_pages_use_the_console_layout(member_client):
    forbidden = member_client.get("/acme/settings/audit-log/")
    assert forbidden.status_code == 403
    html = forbidden.content.decode()
    assert "You can’t do that here" in html and 'class="topbar"' in html
    missing = member_client.get("/globex/settings/")
    assert missing.status_code == 404
    assert "Page not found" in missing.content.decode()


def test_pages_outside_a_workspace_keep_the_last_workspace_navigation(
    admin_client, member_client, workspace, other_workspace
):
    admin_client.get("/acme/models/")
    html = admin_client.get("/profile/security/").content.decode()
    assert 'aria-label="Main"' in html
    assert 'href="/acme/settings/"' in html
    # Someone else's workspace is never shown, whatever the session says.
    session = admin_client.session
    session["last_workspace"] = "globex"
    session.save()
    html = admin_client.get("/profile/security/").content.decode()
    assert 'aria-label="Main"' not in html and "/globex/" not in html

    # The 403 page of a workspace keeps that workspace's navigation.
    response = member_client.get("/acme/settings/audit-log/")
    assert response.status_code == 403
    html = response.content.decode()
    assert 'aria-label="Main"' in html and 'href="/acme/settings/"' in html
    assert "Acme Corp" in html


def test_every_page_links_the_favicon(admin_client, client, workspace):
    from django.contrib.staticfiles import finders

    for response in (admin_client.get("/acme/settings/"), client.get("/accounts/login/")):
        assert '<link rel="icon" href="/static/favicon.svg"' in response.content.decode()
    assert finders.find("favicon.svg")
