"""The gateway's routing reads: plain, cacheable data from the database (the loaders
behind `caches.routing_cache`). Synchronous ORM code; the caches run it off the event
loop. Who is calling and what they reach is `workspaces.access`'s to say (see `auth`).

Nothing here returns a model instance: the results live in process memory across
requests, so they hold ids, labels and the few values the hot path needs.
"""

import logging
from dataclasses import dataclass, field

from django.db import close_old_connections

from integrations.models import IntegrationConnection
from integrations.providers import get_provider

from ..models import ModelAPI, ModelAPIConnection
from ..policies.enforcement import limits_for_model_api
from ..policies.limits import Limit

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Upstream:
    """One connection of a model API, ready to call."""

    connection_name: str
    provider_id: str
    base_url: str
    # The provider key and optional organization/project headers, decrypted.
    headers: tuple[tuple[str, str], ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Route:
    """A model API as the gateway needs it."""

    model_api_id: int
    model_api_name: str
    workspace_id: int
    enabled: bool
    model: str
    provider_id: str
    forward_paths: frozenset[str]
    models_path: str  # the provider's model list, relative to the endpoint ("v1/models")
    upstreams: tuple[Upstream, ...]
    # Header names (lower-case bytes) a caller may not send because a connection sets
    # them: the provider key, the organization / project that is billed.
    reserved_headers: frozenset[bytes]
    # The caps of the policies attached to the model API (`models_api.policies`).
    policy_limits: tuple[Limit, ...] = ()


def _fresh_connection() -> None:
    # The loaders run on a long-lived thread: honour CONN_MAX_AGE and health checks the
    # way Django's request signals would (the gateway does not send those).
    close_old_connections()


def _usable_header_value(value: str) -> bool:
    return isinstance(value, str) and all(32 <= ord(character) < 127 for character in value)


def _upstream(connection: IntegrationConnection) -> Upstream | None:
    provider = get_provider(connection.integration)
    if provider is None:
        return None
    try:
        secret = connection.secret_values
    except Exception:
        # Undecryptable (FERNET_KEYS rotated without the old key) or not JSON: this
        # connection cannot serve; the others may.
        logger.error("gateway: connection %s has an unreadable secret", connection.pk)
        return None
    config = connection.config or {}
    base_url = provider.base_url(config)
    if not base_url:
        return None
    headers = provider.upstream_headers(config=config, secret=secret)
    if not all(_usable_header_value(value) for value in headers.values()):
        # Stored before settings were checked for control characters: sending it would
        # fail (or smuggle a header); this connection cannot serve, the others may.
        logger.error("gateway: connection %s has a setting unfit for a header", connection.pk)
        return None
    return Upstream(
        connection_name=connection.name,
        provider_id=provider.id,
        base_url=base_url,
        headers=tuple(headers.items()),
    )


def route_for(workspace_id: int, model_api_name: str) -> Route | None:
    _fresh_connection()
    model_api = (
        ModelAPI.objects.filter(workspace_id=workspace_id, name=model_api_name)
        .only("pk", "name", "workspace_id", "enabled", "runtime_type", "runtime_model")
        .first()
    )
    if model_api is None:
        return None
    links = (
        ModelAPIConnection.objects.filter(model_api=model_api)
        .select_related("connection")
        .order_by("position")
    )
    upstreams = tuple(
        upstream for link in links if (upstream := _upstream(link.connection)) is not None
    )
    provider = get_provider(model_api.runtime_type)
    reserved = {"authorization"}
    for candidate in (provider, *(get_provider(item.provider_id) for item in upstreams)):
        if candidate is not None:
            reserved.update(header.lower() for _, header in candidate.config_headers)
    for upstream in upstreams:
        reserved.update(name.lower() for name, _ in upstream.headers)
    reserved_headers = frozenset(name.encode("latin-1") for name in reserved)
    return Route(
        model_api_id=model_api.pk,
        model_api_name=model_api.name,
        workspace_id=model_api.workspace_id,
        enabled=model_api.enabled,
        model=model_api.runtime_model,
        provider_id=model_api.runtime_type,
        forward_paths=provider.forward_paths if provider else frozenset(),
        models_path=f"v1/{provider.models_path.strip('/')}" if provider else "",
        upstreams=upstreams,
        reserved_headers=reserved_headers,
        policy_limits=limits_for_model_api(model_api.pk),
    )
