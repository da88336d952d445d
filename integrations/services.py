"""Writes for integration connections. Keyword-only, validated, atomic, audited.

Secrets: a service receives the plaintext once, stores it encrypted, and from then on
only its hint (`mask_secret`) appears anywhere — audit entries, messages, task
arguments (tasks get ids, never secrets).
"""

import json
import logging
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from blaxel_console import cache_versions
from workspaces.models import Workspace
from workspaces.principals import Principal
from workspaces.services import Conflict, audit_log_record, save_new_or_conflict

from . import selectors
from .models import IntegrationConnection, mask_secret
from .providers import PROVIDERS, Provider
from .ssrf import UnsafeUpstreamError, check_base_url

logger = logging.getLogger(__name__)

# Upstream settings: changing one of these changes what the provider sees, so the
# connection is checked again.
UPSTREAM_CONFIG = frozenset({"baseUrl", "organization", "project"})


def _provider(integration: str) -> Provider:
    provider = PROVIDERS.get(integration)
    if provider is None:
        known = ", ".join(sorted(PROVIDERS))
        raise ValidationError({"integration": f"Unknown integration “{integration}”; use {known}."})
    return provider


def _has_control_characters(value: str) -> bool:
    # Settings become request headers and URLs: a line break would smuggle a header in.
    return any(ord(character) < 32 or ord(character) == 127 for character in value)


def _base_url_error(url: str) -> str | None:
    """Why `url` cannot be a base URL, or None. A query, a fragment or user info would
    let the URL take over the path or the credentials of every forwarded call."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return "Enter a valid http:// or https:// URL."
    parts = urlsplit(url)
    if "?" in url or "#" in url or parts.query or parts.fragment:
        return "A base URL has no query (?…) or fragment (#…): give the API root only."
    if "@" in parts.netloc:
        return "A base URL may not contain a user name or password; put the key in the key field."
    try:
        check_base_url(url)
    except UnsafeUpstreamError as error:
        return str(error)
    return None


def _clean_config(provider: Provider, config: dict | None) -> dict:
    """Known, non-empty string fields only; required ones present; no control
    characters; `baseUrl` a safe URL of an API root."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValidationError({"config": "Must be an object of strings."})
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for key, value in config.items():
        if provider.config_field(key) is None:
            errors[key] = f"Unknown setting for {provider.display_name}."
        elif value is None or value == "":
            continue
        elif not isinstance(value, str):
            errors[key] = "Must be a string."
        elif _has_control_characters(value):
            errors[key] = "May not contain line breaks, tabs or other control characters."
        elif value.strip():
            cleaned[key] = value.strip()
    for item in provider.config_fields:
        if item.required and item.name not in cleaned and item.name not in errors:
            errors[item.name] = f"{item.label} is required."
    if "baseUrl" in cleaned and "baseUrl" not in errors:
        error = _base_url_error(cleaned["baseUrl"])
        if error:
            errors["baseUrl"] = error
        else:
            cleaned["baseUrl"] = cleaned["baseUrl"].rstrip("/")
    if errors:
        raise ValidationError(errors)
    return cleaned


def _merge_secret(provider: Provider, submitted: dict | None, current: dict) -> dict:
    """The secret to store. A field that is omitted, empty or equal to the current hint
    keeps its stored value (so a form or a PUT can send the masked value back)."""
    if submitted is None:
        submitted = {}
    if not isinstance(submitted, dict):
        raise ValidationError({"secret": "Must be an object of strings."})
    errors: dict[str, str] = {}
    merged = dict(current)
    for key, value in submitted.items():
        if provider.secret_field(key) is None:
            errors[key] = f"Unknown secret for {provider.display_name}."
            continue
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            errors[key] = "Must be a string."
            continue
        value = value.strip()
        if current.get(key) and value == mask_secret(current[key]):
            continue
        if "…" in value:
            errors[key] = "This is a masked value; paste the full key, or leave it unchanged."
            continue
        if any(character.isspace() for character in value):
            errors[key] = "A key has no spaces or line breaks; check what was pasted."
            continue
        merged[key] = value
    for item in provider.secret_fields:
        if item.required and not merged.get(item.name) and item.name not in errors:
            errors[item.name] = f"{item.label} is required."
    if errors:
        raise ValidationError(errors)
    return merged


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


