"""The gateway's ASGI handler called in-process (no server): what it costs in database
queries, and how its caches follow writes made through the services."""

import json
import time

import pytest

from blaxel_console import cache_versions
from blaxel_console.testing.gateway_inprocess import CHAT, call
from blaxel_console.testing.waiting import run_async, wait_until
from models_api.gateway import caches
from models_api.usage import services as usage
from models_api.usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_caches(settings):
    """Module-level caches outlive a test's database; start each test from nothing, and
    check the shared versions on every call so that invalidation is immediate."""
    from integrations.ssrf import clear_call_time_cache
    from models_api.gateway import auth

    settings.GATEWAY_LOCAL_CACHE_TTL = 0.0
    caches.reset_all()
    clear_call_time_cache()
    auth._last_noted.clear()
    yield
    usage.flush()
    caches.reset_all()


def test_steady_state_makes_no_database_query(
    handler, acme_model_api, member_user, personal_key, settings
):
    settings.GATEWAY_LOCAL_CACHE_TTL = 60.0
    key = personal_key(member_user)
    first, cold = handler.queries_during(lambda: call(handler, key=key))
    assert first.status_code == 200
    # The first call loads key, workspace, role and route: the counter does see the
    # gateway's queries, so the zero below is meaningful.
    assert len(cold) >= 4

    def steady_calls():
        plain = [call(handler, key=key) for _ in range(5)]
        streamed = call(handler, key=key, body={**CHAT, "stream": True})
        return plain, streamed

    (plain, streamed), warm = handler.queries_during(steady_calls)
    assert warm == []
    for answer in plain:
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"].startswith("Hello")
    assert streamed.status_code == 200 and "[DONE]" in streamed.text


def test_cached_lookups_are_dropped_when_the_shared_version_changes(
    handler, acme_model_api, member_user, personal_key
):
    from django.utils import timezone

    from workspaces.models import ApiKey

    key = personal_key(member_user)
    assert call(handler, key=key).status_code == 200
    # A write that bumps nothing is not seen (the copy is served) …
    ApiKey.objects.filter(user=member_user).update(revoked_at=timezone.now())
    assert call(handler, key=key).status_code == 200
    # … until the ACCESS version changes, as every service that revokes does.
    cache_versions.bump(cache_versions.ACCESS)
    assert call(handler, key=key).status_code == 401


def test_revoking_a_key_stops_it(handler, acme_model_api, member_user, personal_key):
    from workspaces.models import ApiKey
    from workspaces.principals import Principal
    from workspaces.services import api_key_revoke

    key = personal_key(member_user)
    assert call(handler, key=key).status_code == 200
    api_key_revoke(
        api_key=ApiKey.objects.get(user=member_user), actor=Principal.for_user(member_user)
    )
    answer = call(handler, key=key)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"


def test_removing_a_member_stops_their_key(
    handler, workspace, acme_model_api, member_user, admin_user, personal_key
):
    from workspaces.models import Membership
    from workspaces.principals import Principal
    from workspaces.services import membership_remove

    key = personal_key(member_user)
    assert call(handler, key=key).status_code == 200
    membership_remove(
        membership=Membership.objects.get(workspace=workspace, user=member_user),
        actor=Principal.for_user(admin_user),
    )
    assert call(handler, key=key).status_code == 403


def test_disabling_a_model_api_stops_it(handler, acme_model_api, member_user, personal_key):
    from models_api.services import model_api_update
    from workspaces.principals import Principal

    key = personal_key(member_user)
    assert call(handler, key=key).status_code == 200
    model_api_update(model_api=acme_model_api, actor=Principal.for_user(member_user), enabled=False)
    answer = call(handler, key=key)
    assert answer.status_code == 403
    assert "disabled" in answer.json()["error"]["message"]


