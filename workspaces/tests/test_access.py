"""The access layer (`workspaces.access`) and the one rule every surface follows with it:
a workspace that does not exist and one the caller cannot reach get the same answer (the
console's pages 404, `/v0` and the gateway 403), and a deactivated user's key stops
working on `/v0` and on the gateway alike."""

import re
from datetime import timedelta

import httpx
import openai
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from blaxel_console.testing.api import assert_error, key_client
from blaxel_console.testing.people import make_service_account, make_service_account_key
from blaxel_console.testing.waiting import run_async, wait_until
from models_api.gateway import caches
from models_api.gateway.handler import GatewayASGIHandler
from models_api.usage import services as usage
from workspaces import access, services
from workspaces.keys import hash_key
from workspaces.models import ApiKey
from workspaces.permissions import Role
from workspaces.principals import Principal

pytestmark = pytest.mark.django_db

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def create_globex(make_user):
    """`globex`, a workspace the fixtures' people are not in, made mid-test so that the
    same request can be sent before and after it exists."""
    owner = make_user("gus@globex.example.com")
    return services.workspace_create(name="globex", display_name="Globex", creator=owner)


# --- key → caller -----------------------------------------------------------------------------


def test_key_grant_stands_for_the_keys_owner(admin_user, personal_key):
    grant = access.key_grant(key_hash=hash_key(personal_key(admin_user, expires_in="24h")))
    assert grant.principal.user_id == admin_user.pk
    row = ApiKey.objects.get(user=admin_user)
    assert grant.api_key_id == row.pk
    assert grant.expires_at == row.expires_at.timestamp()
    assert not grant.is_expired(row.expires_at.timestamp() - 1)
    assert grant.is_expired(row.expires_at.timestamp())


def test_key_grant_of_a_service_account_carries_its_workspace_and_role(workspace, admin_user):
    account = make_service_account(workspace, name="ci", role=Role.ADMIN, by_user=admin_user)
    _, raw_key = make_service_account_key(account, by_user=admin_user)
    principal = access.key_grant(key_hash=hash_key(raw_key)).principal
    assert principal.service_account_id == account.pk
    assert principal.service_account_workspace_id == workspace.pk
    assert principal.service_account_role == Role.ADMIN


def test_key_grant_refuses_unknown_revoked_expired_and_deactivated(
    workspace, admin_user, member_user, personal_key
):
    assert access.key_grant(key_hash=hash_key("bl_unknown")) is None
    revoked, expired, deactivated = (
        personal_key(admin_user, name="revoked"),
        personal_key(admin_user, name="expired", expires_in="24h"),
        personal_key(member_user, name="deactivated"),
    )
    ApiKey.objects.filter(name="revoked").update(revoked_at=timezone.now())
    ApiKey.objects.filter(name="expired").update(expires_at=timezone.now())
    member_user.is_active = False
    member_user.save()
    for raw_key in (revoked, expired, deactivated):
        assert access.key_grant(key_hash=hash_key(raw_key)) is None


def test_key_lookup_writes_nothing(admin_user, personal_key):
    raw_key = personal_key(admin_user)
    with CaptureQueriesContext(connection) as captured:
        assert access.key_grant(key_hash=hash_key(raw_key)) is not None
    assert [query["sql"].split()[0] for query in captured.captured_queries] == ["SELECT"]
    assert ApiKey.objects.get(user=admin_user).last_used_at is None


def test_the_stored_hash_is_not_a_key(workspace, admin_user, personal_key):
    personal_key(admin_user)
    stolen_hash = ApiKey.objects.get(user=admin_user).key_hash
    assert_error(key_client(stolen_hash).get("/v0/users"), 401)


# --- last_used_at ---------------------------------------------------------------------------


