"""Service accounts and API keys: create, update, delete, revoke, and when a key was
last used."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from blaxel_console import cache_versions

from .. import selectors
from ..keys import generate_key, hash_key, visible_prefix
from ..models import ApiKey, ServiceAccount, Workspace
from ..permissions import Role
from ..principals import Principal
from .common import Conflict, audit_log_record, save_new_or_conflict
from .oauth import oauth_client_delete, oauth_client_issue, oauth_tokens_revoke

API_KEY_EXPIRY = {
    "24h": timedelta(hours=24),
    "1w": timedelta(weeks=1),
    "30d": timedelta(days=30),
    "never": None,
}


# --- service accounts and API keys ---------------------------------------------------------


@transaction.atomic
def service_account_create(
    *,
    workspace: Workspace,
    name: str,
    description: str = "",
    role: str = Role.MEMBER,
    scope_model_apis: list[str] | None = None,
    scope_inference_only: bool = False,
    actor: Principal,
) -> ServiceAccount:
    """The new account has an OAuth client: its raw secret is on the returned
    instance as `issued_client_secret`, this once (only its hash is stored). The scope
    applies to the account's OAuth tokens."""
    account = ServiceAccount(
        workspace=workspace,
        name=name,
        description=description,
        role=role,
        scope_model_apis=scope_model_apis or [],
        scope_inference_only=scope_inference_only,
        created_by_id=actor.user_id,
    )
    # `created_by` is empty when a service account acts (it is not a user).
    account.full_clean(exclude=["created_by"], validate_constraints=False)
    save_new_or_conflict(
        account,
        duplicates=selectors.service_accounts_for_workspace(workspace=workspace).filter(name=name),
        message=f"A service account named “{name}” already exists.",
    )
    account.issued_client_secret = oauth_client_issue(service_account=account)
    changes = {"role": role, "description": description}
    if account.scope.is_restricted:
        changes["scope"] = account.scope.as_dict()
    audit_log_record(
        workspace=workspace,
        actor=actor,
        action="service_account.create",
        target_type="service_account",
        target_label=name,
        changes=changes,
    )
    return account


@transaction.atomic
def service_account_update(
    *, service_account: ServiceAccount, actor: Principal, **fields
) -> ServiceAccount:
    """Change name, description, role or the OAuth tokens' scope. A new role or scope
    revokes the account's OAuth tokens (they were issued for the old one)."""
    changes = {}
    for field in ("name", "description", "role", "scope_model_apis", "scope_inference_only"):
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
    if changes.keys() & {"role", "scope_model_apis", "scope_inference_only"}:
        oauth_tokens_revoke(service_account=service_account)
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
    oauth_client_delete(service_account=service_account)
    service_account.delete()
    cache_versions.bump_on_commit(cache_versions.ACCESS)


def _api_key_expiry(expires_in: str):
    if expires_in not in API_KEY_EXPIRY:
        raise ValidationError(
            {"expires_in": f"Expiry must be one of: {', '.join(API_KEY_EXPIRY)}."}
        )
    delta = API_KEY_EXPIRY[expires_in]
    return timezone.now() + delta if delta else None


def _api_key_build(
    *,
    name: str,
    expires_in: str,
    scope_model_apis: list[str] | None = None,
    scope_inference_only: bool = False,
    **owner,
) -> tuple[ApiKey, str]:
    raw_key = generate_key()
    api_key = ApiKey(
        name=name,
        prefix=visible_prefix(raw_key),
        key_hash=hash_key(raw_key),
        expires_at=_api_key_expiry(expires_in),
        scope_model_apis=sorted(set(scope_model_apis or [])),
        scope_inference_only=scope_inference_only,
        **owner,
    )
    # `created_by` is empty when a service account acts (it is not a user).
    api_key.full_clean(exclude=["created_by"], validate_constraints=False)
    api_key.save()
    return api_key, raw_key


@transaction.atomic
def service_account_api_key_create(
    *,
    service_account: ServiceAccount,
    name: str,
    expires_in: str = "never",
    scope_model_apis: list[str] | None = None,
    scope_inference_only: bool = False,
    actor: Principal,
) -> tuple[ApiKey, str]:
    """Returns the row and the raw key; the raw key is never stored and must be shown once.
    The scope (some model APIs by name, inference only) is fixed when the key is made."""
    api_key, raw_key = _api_key_build(
        name=name,
        expires_in=expires_in,
        scope_model_apis=scope_model_apis,
        scope_inference_only=scope_inference_only,
        service_account=service_account,
        created_by_id=actor.user_id,
    )
    audit_log_record(
        workspace=service_account.workspace,
        actor=actor,
        action="api_key.create",
        target_type="service_account",
        target_label=service_account.name,
        changes={
            "key": api_key.prefix,
            "name": name,
            "expires_in": expires_in,
            "scope": api_key.scope.as_dict(),
        },
    )
    return api_key, raw_key


@transaction.atomic
def personal_api_key_create(
    *,
    user,
    name: str,
    expires_in: str = "never",
    scope_model_apis: list[str] | None = None,
    scope_inference_only: bool = False,
) -> tuple[ApiKey, str]:
    """A personal key reaches no single workspace, so its creation is in no workspace's
    audit log; its scope is on the key's row."""
    return _api_key_build(
        name=name,
        expires_in=expires_in,
        scope_model_apis=scope_model_apis,
        scope_inference_only=scope_inference_only,
        user=user,
        created_by=user,
    )


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
