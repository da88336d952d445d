"""The access layer (DESIGN.md §3): which caller an API key stands for, and which
workspace, with which role, a caller reaches.

The HTML views (`mixins.WorkspaceMixin`), the REST API (`authentication`,
`api.base.WorkspaceAPIView`) and the gateway (`models_api.gateway.auth`, through its
in-process caches) all ask here, so the surfaces cannot drift apart; what a role may do
is then `permissions.role_allows`.

Reads only. The answers are plain data the gateway may keep in memory, except
`WorkspaceAccess.workspace`, which the console's views render. `last_used_at` is
written by `services.api_key_mark_used`.
"""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from .models import ApiKey, Membership, ServiceAccount, Workspace
from .principals import Principal

AccessToken = get_access_token_model()


class WorkspaceUnreachable(Exception):
    """The caller cannot reach the workspace by that name: it does not exist, or the
    caller has no access to it. Both read the same, so that no surface tells anyone
    which workspace names exist."""

    def __init__(self, name: str | None):
        self.name = name
        where = f"the workspace “{name}”" if name else "this workspace"
        super().__init__(f"You have no access to {where}.")


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a valid API key — or OAuth access token — stands for."""

    principal: Principal
    api_key_id: int | None  # None for an OAuth access token
    # Epoch seconds. A copy kept in memory must still be refused once this has passed.
    expires_at: float | None

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    """A workspace the caller reaches, and the caller's role in it."""

    workspace: Workspace
    role: str


def key_grant(*, key_hash: str) -> KeyGrant | None:
    """The caller behind a key or an OAuth access token, by its SHA-256
    (`keys.hash_key`; django-oauth-toolkit stores a token's checksum the same way); None
    when it is unknown, revoked or expired, or its owner is deactivated. A service
    account's keys and tokens are deleted with it, and it with its workspace."""
    api_key = (
        ApiKey.objects.active()
        .select_related("user", "service_account")
        .filter(key_hash=key_hash)
        .first()
    )
    if api_key is None:
        return _oauth_token_grant(key_hash)
    if api_key.service_account_id is not None:
        principal = Principal.for_service_account(api_key.service_account, api_key)
    elif api_key.user.is_active:
        principal = Principal.for_user(api_key.user, api_key)
    else:
        return None
    expires_at = api_key.expires_at.timestamp() if api_key.expires_at else None
    return KeyGrant(principal=principal, api_key_id=api_key.pk, expires_at=expires_at)


def _oauth_token_grant(token_checksum: str) -> KeyGrant | None:
    """A service account's OAuth access token: it acts as the account, within the
    account's scope, until the token expires."""
    token = (
        AccessToken.objects.filter(token_checksum=token_checksum, expires__gt=timezone.now())
        .only("expires", "application_id")
        .first()
    )
    if token is None or token.application_id is None:
        return None
    account = ServiceAccount.objects.filter(oauth_application_id=token.application_id).first()
    if account is None:
        return None
    principal = Principal.for_service_account(account)
    return KeyGrant(principal=principal, api_key_id=None, expires_at=token.expires.timestamp())


def _memberships_that_count(principal: Principal) -> QuerySet[Membership]:
    # A deactivated user reaches nothing, whatever credential they still hold.
    return Membership.objects.filter(user_id=principal.user_id, user__is_active=True)


def workspace_access(principal: Principal, name: str) -> WorkspaceAccess:
    """The workspace named `name` with the caller's role in it: a person's membership
    role, a service account's own role in its own workspace. Raises
    `WorkspaceUnreachable` otherwise."""
    # One query whether the workspace is missing or out of reach, so that not even the
    # time the answer takes tells the two apart.
    if principal.is_service_account:
        workspace = Workspace.objects.filter(
            pk=principal.service_account_workspace_id, name=name
        ).first()
        role = principal.service_account_role
    else:
        membership = (
            _memberships_that_count(principal)
            .filter(workspace__name=name)
            .select_related("workspace")
            .first()
        )
        workspace, role = (membership.workspace, membership.role) if membership else (None, None)
    if workspace is None or role is None:
        raise WorkspaceUnreachable(name)
    return WorkspaceAccess(workspace=workspace, role=role)


def service_account_workspace_access(principal: Principal) -> WorkspaceAccess:
    """A service account's own workspace, for a request that names none (its key reaches
    only that one). Raises `WorkspaceUnreachable` for anyone else, or when the workspace
    has just been deleted."""
    workspace = None
    if principal.is_service_account:
        workspace = Workspace.objects.filter(pk=principal.service_account_workspace_id).first()
    if workspace is None or principal.service_account_role is None:
        raise WorkspaceUnreachable(None)
    return WorkspaceAccess(workspace=workspace, role=principal.service_account_role)


def role_in_workspace(principal: Principal, workspace: Workspace) -> str | None:
    """The caller's role in `workspace`, or None when it cannot reach it."""
    try:
        return workspace_access(principal, workspace.name).role
    except WorkspaceUnreachable:
        return None
