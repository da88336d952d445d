"""The role matrix of DESIGN.md §3 for every `/v0` endpoint of the workspaces app.

Callers: the acme admin and member (personal keys), an outsider (globex's admin, key aimed
at acme), acme's admin and member service accounts, globex's service account aimed at
acme, and nobody. A refused call must change nothing (no audit row, no new object).
"""

from types import SimpleNamespace

import pytest

from blaxel_console.testing.api import assert_error, audit_count, key_client
from blaxel_console.testing.people import make_service_account, make_service_account_key
from workspaces.models import (
    ApiKey,
    Invitation,
    Membership,
    ServiceAccount,
    Workspace,
)
from workspaces.permissions import Role

CALLERS = ("admin", "member", "outsider", "sa_admin", "sa_member", "other_sa", "anonymous")


@pytest.fixture
def world(workspace, other_workspace, admin_user, member_user, outsider, make_user, personal_key):
    third = make_user("tess@example.com")
    Membership.objects.create(workspace=workspace, user=third, role=Role.MEMBER)
    sa_admin = make_service_account(workspace, name="ci-admin", role=Role.ADMIN, by_user=admin_user)
    sa_member = make_service_account(workspace, name="ci-member", by_user=admin_user)
    target = make_service_account(workspace, name="target", by_user=admin_user)
    target_key, _ = make_service_account_key(target, by_user=admin_user)
    other_sa = make_service_account(
        other_workspace, name="globex-bot", role=Role.ADMIN, by_user=outsider
    )
    clients = {
        "admin": key_client(personal_key(admin_user)),
        "member": key_client(personal_key(member_user)),
        "outsider": key_client(personal_key(outsider)),
        "sa_admin": key_client(make_service_account_key(sa_admin, by_user=admin_user)[1]),
        "sa_member": key_client(make_service_account_key(sa_member, by_user=admin_user)[1]),
        "other_sa": key_client(make_service_account_key(other_sa, by_user=outsider)[1]),
        "anonymous": key_client(None),
    }
    return SimpleNamespace(
        clients=clients,
        names={
            "member_email": member_user.email,
            "third_email": third.email,
            "target": target.client_id,
            "target_key": target_key.pk,
        },
    )


def expect(*statuses):
    return dict(zip(CALLERS, statuses, strict=True))


READ = expect(200, 200, 403, 200, 200, 403, 401)
ADMIN_WRITE = expect(200, 403, 403, 200, 403, 403, 401)

CASES = [
    # A workspace out of reach is a 403, named in the URL as in the header (DESIGN.md §3).
    ("get", "/v0/workspaces", None, expect(200, 200, 200, 200, 200, 200, 401)),
    ("post", "/v0/workspaces", {"name": "newco"}, expect(200, 200, 200, 403, 403, 403, 401)),
    ("get", "/v0/workspaces/acme", None, READ),
    ("put", "/v0/workspaces/acme", {"displayName": "N"}, ADMIN_WRITE),
    ("delete", "/v0/workspaces/acme", None, ADMIN_WRITE),
    # ada is acme's only admin: she may not leave; a service account cannot leave.
    ("delete", "/v0/workspaces/acme/leave", None, expect(409, 200, 403, 403, 403, 403, 401)),
    ("get", "/v0/users", None, READ),
    ("post", "/v0/users", {"email": "new@example.com"}, ADMIN_WRITE),
    ("put", "/v0/users/{member_email}", {"role": "admin"}, ADMIN_WRITE),
    ("delete", "/v0/users/{third_email}", None, ADMIN_WRITE),
    # Removing oneself is leaving: allowed to the member.
    ("delete", "/v0/users/{member_email}", None, expect(200, 200, 403, 200, 403, 403, 401)),
    ("get", "/v0/service_accounts", None, READ),
    ("post", "/v0/service_accounts", {"name": "new-bot"}, ADMIN_WRITE),
    ("get", "/v0/service_accounts/{target}", None, READ),
    ("put", "/v0/service_accounts/{target}", {"description": "x"}, ADMIN_WRITE),
    ("delete", "/v0/service_accounts/{target}", None, ADMIN_WRITE),
    ("get", "/v0/service_accounts/{target}/api_keys", None, READ),
    ("post", "/v0/service_accounts/{target}/api_keys", {"name": "k"}, ADMIN_WRITE),
    ("delete", "/v0/service_accounts/{target}/api_keys/{target_key}", None, ADMIN_WRITE),
]


