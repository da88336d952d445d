"""Windowed counters shared by every process: checked and counted atomically in Redis
(one Lua script, one round trip), or in-process in the embedded default.

A counter is a key with a time to live (its window's end). `check_and_count` admits a
call only when every counter is under its cap and then counts the ones marked to count;
`add` adds amounts afterwards (tokens known once an answer is complete). Policies use
them for rate limits and token caps; the usage recorder sends the token increments.
"""

import threading
import time
from dataclasses import dataclass

from blaxel_console import redis


@dataclass(frozen=True, slots=True)
class Check:
    """One counter to check: `counts` → the call is counted on it when admitted (a
    request); otherwise only compared with the cap (tokens, counted after the call)."""

    key: str
    cap: int
    counts: bool
    ttl: int


# KEYS: counters. ARGV, three per key: cap, mode ("r" = count this call, "t" = only
# check), ttl. Nothing is counted unless every counter admits the call; returns the
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


class LocalCounters:
    """In-process counters (embedded mode: one process serves everything)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, float]] = {}

    def _get(self, key: str, now: float) -> int:
        value, expires = self._values.get(key, (0, 0.0))
        return value if expires > now else 0

    def check_and_count(self, checks: list[Check]) -> list[int]:
        """The 0-based indexes of the refusing counters; counts nothing unless empty."""
        now = time.time()
        with self._lock:
            denied = []
            for index, check in enumerate(checks):
                used = self._get(check.key, now)
                if (used + 1 > check.cap) if check.counts else (used >= check.cap):
                    denied.append(index)
            if not denied:
                for check in checks:
                    if check.counts:
                        self._add(check.key, 1, check.ttl, now)
            return denied

    def _add(self, key: str, amount: int, ttl: int, now: float) -> None:
        value = self._get(key, now)
        expires = self._values.get(key, (0, 0.0))[1] if value else now + ttl
        self._values[key] = (value + amount, expires)

    def add(self, increments) -> None:
        """`increments`: `(key, amount, ttl)` triples."""
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


local = LocalCounters()


async def check_and_count(checks: list[Check]) -> list[int]:
    """0-based indexes of the counters that refuse the call (empty: admitted and
    counted). Raises one of `redis.ERRORS` when Redis is configured but unreachable."""
    if not redis.is_configured():
        return local.check_and_count(checks)
    keys, args = [], []
    for check in checks:
        keys.append(check.key)
        args += [check.cap, "r" if check.counts else "t", check.ttl]
    denied = await redis.async_client().eval(CHECK_SCRIPT, len(keys), *keys, *args)
    return [int(index) - 1 for index in denied]


def add_pipelined(pipeline, increments) -> None:
    """Queue `(key, amount, ttl)` increments on a Redis pipeline."""
    for key, amount, ttl in increments:
        pipeline.incrby(key, amount)
        pipeline.expire(key, ttl)


def get(key: str) -> int:
    """A counter's value now (0 when Redis is unreachable)."""
    if not redis.is_configured():
        return local.get(key)
    try:
        return int(redis.sync_client().get(key) or 0)
    except redis.ERRORS:
        return 0


def clear(pattern_prefix: str) -> None:
    """Forget every counter whose key starts with `pattern_prefix` (tests, operators)."""
    local.clear()
    if redis.is_configured():
        client = redis.sync_client()
        for key in client.scan_iter(match=f"{pattern_prefix}*", count=500):
            client.delete(key)
