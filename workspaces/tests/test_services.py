"""Services and the selectors the screens rely on: validation, conflicts, audit rows, and
nothing half-saved."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from blaxel_console.testing.people import token_from_mail
from workspaces import access, selectors, services
from workspaces.keys import hash_key
from workspaces.models import (
    ApiKey,
    AuditLogEntry,
    Invitation,
    Membership,
    ServiceAccount,
    Workspace,
)
from workspaces.permissions import Role
from workspaces.principals import Principal

pytestmark = pytest.mark.django_db


# --- saving a new object whose name must be free --------------------------------------------


def same_name(workspace, name):
    return ServiceAccount.objects.filter(workspace=workspace, name=name)


def test_save_new_or_conflict_saves_under_a_free_name(workspace):
    account = ServiceAccount(workspace=workspace, name="deployer")
    saved = services.save_new_or_conflict(
        account, duplicates=same_name(workspace, "deployer"), message="Name taken."
    )
    assert saved.pk is not None
    assert same_name(workspace, "deployer").get() == saved


def test_save_new_or_conflict_refuses_a_taken_name(workspace, service_account):
    duplicate = ServiceAccount(workspace=workspace, name=service_account.name)
    with pytest.raises(services.Conflict, match="Name taken"):
        services.save_new_or_conflict(
            duplicate, duplicates=same_name(workspace, service_account.name), message="Name taken."
        )
    assert duplicate.pk is None
    assert same_name(workspace, service_account.name).count() == 1


def test_save_new_or_conflict_a_create_that_lost_the_race_is_a_conflict(workspace, service_account):
    """Another request took the name between the check and the insert (the check saw
    nothing): the unique constraint refuses the row, the caller gets the same 409, and
    its own transaction can go on writing."""
    duplicate = ServiceAccount(workspace=workspace, name=service_account.name)
    with transaction.atomic():
        with pytest.raises(services.Conflict, match="Name taken") as caught:
            services.save_new_or_conflict(
                duplicate, duplicates=ServiceAccount.objects.none(), message="Name taken."
            )
        assert isinstance(caught.value.__cause__, IntegrityError)
        ServiceAccount.objects.create(workspace=workspace, name="after-the-conflict")
    assert same_name(workspace, service_account.name).count() == 1
    assert same_name(workspace, "after-the-conflict").exists()


# --- workspaces ----------------------------------------------------------------------------


def test_workspace_create_makes_the_creator_admin_and_audits(admin_user):
    workspace = services.workspace_create(name="team-1", display_name="Team", creator=admin_user)
    assert Membership.objects.get(workspace=workspace).role == Role.ADMIN
    entry = AuditLogEntry.objects.get(workspace=workspace)
    assert (entry.action, entry.actor, entry.target_label) == (
        "workspace.create",
        admin_user,
        "team-1",
    )


@pytest.mark.parametrize("name", ["Upper", "a_b", "-a", "a-", "", "run", "v0", "admin", "acme"])
def test_workspace_create_refuses_bad_names_and_saves_nothing(workspace, admin_user, name):
    counts = (Workspace.objects.count(), Membership.objects.count(), AuditLogEntry.objects.count())
    with pytest.raises(ValidationError) as error:
        services.workspace_create(name=name, display_name="X", creator=admin_user)
    assert "name" in error.value.message_dict
    assert counts == (
        Workspace.objects.count(),
        Membership.objects.count(),
        AuditLogEntry.objects.count(),
    )


def test_workspace_update_is_audited_only_when_it_changes(workspace, admin_principal):
    services.workspace_update(workspace=workspace, display_name="Acme Corp", actor=admin_principal)
    assert not AuditLogEntry.objects.filter(action="workspace.rename").exists()
    services.workspace_update(workspace=workspace, display_name="Acme 2", actor=admin_principal)
    entry = AuditLogEntry.objects.get(action="workspace.rename")
    assert entry.changes == {"display_name": ["Acme Corp", "Acme 2"]}


def test_workspace_delete_removes_everything_but_the_audit_trail(
    workspace, service_account, admin_principal, invitation
):
    services.workspace_delete(workspace=workspace, actor=admin_principal)
    assert not Membership.objects.exists()
    assert not ServiceAccount.objects.exists()
    assert not Invitation.objects.exists()
    assert AuditLogEntry.objects.filter(workspace_name="acme", action="workspace.delete").exists()


# --- invitations ---------------------------------------------------------------------------


def test_invitation_stores_only_the_token_hash_and_mails_the_link(
    workspace, admin_principal, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            workspace=workspace, email="x@example.com", role="member", actor=admin_principal
        )
    token = token_from_mail(mailoutbox[0])
    assert invitation.token_hash == hash_key(token)
    assert token not in {invitation.token_hash, invitation.email}
    assert selectors.invitation_get_by_token(token=token) == invitation
    assert "Acme Corp" in mailoutbox[0].subject


def test_invitation_mail_is_sent_only_after_commit(workspace, admin_principal, mailoutbox):
    services.invitation_create(
        workspace=workspace, email="x@example.com", role="member", actor=admin_principal
    )
    # Inside the test's transaction the commit has not happened yet.
    assert mailoutbox == []


def test_invitation_refuses_members_duplicates_and_bad_roles(
    workspace, admin_principal, invitation
):
    with pytest.raises(services.Conflict, match="already a member"):
        services.invitation_create(
            workspace=workspace, email="MAX@example.com", role="member", actor=admin_principal
        )
    with pytest.raises(services.Conflict, match="already has a pending invitation"):
        services.invitation_create(
            workspace=workspace, email="New@Example.com", role="member", actor=admin_principal
        )
    with pytest.raises(ValidationError):
        services.invitation_create(
            workspace=workspace, email="y@example.com", role="owner", actor=admin_principal
        )
    assert Invitation.objects.count() == 1


def test_invitation_after_revoke_can_be_sent_again(workspace, admin_principal, invitation):
    services.invitation_revoke(invitation=invitation[0], actor=admin_principal)
    services.invitation_create(
        workspace=workspace, email="new@example.com", role="member", actor=admin_principal
    )
    assert Invitation.objects.count() == 2


def test_invitation_accept_checks_email_and_status(invitation, make_user, admin_principal):
    invitation_row, _ = invitation
    with pytest.raises(ValidationError, match=r"This invitation is for new@example\.com"):
        services.invitation_accept(invitation=invitation_row, user=make_user("z@example.com"))
    invitee = make_user("new@example.com")
    membership = services.invitation_accept(invitation=invitation_row, user=invitee)
    assert membership.role == Role.MEMBER
    with pytest.raises(services.Conflict, match="accepted"):
        services.invitation_accept(invitation=invitation_row, user=invitee)


def test_invitation_accept_refuses_expired_and_revoked(invitation, make_user, admin_principal):
    invitation_row, _ = invitation
    invitee = make_user("new@example.com")
    Invitation.objects.filter(pk=invitation_row.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(services.Conflict, match="expired"):
        services.invitation_accept(invitation=invitation_row, user=invitee)
    Invitation.objects.filter(pk=invitation_row.pk).update(
        expires_at=timezone.now() + timedelta(days=1)
    )
    services.invitation_revoke(invitation=invitation_row, actor=admin_principal)
    with pytest.raises(services.Conflict, match="revoked"):
        services.invitation_accept(invitation=invitation_row, user=invitee)
    assert not Membership.objects.filter(user=invitee).exists()


def test_invitation_expiry_follows_the_setting(workspace, admin_principal, settings):
    settings.INVITATION_EXPIRY_HOURS = 2
    invitation = services.invitation_create(
        workspace=workspace, email="x@example.com", role="member", actor=admin_principal
    )
    remaining = invitation.expires_at - timezone.now()
    assert timedelta(hours=1, minutes=59) < remaining <= timedelta(hours=2)


def test_pending_invitations_for_user_needs_a_verified_address(invitation, make_user, settings):
    invitee = make_user("new@example.com")
    assert list(selectors.pending_invitations_for_user(user=invitee)) == [invitation[0]]
    EmailAddress.objects.filter(user=invitee).update(verified=False)
    assert list(selectors.pending_invitations_for_user(user=invitee)) == []
    # A deployment that switched verification off trusts the account's address.
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    assert list(selectors.pending_invitations_for_user(user=invitee)) == [invitation[0]]


def test_open_invitations_leave_out_accepted_and_revoked(
    workspace, admin_principal, invitation, make_user
):
    revoked = services.invitation_create(
        workspace=workspace, email="r@example.com", role="member", actor=admin_principal
    )
    services.invitation_revoke(invitation=revoked, actor=admin_principal)
    expired = services.invitation_create(
        workspace=workspace, email="e@example.com", role="member", actor=admin_principal
    )
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    accepted = services.invitation_create(
        workspace=workspace, email="a@example.com", role="member", actor=admin_principal
    )
    services.invitation_accept(invitation=accepted, user=make_user("a@example.com"))
    open_ones = set(selectors.open_invitations_for_workspace(workspace=workspace))
    assert open_ones == {invitation[0], Invitation.objects.get(pk=expired.pk)}


# --- members -----------------------------------------------------------------------------------


def test_last_admin_protection(workspace, admin_user, member_user, admin_principal):
    admin = Membership.objects.get(workspace=workspace, user=admin_user)
    with pytest.raises(services.Conflict):
        services.membership_change_role(membership=admin, role="member", actor=admin_principal)
    with pytest.raises(services.Conflict):
        services.membership_remove(membership=admin, actor=admin_principal)
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    # With a second admin, the first may step down.
    member = Membership.objects.get(workspace=workspace, user=member_user)
    services.membership_change_role(membership=member, role="admin", actor=admin_principal)
    services.membership_change_role(membership=admin, role="member", actor=admin_principal)
    assert selectors.admin_count(workspace=workspace) == 1


def test_membership_selectors_stay_in_their_workspace(workspace, other_workspace, outsider):
    from django.http import Http404

    foreign = Membership.objects.get(workspace=other_workspace, user=outsider)
    with pytest.raises(Http404):
        selectors.membership_get_by_id(workspace=workspace, membership_id=foreign.pk)
    assert selectors.membership_for_user(workspace=workspace, user=outsider) is None


# --- service accounts and keys ---------------------------------------------------------


def test_service_account_names_are_unique_per_workspace(
    workspace, other_workspace, service_account, admin_principal, outsider
):
    with pytest.raises(services.Conflict):
        services.service_account_create(workspace=workspace, name="ci-bot", actor=admin_principal)
    # The same name in another workspace is fine.
    services.service_account_create(
        workspace=other_workspace, name="ci-bot", actor=Principal.for_user(outsider)
    )
    assert ServiceAccount.objects.filter(name="ci-bot").count() == 2


def test_two_admins_creating_the_same_service_account_at_once_get_one_and_a_conflict(
    workspace, service_account, admin_principal, monkeypatch
):
    # The second create's name check ran before the first was committed: it saw nothing.
    monkeypatch.setattr(
        selectors,
        "service_accounts_for_workspace",
        lambda *, workspace: ServiceAccount.objects.none(),
    )
    with pytest.raises(services.Conflict, match="already exists"):
        services.service_account_create(
            workspace=workspace, name=service_account.name, actor=admin_principal
        )
    assert (
        ServiceAccount.objects.filter(workspace=workspace, name=service_account.name).count() == 1
    )
    created = AuditLogEntry.objects.filter(
        action="service_account.create", target_label=service_account.name
    )
    assert created.count() == 1  # the first create's only


def test_api_key_bad_expiry_saves_nothing(service_account, admin_principal):
    with pytest.raises(ValidationError) as error:
        services.service_account_api_key_create(
            service_account=service_account, name="k", expires_in="2y", actor=admin_principal
        )
    assert "expires_in" in error.value.message_dict
    assert not ApiKey.objects.exists()
    assert not AuditLogEntry.objects.filter(action="api_key.create").exists()


def test_api_key_revoke_is_idempotent_and_audited_once(service_account, admin_principal):
    row, _ = services.service_account_api_key_create(
        service_account=service_account, name="k", actor=admin_principal
    )
    services.api_key_revoke(api_key=row, actor=admin_principal)
    first = row.revoked_at
    services.api_key_revoke(api_key=row, actor=admin_principal)
    row.refresh_from_db()
    assert row.revoked_at == first
    assert AuditLogEntry.objects.filter(action="api_key.revoke").count() == 1


def test_api_key_lookups_are_scoped_to_their_owner(
    service_account, other_service_account, admin_principal, admin_user, member_user, personal_key
):
    from django.http import Http404

    foreign, _ = services.service_account_api_key_create(
        service_account=other_service_account, name="k", actor=admin_principal
    )
    with pytest.raises(Http404):
        selectors.api_key_get_for_service_account(
            service_account=service_account, key_id=foreign.pk
        )
    personal_key(admin_user)
    admins_key = ApiKey.objects.get(user=admin_user)
    with pytest.raises(Http404):
        selectors.api_key_get_for_user(user=member_user, key_id=admins_key.pk)
    assert selectors.api_key_get_for_user(user=admin_user, key_id=admins_key.pk) == admins_key


def test_expired_keys_are_refused(admin_user):
    row, raw_key = services.personal_api_key_create(user=admin_user, name="k", expires_in="24h")
    assert access.key_grant(key_hash=hash_key(raw_key)) is not None
    ApiKey.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert access.key_grant(key_hash=hash_key(raw_key)) is None