def _state():
    """Everything a refused call must leave alone."""
    return (
        audit_count(),
        list(Workspace.objects.values_list("name", "display_name")),
        list(Membership.objects.values_list("pk", "role")),
        Invitation.objects.count(),
        list(ServiceAccount.objects.values_list("pk", "name", "description")),
        list(ApiKey.objects.values_list("pk", "revoked_at")),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    CASES,
    ids=[f"{method} {path}" for method, path, _, _ in CASES],
)
def test_role_matrix(world, caller, method, path, body, expected):
    client = world.clients[caller]
    url = path.format(**world.names)
    before = _state()
    kwargs = {"format": "json"} if body is not None else {}
    response = getattr(client, method)(url, body, **kwargs)
    status = expected[caller]
    if status == 200:
        assert response.status_code == 200, (response.status_code, response.content[:300])
        assert isinstance(response.json(), dict | list)
        if method != "get":
            assert _state() != before, "a successful write changed nothing"
    else:
        assert_error(response, status)
        assert _state() == before, "a refused call changed something"


@pytest.mark.django_db
def test_anonymous_is_told_how_to_authenticate(world):
    response = world.clients["anonymous"].get("/v0/users")
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- another workspace's objects are 404, never 403 -----------------------------------------


@pytest.fixture
def globex_objects(other_workspace, outsider, make_user):
    account = make_service_account(other_workspace, name="globex-bot", by_user=outsider)
    api_key, _ = make_service_account_key(account, by_user=outsider)
    globex_member = make_user("gina@globex.example.com")
    Membership.objects.create(workspace=other_workspace, user=globex_member, role=Role.MEMBER)
    return SimpleNamespace(account=account, api_key=api_key, member=globex_member)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/v0/users/{member_email}", {"role": "admin"}),
        ("delete", "/v0/users/{member_email}", None),
        ("put", "/v0/users/{member_sub}", {"role": "admin"}),
        ("get", "/v0/service_accounts/{client_id}", None),
        ("put", "/v0/service_accounts/{client_id}", {"name": "stolen"}),
        ("delete", "/v0/service_accounts/{client_id}", None),
        ("get", "/v0/service_accounts/{client_id}/api_keys", None),
        ("post", "/v0/service_accounts/{client_id}/api_keys", {"name": "k"}),
        ("delete", "/v0/service_accounts/{client_id}/api_keys/{key_id}", None),
    ],
)
def test_other_workspaces_objects_are_not_found(admin_api, globex_objects, method, path, body):
    url = path.format(
        member_email=globex_objects.member.email,
        member_sub=globex_objects.member.pk,
        client_id=globex_objects.account.client_id,
        key_id=globex_objects.api_key.pk,
    )
    before = _state()
    kwargs = {"format": "json"} if body is not None else {}
    assert_error(getattr(admin_api, method)(url, body, **kwargs), 404)
    assert _state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v0/workspaces/globex", None),
        ("put", "/v0/workspaces/globex", {"displayName": "Mine now"}),
        ("delete", "/v0/workspaces/globex", None),
        ("delete", "/v0/workspaces/globex/leave", None),
    ],
)
def test_another_workspace_named_in_the_url_is_no_access(
    admin_api, globex_objects, method, path, body
):
    # The workspace itself is not an object of the caller's workspace: like one that
    # does not exist, it is a 403 (DESIGN.md §3).
    before = _state()
    kwargs = {"format": "json"} if body is not None else {}
    assert_error(getattr(admin_api, method)(path, body, **kwargs), 403)
    assert _state() == before


@pytest.mark.django_db
def test_key_of_another_account_is_not_found_under_this_account(admin_api, admin_user, workspace):
    mine = make_service_account(workspace, name="mine", by_user=admin_user)
    other = make_service_account(workspace, name="other", by_user=admin_user)
    other_key, _ = make_service_account_key(other, by_user=admin_user)
    response = admin_api.delete(f"/v0/service_accounts/{mine.client_id}/api_keys/{other_key.pk}")
    assert_error(response, 404)
    other_key.refresh_from_db()
    assert other_key.revoked_at is None
