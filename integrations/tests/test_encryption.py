"""Encryption keys rotate without downtime: a new key first in FERNET_KEYS, old rows
still decrypt, `reencrypt_secrets` moves every row to the new key, the old key goes."""

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection as db_connection
from fernet_fields.hkdf import derive_fernet_key

from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import subprocess_env
from integrations.models import IntegrationConnection
from workspaces.models import AuditLogEntry

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
KEY = "sk-proj-EncryptionRotationTest00e5f6"


def raw_secret(connection_id: int) -> bytes:
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM integrations_integrationconnection WHERE id = %s", [connection_id]
        )
        (value,) = cursor.fetchone()
    return bytes(value) if not isinstance(value, str) else value.encode()


def decrypts_with(key: str, token: bytes) -> bool:
    try:
        Fernet(derive_fernet_key(key)).decrypt(token)
    except InvalidToken:
        return False
    return True


def reload(connection) -> IntegrationConnection:
    return IntegrationConnection.objects.get(pk=connection.pk)


@pytest.mark.django_db
def test_rotation_end_to_end(settings, make_connection, capsys):
    settings.FERNET_KEYS = [OLD]
    first = make_connection("first", key=KEY, base_url="http://127.0.0.1:9/v1")
    assert decrypts_with(OLD, raw_secret(first.pk))

    # Step 1: the new key goes first, the old one stays: old rows still read, new rows
    # are written with the new key.
    settings.FERNET_KEYS = [NEW, OLD]
    assert reload(first).secret_values == {"apiKey": KEY}
    second = make_connection("second", key=KEY, base_url="http://127.0.0.1:9/v1")
    assert decrypts_with(NEW, raw_secret(second.pk))
    assert not decrypts_with(NEW, raw_secret(first.pk))

    # Removing the old key now would lose the first row: the command is needed.
    settings.FERNET_KEYS = [NEW]
    with pytest.raises(InvalidToken):
        reload(first)

    # Step 2: re-encrypt everything under the newest key.
    settings.FERNET_KEYS = [NEW, OLD]
    call_command("reencrypt_secrets")
    assert "Re-encrypted 2 secret(s)" in capsys.readouterr().out
    assert decrypts_with(NEW, raw_secret(first.pk))
    assert KEY.encode() not in raw_secret(first.pk)
    entry = AuditLogEntry.objects.get(action="integration.reencrypt")
    assert entry.actor_label == "system"
    assert entry.changes == {"connections": ["first", "second"]}

    # Step 3: the old key is removed; everything still decrypts.
    settings.FERNET_KEYS = [NEW]
    assert reload(first).secret_values == {"apiKey": KEY}
    assert reload(second).secret_values == {"apiKey": KEY}


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_from_the_environment(settings, make_connection):
    """The operator's way: FERNET_KEYS in the environment of `manage.py`."""
    settings.FERNET_KEYS = [OLD]
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    result = subprocess.run(
        [sys.executable, "manage.py", "reencrypt_secrets"],
        cwd=ROOT,
        env=subprocess_env(FERNET_KEYS=f"{NEW},{OLD}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted 1 secret(s) with the newest of 2 key(s)" in result.stdout
    assert "1 of 1 verified" in result.stdout
    assert KEY not in result.stdout + result.stderr
    assert decrypts_with(NEW, raw_secret(connection.pk))
    settings.FERNET_KEYS = [NEW]
    assert reload(connection).secret_values == {"apiKey": KEY}
