"""Who is calling, and may they call model APIs of this workspace?

* An API key (`Authorization: Bearer` or `X-Blaxel-Authorization: Bearer`): personal
  keys reach the workspaces their owner belongs to, service-account keys only their own
  workspace. The answers are `workspaces.access`'s, kept in `caches` — no database
  query in the steady state.
* No key but a console session cookie (the Playground calls the gateway from the
  browser, with no key in the page): the session's user, and a valid CSRF token in
  `X-CSRFToken` is required — otherwise any site could make a signed-in browser spend
  the workspace's provider credit. This path reads the session from the database on
  every call; it serves a person typing in the Playground, not machines.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.core.exceptions import DisallowedHost
from django.db import close_old_connections
from django.middleware.csrf import CsrfViewMiddleware

from blaxel_console.background import writer
from workspaces import access, services
from workspaces.authentication import raw_key_from_headers
from workspaces.keys import hash_key
from workspaces.permissions import Action, role_allows
from workspaces.principals import Principal

from . import errors
from .caches import access_cache

# Seconds between two `last_used_at` writes of one key queued by this process (the
# service keeps to the same interval across processes).
LAST_USED_INTERVAL = services.LAST_USED_RESOLUTION.total_seconds()


def _now() -> float:
    return time.time()


async def authenticate(request) -> Principal:
    """The caller, or a 401 `GatewayError`."""
    raw_key = raw_key_from_headers(request.headers)
    if raw_key is not None:
        return await _principal_for_key(raw_key)
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return await _principal_for_session(request)
    raise errors.no_key()


async def role_in_workspace(principal: Principal, workspace_name: str) -> tuple[int, str]:
    """(workspace id, role) when the caller may call model APIs there; else a 403 — the
    same one for a workspace that does not exist and one the caller cannot reach."""
    cache_key = ("workspace", principal.user_id, principal.service_account_id, workspace_name)
    reach = await access_cache.get(
        cache_key, lambda: _from_database(_workspace_role, principal, workspace_name)
    )
    if reach is None:
        raise errors.no_access(str(access.WorkspaceUnreachable(workspace_name)))
    workspace_id, role = reach
    if not role_allows(role, Action.CALL_MODEL_APIS):
        raise errors.forbidden(
            f"Your role ({role}) in this workspace does not allow calling model APIs.",
            "permission_denied",
        )
    return workspace_id, role


def check_scope(principal: Principal, model_api: str) -> None:
    """A key or OAuth token scoped to some model APIs calls only those (403 otherwise).
    Inference only needs no check here: every gateway call is inference."""
    if not principal.scope.allows_model_api(model_api):
        raise errors.forbidden(
            f"This credential's scope ({principal.scope.describe()}) does not include the "
            f"model API “{model_api}”.",
            "outside_key_scope",
        )


def check_workspace_header(request, workspace_name: str) -> None:
    """Blaxel's `X-Blaxel-Workspace`, when sent, must name the workspace of the path."""
    named = request.headers.get("X-Blaxel-Workspace")
    if named is not None and named != workspace_name:
        raise errors.forbidden(
            f"The X-Blaxel-Workspace header (“{named}”) does not match the workspace of "
            f"the path (“{workspace_name}”).",
            "workspace_mismatch",
        )


async def _principal_for_key(raw_key: str) -> Principal:
    # Only the hash is kept in memory, never the raw key.
    hashed = hash_key(raw_key)
    grant = await access_cache.get(
        ("key", hashed), lambda: _from_database(access.key_grant, key_hash=hashed)
    )
    if grant is None:
        raise errors.unauthorized()
    now = _now()
    if grant.is_expired(now):
        raise errors.unauthorized()
    if grant.api_key_id is not None:  # an OAuth access token has no `last_used_at`
        _note_key_used(grant.api_key_id, now)
    return grant.principal


# --- the loaders behind `access_cache` ------------------------------------------------------


def _from_database(read: Callable, *args, **kwargs):
    # The loaders run on the caches' long-lived thread: recycle its connection as
    # Django's request signals would (the gateway does not send those).
    close_old_connections()
    return read(*args, **kwargs)


def _workspace_role(principal: Principal, workspace_name: str) -> tuple[int, str] | None:
    """Plain data to cache (not the Workspace row); None when unreachable."""
    try:
        reach = access.workspace_access(principal, workspace_name)
    except access.WorkspaceUnreachable:
        return None
    return reach.workspace.pk, reach.role


# --- last_used_at, off the hot path ------------------------------------------------------------

_last_noted: dict[int, float] = {}


def _write_last_used(batch: list[tuple[int, float]]) -> None:
    latest: dict[int, float] = {}
    for api_key_id, when in batch:
        latest[api_key_id] = max(when, latest.get(api_key_id, when))
    for api_key_id, when in latest.items():
        services.api_key_mark_used(api_key_id=api_key_id, when=datetime.fromtimestamp(when, tz=UTC))


_last_used_writer = writer("api-key-last-used", _write_last_used)


def _note_key_used(api_key_id: int, now: float) -> None:
    last = _last_noted.get(api_key_id)
    if last is not None and now - last < LAST_USED_INTERVAL:
        return
    _last_noted[api_key_id] = now
    if len(_last_noted) > 100_000:
        _last_noted.clear()
    _last_used_writer.put((api_key_id, now))


# --- the console session (Playground) ------------------------------------------------------------

_csrf = CsrfViewMiddleware(lambda request: None)


async def _principal_for_session(request) -> Principal:
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES[settings.SESSION_COOKIE_NAME])
    user = await auth.aget_user(request)
    if not user.is_authenticated:
        raise errors.unauthorized("Your console session has expired; sign in again.")
    # Django's own check: the X-CSRFToken header must match the csrftoken cookie, and
    # an Origin header, when sent, must be this site's.
    try:
        rejected = _csrf.process_view(request, None, (), {}) is not None
    except DisallowedHost:
        rejected = True
    if rejected:
        raise errors.forbidden(
            "CSRF verification failed: a browser call needs the X-CSRFToken header.",
            "csrf_failed",
        )
    return Principal.for_user(user)
