"""Writes. Keyword-only, validated with `full_clean()`, atomic, audited for admin actions.

Services raise `django.core.exceptions.ValidationError` for bad input and
`workspaces.services.Conflict` for a state conflict (HTTP 409); the HTML views and the
REST API turn those into field errors / JSON errors. `save_new_or_conflict` stores a new
object whose name must be free, in any app's services.
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from blaxel_console import cache_versions

from . import selectors
from .keys import generate_key, hash_key, visible_prefix
from .models import ApiKey, AuditLogEntry, Invitation, Membership, ServiceAccount, Workspace
from .permissions import Role
from .principals import Principal

User = get_user_model()

API_KEY_EXPIRY = {
    "24h": timedelta(hours=24),
    "1w": timedelta(weeks=1),
    "30d": timedelta(days=30),
    "never": None,
}


class Conflict(Exception):
    """The request conflicts with the current state (HTTP 409)."""


def save_new_or_conflict(instance: Model, *, duplicates: QuerySet, message: str) -> Model:
    """Save a new, validated `instance`, or raise `Conflict(message)` when its name is taken.

    `duplicates` selects the rows that already hold the name (e.g. the workspace's
    connections with that name). Checking them first answers the common case without
    a failed insert; the savepoint catches a concurrent create that wins the race after
    the check (the unique constraint's `IntegrityError`) and keeps the caller's
    transaction usable.
    """
    if duplicates.exists():
        raise Conflict(message)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:
        raise Conflict(message) from error
    return instance


# --- audit -----------------------------------------------------------------------------


def audit_log_record(
    *,
    workspace: Workspace,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_label: str,
    changes: dict | None = None,
) -> AuditLogEntry:
    """Record one admin action. `changes` must never contain a secret."""
    return AuditLogEntry.objects.create(
        workspace=workspace,
        workspace_name=workspace.name,
        actor_id=actor.user_id if actor else None,
        actor_label=actor.label if actor else "system",
        action=action,
        target_type=target_type,
        target_label=target_label,
        changes=changes or {},
    )


# --- workspaces ------------------------------------------------------------------------


@transaction.atomic
def workspace_create(*, name: str, display_name: str = "", creator) -> Workspace:
    """Create a workspace; `creator` (a user) becomes its first admin."""
    workspace = Workspace(name=name, display_name=display_name or name, created_by=creator)
    workspace.full_clean()
    try:
        with transaction.atomic():
            workspace.save()
    except IntegrityError as error:
        # Lost a race with another create of the same name: the same error as full_clean's.
        duplicate = ValidationError("A workspace with this name already exists.", code="unique")
        raise ValidationError({"name": duplicate}) from error
    Membership.objects.create(workspace=workspace, user=creator, role=Role.ADMIN)
    audit_log_record(
        workspace=workspace,
        actor=Principal.for_user(creator),
        action="workspace.create",
        target_type="workspace",
        target_label=workspace.name,
        changes={"display_name": workspace.display_name},
    )
    return workspace


@transaction.atomic
def workspace_update(*, workspace: Workspace, display_name: str, actor: Principal) -> Workspace:
    old = workspace.display_name
    workspace.display_name = display_name
    workspace.full_clean()
    workspace.save(update_fields=["display_name", "updated_at"])
    if old != display_name:
        audit_log_record(
            workspace=workspace,
            actor=actor,
            action="workspace.rename",
            target_type="workspace",
            target_label=workspace.name,
            changes={"display_name": [old, display_name]},
        )
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor: Principal) -> None:
    audit_log_record(
        workspace=workspace,
        actor=actor,
        action="workspace.delete",
        target_type="workspace",
        target_label=workspace.name,
    )
    workspace.delete()
    cache_versions.bump_on_commit(cache_versions.ACCESS)


# --- team ------------------------------------------------------------------------------


def _invitation_expiry():
    return timezone.now() + timedelta(hours=settings.INVITATION_EXPIRY_HOURS)


def _send_invitation_email(invitation: Invitation, token: str) -> None:
    accept_url = f"{settings.SITE_URL}/invitations/{token}/"
    context = {"invitation": invitation, "accept_url": accept_url}
    send_mail(
        subject=f"You are invited to the workspace {invitation.workspace.display_name}",
        message=render_to_string("workspaces/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_create(
    *, workspace: Workspace, email: str, role: str, actor: Principal
) -> Invitation:
    """Invite `email` with `role`; mails a one-time link. Refuses existing members and
    duplicate pending invitations."""
    email = User.objects.normalize_email(email).strip()
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of: {', '.join(Role.values)}."})
    if Membership.objects.for_workspace(workspace).filter(user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of this workspace.")
    if selectors.pending_invitations_for_workspace(workspace=workspace).filter(email__iexact=email):
        raise Conflict(f"{email} already has a pending invitation.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=hash_key(token),
        invited_by_id=actor.user_id,
        expires_at=_invitation_expiry(),
    )
    # `invited_by` is empty when a service account invites (it is not a user).
    invitation.full_clean(exclude=["invited_by"])
    invitation.save()
    audit_log_record(
        workspace=workspace,
        actor=actor,
        action="member.invite",
        target_type="invitation",
        target_label=email,
        changes={"role": role},
    )
    transaction.on_commit(lambda: _send_invitation_email(invitation, token))
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: Principal) -> Invitation:
    """Issue a new link (the old one stops working) and push the expiry out."""
    if invitation.accepted_at or invitation.revoked_at:
        raise Conflict("Only a pending or expired invitation can be resent.")
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_key(token)
    invitation.sent_at = timezone.now()
    invitation.expires_at = _invitation_expiry()
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    audit_log_record(
        workspace=invitation.workspace,
        actor=actor,
        action="member.invite_resend",
        target_type="invitation",
        target_label=invitation.email,
    )
    transaction.on_commit(lambda: _send_invitation_email(invitation, token))
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Principal) -> Invitation:
    if invitation.accepted_at:
        raise Conflict("This invitation was already accepted.")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_log_record(
            workspace=invitation.workspace,
            actor=actor,
            action="member.invite_revoke",
            target_type="invitation",
            target_label=invitation.email,
        )
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """The invited person joins. Needs an account with the invited email."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    status = invitation.status
    if status != Invitation.Status.PENDING:
        raise Conflict(f"This invitation is {status}.")
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    membership, _created = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_log_record(
        workspace=invitation.workspace,
        actor=Principal.for_user(user),
        action="member.join",
        target_type="member",
        target_label=user.email,
        changes={"role": membership.role},
    )
    return membership


def _lock_memberships(workspace: Workspace) -> None:
    """Serialize role changes of one workspace, so two admins cannot demote each other
    at once and leave it with none."""
    list(Membership.objects.select_for_update().filter(workspace=workspace).values("pk"))


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: Principal) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of: {', '.join(Role.values)}."})
    _lock_memberships(membership.workspace)
    membership.refresh_from_db()
    old = membership.role
    if old == role:
        return membership
    if old == Role.ADMIN and selectors.admin_count(workspace=membership.workspace) <= 1:
        raise Conflict("The last admin of a workspace cannot be demoted.")
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    cache_versions.bump_on_commit(cache_versions.ACCESS)
    audit_log_record(
        workspace=membership.workspace,
        actor=actor,
        action="member.role_change",
        target_type="member",
        target_label=membership.user.email,
        changes={"role": [old, role]},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Principal) -> Membership:
    """Remove a member (or let a member leave, when `actor` is that member)."""
    _lock_memberships(membership.workspace)
    if membership.role == Role.ADMIN and selectors.admin_count(workspace=membership.workspace) <= 1:
        raise Conflict("The last admin of a workspace can neither leave nor be removed.")
    leaving = actor.user_id == membership.user_id
    audit_log_record(
        workspace=membership.workspace,
        actor=actor,
        action="member.leave" if leaving else "member.remove",
        target_type="member",
        target_label=membership.user.email,
        changes={"role": membership.role},
    )
    membership.delete()
    cache_versions.bump_on_commit(cache_versions.ACCESS)
    return membership


