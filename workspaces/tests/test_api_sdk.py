"""Blaxel's official Python SDK (its generated control-plane client, blaxel 0.4.24) drives
`/v0` on a live ASGI server: the JSON shapes and paths are the ones it sends and parses."""

import json
import os

# Before the SDK is imported: it must never report anything to the internet.
os.environ.setdefault("DO_NOT_TRACK", "1")

import pytest
from blaxel.core.client.api.service_accounts import (
    create_api_key_for_service_account,
    create_workspace_service_account,
    delete_api_key_for_service_account,
    delete_workspace_service_account,
    get_workspace_service_accounts,
    list_api_keys_for_service_account,
    update_workspace_service_account,
)
from blaxel.core.client.api.workspaces import (
    create_workspace,
    delete_workspace,
    get_workspace,
    invite_workspace_user,
    leave_workspace,
    list_workspace_users,
    list_workspaces,
    remove_workspace_user,
    update_workspace,
    update_workspace_user_role,
)
from blaxel.core.client.client import Client
from blaxel.core.client.models import ApiKey as SdkApiKey
from blaxel.core.client.models import (
    CreateApiKeyForServiceAccountBody,
    CreateWorkspaceServiceAccountBody,
    Error,
    InviteWorkspaceUserBody,
    PendingInvitation,
    UpdateWorkspaceServiceAccountBody,
    UpdateWorkspaceUserRoleBody,
    Workspace,
    WorkspaceUser,
)
from blaxel.core.client.models import CreateWorkspaceServiceAccountBodyRole as SdkRole
from blaxel.core.client.models.workspace_status import WorkspaceStatus

from workspaces.models import ApiKey, Invitation, Membership, ServiceAccount
from workspaces.permissions import Role

pytestmark = pytest.mark.live


def sdk_client(base_url, raw_key, workspace_name="acme", header="X-Blaxel-Authorization"):
    headers = {header: f"Bearer {raw_key}"}
    if workspace_name:
        headers["X-Blaxel-Workspace"] = workspace_name
    # Statuses the generated code does not list come back as `Response`s, not exceptions.
    return Client(
        base_url=f"{base_url}/v0", headers=headers, raise_on_unexpected_status=False, timeout=30
    )


@pytest.fixture
def admin_sdk(asgi_server, workspace, admin_user, personal_key):
    with sdk_client(asgi_server, personal_key(admin_user)) as client:
        yield client


@pytest.fixture
def member_sdk(asgi_server, workspace, member_user, personal_key):
    with sdk_client(asgi_server, personal_key(member_user)) as client:
        yield client


def error_of(response) -> Error:
    error = Error.from_dict(json.loads(response.content))
    assert error.code == response.status_code
    return error


def test_workspaces_with_the_sdk(admin_sdk, other_workspace):
    workspaces = list_workspaces.sync(client=admin_sdk)
    assert [workspace.name for workspace in workspaces] == ["acme"]
    acme = get_workspace.sync("acme", client=admin_sdk)
    assert isinstance(acme, Workspace)
    assert acme.display_name == "Acme Corp"
    assert acme.status == WorkspaceStatus.READY
    assert acme.created_by == "ada@example.com"

    # Send back what the SDK parsed, with one change: read-only keys are ignored.
    acme.display_name = "Acme via SDK"
    updated = update_workspace.sync("acme", client=admin_sdk, body=acme)
    assert updated.display_name == "Acme via SDK"

    created = create_workspace.sync(
        client=admin_sdk, body=Workspace(name="sdk-co", display_name="SDK Co")
    )
    assert isinstance(created, Workspace) and created.name == "sdk-co"
    duplicate = create_workspace.sync(client=admin_sdk, body=Workspace(name="globex"))
    assert isinstance(duplicate, Error) and duplicate.code == 409

    deleted = delete_workspace.sync("sdk-co", client=admin_sdk)
    assert deleted.name == "sdk-co"
    # Gone: the same answer as a workspace out of reach (DESIGN.md §3), which the SDK reads.
    missing = get_workspace.sync("sdk-co", client=admin_sdk)
    assert isinstance(missing, Error) and missing.code == 403
    assert missing.message == "You have no access to the workspace “sdk-co”."


