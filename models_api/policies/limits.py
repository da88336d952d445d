"""What a policy enforces, as plain data the hot path can cache: `Limit`s, the windows
they count in, the counters they map to, and the `Denial` a refused call gets.

* Counters live in fixed windows aligned to UTC (a minute, an hour, a day, a month, or
  a multiple of one: `step`). Counters belong to a model API and a window, not to a
  policy, so several policies on one model API share them and the strictest cap wins.
* Rate limits count requests when they are admitted. Token caps can only count tokens
  after the call, so a call admitted under the cap may go beyond it (the one in-flight
  call the spec tolerates); every call after that is refused until the window resets.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from blaxel_console import redis
from blaxel_console.counters import Check

REQUESTS = "requests"
TOKEN_KINDS = ("input", "output", "total")

_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class Limit:
    """One cap of one policy."""

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

    @property
    def error_type(self) -> str:
        """The `type` of OpenAI's error body."""
        return "requests" if self.kind == REQUESTS else "tokens"

    def openai_error(self) -> dict:
        """The body of the 429, in OpenAI's error shape."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


class PoliciesUnavailable(Exception):
    """The counters cannot be reached and `POLICY_FAILURE_MODE` is "closed"."""

    retry_after = 5  # seconds: Redis is usually back by then, or the operator knows


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


def seconds_until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))


def counter_prefix() -> str:
    """Every policy counter's key starts with this."""
    return redis.key("policy")


def caller_id(principal) -> str:
    """The caller key a per-caller rate limit counts: the API key, else the person."""
    if principal is None:
        return "anonymous"
    if getattr(principal, "api_key_id", None):
        return f"k{principal.api_key_id}"
    if getattr(principal, "service_account_id", None):
        return f"s{principal.service_account_id}"
    return f"u{getattr(principal, 'user_id', None)}"


def token_key(model_api_id: int, kind: str, window_id: str) -> str:
    return f"{counter_prefix()}:{{ma{model_api_id}}}:tok:{kind}:{window_id}"


@dataclass(frozen=True, slots=True)
class Counter:
    """A limit bound to its counter in the current window."""

    key: str
    limit: Limit
    ends_at: datetime
    ttl: int

    def check(self) -> Check:
        return Check(key=self.key, cap=self.limit.cap, counts=self.limit.kind == REQUESTS,
                     ttl=self.ttl)  # fmt: skip


def _strictest(counters: list[Counter]) -> list[Counter]:
    """One counter per key, with the smallest cap: policies sharing a window share its
    counter (counting a call twice would halve every limit)."""
    by_key: dict[str, Counter] = {}
    for counter in counters:
        kept = by_key.get(counter.key)
        if kept is None or counter.limit.cap < kept.limit.cap:
            by_key[counter.key] = counter
    return list(by_key.values())


def counters_for_call(model_api_id: int, limits, principal, now: datetime) -> list[Counter]:
    """The counters a call must pass: requests per minute, and tokens per window."""
    counters = []
    for limit in limits:
        if limit.kind == REQUESTS:
            window_id, end = window_bounds("minute", 1, now)
            scope = f":c:{caller_id(principal)}" if limit.per_caller else ""
            key = f"{counter_prefix()}:{{ma{model_api_id}}}:req{scope}:{window_id}"
            counters.append(Counter(key, limit, end, seconds_until(end, now) + 5))
        elif limit.cap > 0:
            window_id, end = window_bounds(limit.granularity, limit.step, now)
            key = token_key(model_api_id, limit.kind, window_id)
            counters.append(Counter(key, limit, end, seconds_until(end, now) + 60))
    return _strictest(counters)


def token_increments(model_api_id: int, limits, tokens: dict[str, int], now: datetime) -> list:
    """`(key, amount, ttl)` for each token window of `limits` a finished call counts in."""
    windows = {(limit.granularity, limit.step) for limit in limits if limit.kind in TOKEN_KINDS}
    increments = []
    for granularity, step in windows:
        window_id, end = window_bounds(granularity, step, now)
        ttl = seconds_until(end, now) + 60
        for kind in TOKEN_KINDS:
            if tokens.get(kind):
                increments.append((token_key(model_api_id, kind, window_id), tokens[kind], ttl))
    return increments


def denial(counter: Counter, now: datetime) -> Denial:
    limit = counter.limit
    retry_after = seconds_until(counter.ends_at, now)
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


def strictest_denial(denied: list[Counter], now: datetime) -> Denial:
    # Every refusing window must reset before a call can pass: wait for the last one.
    return max((denial(counter, now) for counter in denied), key=lambda d: d.retry_after)