# --- service accounts and API keys ---------------------------------------------------------


@transaction.atomic
def service_account_create(
    *,
    workspace: Workspace,
    name: str,
    description: str = "",
    role: str = Role.MEMBER,
    actor: Principal,
) -> ServiceAccount:
    account = ServiceAccount(
        workspace=workspace,
        name=name,
        description=description,
        role=role,
        created_by_id=actor.user_id,
    )
    # `created_by` is empty when a service account acts (it is not a user).
    account.full_clean(exclude=["created_by"], validate_constraints=False)
    save_new_or_conflict(
        account,
        duplicates=selectors.service_accounts_for_workspace(workspace=workspace).filter(name=name),
        message=f"A service account named “{name}” already exists.",
    )
    audit_log_record(
        workspace=workspace,
        actor=actor,
        action="service_account.create",
        target_type="service_account",
        target_label=name,
        changes={"role": role, "description": description},
    )
    return account


@transaction.atomic
def service_account_update(
    *, service_account: ServiceAccount, actor: Principal, **fields
) -> ServiceAccount:
    changes = {}
    for field in ("name", "description", "role"):
        if field in fields and fields[field] != getattr(service_account, field):
            changes[field] = [getattr(service_account, field), fields[field]]
            setattr(service_account, field, fields[field])
    if not changes:
        return service_account
    service_account.full_clean(exclude=["created_by"], validate_constraints=False)
    if (
        "name" in changes
        and selectors.service_accounts_for_workspace(workspace=service_account.workspace)
        .filter(name=service_account.name)
        .exclude(pk=service_account.pk)
        .exists()
    ):
        raise Conflict(f"A service account named “{service_account.name}” already exists.")
    service_account.save()
    cache_versions.bump_on_commit(cache_versions.ACCESS)
    audit_log_record(
        workspace=service_account.workspace,
        actor=actor,
        action="service_account.update",
        target_type="service_account",
        target_label=service_account.name,
        changes=changes,
    )
    return service_account