def test_last_used_at_is_written_at_most_once_a_minute(admin_user, personal_key):
    personal_key(admin_user)
    row = ApiKey.objects.get(user=admin_user)
    first = timezone.now()
    assert services.api_key_mark_used(api_key_id=row.pk, when=first)
    for later in (timedelta(seconds=1), timedelta(seconds=59)):
        assert not services.api_key_mark_used(api_key_id=row.pk, when=first + later)
    row.refresh_from_db()
    assert row.last_used_at == first
    # An older use arriving late does not move it back.
    assert not services.api_key_mark_used(api_key_id=row.pk, when=first - timedelta(hours=1))
    assert services.api_key_mark_used(api_key_id=row.pk, when=first + timedelta(seconds=61))
    row.refresh_from_db()
    assert row.last_used_at == first + timedelta(seconds=61)


def test_v0_records_last_used_at_once_a_minute(workspace, admin_user, personal_key):
    client = key_client(personal_key(admin_user))
    assert client.get("/v0/users").status_code == 200
    first = ApiKey.objects.get(user=admin_user).last_used_at
    assert first is not None
    assert client.get("/v0/users").status_code == 200
    assert ApiKey.objects.get(user=admin_user).last_used_at == first


# --- workspace + role -----------------------------------------------------------------------


def test_workspace_access_gives_the_members_role(workspace, admin_user, member_user):
    admin = access.workspace_access(Principal.for_user(admin_user), "acme")
    member = access.workspace_access(Principal.for_user(member_user), "acme")
    assert (admin.workspace, admin.role) == (workspace, Role.ADMIN)
    assert (member.workspace, member.role) == (workspace, Role.MEMBER)


def test_missing_and_unreachable_workspace_are_one_answer(
    workspace, admin_user, make_user, django_assert_num_queries
):
    principal = Principal.for_user(admin_user)
    with django_assert_num_queries(1), pytest.raises(access.WorkspaceUnreachable) as missing:
        access.workspace_access(principal, "globex")
    create_globex(make_user)
    with django_assert_num_queries(1), pytest.raises(access.WorkspaceUnreachable) as foreign:
        access.workspace_access(principal, "globex")
    assert str(missing.value) == str(foreign.value)
    assert str(foreign.value) == "You have no access to the workspace “globex”."


def test_a_deactivated_users_membership_counts_for_nothing(workspace, member_user):
    member_user.is_active = False
    member_user.save()
    with pytest.raises(access.WorkspaceUnreachable):
        access.workspace_access(Principal.for_user(member_user), "acme")


def test_a_service_account_reaches_its_own_workspace_only(workspace, other_workspace, admin_user):
    account = make_service_account(workspace, name="ci", by_user=admin_user)
    principal = Principal.for_service_account(account)
    assert access.workspace_access(principal, "acme").role == Role.MEMBER
    assert access.service_account_workspace_access(principal).workspace == workspace
    with pytest.raises(access.WorkspaceUnreachable):
        access.workspace_access(principal, "globex")
    with pytest.raises(access.WorkspaceUnreachable):
        access.service_account_workspace_access(Principal.for_user(admin_user))


# --- one answer per surface -------------------------------------------------------------------


def html_page_without_its_csrf_tokens(response) -> str:
    # The page carries CSRF tokens masked afresh on every render.
    page = response.content.decode()
    page = re.sub(r'"X-CSRFToken": "\w+"', "", page)
    return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", page)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_console_page_of_a_missing_or_unreachable_workspace_is_one_404(
    admin_client, make_user, settings, debug
):
    settings.DEBUG = debug
    missing = admin_client.get("/globex/settings/")
    create_globex(make_user)
    foreign = admin_client.get("/globex/settings/")
    assert missing.status_code == foreign.status_code == 404
    assert html_page_without_its_csrf_tokens(missing) == html_page_without_its_csrf_tokens(foreign)


def test_v0_with_the_workspace_header_missing_or_unreachable_is_one_403(
    workspace, admin_user, make_user, api_client_for
):
    client = api_client_for(admin_user, "globex")
    missing = client.get("/v0/users")
    create_globex(make_user)
    foreign = client.get("/v0/users")
    assert assert_error(missing, 403) == assert_error(foreign, 403)


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_v0_with_the_workspace_in_the_url_missing_or_unreachable_is_one_403(
    admin_api, make_user, method
):
    def send():
        return getattr(admin_api, method)("/v0/workspaces/globex", {}, format="json")

    missing = send()
    create_globex(make_user)
    foreign = send()
    assert assert_error(missing, 403) == assert_error(foreign, 403)
    assert missing.json()["message"] == "You have no access to the workspace “globex”."


