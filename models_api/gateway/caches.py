"""In-process caches of the gateway's lookups, invalidated through the shared cache.

Each lookup (key → caller and caller × workspace name → workspace and role, both
answered by `workspaces.access`; model API → route) is kept in a dict of the process. At
most every `GATEWAY_LOCAL_CACHE_TTL` seconds the cache reads its namespace's version from
the shared cache
(`blaxel_console.cache_versions`); a write that changes who may call what bumps that
version, and every process drops its copies at its next check. So the steady state
costs no database query and no shared-cache round trip per call, and a revoked key,
removed member, disabled model API or rotated provider key stops working everywhere
within about `GATEWAY_LOCAL_CACHE_TTL` seconds.

Two safety nets for changes that bump no version: a found entry is reloaded after
`MAX_AGE` seconds (an expired key), and a "not found" is kept only
`GATEWAY_LOCAL_CACHE_TTL` seconds (a member who just joined, a model API just created).

While the database is down, an entry past its age that no version bump invalidated is
served until the database answers again (known keys keep working); a lookup with no such
entry is a 503 the OpenAI SDKs retry, never a 500.
"""

import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from blaxel_console import cache_versions
from blaxel_console.availability import DATABASE_ERRORS
from blaxel_console.throttled_log import warn_now_and_then

from . import errors

logger = logging.getLogger(__name__)

MAX_AGE = 60.0
MAX_ENTRIES = 50_000

_MISSING = object()


class VersionedCache:
    """A dict of lookups for one `cache_versions` namespace (see the module docstring).

    Values are computed by a synchronous loader (ORM code), run off the event loop.
    `None` is a valid value ("not found") and is kept for a shorter time.
    """

    def __init__(self, namespace: str, *, max_entries: int = MAX_ENTRIES):
        self.namespace = namespace
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[Any, float]] = {}
        self._version: int | None = None
        self._checked_at = float("-inf")
        # Bumped whenever entries are dropped; a load that started before a drop does
        # not store its (possibly stale) result.
        self._generation = 0

    async def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        if now - self._checked_at >= settings.GATEWAY_LOCAL_CACHE_TTL:
            await self._check_version(now)
        entry = self._entries.get(key, _MISSING)
        if entry is not _MISSING and now < entry[1]:
            return entry[0]
        generation = self._generation
        try:
            value = await sync_to_async(load, thread_sensitive=True)()
        except DATABASE_ERRORS as error:
            if entry is not _MISSING and generation == self._generation:
                warn_now_and_then(logger, "gateway: database unreachable, serving cached "
                                       "lookups (%s)", error)  # fmt: skip
                return entry[0]
            raise errors.database_unavailable() from error
        if generation == self._generation:
            self._store(key, value, time.monotonic())
        return value

    def _store(self, key: Hashable, value: Any, now: float) -> None:
        lifetime = MAX_AGE if value is not None else settings.GATEWAY_LOCAL_CACHE_TTL
        self._entries.pop(key, None)  # re-inserted last: the dict stays in age order
        self._entries[key] = (value, now + lifetime)
        while len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]

    async def _check_version(self, now: float) -> None:
        # Mark first: concurrent requests must not all fetch the version at once.
        self._checked_at = now
        try:
            version = await cache_versions.acurrent(self.namespace)
        except Exception:
            # The shared cache is down: the database is the truth, so forget everything
            # rather than serve copies that may have been invalidated meanwhile.
            logger.warning("gateway: cannot read the %s cache version", self.namespace)
            self._version = None
            self.clear()
            return
        if version != self._version:
            self._version = version
            self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._generation += 1

    def reset(self) -> None:
        """Forget everything, including when the version was last checked (tests)."""
        self.clear()
        self._version = None
        self._checked_at = float("-inf")


access_cache = VersionedCache(cache_versions.ACCESS)
routing_cache = VersionedCache(cache_versions.ROUTING)


def reset_all() -> None:
    access_cache.reset()
    routing_cache.reset()
