"""Pieces every service uses: the `Conflict` error (HTTP 409), saving a new object whose
name must be free, and the audit log."""

from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet

from ..models import AuditLogEntry, Workspace
from ..principals import Principal


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