@pytest.fixture
def gateway_caches(settings):
    """Module-level caches outlive a test's database: start and end each test with none."""
    caches.reset_all()
    yield
    usage.flush()
    caches.reset_all()


def gateway_call(raw_key: str, workspace_name: str = "acme"):
    """One chat completion through the gateway's ASGI handler, in-process."""

    async def send():
        transport = httpx.ASGITransport(app=GatewayASGIHandler())
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(
                f"/run/{workspace_name}/models/my-gpt/v1/chat/completions",
                headers={"Authorization": f"Bearer {raw_key}"},
                json=CHAT,
            )

    return run_async(send)  # also closes the gateway's HTTP client of that event loop


@pytest.mark.django_db(transaction=True)
def test_gateway_missing_or_unreachable_workspace_is_one_403(
    gateway_caches, settings, workspace, admin_user, make_user, personal_key
):
    settings.GATEWAY_LOCAL_CACHE_TTL = 0.0  # no "not found" kept between the two calls
    raw_key = personal_key(admin_user)
    missing = gateway_call(raw_key, "globex")
    create_globex(make_user)
    foreign = gateway_call(raw_key, "globex")
    assert missing.status_code == foreign.status_code == 403
    assert missing.content == foreign.content
    assert missing.json()["error"] == {
        "message": "You have no access to the workspace “globex”.",
        "type": "permission_error",
        "param": None,
        "code": "no_access",
    }


# --- a deactivated user's key ---------------------------------------------------------------


@pytest.mark.parametrize("update_fields", [None, ["is_active"]], ids=["save", "update_fields"])
def test_v0_refuses_a_deactivated_users_key_at_once(
    workspace, member_user, personal_key, update_fields
):
    client = key_client(personal_key(member_user))
    assert client.get("/v0/users").status_code == 200
    member_user.is_active = False
    member_user.save(update_fields=update_fields)
    assert_error(client.get("/v0/users"), 401)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("update_fields", [None, ["is_active"]], ids=["save", "update_fields"])
def test_gateway_refuses_a_deactivated_users_key_within_seconds(
    gateway_caches, settings, acme_model_api, member_user, personal_key, update_fields
):
    # Every lookup is kept in memory (MAX_AGE, a minute); the version is checked as often
    # as a deployment would.
    settings.GATEWAY_LOCAL_CACHE_TTL = 0.5
    raw_key = personal_key(member_user)
    assert gateway_call(raw_key).status_code == 200
    assert gateway_call(raw_key).status_code == 200  # served from the warm caches
    member_user.is_active = False
    member_user.save(update_fields=update_fields)
    refused = wait_until(
        lambda: (answer := gateway_call(raw_key)).status_code == 401 and answer, timeout=5
    )
    assert refused.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.django_db(transaction=True)
def test_gateway_forgets_a_deleted_users_key_within_seconds(
    gateway_caches, settings, acme_model_api, member_user, personal_key
):
    settings.GATEWAY_LOCAL_CACHE_TTL = 0.5
    raw_key = personal_key(member_user)
    assert gateway_call(raw_key).status_code == 200
    member_user.delete()
    wait_until(lambda: gateway_call(raw_key).status_code == 401, timeout=5)


@pytest.mark.live
@pytest.mark.skipif(
    not django_settings.REDIS_URL,
    reason="Needs REDIS_URL: the live server is another process, told through the shared "
    "cache (embedded mode is one process with an in-process cache).",
)
def test_live_gateway_refuses_a_deactivated_users_key_within_seconds(
    asgi_server, acme_model_api, member_user, personal_key, openai_clients
):
    client, _ = openai_clients(asgi_server, personal_key(member_user))
    assert client.models.list().data  # the server's caches are warm
    member_user.is_active = False
    member_user.save()

    def refused():
        try:
            client.models.list()
        except openai.AuthenticationError:
            return True
        return False

    wait_until(refused, timeout=10)
