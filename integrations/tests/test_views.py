"""The Integrations screens: what admins and members see and may do, another workspace's
connections (404), form errors, and that no page ever carries a key."""

import logging

import pytest

from integrations.models import IntegrationConnection
from workspaces.models import AuditLogEntry

pytestmark = pytest.mark.django_db

KEY = "sk-proj-ViewTestSecretValue00000f00d"
NEW_KEY = "sk-proj-ViewTestRotatedValue0000beef"
ROOT = "/acme/settings/integrations"
DETAIL = f"{ROOT}/openai/connections/main"


@pytest.fixture
def connection(make_connection):
    return make_connection(key=KEY, base_url="http://127.0.0.1:9/v1", organization="org-7")


@pytest.fixture
def foreign(make_connection, other_workspace, outsider):
    from workspaces.principals import Principal

    return make_connection(
        "globex-key",
        key=KEY,
        base_url="http://127.0.0.1:9/v1",
        workspace=other_workspace,
        actor=Principal.for_user(outsider),
    )


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    text = response.content.decode()
    assert KEY not in text and NEW_KEY not in text
    return text


def create_form(name="main", key=KEY, **extra):
    return {"name": name, "display_name": "", "apiKey": key, "baseUrl": "", **extra}


# --- what people see -------------------------------------------------------------------


def test_integrations_tab_lists_providers_with_counts(member_client, connection):
    text = page(member_client, f"{ROOT}/")
    assert "OpenAI" in text and "OpenAI-compatible server" in text
    assert "1 connection<" in text and "0 connections" in text
    assert 'aria-current="page">Integrations' in text  # the settings side tab


def test_provider_page_lists_connections(member_client, connection, workspace):
    from models_api.models import ModelAPI, ModelAPIConnection

    model_api = ModelAPI.objects.create(
        workspace=workspace, name="chat-bot", runtime_type="openai", runtime_model="gpt-4o"
    )
    ModelAPIConnection.objects.create(model_api=model_api, connection=connection, position=0)
    text = page(member_client, f"{ROOT}/openai/")
    assert "sk-…f00d" in text
    assert "ada@example.com" in text
    assert "1 model API<" in text
    assert 'class="badge checking"' in text
    # Members see it read-only: no form, no key field.
    assert "Create integration" not in text
    assert 'name="apiKey"' not in text
    assert "Only workspace admins" in text


def test_admin_sees_the_create_form_with_its_notes(admin_client):
    text = page(admin_client, f"{ROOT}/openai/")
    assert "Create integration" in text
    assert "Integration name" in text and 'type="password" name="apiKey"' in text
    assert 'href="https://platform.openai.com/api-keys"' in text
    assert "We recommend a restricted key with read-only permissions" in text
    assert "billed to the OpenAI account that owns the key" in text
    assert "Organization ID" in text and "Project ID" in text and "Base URL" in text


def test_detail_shows_facts_and_admin_actions(admin_client, connection):
    text = page(admin_client, f"{DETAIL}/")
    assert "sk-…f00d" in text and "org-7" in text and "http://127.0.0.1:9/v1" in text
    assert "Rotate key" in text and "Delete connection" in text and "Check the key again" in text
    # While checking, the status asks for itself again (htmx polling).
    assert f'hx-get="{DETAIL}/status/?pending=1"' in text and 'hx-trigger="every 1s"' in text


def test_member_detail_is_read_only(member_client, connection):
    text = page(member_client, f"{DETAIL}/")
    assert "sk-…f00d" in text
    for absent in ("Rotate key", "Delete connection", "Check the key again", 'name="apiKey"'):
        assert absent not in text


def test_status_partial_stops_polling_once_settled(member_client, connection):
    assert "every 1s" in page(member_client, f"{DETAIL}/status/")
    IntegrationConnection.objects.filter(pk=connection.pk).update(
        status="invalid", status_message="Incorrect API key provided: sk-…f00d."
    )
    text = page(member_client, f"{DETAIL}/status/")
    assert "hx-trigger" not in text
    assert "Invalid" in text and "(Incorrect API key provided: sk-…f00d.)" in text