def _upstream_host(provider: Provider, config: dict) -> str:
    return (urlsplit(provider.base_url(config)).hostname or "").lower()


def _presents_secret(provider: Provider, submitted: dict | None, current: dict) -> bool:
    """Whether `submitted` carries the full primary secret (not omitted, not its mask)."""
    name = provider.primary_secret_field.name
    value = ((submitted or {}).get(name) or "").strip()
    return bool(value) and value != mask_secret(current.get(name) or "")


def _host_change_error(connection, provider: Provider, new_config, secret) -> dict:
    """Moving a connection to another host sends its stored key there: an admin must
    present the key again, so changing a URL alone cannot hand the key to any server."""
    current_secret = connection.secret_values
    name = provider.primary_secret_field.name
    if new_config is None or not current_secret.get(name):
        return {}
    if _upstream_host(provider, connection.config) == _upstream_host(provider, new_config):
        return {}
    if _presents_secret(provider, secret, current_secret):
        return {}
    return {
        name: [
            "The base URL now points at another host: paste the key again to send it there "
            "(the stored key is never sent to a new host without it)."
        ]
    }


def _secret_hint(provider: Provider, secret: dict) -> str:
    return mask_secret(secret.get(provider.primary_secret_field.name))


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
    provider = _provider(integration)
    errors: dict[str, list[str]] = {}
    try:
        cleaned_config = _clean_config(provider, config)
    except ValidationError as error:
        errors.update(error.message_dict)
        cleaned_config = {}
    try:
        cleaned_secret = _merge_secret(provider, secret, {})
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
        secret_hint=_secret_hint(provider, cleaned_secret),
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
    whole config; a secret field omitted, empty or equal to its hint stays as stored, a
    new value rotates the key (same connection, new check)."""
    connection = IntegrationConnection.objects.select_for_update().get(pk=connection.pk)
    provider = connection.provider
    changes: dict = {}
    errors: dict[str, list[str]] = {}
    new_config = new_secret = None
    if config is not None:
        try:
            new_config = _clean_config(provider, config)
        except ValidationError as error:
            errors.update(error.message_dict)
    if secret is not None:
        try:
            new_secret = _merge_secret(provider, secret, connection.secret_values)
        except ValidationError as error:
            errors.update(error.message_dict)
    errors.update(_host_change_error(connection, provider, new_config, secret))
    if display_name is not None and display_name.strip() != connection.display_name:
        changes["display_name"] = [connection.display_name, display_name.strip()]
        connection.display_name = display_name.strip()
        try:
            connection.full_clean(validate_constraints=False, exclude=["secret"])
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)

    recheck = False
    if new_config is not None and new_config != connection.config:
        changes["config"] = [connection.config, new_config]
        hosts = [_upstream_host(provider, config) for config in (connection.config, new_config)]
        if hosts[0] != hosts[1]:
            changes["host"] = hosts
        recheck = any(connection.config.get(key) != new_config.get(key) for key in UPSTREAM_CONFIG)
        connection.config = new_config
    rotated = new_secret is not None and new_secret != connection.secret_values
    if rotated:
        old_hint = connection.secret_hint
        connection.secret = json.dumps(new_secret)
        connection.secret_hint = _secret_hint(provider, new_secret)
        changes["key"] = [old_hint, connection.secret_hint]
    if not changes:
        return connection
    if rotated or recheck:
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
    if rotated or recheck:
        _queue_validation(connection)
    else:
        cache_versions.bump_on_commit(cache_versions.ROUTING)
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
            IntegrationConnection.objects.filter(pk=connection_id).update(secret=connection.secret)
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