def test_a_replacement_key_serves_once_the_provider_accepted_it(
    handler, acme_model_api, admin_user, member_user, personal_key, fake_openai
):
    from integrations.models import IntegrationConnection
    from integrations.services import integration_connection_update
    from workspaces.principals import Principal

    key = personal_key(member_user)
    assert call(handler, key=key).status_code == 200
    integration_connection_update(
        connection=IntegrationConnection.objects.get(name="openai-main"),
        actor=Principal.for_user(admin_user),
        secret={"apiKey": fake_openai.second_key},
    )
    wait_until(lambda: not IntegrationConnection.objects.filter(pending_status="checking").exists())
    assert call(handler, key=key).status_code == 200
    seen = fake_openai.requests("/v1/chat/completions")
    assert [request["headers"]["authorization"] for request in seen] == [
        f"Bearer {fake_openai.key}",
        f"Bearer {fake_openai.second_key}",
    ]


def test_a_mistyped_replacement_key_never_breaks_the_calls(
    handler, acme_model_api, admin_user, member_user, personal_key, fake_openai
):
    from integrations.models import IntegrationConnection
    from integrations.services import integration_connection_update
    from workspaces.principals import Principal

    key = personal_key(member_user)
    integration_connection_update(
        connection=IntegrationConnection.objects.get(name="openai-main"),
        actor=Principal.for_user(admin_user),
        secret={"apiKey": fake_openai.key + "-typo"},
    )
    # Before, the typo replaced the key at once and every call answered 401.
    assert call(handler, key=key).status_code == 200
    wait_until(
        lambda: IntegrationConnection.objects.get(name="openai-main").pending_status == "rejected"
    )
    assert call(handler, key=key).status_code == 200


def test_new_member_is_let_in_without_waiting_for_a_version_change(
    handler, workspace, acme_model_api, outsider, personal_key, settings
):
    from workspaces.models import Membership

    settings.GATEWAY_LOCAL_CACHE_TTL = 0.2
    key = personal_key(outsider)
    assert call(handler, key=key).status_code == 403
    # Joining bumps no version; a "no access" answer is kept only one TTL.
    Membership.objects.create(workspace=workspace, user=outsider, role="member")
    time.sleep(0.3)
    assert call(handler, key=key).status_code == 200


def test_expired_key_stops_although_cached(handler, acme_model_api, member_user, monkeypatch):
    import time

    from models_api.gateway import auth
    from workspaces.services import personal_api_key_create

    _, raw = personal_api_key_create(user=member_user, name="short", expires_in="24h")
    assert call(handler, key=raw).status_code == 200
    # A day later the cached grant is refused by its own expiry (no version bump, no query).
    monkeypatch.setattr(auth, "_now", lambda: time.time() + 25 * 3600)
    assert call(handler, key=raw).status_code == 401


def test_last_used_at_is_written_in_the_background(
    handler, acme_model_api, member_user, personal_key
):
    from blaxel_console import background
    from workspaces.models import ApiKey

    key = personal_key(member_user)
    assert ApiKey.objects.get(user=member_user).last_used_at is None
    assert call(handler, key=key).status_code == 200
    assert background.flush_all()
    assert ApiKey.objects.get(user=member_user).last_used_at is not None


def test_declared_body_over_the_limit_is_refused_unread(handler, settings):
    settings.GATEWAY_MAX_BODY_BYTES = 100
    sent = []

    async def receive():  # pragma: no cover - must not be called
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/run/acme/models/my-gpt/v1/chat/completions",
        "query_string": b"",
        "headers": [(b"content-length", b"101"), (b"content-type", b"application/json")],
    }
    run_async(handler.handler, scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "request_too_large"


def test_streamed_body_over_the_limit_is_refused_while_reading(
    handler, settings, acme_model_api, member_user, personal_key
):
    key = personal_key(member_user)
    settings.GATEWAY_MAX_BODY_BYTES = 100
    sent = []
    chunks = [b"x" * 60, b"x" * 60, b"x" * 60]
    read = []

    async def receive():
        chunk = chunks.pop(0)
        read.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/run/acme/models/my-gpt/v1/chat/completions",
        "query_string": b"",
        "headers": [
            (b"transfer-encoding", b"chunked"),
            (b"authorization", f"Bearer {key}".encode()),
        ],
    }
    handler.in_thread(lambda: run_async(handler.handler, scope, receive, send))
    assert sent[0]["status"] == 413
    assert len(read) == 2  # stopped as soon as the limit was passed
    usage.flush()
    (record,) = UsageRecord.objects.filter(model_api=acme_model_api)
    assert (record.status_code, record.error_type) == (413, "request_too_large")