def test_catalog_partial_searches(member_client, connection):
    text = page(member_client, f"{DETAIL}/models/?q=4.1-n")
    assert "gpt-4.1-nano" in text and "gpt-4.1-mini" not in text
    assert "built-in list" in text  # the test upstream is unreachable
    assert "No model matches" in page(member_client, f"{DETAIL}/models/?q=zzz")


# --- admins write ------------------------------------------------------------------------


def test_admin_creates_a_connection(admin_client, allow_loopback, caplog):
    caplog.set_level(logging.DEBUG)
    response = admin_client.post(
        f"{ROOT}/openai/new/",
        create_form(baseUrl="http://127.0.0.1:9/v1", organization="org-1", display_name="Prod"),
    )
    assert response.status_code == 302
    assert response["Location"] == f"{DETAIL}/"
    connection = IntegrationConnection.objects.get()
    assert connection.secret_values == {"apiKey": KEY}
    assert connection.config == {"baseUrl": "http://127.0.0.1:9/v1", "organization": "org-1"}
    text = page(admin_client, response["Location"])
    assert "Integration “main” created" in text
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (create_form(key=""), "apiKey", "This field is required"),
        (create_form(name="Not Valid"), "name", "lowercase letters"),
        (create_form(baseUrl="http://169.254.169.254/"), "baseUrl", "link-local"),
        (create_form(baseUrl="nope"), "baseUrl", "valid http"),
        (create_form(key="sk-…1234"), "apiKey", "masked value"),
    ],
)
def test_create_form_errors_are_shown_by_the_field(admin_client, data, field, message):
    response = admin_client.post(f"{ROOT}/openai/new/", data)
    assert response.status_code == 200
    form = response.context["form"]
    assert message in " ".join(form.errors[field]), form.errors
    text = response.content.decode()
    assert message.split()[0] in text
    # The key typed in is not sent back in the re-rendered form.
    assert data["apiKey"] == "" or data["apiKey"] not in text
    assert not IntegrationConnection.objects.exists()


def test_duplicate_name_is_a_field_error(admin_client, connection):
    response = admin_client.post(f"{ROOT}/openai/new/", create_form(key=NEW_KEY))
    assert response.status_code == 200
    assert "already exists" in " ".join(response.context["form"].errors["name"])
    assert NEW_KEY not in response.content.decode()


def test_a_form_error_says_plainly_that_the_key_must_be_pasted_again(admin_client, connection):
    response = admin_client.post(f"{ROOT}/openai/new/", create_form(key=NEW_KEY))
    html = response.content.decode()
    # Before, the key field came back empty without a word.
    assert "Paste the key again" in " ".join(response.context["form"].errors["apiKey"])
    assert "Paste the key again" in html and NEW_KEY not in html
    # Nothing was typed in the key field: nothing to say about it.
    response = admin_client.post(f"{ROOT}/openai/new/", create_form(key=""))
    assert "Paste the key again" not in response.content.decode()


def test_admin_rotates_the_key(admin_client, connection):
    response = admin_client.post(f"{DETAIL}/rotate/", {"apiKey": NEW_KEY})
    assert response.status_code == 302
    rotated = IntegrationConnection.objects.get()
    assert rotated.pk == connection.pk and rotated.pending_secret_values == {"apiKey": NEW_KEY}
    assert rotated.secret_values == {"apiKey": KEY}  # serves until the new one passes
    html = page(admin_client, f"{DETAIL}/")
    assert "sk-…beef" in html and "sk-…f00d" in html and NEW_KEY not in html
    assert AuditLogEntry.objects.filter(action="integration.rotate_key").count() == 1


def test_rotate_needs_a_key(admin_client, connection):
    response = admin_client.post(f"{DETAIL}/rotate/", {"apiKey": ""})
    assert response.status_code == 200
    assert response.context["rotate_form"].errors["apiKey"]
    assert IntegrationConnection.objects.get().secret_values == {"apiKey": KEY}


