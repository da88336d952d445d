"""Who a live gateway lets through: a bad, missing or foreign key refused in OpenAI's
shape, a service account's key only in its workspace, an unknown workspace refused
like one out of reach, the X-Blaxel headers, the Playground's session only with its
CSRF token, and (with Redis) a revoked key or removed member refused on every process."""

import httpx
import openai
import pytest

from blaxel_console.testing.usage import wait_for_usage_records
from blaxel_console.testing.waiting import wait_until

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]


# --- keys and workspaces -------------------------------------------------------------------


def test_bad_key_is_401(asgi_server, acme_model_api, openai_clients):
    client, _ = openai_clients(asgi_server, "bl_not-a-real-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"


def test_no_key_is_401(asgi_server, acme_model_api, gateway_url):
    answer = httpx.post(f"{gateway_url(asgi_server)}/chat/completions", json={})
    assert answer.status_code == 401
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_key_without_access_to_the_workspace_is_403(
    asgi_server, acme_model_api, other_workspace, outsider, personal_key, openai_clients
):
    client, _ = openai_clients(asgi_server, personal_key(outsider))
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "no_access"


def test_service_account_key_reaches_only_its_workspace(
    asgi_server,
    acme_model_api,
    workspace,
    other_workspace,
    admin_user,
    openai_clients,
    make_gateway_model_api,
):
    from workspaces.principals import Principal
    from workspaces.services import service_account_api_key_create, service_account_create

    actor = Principal.for_user(admin_user)
    account = service_account_create(workspace=workspace, name="ci", actor=actor)
    _, raw_key = service_account_api_key_create(service_account=account, name="k", actor=actor)
    make_gateway_model_api(other_workspace, "my-gpt")
    own, _ = openai_clients(asgi_server, raw_key)
    assert own.models.list().data[0].id == "gpt-4o-mini"
    foreign, _ = openai_clients(asgi_server, raw_key, workspace="globex")
    with pytest.raises(openai.PermissionDeniedError):
        foreign.models.list()
    (record,) = wait_for_usage_records(1)
    assert record.caller == "service account ci"


def test_unknown_workspace_is_403_like_one_out_of_reach(
    asgi_server, acme_model_api, member_key, openai_clients
):
    client, _ = openai_clients(asgi_server, member_key, workspace="nowhere")
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.models.list()
    assert caught.value.code == "no_access"


# --- credentials: both header forms, the Playground's session -------------------------------------


def test_blaxel_headers_alone_authenticate(asgi_server, acme_model_api, member_key, gateway_url):
    answer = httpx.post(
        f"{gateway_url(asgi_server)}/chat/completions",
        headers={"X-Blaxel-Authorization": f"Bearer {member_key}", "X-Blaxel-Workspace": "acme"},
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200
    assert answer.json()["model"] == "gpt-4o-mini"


CSRF_SECRET = "a" * 16 + "B" * 16  # a well-formed 32-character CSRF secret


def _session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    browser = Client()
    browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def test_playground_session_needs_the_csrf_token(
    asgi_server, acme_model_api, member_user, outsider, other_workspace, gateway_url, fake_openai
):
    url = f"{gateway_url(asgi_server)}/chat/completions"
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    session = _session_cookie(member_user)
    cookies = {"sessionid": session, "csrftoken": CSRF_SECRET}

    with_token = httpx.post(url, cookies=cookies, headers={"X-CSRFToken": CSRF_SECRET}, json=body)
    assert with_token.status_code == 200
    assert "data: [DONE]" in with_token.text
    seen = fake_openai.requests("/v1/chat/completions")[0]
    assert "cookie" not in seen["headers"] and "x-csrftoken" not in seen["headers"]

    without_token = httpx.post(url, cookies=cookies, json=body)
    assert without_token.status_code == 403
    assert without_token.json()["error"]["code"] == "csrf_failed"

    wrong_token = httpx.post(url, cookies=cookies, headers={"X-CSRFToken": "b" * 32}, json=body)
    assert wrong_token.status_code == 403

    cross_site = httpx.post(
        url,
        cookies=cookies,
        headers={"X-CSRFToken": CSRF_SECRET, "Origin": "https://evil.example"},
        json=body,
    )
    assert cross_site.status_code == 403

    expired = httpx.post(
        url,
        cookies={"sessionid": "no-such-session", "csrftoken": CSRF_SECRET},
        headers={"X-CSRFToken": CSRF_SECRET},
        json=body,
    )
    assert expired.status_code == 401

    # A signed-in person still needs access to the workspace.
    outsider_cookies = {"sessionid": _session_cookie(outsider), "csrftoken": CSRF_SECRET}
    foreign = httpx.post(
        url, cookies=outsider_cookies, headers={"X-CSRFToken": CSRF_SECRET}, json=body
    )
    assert foreign.status_code == 403
    assert len(fake_openai.requests("/v1/chat/completions")) == 1


# --- invalidation across processes --------------------------------------------------------------


def _calls_until(client_call, status: int) -> bool:
    try:
        client_call()
    except openai.APIStatusError as error:
        return error.status_code == status
    return False


@pytest.mark.skipif(
    not __import__("django.conf").conf.settings.REDIS_URL,
    reason="Needs REDIS_URL: invalidation across processes goes through the shared cache "
    "(embedded mode is one process with an in-process cache).",
)
def test_revoked_key_and_removed_member_stop_working_on_every_process(
    transactional_db, workspace, acme_model_api, member_user, admin_user, openai_clients
):
    from blaxel_console.testing.servers import run_asgi_server
    from workspaces.models import ApiKey, Membership
    from workspaces.principals import Principal
    from workspaces.services import api_key_revoke, membership_remove, personal_api_key_create

    actor = Principal.for_user(admin_user)
    _, revoked_key = personal_api_key_create(user=member_user, name="to revoke")
    _, member_key = personal_api_key_create(user=member_user, name="stays")
    with run_asgi_server() as first, run_asgi_server() as second:
        servers = (first, second)
        calls = {
            (server, key): openai_clients(server, key)[0].models.list
            for server in servers
            for key in (revoked_key, member_key)
        }
        for call in calls.values():  # warm every process's caches
            assert call().data

        api_key_revoke(api_key=ApiKey.objects.get(name="to revoke"), actor=actor)
        for server in servers:
            wait_until(lambda s=server: _calls_until(calls[(s, revoked_key)], 401), timeout=10)
            assert calls[(server, member_key)]().data  # the other key still works

        membership_remove(
            membership=Membership.objects.get(workspace=workspace, user=member_user), actor=actor
        )
        for server in servers:
            wait_until(lambda s=server: _calls_until(calls[(s, member_key)], 403), timeout=10)