def test_without_redis_an_unreachable_shared_cache_falls_back_to_the_database(
    handler, acme_model_api, member_user, personal_key, monkeypatch
):
    key = personal_key(member_user)
    assert call(handler, key=key).status_code == 200

    async def broken(namespace):
        raise ConnectionError("shared cache down")

    monkeypatch.setattr(cache_versions, "acurrent", broken)
    answer, queries = handler.queries_during(lambda: call(handler, key=key))
    assert answer.status_code == 200
    # Nothing cached is trusted while versions cannot be read: the database answered.
    assert len(queries) >= 1


def test_with_redis_unreachable_a_call_succeeds_and_its_record_is_written_directly(
    handler, acme_model_api, member_user, personal_key, settings
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the usage queue and counters' Redis
    response = call(handler, key=personal_key(member_user))

    assert response.status_code == 200
    assert not usage.flush()  # there is no queue to drain, and flush() says so
    (record,) = UsageRecord.objects.filter(model_api=acme_model_api)
    assert (record.status_code, record.total_tokens) == (200, 22)


def test_refused_calls_are_not_logged_one_line_each(handler, acme_model_api, caplog):
    import logging

    with caplog.at_level(logging.INFO):
        answer = call(handler, key="bl_wrong")
    assert answer.status_code == 401
    assert not [record for record in caplog.records if record.name == "django.request"]


def test_a_stored_setting_unfit_for_a_header_never_makes_the_gateway_answer_500(
    handler, acme_model_api, member_user, personal_key, fake_openai
):
    # A row written before settings were checked for control characters.
    from integrations.models import IntegrationConnection

    connection = IntegrationConnection.objects.get(model_api_links__model_api=acme_model_api)
    IntegrationConnection.objects.filter(pk=connection.pk).update(
        config={**connection.config, "organization": "org-1\r\nX-Injected: yes"}
    )
    caches.reset_all()
    answer = call(handler, key=personal_key(member_user))
    assert answer.status_code == 502
    assert "no usable integration connection" in answer.json()["error"]["message"]
    assert not [r for r in fake_openai.requests() if "x-injected" in str(r).lower()]


@pytest.mark.parametrize(
    ("who", "model_api", "status"),
    [("nobody", "my-gpt", 401), ("outsider", "my-gpt", 403), ("member", "no-such-api", 404)],
)
def test_401_403_404_are_decided_from_the_headers_before_any_body_is_read(
    handler, acme_model_api, member_user, outsider, other_workspace, personal_key, who,
    model_api, status,
):  # fmt: skip
    headers = [(b"content-length", b"9000000"), (b"content-type", b"application/json")]
    if who != "nobody":
        key = personal_key(member_user if who == "member" else outsider)
        headers.append((b"authorization", f"Bearer {key}".encode()))
    sent = []

    async def receive():  # a caller that never sends the 9 MB it announced
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/run/acme/models/{model_api}/v1/chat/completions",
        "query_string": b"",
        "headers": headers,
    }
    handler.in_thread(lambda: run_async(handler.handler, scope, receive, send))
    assert sent[0]["status"] == status
    assert "error" in json.loads(sent[1]["body"])


@pytest.mark.parametrize(("mode", "status"), [("open", 200), ("closed", 503)])
def test_redis_down_admits_or_refuses_calls_with_policies_as_configured(
    handler, acme_model_api, member_user, personal_key, workspace, actor, settings, mode, status
):
    from models_api.policies.services import policy_create

    policy_create(
        workspace=workspace,
        name="house-limit",
        actor=actor,
        type="rateLimit",
        requests_per_minute=100,
        is_workspace_default=True,
    )
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the policy counters' Redis is down
    settings.POLICY_FAILURE_MODE = mode
    caches.reset_all()
    answer = call(handler, key=personal_key(member_user))
    assert answer.status_code == status
    if status == 503:
        assert answer.json()["error"]["code"] == "policy_check_unavailable"
        assert answer.headers["retry-after"] == "5"