def test_team_with_the_sdk(admin_sdk, member_sdk, member_user, workspace):
    users = list_workspace_users.sync(client=admin_sdk)
    assert all(isinstance(user, WorkspaceUser) for user in users)
    assert [(user.email, user.role, user.accepted) for user in users] == [
        ("ada@example.com", "admin", True),
        ("max@example.com", "member", True),
    ]

    body = InviteWorkspaceUserBody(email="newbie@example.com")
    body["role"] = "admin"  # the generated body has no `role` field: extra keys ride along
    invitation = invite_workspace_user.sync(client=admin_sdk, body=body)
    assert isinstance(invitation, PendingInvitation)
    assert (invitation.email, invitation.role, invitation.workspace) == (
        "newbie@example.com",
        "admin",
        "acme",
    )
    invited = [user for user in list_workspace_users.sync(client=admin_sdk) if not user.accepted]
    assert [user.email for user in invited] == ["newbie@example.com"]

    promoted = update_workspace_user_role.sync(
        member_user.email, client=admin_sdk, body=UpdateWorkspaceUserRoleBody(role="admin")
    )
    assert isinstance(promoted, WorkspaceUser) and promoted.role == "admin"
    assert promoted.sub == str(member_user.pk)
    bad_role = update_workspace_user_role.sync_detailed(
        member_user.email, client=admin_sdk, body=UpdateWorkspaceUserRoleBody(role="owner")
    )
    assert bad_role.status_code == 400
    assert "role" in json.loads(bad_role.content)["fields"]

    revoked = remove_workspace_user.sync_detailed("newbie@example.com", client=admin_sdk)
    assert revoked.status_code == 200
    assert Invitation.objects.get(email="newbie@example.com").revoked_at is not None

    # A member may not invite (403, an Error the SDK can parse) but may leave.
    Membership.objects.filter(user=member_user).update(role=Role.MEMBER)
    refused = invite_workspace_user.sync_detailed(
        client=member_sdk, body=InviteWorkspaceUserBody(email="x@example.com")
    )
    assert refused.status_code == 403
    assert error_of(refused).error == "forbidden"
    left = leave_workspace.sync("acme", client=member_sdk)
    assert left.name == "acme"
    assert not Membership.objects.filter(user=member_user, workspace=workspace).exists()


def test_service_accounts_and_keys_with_the_sdk(asgi_server, admin_sdk, admin_user):
    created = create_workspace_service_account.sync(
        client=admin_sdk,
        body=CreateWorkspaceServiceAccountBody(
            name="deployer", description="CI", role=SdkRole.MEMBER
        ),
    )
    assert created.name == "deployer" and created.role == "member"
    client_id = created.client_id
    assert ServiceAccount.objects.get(client_id=client_id).name == "deployer"

    listed = get_workspace_service_accounts.sync(client=admin_sdk)
    assert [(account.client_id, account.name) for account in listed] == [(client_id, "deployer")]

    updated = update_workspace_service_account.sync(
        client_id, client=admin_sdk, body=UpdateWorkspaceServiceAccountBody(description="CI/CD")
    )
    assert (updated.name, updated.description) == ("deployer", "CI/CD")

    api_key = create_api_key_for_service_account.sync(
        client_id,
        client=admin_sdk,
        body=CreateApiKeyForServiceAccountBody(name="pipeline", expires_in="30d"),
    )
    assert isinstance(api_key, SdkApiKey)
    assert api_key.api_key.startswith("bl_")
    assert (api_key.name, api_key.expires_in, api_key.sub) == ("pipeline", "30d", client_id)
    assert ApiKey.objects.get(pk=int(api_key.id)).prefix == api_key.api_key[:11]

    keys = list_api_keys_for_service_account.sync(client_id, client=admin_sdk)
    assert [key.id for key in keys] == [api_key.id]
    assert not isinstance(keys[0].api_key, str)  # never shown again

    # The new key drives the SDK in both header forms, without naming the workspace.
    for header in ("X-Blaxel-Authorization", "Authorization"):
        with sdk_client(asgi_server, api_key.api_key, None, header=header) as machine:
            emails = {user.email for user in list_workspace_users.sync(client=machine)}
            assert "ada@example.com" in emails
            refused = create_workspace_service_account.sync_detailed(
                client=machine, body=CreateWorkspaceServiceAccountBody(name="escalate")
            )
            assert refused.status_code == 403  # the account is only a member

    revoked = delete_api_key_for_service_account.sync_detailed(
        client_id, api_key.id, client=admin_sdk
    )
    assert revoked.status_code == 200
    with sdk_client(asgi_server, api_key.api_key, None) as machine:
        response = list_workspace_users.sync_detailed(client=machine)
        assert response.status_code == 401
        assert error_of(response).error == "unauthorized"

    deleted = delete_workspace_service_account.sync(client_id, client=admin_sdk)
    assert deleted.name == "deployer"
    assert get_workspace_service_accounts.sync(client=admin_sdk) == []
