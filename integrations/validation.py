"""Validation of a connection's settings and secret against its provider's fields. Raise
Django's `ValidationError` keyed by the provider's field names; never write."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from .models import mask_secret
from .providers import PROVIDERS, Provider
from .ssrf import UnsafeUpstreamError, check_base_url

# Upstream settings: changing one of these changes what the provider sees, so the
# connection is checked again.
UPSTREAM_CONFIG = frozenset({"baseUrl", "organization", "project"})


def provider_for(integration: str) -> Provider:
    provider = PROVIDERS.get(integration)
    if provider is None:
        known = ", ".join(sorted(PROVIDERS))
        raise ValidationError({"integration": f"Unknown integration “{integration}”; use {known}."})
    return provider


def has_control_characters(value: str) -> bool:
    # Settings become request headers and URLs: a line break would smuggle a header in.
    return any(ord(character) < 32 or ord(character) == 127 for character in value)


def base_url_error(url: str) -> str | None:
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


def clean_config(provider: Provider, config: dict | None) -> dict:
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
        elif has_control_characters(value):
            errors[key] = "May not contain line breaks, tabs or other control characters."
        elif value.strip():
            cleaned[key] = value.strip()
    for item in provider.config_fields:
        if item.required and item.name not in cleaned and item.name not in errors:
            errors[item.name] = f"{item.label} is required."
    if "baseUrl" in cleaned and "baseUrl" not in errors:
        error = base_url_error(cleaned["baseUrl"])
        if error:
            errors["baseUrl"] = error
        else:
            cleaned["baseUrl"] = cleaned["baseUrl"].rstrip("/")
    if errors:
        raise ValidationError(errors)
    return cleaned


def merge_secret(provider: Provider, submitted: dict | None, current: dict) -> dict:
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


def upstream_host(provider: Provider, config: dict) -> str:
    return (urlsplit(provider.base_url(config)).hostname or "").lower()


def presents_secret(provider: Provider, submitted: dict | None, current: dict) -> bool:
    """Whether `submitted` carries the full primary secret (not omitted, not its mask)."""
    name = provider.primary_secret_field.name
    value = ((submitted or {}).get(name) or "").strip()
    return bool(value) and value != mask_secret(current.get(name) or "")


def host_change_error(connection, provider: Provider, new_config, secret) -> dict:
    """Moving a connection to another host sends its stored key there: an admin must
    present the key again, so changing a URL alone cannot hand the key to any server."""
    current_secret = connection.secret_values
    name = provider.primary_secret_field.name
    if new_config is None or not current_secret.get(name):
        return {}
    if upstream_host(provider, connection.config) == upstream_host(provider, new_config):
        return {}
    if presents_secret(provider, secret, current_secret):
        return {}
    return {
        name: [
            "The base URL now points at another host: paste the key again to send it there "
            "(the stored key is never sent to a new host without it)."
        ]
    }


def secret_hint(provider: Provider, secret: dict) -> str:
    return mask_secret(secret.get(provider.primary_secret_field.name))