@transaction.atomic
def service_account_delete(*, service_account: ServiceAccount, actor: Principal) -> None:
    audit_log_record(
        workspace=service_account.workspace,
        actor=actor,
        action="service_account.delete",
        target_type="service_account",
        target_label=service_account.name,
    )
    service_account.delete()
    cache_versions.bump_on_commit(cache_versions.ACCESS)


def _api_key_expiry(expires_in: str):
    if expires_in not in API_KEY_EXPIRY:
        raise ValidationError(
            {"expires_in": f"Expiry must be one of: {', '.join(API_KEY_EXPIRY)}."}
        )
    delta = API_KEY_EXPIRY[expires_in]
    return timezone.now() + delta if delta else None


def _api_key_build(*, name: str, expires_in: str, **owner) -> tuple[ApiKey, str]:
    raw_key = generate_key()
    api_key = ApiKey(
        name=name,
        prefix=visible_prefix(raw_key),
        key_hash=hash_key(raw_key),
        expires_at=_api_key_expiry(expires_in),
        **owner,
    )
    # `created_by` is empty when a service account acts (it is not a user).
    api_key.full_clean(exclude=["created_by"], validate_constraints=False)
    api_key.save()
    return api_key, raw_key


@transaction.atomic
def service_account_api_key_create(
    *, service_account: ServiceAccount, name: str, expires_in: str = "never", actor: Principal
) -> tuple[ApiKey, str]:
    """Returns the row and the raw key; the raw key is never stored and must be shown once."""
    api_key, raw_key = _api_key_build(
        name=name,
        expires_in=expires_in,
        service_account=service_account,
        created_by_id=actor.user_id,
    )
    audit_log_record(
        workspace=service_account.workspace,
        actor=actor,
        action="api_key.create",
        target_type="service_account",
        target_label=service_account.name,
        changes={"key": api_key.prefix, "name": name, "expires_in": expires_in},
    )
    return api_key, raw_key


@transaction.atomic
def personal_api_key_create(*, user, name: str, expires_in: str = "never") -> tuple[ApiKey, str]:
    return _api_key_build(name=name, expires_in=expires_in, user=user, created_by=user)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Principal) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        cache_versions.bump_on_commit(cache_versions.ACCESS)
        if api_key.service_account_id is not None:
            audit_log_record(
                workspace=api_key.service_account.workspace,
                actor=actor,
                action="api_key.revoke",
                target_type="service_account",
                target_label=api_key.service_account.name,
                changes={"key": api_key.prefix},
            )
    return api_key


# --- API key usage -------------------------------------------------------------------------

# `last_used_at` is written at most this often per key, so a busy key costs no write per call.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@transaction.atomic
def api_key_mark_used(*, api_key_id: int, when: datetime) -> bool:
    """Record that a key was used at `when`, unless a use less than
    `LAST_USED_RESOLUTION` earlier is already recorded. True when it wrote.

    One conditional UPDATE rather than read-then-save: the console and every gateway
    process may mark the same key at once, and the condition keeps them from writing
    more than once a minute between them. Only a timestamp changes, so there is
    nothing for `full_clean()` to check, and no audit row (not an admin action)."""
    updated = (
        ApiKey.objects.filter(pk=api_key_id)
        .exclude(last_used_at__gt=when - LAST_USED_RESOLUTION)
        .update(last_used_at=when)
    )
    return updated > 0
