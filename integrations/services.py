"""Writes for integration connections. Keyword-only, validated, atomic, audited.

Secrets: a service receives the plaintext once, stores it encrypted, and from then on
only its hint (`mask_secret`) appears anywhere — audit entries, messages, task
arguments (tasks get ids, never secrets).
"""

import json
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from blaxel_console import cache_versions
from workspaces.models import Workspace
from workspaces.principals import Principal
from workspaces.services import Conflict, audit_log_record, save_new_or_conflict

from . import selectors
from .models import IntegrationConnection, PendingStatus
from .validation import (
    UPSTREAM_CONFIG,
    clean_config,
    host_change_error,
    merge_secret,
    provider_for,
    secret_hint,
    upstream_host,
)

logger = logging.getLogger(__name__)


def _queue_validation(connection: IntegrationConnection) -> None:
    from .tasks import validate_connection

    connection_id, version = connection.pk, connection.secret_version
    cache_versions.bump_on_commit(cache_versions.ROUTING)

    def after_commit():
        try:
            validate_connection.delay(connection_id, version)
        except Exception:  # the broker is down: the periodic recheck will pick it up
            logger.exception("could not queue the check of connection %s", connection_id)
            IntegrationConnection.objects.filter(pk=connection_id).update(
                next_check_at=timezone.now()
            )

    transaction.on_commit(after_commit)


@transaction.atomic
def integration_connection_create(
    *,
    workspace: Workspace,
    name: str,
    integration: str,
    config: dict | None = None,
    secret: dict | None = None,
    display_name: str = "",
    actor: Principal,
) -> IntegrationConnection:
    """Store a provider credential for the workspace, encrypted, and queue its check.

    Raises `ValidationError` (per field: `name`, `integration`, config and secret field
    names) and `Conflict` when the name is taken.
    """
    provider = provider_for(integration)
    errors: dict[str, list[str]] = {}
    try:
        cleaned_config = clean_config(provider, config)
    except ValidationError as error:
        errors.update(error.message_dict)
        cleaned_config = {}
    try:
        cleaned_secret = merge_secret(provider, secret, {})
    except ValidationError as error:
        errors.update(error.message_dict)
        cleaned_secret = {}
    connection = IntegrationConnection(
        workspace=workspace,
        name=name,
        display_name=display_name.strip(),
        integration=integration,
        config=cleaned_config,
        secret=json.dumps(cleaned_secret),
        secret_hint=secret_hint(provider, cleaned_secret),
        status=IntegrationConnection.Status.CHECKING,
        created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
        created_by_label=actor.label,
        updated_by_label=actor.label,
    )
    try:
        connection.full_clean(validate_constraints=False, exclude=["secret"])
    except ValidationError as error:
        for key, messages in error.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    save_new_or_conflict(
        connection,
        duplicates=selectors.connections_for_workspace(workspace=workspace).filter(name=name),
        message=f"An integration connection named “{name}” already exists.",
    )
    audit_log_record(
        workspace=workspace,
        actor=actor,
        action="integration.create",
        target_type="integration_connection",
        target_label=name,
        changes={
            "integration": integration,
            "config": cleaned_config,
            "key": connection.secret_hint,
        },
    )
    _queue_validation(connection)
    return connection


