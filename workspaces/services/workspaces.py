"""Workspaces: create, rename, delete."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from blaxel_console import cache_versions

from ..models import Membership, Workspace
from ..permissions import Role
from ..principals import Principal
from ..signals import workspace_deleting
from .common import audit_log_record
from .oauth import oauth_client_delete

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
    workspace_deleting.send(sender=Workspace, workspace=workspace)
    # The database cascade takes the service accounts, not their OAuth clients.
    for service_account in workspace.service_accounts.select_related("oauth_application"):
        oauth_client_delete(service_account=service_account)
    workspace.delete()
    cache_versions.bump_on_commit(cache_versions.ACCESS)
