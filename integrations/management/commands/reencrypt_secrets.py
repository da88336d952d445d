"""Re-encrypt every stored secret under the newest Fernet key (the first of FERNET_KEYS).

Key rotation without downtime:

1. Put a new key first in FERNET_KEYS, keeping the old ones after it; restart the web
   processes and workers. New writes use the new key; old rows still decrypt.
2. Run this command. Every secret is now encrypted with the new key.
3. Remove the old key from FERNET_KEYS and restart.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.models import IntegrationConnection, reset_encryption_keys
from integrations.services import secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every integration secret under the first key of FERNET_KEYS."

    def handle(self, *args, **options):
        reset_encryption_keys()  # the keys of this process's settings, whatever came before
        count = secrets_reencrypt()
        newest_only = _decrypts_with_newest_key_only()
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {count} secret(s) with the newest of {len(settings.FERNET_KEYS)} "
                f"key(s); {newest_only} of {IntegrationConnection.objects.count()} verified "
                "with the newest key alone."
            )
        )


def _decrypts_with_newest_key_only() -> int:
    """How many rows the first key alone decrypts (all of them, unless rows were written
    meanwhile by a process that still encrypts with an older key)."""
    from cryptography.fernet import Fernet, InvalidToken
    from django.db import connection as db_connection

    field = IntegrationConnection._meta.get_field("secret")
    newest = Fernet(field.fernet_keys[0])
    table, column = IntegrationConnection._meta.db_table, field.column
    verified = 0
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {db_connection.ops.quote_name(column)} "  # noqa: S608 (names from the model)
            f"FROM {db_connection.ops.quote_name(table)}"
        )
        for (value,) in cursor.fetchall():
            try:
                newest.decrypt(bytes(value) if not isinstance(value, str) else value.encode())
            except InvalidToken:
                continue
            verified += 1
    return verified
