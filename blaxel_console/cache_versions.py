"""Versioned invalidation through the shared cache.

Each process keeps short-lived local copies of hot data (the gateway's key, membership
and routing lookups). A write that changes who may do what bumps the version of a
namespace in the shared cache (Redis in production); a process that sees a new version
drops its local copies. With an in-process cache (embedded mode) there is one process,
so the same code is correct there too.
"""

import time

from django.core.cache import cache
from django.db import transaction

ACCESS = "access"  # keys, memberships, service accounts, workspaces
ROUTING = "routing"  # model APIs, connections, provider secrets, policies


def _key(namespace: str) -> str:
    return f"cache-version:{namespace}"


def bump(namespace: str) -> None:
    """Invalidate every process's local copies of `namespace`."""
    # A timestamp rather than incr(): works whether or not the key exists yet, and a
    # lost race between two writers still yields a new value.
    cache.set(_key(namespace), time.time_ns(), timeout=None)


def bump_on_commit(namespace: str) -> None:
    """Invalidate `namespace` once the current transaction commits (at once outside one).

    Bumping earlier would let another process reload the old rows before the write is
    visible and keep them until the next bump; a rolled-back write bumps nothing.
    """
    transaction.on_commit(lambda: bump(namespace))


def current(namespace: str) -> int:
    return cache.get(_key(namespace), 0)


async def acurrent(namespace: str) -> int:
    return await cache.aget(_key(namespace), 0)
