"""Reads. Every selector that touches workspace-owned data takes `workspace=` first.

Who may reach a workspace, and who a key stands for, is `access`'s to say."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from .keys import hash_key
from .models import ApiKey, AuditLogEntry, Invitation, Membership, ServiceAccount, Workspace
from .permissions import Role
from .principals import Principal

User = get_user_model()


def workspaces_for_principal(principal: Principal) -> QuerySet[Workspace]:
    if principal.is_service_account:
        return Workspace.objects.filter(pk=principal.service_account_workspace_id)
    return Workspace.objects.filter(memberships__user_id=principal.user_id)


def workspaces_for_user(user) -> QuerySet[Workspace]:
    return Workspace.objects.filter(memberships__user=user)


def workspace_get(*, name: str) -> Workspace | None:
    return Workspace.objects.filter(name=name).first()


def members_for_workspace(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user")


def membership_get(*, workspace: Workspace, sub_or_email: str) -> Membership:
    """A member by user id (`sub`) or email; 404 when not a member of this workspace."""
    memberships = members_for_workspace(workspace=workspace)
    if sub_or_email.isdigit():
        membership = memberships.filter(user_id=int(sub_or_email)).first()
    else:
        membership = memberships.filter(user__email__iexact=sub_or_email).first()
    if membership is None:
        raise Http404("No such member in this workspace.")
    return membership


def admin_count(*, workspace: Workspace) -> int:
    return Membership.objects.for_workspace(workspace).filter(role=Role.ADMIN).count()


def invitations_for_workspace(*, workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.for_workspace(workspace).select_related("invited_by")


def pending_invitations_for_workspace(*, workspace: Workspace) -> QuerySet[Invitation]:
    return invitations_for_workspace(workspace=workspace).filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    )


def open_invitations_for_workspace(*, workspace: Workspace) -> QuerySet[Invitation]:
    """Neither accepted nor revoked (pending or expired: an expired one can be resent),
    newest first."""
    return invitations_for_workspace(workspace=workspace).filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    )


def open_invitation_get(*, workspace: Workspace, email: str) -> Invitation:
    """The newest open invitation for `email`; 404 when there is none in this workspace."""
    invitation = (
        open_invitations_for_workspace(workspace=workspace).filter(email__iexact=email).first()
    )
    if invitation is None:
        raise Http404("No such member or invitation in this workspace.")
    return invitation


def team_for_workspace(*, workspace: Workspace) -> list[Membership | Invitation]:
    """The team as Blaxel lists it: members first, then open invitations — the newest per
    email, leaving out people who have since become members."""
    members = list(
        members_for_workspace(workspace=workspace).prefetch_related("user__emailaddress_set")
    )
    seen = {membership.user.email.lower() for membership in members}
    invitations = []
    for invitation in open_invitations_for_workspace(workspace=workspace):
        if invitation.email.lower() not in seen:
            seen.add(invitation.email.lower())
            invitations.append(invitation)
    return [*members, *invitations]


def invitation_get_by_token(*, token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(token_hash=hash_key(token))
        .first()
    )


def invitation_get(*, workspace: Workspace, invitation_id: int) -> Invitation:
    invitation = invitations_for_workspace(workspace=workspace).filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation in this workspace.")
    return invitation


def pending_invitations_for_email(*, email: str) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("workspace").filter(
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def service_accounts_for_workspace(*, workspace: Workspace) -> QuerySet[ServiceAccount]:
    return ServiceAccount.objects.for_workspace(workspace)


def service_account_get(*, workspace: Workspace, client_id: str) -> ServiceAccount:
    account = (
        service_accounts_for_workspace(workspace=workspace).filter(client_id=client_id).first()
    )
    if account is None:
        raise Http404("No such service account in this workspace.")
    return account


def api_keys_for_service_account(*, service_account: ServiceAccount) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(service_account=service_account)


def service_account_api_key_get(*, service_account: ServiceAccount, api_key_id: str) -> ApiKey:
    """A service account's key that is not revoked; 404 otherwise (also for another
    account's key)."""
    api_key = None
    if api_key_id.isdigit():
        api_key = (
            api_keys_for_service_account(service_account=service_account)
            .filter(pk=int(api_key_id), revoked_at__isnull=True)
            .select_related("service_account__workspace", "created_by")
            .first()
        )
    if api_key is None:
        raise Http404("No such API key for this service account.")
    return api_key


def api_keys_for_user(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def audit_log_for_workspace(*, workspace: Workspace) -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.for_workspace(workspace).select_related("actor")


# --- lookups for the console's screens (404 for anything outside the workspace) ------------


def membership_get_by_id(*, workspace: Workspace, membership_id: int) -> Membership:
    membership = members_for_workspace(workspace=workspace).filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such member in this workspace.")
    return membership


def membership_for_user(*, workspace: Workspace, user) -> Membership | None:
    return members_for_workspace(workspace=workspace).filter(user=user).first()


def email_is_trusted(*, user) -> bool:
    """Whether the user's account email is proven theirs: verified (otherwise anyone
    could sign up with someone else's address and join their workspaces). With
    verification switched off, the account email is trusted as the deployment chose."""
    if settings.ACCOUNT_EMAIL_VERIFICATION == "none":
        return bool(user.email)
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def pending_invitations_for_user(*, user) -> QuerySet[Invitation]:
    """Pending invitations the user may accept without the emailed link: only for an
    email address they have proven theirs (`email_is_trusted`)."""
    if not email_is_trusted(user=user):
        return Invitation.objects.none()
    return pending_invitations_for_email(email=user.email)


def api_key_get_for_service_account(*, service_account: ServiceAccount, key_id: int) -> ApiKey:
    api_key = (
        api_keys_for_service_account(service_account=service_account)
        .select_related("service_account__workspace")
        .filter(pk=key_id)
        .first()
    )
    if api_key is None:
        raise Http404("No such key for this service account.")
    return api_key


def api_key_get_for_user(*, user, key_id: int) -> ApiKey:
    api_key = api_keys_for_user(user=user).filter(pk=key_id).first()
    if api_key is None:
        raise Http404("No such personal API key.")
    return api_key
