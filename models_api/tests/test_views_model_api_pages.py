"""The model API list and a model API's own pages: the list's columns and its empty
state, the overview's endpoint examples without any key, the deploy status that
polls until settled and offers to check again, the Playground on the session, and
editing and deleting."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from models_api import tasks
from models_api.models import ModelAPI
from models_api.usage.models import UsageRecord

pytestmark = pytest.mark.django_db


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


def test_the_failed_status_offers_to_check_again(
    member_client, make_model_api, monkeypatch, retiring_model
):
    retiring_model("gpt-unknown")
    model_api = make_model_api(model="gpt-unknown")
    retiring_model.retire()
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