@transaction.atomic
def integration_connection_update(
    *,
    connection: IntegrationConnection,
    actor: Principal,
    display_name: str | None = None,
    config: dict | None = None,
    secret: dict | None = None,
) -> IntegrationConnection:
    """Change a connection in place. `None` leaves a part unchanged; `config` replaces the
    whole config; a secret field omitted, empty or equal to its hint stays as stored.

    A new key alone is checked before it serves: it waits as the pending key (encrypted)
    while the stored key keeps serving, and replaces it only once the provider accepts it
    (`tasks.validate_pending_key`). A new key sent with new upstream settings (another
    base URL, organization or project) replaces the stored one at once and the connection
    is checked again: the old key is of no use at the new upstream.
    """
    connection = IntegrationConnection.objects.select_for_update().get(pk=connection.pk)
    provider = connection.provider
    changes: dict = {}
    errors: dict[str, list[str]] = {}
    new_config = new_secret = None
    if config is not None:
        try:
            new_config = clean_config(provider, config)
        except ValidationError as error:
            errors.update(error.message_dict)
    if secret is not None:
        try:
            new_secret = merge_secret(provider, secret, connection.secret_values)
        except ValidationError as error:
            errors.update(error.message_dict)
    errors.update(host_change_error(connection, provider, new_config, secret))
    if display_name is not None and display_name.strip() != connection.display_name:
        changes["display_name"] = [connection.display_name, display_name.strip()]
        connection.display_name = display_name.strip()
        try:
            connection.full_clean(validate_constraints=False, exclude=["secret", "pending_secret"])
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)

    recheck = False
    if new_config is not None and new_config != connection.config:
        changes["config"] = [connection.config, new_config]
        hosts = [upstream_host(provider, config) for config in (connection.config, new_config)]
        if hosts[0] != hosts[1]:
            changes["host"] = hosts
        recheck = any(connection.config.get(key) != new_config.get(key) for key in UPSTREAM_CONFIG)
        connection.config = new_config
    rotated = new_secret is not None and new_secret != connection.secret_values
    pending = rotated and not recheck
    if rotated:
        hint = secret_hint(provider, new_secret)
        changes["key"] = [connection.secret_hint, hint]
        if pending:
            changes["key_checked_first"] = True
            _hold_pending_key(connection, new_secret, hint)
        else:
            connection.secret = json.dumps(new_secret)
            connection.secret_hint = hint
            _clear_pending_key(connection)
    if not changes:
        return connection
    if recheck:
        connection.secret_version += 1
        connection.status = IntegrationConnection.Status.CHECKING
        connection.status_message = ""
        connection.check_attempts = 0
        connection.next_check_at = None
    connection.updated_by_id = actor.user_id
    connection.updated_by_label = actor.label
    connection.save()
    audit_log_record(
        workspace=connection.workspace,
        actor=actor,
        action="integration.rotate_key" if rotated else "integration.update",
        target_type="integration_connection",
        target_label=connection.name,
        changes=changes,
    )
    if recheck:
        _queue_validation(connection)
    else:
        cache_versions.bump_on_commit(cache_versions.ROUTING)
    if pending:
        _queue_pending_check(connection)
    return connection


def _hold_pending_key(connection: IntegrationConnection, secret: dict, hint: str) -> None:
    connection.pending_secret = json.dumps(secret)
    connection.pending_secret_hint = hint
    connection.pending_status = PendingStatus.CHECKING
    connection.pending_message = ""
    connection.pending_version += 1


def _clear_pending_key(connection: IntegrationConnection) -> None:
    connection.pending_secret = None
    connection.pending_secret_hint = ""
    connection.pending_status = PendingStatus.NONE
    connection.pending_message = ""
    connection.pending_version += 1  # a check still on its way is outdated


def _queue_pending_check(connection: IntegrationConnection) -> None:
    from .tasks import validate_pending_key

    connection_id, version = connection.pk, connection.pending_version

    def after_commit():
        try:
            validate_pending_key.delay(connection_id, version)
        except Exception:  # the broker is down: the key stays pending, the old one serves
            logger.exception("could not queue the check of a new key of %s", connection_id)
            IntegrationConnection.objects.filter(pk=connection_id, pending_version=version).update(
                pending_status=PendingStatus.REJECTED,
                pending_secret=None,
                pending_message="The check could not be started; paste the new key again.",
            )

    transaction.on_commit(after_commit)


