"""A service account's OAuth client (django-oauth-toolkit's `Application`): made with the
account, its secret rotated, its tokens revoked.

The raw client secret exists only in the answer that issues it: DOT stores it as a
password hash (`Application.client_secret` hashes on save)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
)

from blaxel_console import cache_versions

from ..models import ServiceAccount
from ..principals import Principal
from .common import audit_log_record

Application = get_application_model()


def _client_owner(service_account: ServiceAccount):
    """The user row DOT's refresh tokens need: inactive, passwordless, in no workspace."""
    owner = get_user_model()(username=f"service-account-{service_account.client_id}")
    owner.is_active = False
    owner.set_unusable_password()
    owner.save()
    return owner


def oauth_client_issue(*, service_account: ServiceAccount) -> str:
    """Give `service_account` an OAuth client (its own client id) with a new secret, or
    a new secret to the one it has. Returns the raw secret, to be shown once. Every
    token issued with the old secret dies."""
    raw_secret = generate_client_secret()
    application = service_account.oauth_application
    if application is None:
        application = Application(
            client_id=service_account.client_id,
            user=_client_owner(service_account),
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            name=f"service account {service_account.pk}",
            hash_client_secret=True,
        )
    else:
        oauth_tokens_revoke(service_account=service_account)
    application.client_secret = raw_secret
    application.save()  # hashes the secret
    if service_account.oauth_application_id != application.pk:
        service_account.oauth_application = application
        service_account.save(update_fields=["oauth_application"])
    return raw_secret


def oauth_tokens_revoke(*, service_account: ServiceAccount) -> None:
    """Delete every access and refresh token of the account's OAuth client; the
    gateway's in-process copies are dropped within seconds (the access cache version)."""
    if service_account.oauth_application_id is None:
        return
    application_id = service_account.oauth_application_id
    get_refresh_token_model().objects.filter(application_id=application_id).delete()
    get_access_token_model().objects.filter(application_id=application_id).delete()
    cache_versions.bump_on_commit(cache_versions.ACCESS)


def oauth_client_delete(*, service_account: ServiceAccount) -> None:
    """Delete the account's OAuth client, its tokens and the user row that owns them."""
    application = service_account.oauth_application
    if application is None:
        return
    owner_id = application.user_id
    application.delete()  # its tokens go with it
    get_user_model().objects.filter(pk=owner_id, is_active=False).delete()
    cache_versions.bump_on_commit(cache_versions.ACCESS)


@transaction.atomic
def service_account_secret_rotate(*, service_account: ServiceAccount, actor: Principal) -> str:
    """A new client secret for the account (shown once): the old one, and every token
    issued with it, stop working at once."""
    raw_secret = oauth_client_issue(service_account=service_account)
    audit_log_record(
        workspace=service_account.workspace,
        actor=actor,
        action="service_account.rotate_secret",
        target_type="service_account",
        target_label=service_account.name,
    )
    return raw_secret
