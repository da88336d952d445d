"""Policy enforcement for the gateway: rate limits and token caps (issue 5).

The gateway asks `check_policies(route, principal)` before it forwards a call, and tells
`count_tokens(...)` how many tokens a call used once the provider's answer is known.

* Counters live in fixed windows aligned to UTC (a minute, an hour, a day, a month, or a
  multiple of one: `step`). Counters belong to a model API and a window, not to a policy,
  so several policies on one model API share them and the strictest cap wins.
* With Redis (`REDIS_URL`), one Lua script checks every window and counts the request in
  one round trip, atomically, so the cutoff is exact across any number of gateway
  processes. Embedded default: the same logic on in-process counters under a lock.
* Rate limits count requests when they are admitted. Token caps can only count tokens
  after the call, so a call admitted under the cap may go beyond it (the one in-flight call
  the spec tolerates); every call after that is refused until the window resets.
* If Redis cannot be reached, calls are admitted (failing open keeps the gateway up; the
  counters resume with Redis) and a warning is logged.
"""

import asyncio
import logging
import math
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
import redis.asyncio
from django.conf import settings
from redis.exceptions import RedisError

from blaxel_console import cache_versions

logger = logging.getLogger(__name__)

REQUESTS = "requests"
TOKEN_KINDS = ("input", "output", "total")

# Any Redis failure: see the module docstring for what each caller does then.
REDIS_ERRORS = (RedisError, OSError)