@transaction.atomic
def integration_connection_pending_key_result(
    *, connection_id: int, pending_version: int, models: list | None, reason: str = ""
) -> IntegrationConnection | None:
    """Store the outcome of a pending key's check. Accepted (`models`, the provider's
    list): the pending key becomes the key, the connection is valid. Refused (`models`
    None): the pending key is dropped with `reason`, the stored key keeps serving.

    Ignored when another key was submitted since (or the connection is gone). Audited
    without an actor: the provider decided.
    """
    connection = (
        IntegrationConnection.objects.select_for_update()
        .filter(pk=connection_id, pending_version=pending_version)
        .select_related("workspace")
        .first()
    )
    if connection is None or connection.pending_status != PendingStatus.CHECKING:
        return None
    hint = connection.pending_secret_hint
    if models is None:
        connection.pending_secret = None
        connection.pending_status = PendingStatus.REJECTED
        connection.pending_message = reason[:500]
        connection.save(update_fields=["pending_secret", "pending_status", "pending_message"])
        outcome = {"key": hint, "refused": reason}
    else:
        outcome = {"key": [connection.secret_hint, hint]}
        connection.secret = connection.pending_secret
        connection.secret_hint = hint
        connection.secret_version += 1
        connection.status = IntegrationConnection.Status.VALID
        connection.status_message = f"{len(models)} models available"
        connection.validated_at = timezone.now()
        connection.check_attempts = 0
        connection.next_check_at = None
        _clear_pending_key(connection)
        connection.save()
        cache_versions.bump_on_commit(cache_versions.ROUTING)
    audit_log_record(
        workspace=connection.workspace,
        actor=None,
        action="integration.key_replaced" if models is not None else "integration.key_refused",
        target_type="integration_connection",
        target_label=connection.name,
        changes=outcome,
    )
    return connection


@transaction.atomic
def integration_connection_delete(
    *, connection: IntegrationConnection, actor: Principal
) -> IntegrationConnection:
    """Delete a connection no model API uses; otherwise `Conflict` naming them."""
    connection = IntegrationConnection.objects.select_for_update().get(pk=connection.pk)
    _refuse_if_used(connection)
    audit_log_record(
        workspace=connection.workspace,
        actor=actor,
        action="integration.delete",
        target_type="integration_connection",
        target_label=connection.name,
        changes={"integration": connection.integration, "key": connection.secret_hint},
    )
    try:
        with transaction.atomic():
            connection.delete()
    except ProtectedError:  # a model API linked it since the check above
        _refuse_if_used(connection)
        raise
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return connection


def _refuse_if_used(connection: IntegrationConnection) -> None:
    names = list(
        selectors.model_apis_using_connection(connection=connection).values_list("name", flat=True)
    )
    if names:
        listed = ", ".join(f"“{name}”" for name in names)
        noun = "model API" if len(names) == 1 else "model APIs"
        raise Conflict(
            f"The connection “{connection.name}” is used by the {noun} {listed}; "
            f"change or delete {'it' if len(names) == 1 else 'them'} first."
        )


@transaction.atomic
def integration_connection_recheck(
    *, connection: IntegrationConnection, actor: Principal
) -> IntegrationConnection:
    """Check the stored key again now (e.g. after the provider was unreachable)."""
    connection = IntegrationConnection.objects.select_for_update().get(pk=connection.pk)
    connection.status = IntegrationConnection.Status.CHECKING
    connection.status_message = ""
    connection.next_check_at = None
    connection.save(update_fields=["status", "status_message", "next_check_at"])
    _queue_validation(connection)
    return connection


def secrets_reencrypt(*, actor: Principal | None = None) -> int:
    """Re-save every connection's secret under the first (newest) key of `FERNET_KEYS`.

    Each row is re-encrypted in its own short transaction under a row lock, so running
    this on a live system neither blocks writers for long nor races a key rotation.
    Returns the number of secrets re-encrypted; audits one entry per workspace.
    """
    counts: dict[int, list[str]] = {}
    ids = list(IntegrationConnection.objects.order_by("pk").values_list("pk", flat=True))
    for connection_id in ids:
        with transaction.atomic():
            connection = (
                IntegrationConnection.objects.select_for_update().filter(pk=connection_id).first()
            )
            if connection is None:  # deleted meanwhile
                continue
            # Reading decrypted with any configured key; writing encrypts with the first.
            IntegrationConnection.objects.filter(pk=connection_id).update(
                secret=connection.secret, pending_secret=connection.pending_secret
            )
            counts.setdefault(connection.workspace_id, []).append(connection.name)
    workspaces = Workspace.objects.in_bulk(list(counts))
    for workspace_id, names in counts.items():
        audit_log_record(
            workspace=workspaces[workspace_id],
            actor=actor,
            action="integration.reencrypt",
            target_type="integration_connection",
            target_label=f"{len(names)} connection(s)",
            changes={"connections": names},
        )
    return sum(len(names) for names in counts.values())
