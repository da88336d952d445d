"""API key material: generation and hashing. Keys are 256-bit random strings, so a plain
SHA-256 is the right hash (no salt or slow KDF needed, and it allows an indexed lookup)."""

import hashlib
import secrets

KEY_PREFIX = "bl_"
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def visible_prefix(raw_key: str) -> str:
    return raw_key[:VISIBLE_PREFIX_LENGTH]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
