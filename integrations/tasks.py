"""Background work on connections: key validation (with retries while the provider is
unreachable) and the periodic catalog refresh. Tasks take ids, never secrets."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from blaxel_console import cache_versions

from . import services
from .catalog import (
    ProviderError,
    ProviderRejected,
    ProviderUnreachable,
    fetch_live_models,
    remember_live_models,
)
from .models import IntegrationConnection, PendingStatus
from .signals import connection_status_changed

logger = logging.getLogger(__name__)

# Unreachable provider: try again after 30 s, 1 min, 2 min, ... at most hourly.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600

Status = IntegrationConnection.Status


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def _record(connection_id: int, secret_version: int, **fields) -> bool:
    """Write a check's outcome unless the connection changed meanwhile (a newer check of
    the new key or settings is then on its way)."""
    updated = IntegrationConnection.objects.filter(
        pk=connection_id, secret_version=secret_version
    ).update(validated_at=timezone.now(), **fields)
    if updated:
        cache_versions.bump(cache_versions.ROUTING)
        if "status" in fields:
            connection_status_changed.send(
                sender=IntegrationConnection, connection_id=connection_id, status=fields["status"]
            )
    return bool(updated)


@shared_task(ignore_result=True)
def validate_connection(connection_id: int, secret_version: int) -> None:
    """List the provider's models with the connection's key: `valid`, or `invalid` with
    the provider's reason; unreachable → `invalid` and another try later (backoff)."""
    connection = IntegrationConnection.objects.filter(pk=connection_id).first()
    if connection is None or connection.secret_version != secret_version:
        return
    try:
        models = fetch_live_models(connection)
    except ProviderUnreachable as error:
        attempts = connection.check_attempts + 1
        _record(
            connection_id,
            secret_version,
            status=Status.INVALID,
            status_message=str(error),
            check_attempts=attempts,
            next_check_at=timezone.now() + retry_delay(attempts),
        )
        logger.info("connection %s unreachable (attempt %s)", connection_id, attempts)
        return
    except ProviderRejected as error:
        _record(
            connection_id,
            secret_version,
            status=Status.INVALID,
            status_message=str(error) or f"rejected ({error.status_code})",
            check_attempts=0,
            next_check_at=None,
        )
        return
    remember_live_models(connection, models)
    _record(
        connection_id,
        secret_version,
        status=Status.VALID,
        status_message=f"{len(models)} models available",
        check_attempts=0,
        next_check_at=None,
    )


@shared_task(ignore_result=True)
def recheck_due_connections() -> int:
    """Periodic: check again every connection whose provider was unreachable and whose
    backoff has elapsed (or whose check could not be queued). Returns how many were
    queued."""
    now = timezone.now()
    due = list(
        IntegrationConnection.objects.filter(
            status__in=(Status.INVALID, Status.CHECKING), next_check_at__lte=now
        ).values_list("pk", "secret_version")
    )
    queued = 0
    for connection_id, secret_version in due:
        # Claim it (push the next check out) so a slow queue does not get it twice.
        claimed = IntegrationConnection.objects.filter(
            pk=connection_id, secret_version=secret_version, next_check_at__lte=now
        ).update(next_check_at=now + timedelta(seconds=RETRY_MAX_SECONDS))
        if claimed:
            validate_connection.delay(connection_id, secret_version)
            queued += 1
    return queued


@shared_task(ignore_result=True)
def refresh_catalog(connection_id: int) -> None:
    """Fetch one connection's live model list into the cache. A provider that refuses the
    key marks the connection invalid; a passing outage changes nothing (the cached list
    is kept)."""
    connection = IntegrationConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return
    try:
        models = fetch_live_models(connection)
    except ProviderUnreachable:
        return
    except ProviderRejected as error:
        _record(
            connection_id,
            connection.secret_version,
            status=Status.INVALID,
            status_message=str(error) or f"rejected ({error.status_code})",
        )
        return
    remember_live_models(connection, models)
    if connection.status != Status.VALID:
        _record(
            connection_id,
            connection.secret_version,
            status=Status.VALID,
            status_message=f"{len(models)} models available",
            check_attempts=0,
            next_check_at=None,
        )


@shared_task(ignore_result=True)
def refresh_catalogs() -> int:
    """Periodic: refresh the catalog of every valid connection (one task each)."""
    ids = list(
        IntegrationConnection.objects.filter(status=Status.VALID).values_list("pk", flat=True)
    )
    for connection_id in ids:
        refresh_catalog.delay(connection_id)
    return len(ids)


@shared_task(ignore_result=True)
def validate_pending_key(connection_id: int, pending_version: int) -> None:
    """Check a replacement key the way a new connection's key is checked (list the
    provider's models with it); it replaces the stored key only if the provider accepts
    it. Refused or unreachable: the stored key keeps serving and the reason is shown."""
    connection = IntegrationConnection.objects.filter(
        pk=connection_id, pending_version=pending_version, pending_status=PendingStatus.CHECKING
    ).first()
    if connection is None:
        return
    # The same connection with the new key, in memory only.
    candidate = IntegrationConnection(
        pk=connection.pk,
        workspace_id=connection.workspace_id,
        integration=connection.integration,
        config=connection.config,
        secret=connection.pending_secret,
        secret_version=connection.secret_version + 1,
    )
    try:
        models = fetch_live_models(candidate)
    except ProviderError as error:
        reason = str(error) or f"rejected ({getattr(error, 'status_code', '')})"
        services.integration_connection_pending_key_result(
            connection_id=connection_id, pending_version=pending_version, models=None, reason=reason
        )
        return
    accepted = services.integration_connection_pending_key_result(
        connection_id=connection_id, pending_version=pending_version, models=models
    )
    if accepted is not None:
        remember_live_models(accepted, models)
        connection_status_changed.send(
            sender=IntegrationConnection, connection_id=connection_id, status=Status.VALID
        )
