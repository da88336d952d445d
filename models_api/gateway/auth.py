"""Who is calling, and may they call model APIs of this workspace?

* An API key (`Authorization: Bearer` or `X-Blaxel-Authorization: Bearer`): personal
  keys reach the workspaces their owner belongs to, service-account keys only their own
  workspace. Resolved through `caches` — no database query in the steady state.
* No key but a console session cookie (the Playground calls the gateway from the
  browser, with no key in the page): the session's user, and a valid CSRF token in
  `X-CSRFToken` is required — otherwise any site could make a signed-in browser spend
  the workspace's provider credit. This path reads the session from the database on
  every call; it serves a person typing in the Playground, not machines.
"""

import time
from datetime import UTC, datetime
from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.core.exceptions import DisallowedHost
from django.middleware.csrf import CsrfViewMiddleware

from blaxel_console.background import writer
from workspaces.authentication import raw_key_from_headers
from workspaces.keys import hash_key
from workspaces.permissions import Action, role_allows
from workspaces.principals import Principal

from . import errors, lookups
from .caches import access_cache

LAST_USED_INTERVAL = 60.0  # seconds between two `last_used_at` writes of one key


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
    """(workspace id, role) when the caller may call model APIs there; else a 404 (no
    such workspace) or 403 (no access, or a role without `CALL_MODEL_APIS`)."""
    workspace_id = await access_cache.get(
        ("workspace", workspace_name), lambda: lookups.workspace_id_for_name(workspace_name)
    )
    if workspace_id is None:
        raise errors.not_found(f"No workspace named “{workspace_name}”.", "workspace_not_found")
    if principal.is_service_account:
        matches = principal.service_account_workspace_id == workspace_id
        role = principal.service_account_role if matches else None
    else:
        user_id = principal.user_id
        role = await access_cache.get(
            ("role", user_id, workspace_id), lambda: lookups.user_role(user_id, workspace_id)
        )
    if role is None:
        raise errors.forbidden(
            f"This credential has no access to the workspace “{workspace_name}”.", "no_access"
        )
    if not role_allows(role, Action.CALL_MODEL_APIS):
        raise errors.forbidden(
            f"Your role ({role}) in this workspace does not allow calling model APIs.",
            "permission_denied",
        )
    return workspace_id, role


async def _principal_for_key(raw_key: str) -> Principal:
    hashed = hash_key(raw_key)
    grant = await access_cache.get(("key", hashed), lambda: lookups.grant_for_key_hash(hashed))
    if grant is None:
        raise errors.unauthorized()
    now = _now()
    if grant.expires_at is not None and grant.expires_at <= now:
        raise errors.unauthorized()
    _note_key_used(grant.api_key_id, now)
    return grant.principal


# --- last_used_at, off the hot path ------------------------------------------------------------

_last_noted: dict[int, float] = {}


def _write_last_used(batch: list[tuple[int, float]]) -> None:
    latest: dict[int, datetime] = {}
    for api_key_id, when in batch:
        latest[api_key_id] = datetime.fromtimestamp(when, tz=UTC)
    lookups.touch_api_keys(latest)


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
