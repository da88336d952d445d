"""The team: invitations and memberships (roles, removal)."""

import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from blaxel_console import cache_versions

from .. import selectors
from ..keys import hash_key
from ..models import Invitation, Membership, Workspace
from ..permissions import Role
from ..principals import Principal
from .common import Conflict, audit_log_record

User = get_user_model()

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
def invitation_accept(
    *, invitation: Invitation, user, link_proves_address: bool = False
) -> Membership:
    """The invited person joins. Needs an account with the invited email, proven theirs:
    verified, or — `link_proves_address` — an account made from the emailed link, which
    only the mailbox's owner received (the address is then marked verified)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    status = invitation.status
    if status != Invitation.Status.PENDING:
        raise Conflict(f"This invitation is {status}.")
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    if not selectors.email_is_trusted(user=user):
        if not link_proves_address:
            raise ValidationError(
                f"Verify {user.email} first: open the confirmation link we emailed to it, "
                "then come back to this invitation."
            )
        EmailAddress.objects.update_or_create(
            user=user, email__iexact=user.email, defaults={"email": user.email, "verified": True}
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
