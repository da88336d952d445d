"""API key material and lifecycle: random, shown once, stored as a hash, expiring,
revocable."""

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from blaxel_console.testing.people import make_service_account, make_service_account_key
from workspaces import keys, services
from workspaces.models import ApiKey, AuditLogEntry
from workspaces.principals import Principal


def test_generated_keys_are_long_random_and_prefixed():
    generated = {keys.generate_key() for _ in range(50)}
    assert len(generated) == 50
    for raw_key in generated:
        assert raw_key.startswith(keys.KEY_PREFIX)
        assert len(raw_key) >= 40


def test_hash_is_sha256_of_the_key():
    raw_key = keys.generate_key()
    assert keys.hash_key(raw_key) == hashlib.sha256(raw_key.encode()).hexdigest()


def test_visible_prefix_is_short():
    raw_key = keys.generate_key()
    prefix = keys.visible_prefix(raw_key)
    assert raw_key.startswith(prefix)
    assert len(prefix) == keys.VISIBLE_PREFIX_LENGTH < len(raw_key) // 3


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    assert keys.bearer_token(header) == token


def _columns(api_key: ApiKey) -> list[str]:
    return [str(value) for value in ApiKey.objects.filter(pk=api_key.pk).values().get().values()]


@pytest.mark.django_db
def test_personal_key_row_holds_only_hash_and_prefix(admin_user):
    api_key, raw_key = services.personal_api_key_create(user=admin_user, name="laptop")
    assert api_key.key_hash == keys.hash_key(raw_key)
    assert api_key.prefix == raw_key[: keys.VISIBLE_PREFIX_LENGTH]
    assert raw_key not in _columns(api_key)
    assert all(raw_key not in column for column in _columns(api_key))


@pytest.mark.django_db
def test_personal_key_is_stored_only_as_hash(admin_user, personal_key):
    raw = personal_key(admin_user)
    row = ApiKey.objects.get(user=admin_user)
    assert row.key_hash == keys.hash_key(raw)
    assert raw not in {row.key_hash, row.prefix, row.name}
    assert raw.startswith(row.prefix)


@pytest.mark.django_db
def test_service_account_key_row_and_audit_hold_no_key(workspace, admin_user):
    account = make_service_account(workspace, name="bot", by_user=admin_user)
    api_key, raw_key = make_service_account_key(account, by_user=admin_user)
    assert all(raw_key not in column for column in _columns(api_key))
    for entry in AuditLogEntry.objects.all():
        assert raw_key not in str(entry.changes) + entry.target_label


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        ("24h", timedelta(hours=24)),
        ("1w", timedelta(weeks=1)),
        ("30d", timedelta(days=30)),
        ("never", None),
    ],
)
def test_expiry_options(admin_user, expires_in, lifetime):
    api_key, _ = services.personal_api_key_create(user=admin_user, name="k", expires_in=expires_in)
    if lifetime is None:
        assert api_key.expires_at is None
    else:
        assert abs(api_key.expires_at - (timezone.now() + lifetime)) < timedelta(seconds=30)
    assert api_key.is_active


@pytest.mark.django_db
def test_unknown_expiry_is_refused_and_nothing_saved(admin_user):
    with pytest.raises(ValidationError) as error:
        services.personal_api_key_create(user=admin_user, name="k", expires_in="2d")
    assert "expires_in" in error.value.message_dict
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_revocation_is_recorded_once(workspace, admin_user):
    account = make_service_account(workspace, name="bot", by_user=admin_user)
    api_key, _ = make_service_account_key(account, by_user=admin_user)
    actor = Principal.for_user(admin_user)
    services.api_key_revoke(api_key=api_key, actor=actor)
    first = ApiKey.objects.get(pk=api_key.pk).revoked_at
    services.api_key_revoke(api_key=api_key, actor=actor)
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at == first
    assert not ApiKey.objects.get(pk=api_key.pk).is_active
    assert AuditLogEntry.objects.filter(action="api_key.revoke").count() == 1