_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class Limit:
    """One cap of one policy, in the form the hot path needs (plain data, cacheable)."""

    policy: str
    kind: str  # REQUESTS or one of TOKEN_KINDS
    cap: int
    granularity: str = "minute"
    step: int = 1
    per_caller: bool = False


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a call is refused, and for how long."""

    policy: str
    kind: str
    message: str
    retry_after: int  # seconds until the window that refused the call resets

    def openai_error(self) -> dict:
        """The body of the 429, in OpenAI's error shape."""
        return {
            "error": {
                "message": self.message,
                "type": "requests" if self.kind == REQUESTS else "tokens",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


# --- windows ------------------------------------------------------------------------------


def window_bounds(granularity: str, step: int, now: datetime) -> tuple[str, datetime]:
    """The id of the window containing `now` and the moment it ends (UTC)."""
    step = max(1, step)
    if granularity == "month":
        index = now.year * 12 + now.month - 1
        start_index = index - index % step
        end_index = start_index + step
        end = datetime(end_index // 12, end_index % 12 + 1, 1, tzinfo=UTC)
        return f"mo{start_index}", end
    length = _UNIT_SECONDS[granularity] * step
    epoch = now.timestamp()
    start = math.floor(epoch / length) * length
    return f"{granularity[0]}{length}:{int(start)}", datetime.fromtimestamp(start + length, UTC)


def _seconds_until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))


def _prefix() -> str:
    cache_prefix = settings.CACHES["default"].get("KEY_PREFIX") or "blaxel"
    return f"{cache_prefix}:policy"


def _caller_id(principal) -> str:
    """The caller key a per-caller rate limit counts: the API key, else the person."""
    if principal is None:
        return "anonymous"
    if getattr(principal, "api_key_id", None):
        return f"k{principal.api_key_id}"
    if getattr(principal, "service_account_id", None):
        return f"s{principal.service_account_id}"
    return f"u{getattr(principal, 'user_id', None)}"


@dataclass(frozen=True, slots=True)
class _Counter:
    key: str
    limit: Limit
    ends_at: datetime
    ttl: int


def _strictest(counters: list[_Counter]) -> list[_Counter]:
    """One counter per key, with the smallest cap: policies sharing a window share its
    counter (counting a call twice would halve every limit)."""
    by_key: dict[str, _Counter] = {}
    for counter in counters:
        kept = by_key.get(counter.key)
        if kept is None or counter.limit.cap < kept.limit.cap:
            by_key[counter.key] = counter
    return list(by_key.values())


def _request_counters(model_api_id: int, limits, principal, now: datetime) -> list[_Counter]:
    counters = []
    for limit in limits:
        if limit.kind != REQUESTS:
            continue
        window_id, end = window_bounds("minute", 1, now)
        scope = f":c:{_caller_id(principal)}" if limit.per_caller else ""
        key = f"{_prefix()}:{{ma{model_api_id}}}:req{scope}:{window_id}"
        counters.append(_Counter(key, limit, end, _seconds_until(end, now) + 5))
    return _strictest(counters)


def _token_key(model_api_id: int, kind: str, window_id: str) -> str:
    return f"{_prefix()}:{{ma{model_api_id}}}:tok:{kind}:{window_id}"


def _token_counters(model_api_id: int, limits, now: datetime) -> list[_Counter]:
    counters = []
    for limit in limits:
        if limit.kind not in TOKEN_KINDS or limit.cap <= 0:
            continue
        window_id, end = window_bounds(limit.granularity, limit.step, now)
        key = _token_key(model_api_id, limit.kind, window_id)
        counters.append(_Counter(key, limit, end, _seconds_until(end, now) + 60))
    return _strictest(counters)


def _token_windows(limits) -> set[tuple[str, int]]:
    return {(limit.granularity, limit.step) for limit in limits if limit.kind in TOKEN_KINDS}


def _denial(counter: _Counter, now: datetime) -> Denial:
    limit = counter.limit
    retry_after = _seconds_until(counter.ends_at, now)
    if limit.kind == REQUESTS:
        scope = "for your key " if limit.per_caller else ""
        message = (
            f"Rate limit reached {scope}on this model API: {limit.cap} requests per minute "
            f"(policy “{limit.policy}”). Retry after {retry_after} s."
        )
    else:
        window = limit.granularity if limit.step == 1 else f"{limit.step} {limit.granularity}s"
        message = (
            f"Token cap reached on this model API: {limit.cap} {limit.kind} tokens per "
            f"{window} (policy “{limit.policy}”). Retry after {retry_after} s."
        )
    return Denial(policy=limit.policy, kind=limit.kind, message=message, retry_after=retry_after)


def _strictest_denial(denied: list[_Counter], now: datetime) -> Denial:
    # Every refusing window must reset before a call can pass: wait for the last one.
    return max((_denial(counter, now) for counter in denied), key=lambda d: d.retry_after)


# --- backends -----------------------------------------------------------------------------

# KEYS: counters. ARGV, three per key: cap, mode ("r" = count this request, "t" = tokens,
# only checked), ttl. Nothing is counted unless every counter admits the call; returns the
# 1-based indexes of the refusing counters (empty = admitted).
CHECK_SCRIPT = """
local denied = {}
for i, key in ipairs(KEYS) do
  local cap = tonumber(ARGV[3 * i - 2])
  local used = tonumber(redis.call('GET', key) or '0')
  if ARGV[3 * i - 1] == 'r' then
    if used + 1 > cap then table.insert(denied, i) end
  elseif used >= cap then
    table.insert(denied, i)
  end
end
if #denied > 0 then return denied end
for i, key in ipairs(KEYS) do
  if ARGV[3 * i - 1] == 'r' then
    if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, tonumber(ARGV[3 * i])) end
  end
end
return denied
"""


def _script_args(counters: list[_Counter]) -> tuple[list[str], list]:
    keys, args = [], []
    for counter in counters:
        keys.append(counter.key)
        args += [counter.limit.cap, "r" if counter.limit.kind == REQUESTS else "t", counter.ttl]
    return keys, args


class _LocalCounters:
    """In-process counters (embedded mode: one process serves everything)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, float]] = {}

    def _get(self, key: str, now: float) -> int:
        value, expires = self._values.get(key, (0, 0.0))
        return value if expires > now else 0

    def check(self, counters: list[_Counter]) -> list[int]:
        now = time.time()
        with self._lock:
            denied = []
            for index, counter in enumerate(counters):
                used = self._get(counter.key, now)
                if counter.limit.kind == REQUESTS:
                    if used + 1 > counter.limit.cap:
                        denied.append(index)
                elif used >= counter.limit.cap:
                    denied.append(index)
            if denied:
                return denied
            for counter in counters:
                if counter.limit.kind == REQUESTS:
                    self._add(counter.key, 1, counter.ttl, now)
            return []

    def _add(self, key: str, amount: int, ttl: int, now: float) -> None:
        value = self._get(key, now)
        expires = self._values.get(key, (0, 0.0))[1] if value else now + ttl
        self._values[key] = (value + amount, expires)

    def add(self, increments: list[tuple[str, int, int]]) -> None:
        now = time.time()
        with self._lock:
            for key, amount, ttl in increments:
                self._add(key, amount, ttl, now)
            if len(self._values) > 10000:  # drop expired windows now and then
                self._values = {k: v for k, v in self._values.items() if v[1] > now}

    def get(self, key: str) -> int:
        with self._lock:
            return self._get(key, time.time())

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_local = _LocalCounters()
_sync_redis: dict[str, redis.Redis] = {}
_async_redis: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_redis_lock = threading.Lock()


def use_redis() -> bool:
    return bool(settings.REDIS_URL)


def _redis_options() -> dict:
    return {"socket_timeout": 2, "socket_connect_timeout": 2}


def sync_redis():
    """This process's Redis client for `REDIS_URL` (thread-safe connection pool)."""
    url = settings.REDIS_URL
    with _redis_lock:
        client = _sync_redis.get(url)
        if client is None:
            client = _sync_redis[url] = redis.Redis.from_url(url, **_redis_options())
        return client


def async_redis():
    """The running event loop's Redis client (asyncio clients belong to one loop)."""
    loop = asyncio.get_running_loop()
    clients = _async_redis.setdefault(loop, {})
    url = settings.REDIS_URL
    if url not in clients:
        clients[url] = redis.asyncio.Redis.from_url(url, **_redis_options())
    return clients[url]


# --- the policies of a model API -----------------------------------------------------------

_limits_cache: dict[int, tuple[int, float, tuple[Limit, ...]]] = {}


def limits_for_model_api(model_api_id: int) -> tuple[Limit, ...]:
    """The caps of every policy attached to the model API (one query). The gateway may
    keep the result with its cached route as `route.policy_limits`."""
    from .policies import limits_for_policies, policies_for_model_api_id

    return limits_for_policies(policies_for_model_api_id(model_api_id))


async def cached_limits_for_model_api(model_api_id: int) -> tuple[Limit, ...]:
    """`limits_for_model_api` behind a short in-process cache, invalidated everywhere when
    a policy or an attachment changes (`cache_versions.ROUTING`)."""
    from asgiref.sync import sync_to_async

    version = await cache_versions.acurrent(cache_versions.ROUTING)
    cached = _limits_cache.get(model_api_id)
    now = time.monotonic()
    if cached and cached[0] == version and now - cached[1] < settings.GATEWAY_LOCAL_CACHE_TTL:
        return cached[2]
    limits = await sync_to_async(limits_for_model_api)(model_api_id)
    _limits_cache[model_api_id] = (version, now, limits)
    return limits


def _route_model_api_id(route) -> int:
    if isinstance(route, int):
        return route
    if getattr(route, "model_api_id", None) is not None:
        return route.model_api_id
    return route.model_api.pk


async def _route_limits(route) -> tuple[Limit, ...]:
    limits = getattr(route, "policy_limits", None)
    if limits is None:
        limits = await cached_limits_for_model_api(_route_model_api_id(route))
    return tuple(limits)


# --- the gateway's entry points -------------------------------------------------------------


async def check_policies(route, principal, *, now: datetime | None = None) -> Denial | None:
    """Admit the call (and count it against rate limits) or say why not. At most one Redis
    round trip; none when the model API has no policy."""
    limits = await _route_limits(route)
    if not limits:
        return None
    return await check_limits(_route_model_api_id(route), limits, principal, now=now)


async def check_limits(model_api_id: int, limits, principal, *, now=None) -> Denial | None:
    now = now or datetime.now(UTC)
    counters = _request_counters(model_api_id, limits, principal, now) + _token_counters(
        model_api_id, limits, now
    )
    if not counters:
        return None
    if use_redis():
        keys, args = _script_args(counters)
        try:
            denied = await async_redis().eval(CHECK_SCRIPT, len(keys), *keys, *args)
        except REDIS_ERRORS:
            logger.warning("policy check skipped: Redis unreachable", exc_info=True)
            return None
        denied_indexes = [int(index) - 1 for index in denied]
    else:
        denied_indexes = _local.check(counters)
    if not denied_indexes:
        return None
    return _strictest_denial([counters[index] for index in denied_indexes], now)


def _token_increments(model_api_id, limits, tokens: dict[str, int], now) -> list:
    increments = []
    for granularity, step in _token_windows(limits):
        window_id, end = window_bounds(granularity, step, now)
        ttl = _seconds_until(end, now) + 60
        for kind in TOKEN_KINDS:
            if tokens.get(kind):
                increments.append((_token_key(model_api_id, kind, window_id), tokens[kind], ttl))
    return increments


def count_tokens(
    route,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    total_tokens: int | None = None,
    limits=None,
    now: datetime | None = None,
) -> None:
    """Count a finished call's tokens against the model API's token caps (sync; for
    code that runs after the response). `route` is the gateway's route, or a model API id
    together with `limits`."""
    if limits is None:
        limits = getattr(route, "policy_limits", None)
    if limits is None:
        limits = limits_for_model_api(_route_model_api_id(route))
    tokens = _tokens(input_tokens, output_tokens, total_tokens)
    increments = _token_increments(_route_model_api_id(route), limits, tokens, now or _now())
    if not increments:
        return
    if not use_redis():
        _local.add(increments)
        return
    try:
        pipeline = sync_redis().pipeline(transaction=False)
        for key, amount, ttl in increments:
            pipeline.incrby(key, amount)
            pipeline.expire(key, ttl)
        pipeline.execute()
    except REDIS_ERRORS:
        logger.warning("token count lost: Redis unreachable", exc_info=True)


def count_call_tokens(
    route, *, input_tokens: int = 0, output_tokens: int = 0, total_tokens: int | None = None
) -> None:
    """What the gateway calls as it records a finished call: counts its tokens against the
    route's token caps without blocking. With Redis the increments join the usage
    recorder's buffer (`gateway.recorder`), which sends what gathered in one pipeline
    every few milliseconds (measured with bench/: an asyncio pipeline per call cost the
    event loop ~10% of its CPU at 32 connections, a writer thread ~1 ms per call in GIL
    hand-offs); without, a plain in-process add. Nothing to do when no token cap
    applies."""
    limits = tuple(getattr(route, "policy_limits", ()) or ())
    if not any(limit.kind in TOKEN_KINDS for limit in limits):
        return
    if not use_redis():
        count_tokens(
            route,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=total_tokens,
            limits=limits,
        )
        return
    tokens = _tokens(input_tokens, output_tokens, total_tokens)
    increments = _token_increments(_route_model_api_id(route), limits, tokens, _now())
    if increments:
        from .usage import recorder

        recorder.add(None, increments)


def _tokens(input_tokens, output_tokens, total_tokens) -> dict[str, int]:
    input_tokens, output_tokens = int(input_tokens or 0), int(output_tokens or 0)
    if total_tokens is None:
        total_tokens = input_tokens + output_tokens
    return {"input": input_tokens, "output": output_tokens, "total": int(total_tokens or 0)}


def _now() -> datetime:
    return datetime.now(UTC)


def token_usage_in_window(model_api_id: int, limit: Limit, now: datetime | None = None) -> int:
    """How many tokens of `limit.kind` the current window has counted (for the screens)."""
    window_id, _ = window_bounds(limit.granularity, limit.step, now or _now())
    key = _token_key(model_api_id, limit.kind, window_id)
    if not use_redis():
        return _local.get(key)
    try:
        return int(sync_redis().get(key) or 0)
    except REDIS_ERRORS:
        return 0


def reset_counters() -> None:
    """Forget every counter of this deployment (tests, and operators after an incident)."""
    _local.clear()
    _limits_cache.clear()
    if use_redis():
        client = sync_redis()
        for key in client.scan_iter(match=f"{_prefix()}:*", count=500):
            client.delete(key)
