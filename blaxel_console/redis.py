"""The one way to Redis: whether it is configured, this process's clients, the errors
that mean "unreachable", and key names under the deployment's prefix.

Without `REDIS_URL` (the embedded default) nothing here connects anywhere; callers check
`is_configured()` and keep their state in-process instead.
"""

import asyncio
import threading
import weakref

import redis
import redis.asyncio
from django.conf import settings
from redis.exceptions import RedisError

# Any Redis failure: a refused or dropped connection, a timeout, an error reply.
ERRORS = (RedisError, OSError)

_sync_clients: dict[str, redis.Redis] = {}
_async_clients: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def is_configured() -> bool:
    return bool(settings.REDIS_URL)


def _options() -> dict:
    return {"socket_timeout": 2, "socket_connect_timeout": 2}


def sync_client() -> redis.Redis:
    """This process's client for `REDIS_URL` (a thread-safe connection pool)."""
    url = settings.REDIS_URL
    with _lock:
        client = _sync_clients.get(url)
        if client is None:
            client = _sync_clients[url] = redis.Redis.from_url(url, **_options())
        return client


def async_client() -> redis.asyncio.Redis:
    """The running event loop's client (asyncio clients belong to one loop)."""
    loop = asyncio.get_running_loop()
    clients = _async_clients.setdefault(loop, {})
    url = settings.REDIS_URL
    if url not in clients:
        clients[url] = redis.asyncio.Redis.from_url(url, **_options())
    return clients[url]


def key(*parts: str) -> str:
    """A key under the deployment's prefix (the cache's KEY_PREFIX), so that two
    deployments — or two test runs — sharing one Redis never meet."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "blaxel"
    return ":".join((prefix, *parts))
