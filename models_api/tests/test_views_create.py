"""The New model API flow: providers and the connection in use (a select when there
are several, a link or a note when there is none), a member creating a model API,
bad input on its field, another workspace's connection neither usable nor
searchable, and the catalog search fragment (ranking, case, no match, escaping)."""

import re

import pytest

from models_api import tasks
from models_api.models import ModelAPI

pytestmark = pytest.mark.django_db


def option_ids(html: str) -> list[str]:
    return re.findall(r'data-model-id="([^"]+)"', html)


# --- New model API -----------------------------------------------------------------------------


def test_the_new_page_shows_providers_and_the_connection_in_use(member_client, openai_connection):
    html = member_client.get("/acme/models/new/").content.decode()
    assert "OpenAI-compatible server" in html and 'href="?provider=openai"' in html
    assert "Using your workspace's OpenAI integration: <strong>Openai Main</strong>" in html
    assert 'role="combobox"' in html and 'hx-trigger="input changed delay:250ms' in html
    assert 'aria-controls="model-results"' in html and 'role="listbox"' in html
    assert "http://" in html and "/run/acme/models/" in html  # endpoint preview


def test_with_several_connections_one_is_chosen_in_a_select(
    member_client, openai_connection, second_connection
):
    html = member_client.get("/acme/models/new/").content.decode()
    assert '<select name="connection" id="id_connection">' in html
    assert "Openai Backup (openai-backup)" in html


def test_without_a_connection_an_admin_gets_a_link_and_a_member_a_note(
    admin_client, member_client, workspace
):
    admin_html = admin_client.get("/acme/models/new/").content.decode()
    assert 'href="/acme/settings/integrations/"' in admin_html
    member_html = member_client.get("/acme/models/new/").content.decode()
    assert 'href="/acme/settings/integrations/"' not in member_html
    assert "Ask a workspace admin" in member_html
    assert 'role="combobox"' not in member_html


def test_a_member_creates_a_model_api(member_client, openai_connection, member_user, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.model_api_deploy, "delay", queued.append)
    response = member_client.post(
        "/acme/models/new/",
        {
            "provider": "openai",
            "connection": "openai-main",
            "model": "gpt-4o-mini",
            "name": "support-bot",
            "display_name": "Support bot",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/acme/models/support-bot/"
    model_api = ModelAPI.objects.get(name="support-bot")
    assert model_api.created_by == member_user
    assert model_api.runtime_model == "gpt-4o-mini"
    assert model_api.connection_links.get().connection == openai_connection


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"name": "Bad_Name"}, "name", "lowercase"),
        ({"name": "a" * 50}, "name", "at most 49"),
        ({"name": "new"}, "name", "reserved"),
        ({"name": ""}, "name", "required"),
        ({"model": ""}, "model", "required"),
        ({"connection": "nope"}, "connection", "valid choice"),
    ],
)
def test_bad_input_is_shown_on_its_field(member_client, openai_connection, changes, field, message):
    data = {
        "provider": "openai",
        "connection": "openai-main",
        "model": "gpt-4o",
        "name": "ok",
        **changes,
    }
    response = member_client.post("/acme/models/new/", data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not ModelAPI.objects.exists()


def test_a_duplicate_name_is_shown_on_the_name_field(member_client, make_model_api):
    make_model_api(name="taken")
    response = member_client.post(
        "/acme/models/new/",
        {"provider": "openai", "connection": "openai-main", "model": "gpt-4o", "name": "taken"},
    )
    assert response.status_code == 200
    assert "already exists" in " ".join(response.context["form"].errors["name"])
    assert ModelAPI.objects.count() == 1


def test_another_workspaces_connection_cannot_be_used(member_client, workspace, other_connection):
    response = member_client.post(
        "/acme/models/new/",
        {"provider": "openai", "connection": "openai-main", "model": "gpt-4o", "name": "x"},
    )
    assert response.status_code == 200
    assert "connection" in response.context["form"].errors
    assert not ModelAPI.objects.exists()


# --- the catalog search fragment ----------------------------------------------------------------


def test_the_search_ranks_exact_then_prefix_then_substring(
    member_client, openai_connection, fake_openai
):
    fake_openai.configure(
        models=[
            "my-gpt-4o-tune",
            "gpt-4o-mini",
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "gpt-4.1",
            "o3-mini",
        ]
    )
    html = member_client.get(
        "/acme/models/new/catalog/?connection=openai-main&model=gpt-4o"
    ).content.decode()
    assert option_ids(html) == ["gpt-4o", "gpt-4o-mini", "gpt-4o-2024-08-06", "my-gpt-4o-tune"]
    # Facts from the catalog for the summary panel.
    assert 'data-context="128,000 tokens"' in html
    assert "$2.50 in · $10.00 out per 1M tokens" in html
    assert 'role="option"' in html and 'id="catalog-option-0"' in html
    assert "4 models found." in html


def test_the_search_is_case_insensitive_and_says_when_nothing_matches(
    member_client, openai_connection
):
    html = member_client.get(
        "/acme/models/new/catalog/?connection=openai-main&model=MINI"
    ).content.decode()
    assert "gpt-4o-mini" in option_ids(html)
    html = member_client.get(
        "/acme/models/new/catalog/?connection=openai-main&model=zzz"
    ).content.decode()
    assert option_ids(html) == []
    assert "No model in the OpenAI catalog matches “zzz”" in html


def test_model_ids_from_the_provider_are_escaped(member_client, openai_connection, fake_openai):
    fake_openai.configure(models=['gpt-"><script>alert(1)</script>'])
    html = member_client.get(
        "/acme/models/new/catalog/?connection=openai-main&model=gpt"
    ).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_catalog_of_another_workspaces_connection_is_not_searchable(
    admin_client, other_connection
):
    response = admin_client.get("/acme/models/new/catalog/?connection=openai-main&model=gpt")
    assert option_ids(response.content.decode()) == []
    assert "Choose an integration connection first" in response.content.decode()