def test_admin_changes_settings(admin_client, connection):
    response = admin_client.post(
        f"{DETAIL}/settings/",
        {"display_name": "Production", "baseUrl": "http://127.0.0.1:9/v1", "project": "proj_1"},
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.display_name == "Production"
    assert connection.config == {"baseUrl": "http://127.0.0.1:9/v1", "project": "proj_1"}
    bad = admin_client.post(f"{DETAIL}/settings/", {"baseUrl": "http://10.0.0.1/"})
    assert bad.status_code == 200 and bad.context["settings_form"].errors["baseUrl"]


def test_admin_checks_again(admin_client, connection):
    IntegrationConnection.objects.filter(pk=connection.pk).update(status="invalid")
    response = admin_client.post(f"{DETAIL}/check/")
    assert response.status_code == 302
    assert IntegrationConnection.objects.get().status == "checking"


def test_admin_deletes(admin_client, connection):
    text = page(admin_client, f"{DETAIL}/delete/")
    assert "sk-…f00d" in text
    response = admin_client.post(f"{DETAIL}/delete/")
    assert response.status_code == 302 and response["Location"] == f"{ROOT}/openai/"
    assert not IntegrationConnection.objects.exists()


def test_delete_in_use_is_refused_with_the_model_apis_named(admin_client, connection, workspace):
    from models_api.models import ModelAPI, ModelAPIConnection

    model_api = ModelAPI.objects.create(
        workspace=workspace, name="chat-bot", runtime_type="openai", runtime_model="gpt-4o"
    )
    ModelAPIConnection.objects.create(model_api=model_api, connection=connection, position=0)
    assert "cannot be deleted while model APIs use it" in page(admin_client, f"{DETAIL}/delete/")
    response = admin_client.post(f"{DETAIL}/delete/", follow=True)
    assert "“chat-bot”" in response.content.decode()
    assert IntegrationConnection.objects.exists()


# --- who may do what ---------------------------------------------------------------------

MEMBER_FORBIDDEN_POSTS = [
    (f"{ROOT}/openai/new/", create_form(name="sneaky")),
    (f"{ROOT}/openai/", create_form(name="sneaky")),
    (f"{DETAIL}/rotate/", {"apiKey": NEW_KEY}),
    (f"{DETAIL}/settings/", {"display_name": "x", "baseUrl": ""}),
    (f"{DETAIL}/check/", {}),
    (f"{DETAIL}/delete/", {}),
]


@pytest.mark.parametrize(("url", "data"), MEMBER_FORBIDDEN_POSTS)
def test_member_crafted_posts_are_403(member_client, connection, url, data):
    response = member_client.post(url, data)
    assert response.status_code == 403
    stored = IntegrationConnection.objects.get()
    assert stored.secret_values == {"apiKey": KEY} and stored.display_name == ""
    assert stored.status == "checking"


@pytest.mark.parametrize("url", [f"{ROOT}/openai/new/", f"{DETAIL}/delete/"])
def test_member_cannot_reach_admin_pages(member_client, connection, url):
    assert member_client.get(url).status_code == 403


READ_URLS = [
    f"{ROOT}/",
    f"{ROOT}/openai/",
    f"{DETAIL}/",
    f"{DETAIL}/status/",
    f"{DETAIL}/models/",
]


@pytest.mark.parametrize("url", [*READ_URLS, f"{ROOT}/openai/new/", f"{DETAIL}/delete/"])
def test_outsider_gets_404_for_the_workspace(outsider_client, connection, url):
    assert outsider_client.get(url).status_code == 404


@pytest.mark.parametrize(("url", "data"), MEMBER_FORBIDDEN_POSTS)
def test_outsider_posts_are_404(outsider_client, connection, url, data):
    assert outsider_client.post(url, data).status_code == 404
    assert IntegrationConnection.objects.for_workspace(connection.workspace).count() == 1


@pytest.mark.parametrize("url", READ_URLS)
def test_anonymous_is_sent_to_login(client, connection, url):
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", "/"),
        ("get", "/status/"),
        ("get", "/models/"),
        ("get", "/delete/"),
        ("post", "/rotate/"),
        ("post", "/settings/"),
        ("post", "/check/"),
        ("post", "/delete/"),
    ],
)
def test_another_workspaces_connection_is_404(admin_client, connection, foreign, method, suffix):
    url = f"{ROOT}/openai/connections/globex-key{suffix}"
    response = getattr(admin_client, method)(url, {"apiKey": NEW_KEY, "baseUrl": ""})
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.secret_values == {"apiKey": KEY}


def test_wrong_provider_in_the_url_is_404(admin_client, connection):
    assert admin_client.get(f"{ROOT}/openai-compatible/connections/main/").status_code == 404
    assert admin_client.get(f"{ROOT}/anthropic/").status_code == 404
