"""Console screens of model APIs: role matrix, cross-workspace 404s, the New model API
flow, the catalog search fragment, the model API page, edit, delete."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from models_api import tasks
from models_api.models import ModelAPI
from models_api.services import model_api_create
from models_api.usage.models import UsageRecord
from workspaces.principals import Principal

pytestmark = pytest.mark.django_db

PAGES = [
    "/acme/models/",
    "/acme/models/new/",
    "/acme/models/new/catalog/?connection=openai-main&model=gpt",
    "/acme/models/my-gpt/",
    "/acme/models/my-gpt/status/",
    "/acme/models/my-gpt/logs/",
    "/acme/models/my-gpt/metrics/",
    "/acme/models/my-gpt/policies/",
    "/acme/models/my-gpt/playground/",
    "/acme/models/my-gpt/edit/",
    "/acme/models/my-gpt/delete/",
]
WRITES = [
    (
        "/acme/models/new/",
        {"provider": "openai", "connection": "openai-main", "model": "gpt-4o", "name": "x"},
    ),
    ("/acme/models/my-gpt/edit/", {"display_name": "x", "model": "gpt-4o"}),
    ("/acme/models/my-gpt/delete/", {"confirm_name": "my-gpt"}),
    ("/acme/models/my-gpt/check-again/", {}),
]


def option_ids(html: str) -> list[str]:
    return re.findall(r'data-model-id="([^"]+)"', html)


@pytest.fixture
def globex_model_api(other_workspace, other_connection, outsider):
    return model_api_create(
        workspace=other_workspace,
        name="globex-gpt",
        connections=[other_connection],
        model="gpt-4o",
        actor=Principal.for_user(outsider),
    )


# --- role matrix, tenancy ----------------------------------------------------------------------


@pytest.mark.parametrize("client_name", ["admin_client", "member_client"])
@pytest.mark.parametrize("url", PAGES)
def test_admins_and_members_see_every_screen(request, client_name, url, make_model_api):
    make_model_api()
    response = request.getfixturevalue(client_name).get(url)
    assert response.status_code == 200, (url, response.status_code)


@pytest.mark.parametrize("url", PAGES)
def test_an_outsider_gets_404_on_every_screen(outsider_client, url, make_model_api):
    make_model_api()
    assert outsider_client.get(url).status_code == 404


@pytest.mark.parametrize("url, data", WRITES)
def test_an_outsider_cannot_write(outsider_client, url, data, make_model_api):
    model_api = make_model_api()
    assert outsider_client.post(url, data).status_code == 404
    assert list(ModelAPI.objects.values_list("name", flat=True)) == ["my-gpt"]
    assert ModelAPI.objects.get().display_name == model_api.display_name


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_log_in(client, url, make_model_api):
    make_model_api()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url, data", WRITES)
def test_anonymous_cannot_write(client, url, data, make_model_api):
    make_model_api()
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert ModelAPI.objects.get().name == "my-gpt"


@pytest.mark.parametrize(
    "suffix", ["", "status/", "logs/", "metrics/", "policies/", "playground/", "edit/", "delete/"]
)
def test_another_workspaces_model_api_is_a_404(admin_client, globex_model_api, suffix):
    assert admin_client.get(f"/acme/models/globex-gpt/{suffix}").status_code == 404
    assert admin_client.get(f"/globex/models/globex-gpt/{suffix}").status_code == 404


def test_another_workspaces_model_api_cannot_be_changed(admin_client, globex_model_api):
    assert (
        admin_client.post(
            "/acme/models/globex-gpt/delete/", {"confirm_name": "globex-gpt"}
        ).status_code
        == 404
    )
    assert admin_client.post("/acme/models/globex-gpt/edit/", {"model": "x"}).status_code == 404
    globex_model_api.refresh_from_db()
    assert globex_model_api.runtime_model == "gpt-4o"


def test_the_catalog_of_another_workspaces_connection_is_not_searchable(
    admin_client, other_connection
):
    response = admin_client.get("/acme/models/new/catalog/?connection=openai-main&model=gpt")
    assert option_ids(response.content.decode()) == []
    assert "Choose an integration connection first" in response.content.decode()


# --- list ------------------------------------------------------------------------------------


def test_the_list_shows_name_provider_model_status_last_call_and_calls_today(
    member_client, make_model_api, workspace
):
    model_api = make_model_api(name="my-gpt", display_name="My GPT")
    tasks.model_api_deploy(model_api.pk)
    make_model_api(name="idle-gpt", model="gpt-4.1")
    now = timezone.now()
    for index, when in enumerate([now, now - timedelta(minutes=5), now - timedelta(days=2)]):
        UsageRecord.objects.create(
            request_id=f"r{index}",
            time=when,
            workspace=workspace,
            model_api=model_api,
            model_api_name="my-gpt",
            caller="max@example.com",
            path="v1/chat/completions",
            status_code=200,
            latency_ms=10,
        )
    html = member_client.get("/acme/models/").content.decode()
    row = html[html.index("My GPT") : html.index("idle-gpt")]
    assert "<td>OpenAI</td>" in row and "gpt-4o-mini" in row
    assert 'class="badge DEPLOYED"' in row
    assert "0\xa0minutes ago" in row or "0 minutes ago" in row
    assert re.search(r'<td class="numeric">2</td>', row)
    idle = html[html.index("idle-gpt") :]
    assert "never" in idle and re.search(r'<td class="numeric">0</td>', idle)


def test_an_empty_list_invites_to_create(member_client, workspace):
    html = member_client.get("/acme/models/").content.decode()
    assert "No model APIs yet" in html and "/acme/models/new/" in html


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


# --- the model API page ------------------------------------------------------------------------


def test_the_overview_shows_endpoint_examples_and_events_without_any_key(
    member_client, make_model_api, fake_openai, personal_key, member_user
):
    raw_key = personal_key(member_user)
    model_api = make_model_api()
    tasks.model_api_deploy(model_api.pk)
    html = member_client.get("/acme/models/my-gpt/").content.decode()
    endpoint = "http://127.0.0.1:8000/run/acme/models/my-gpt"
    assert f'value="{endpoint}"' in html and 'data-copy="endpoint-url"' in html
    assert f"curl {endpoint}/v1/chat/completions" in html
    assert f'base_url="{endpoint}/v1"' in html
    assert f'baseURL: "{endpoint}/v1"' in html
    assert html.count("$BLAXEL_API_KEY") == 1 and "process.env.BLAXEL_API_KEY" in html
    assert 'os.environ["BLAXEL_API_KEY"]' in html
    assert raw_key not in html and fake_openai.key not in html
    assert "Deployed: the model “gpt-4o-mini” is available" in html
    assert "hx-trigger" not in html.split('id="model-api-status"')[1].split(">")[0]


def test_the_status_polls_while_deploying_and_stops_after(member_client, make_model_api):
    model_api = make_model_api()
    html = member_client.get("/acme/models/my-gpt/").content.decode()
    assert 'hx-get="/acme/models/my-gpt/status/" hx-trigger="every 2s"' in html
    tasks.model_api_deploy(model_api.pk)
    fragment = member_client.get("/acme/models/my-gpt/status/", headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert "hx-trigger" not in text and 'data-status="DEPLOYED"' in text
    assert 'id="header-status"' in text and 'hx-swap-oob="true"' in text


def test_the_failed_status_offers_to_check_again(member_client, make_model_api, monkeypatch):
    model_api = make_model_api(model="gpt-unknown")
    tasks.model_api_deploy(model_api.pk)
    html = member_client.get("/acme/models/my-gpt/").content.decode()
    assert "Unknown model" in html and "Check again" in html
    queued = []
    monkeypatch.setattr(tasks.model_api_deploy, "delay", queued.append)
    response = member_client.post("/acme/models/my-gpt/check-again/")
    assert response.status_code == 302
    model_api.refresh_from_db()
    assert model_api.status == "DEPLOYING"


def test_the_playground_calls_the_gateway_path_with_the_session_and_no_key(
    member_client, make_model_api, personal_key, member_user, fake_openai
):
    raw_key = personal_key(member_user)
    make_model_api()
    html = member_client.get("/acme/models/my-gpt/playground/").content.decode()
    assert 'data-chat-path="/run/acme/models/my-gpt/v1/chat/completions"' in html
    assert "js/playground.js" in html
    assert raw_key not in html and fake_openai.key not in html and "bl_" not in html


# --- edit, delete ------------------------------------------------------------------------------


def test_a_member_disables_and_renames(member_client, make_model_api):
    make_model_api()
    response = member_client.post(
        "/acme/models/my-gpt/edit/", {"display_name": "Renamed", "model": "gpt-4o-mini"}
    )
    assert response.status_code == 302
    model_api = ModelAPI.objects.get()
    assert (model_api.display_name, model_api.enabled, model_api.status) == (
        "Renamed",
        False,
        "DEACTIVATED",
    )
    html = member_client.get("/acme/models/my-gpt/").content.decode()
    assert "Disabled: the endpoint refuses calls" in html


def test_edit_shows_field_errors(member_client, make_model_api):
    make_model_api()
    response = member_client.post(
        "/acme/models/my-gpt/edit/", {"display_name": "x" * 101, "model": "", "enabled": "on"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "model" in errors and "display_name" in errors
    assert ModelAPI.objects.get().display_name == "my-gpt"


def test_delete_needs_the_name_typed(member_client, make_model_api):
    make_model_api()
    response = member_client.post("/acme/models/my-gpt/delete/", {"confirm_name": "wrong"})
    assert response.status_code == 200 and "Type “my-gpt” to confirm." in response.content.decode()
    assert ModelAPI.objects.exists()
    response = member_client.post("/acme/models/my-gpt/delete/", {"confirm_name": "my-gpt"})
    assert response.status_code == 302 and response["Location"] == "/acme/models/"
    assert not ModelAPI.objects.exists()
