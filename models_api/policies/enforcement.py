"""Policy enforcement for the gateway: rate limits and token caps.

The gateway asks `check_policies(route, principal)` before it forwards a call, and asks
`call_token_increments(...)` what a finished call adds to the token counters (it hands
them to the usage recorder with the call's record, so both leave in one Redis pipeline).

With Redis (`REDIS_URL`), one Lua script checks every window and counts the request in
one round trip, atomically, so the cutoff is exact across any number of gateway
processes; the embedded default runs the same logic on in-process counters
(`blaxel_console.counters`). If Redis cannot be reached, calls are admitted (failing
open keeps the gateway up; the counters resume with Redis) and a warning is logged —
unless `POLICY_FAILURE_MODE` is "closed": then they get 503 until Redis is back.
"""

import logging
from datetime import UTC, datetime

from django.conf import settings

from blaxel_console import counters, redis
from blaxel_console.throttled_log import warn_now_and_then

from .limits import (
    TOKEN_KINDS,
    Denial,
    Limit,
    PoliciesUnavailable,
    counter_prefix,
    counters_for_call,
    strictest_denial,
    token_increments,
    token_key,
    window_bounds,
)
from .selectors import limits_for_policies, policies_for_model_api_id

logger = logging.getLogger(__name__)


def limits_for_model_api(model_api_id: int) -> tuple[Limit, ...]:
    """The caps of every policy attached to the model API (one query). The gateway keeps
    the result with its cached route as `route.policy_limits`."""
    return limits_for_policies(policies_for_model_api_id(model_api_id))


async def check_policies(route, principal) -> Denial | None:
    """Admit the call (and count it against rate limits) or say why not. At most one
    Redis round trip; none when the model API has no policy."""
    if not route.policy_limits:
        return None
    return await check_limits(route.model_api_id, route.policy_limits, principal)


async def check_limits(model_api_id: int, limits, principal, *, now=None) -> Denial | None:
    now = now or datetime.now(UTC)
    bound = counters_for_call(model_api_id, limits, principal, now)
    if not bound:
        return None
    try:
        denied = await counters.check_and_count([counter.check() for counter in bound])
    except redis.ERRORS as error:
        if settings.POLICY_FAILURE_MODE == "closed":
            warn_now_and_then(logger, "policy check failed closed: Redis unreachable")
            raise PoliciesUnavailable(
                "The usage policies of this model API cannot be checked right now; "
                f"retry in {PoliciesUnavailable.retry_after} s."
            ) from error
        warn_now_and_then(logger, "policy check skipped: Redis unreachable (%s)", error)
        return None
    if not denied:
        return None
    return strictest_denial([bound[index] for index in denied], now)


def _tokens(input_tokens, output_tokens, total_tokens) -> dict[str, int]:
    input_tokens, output_tokens = int(input_tokens or 0), int(output_tokens or 0)
    if total_tokens is None:
        total_tokens = input_tokens + output_tokens
    return {"input": input_tokens, "output": output_tokens, "total": int(total_tokens or 0)}


def call_token_increments(
    model_api_id: int,
    limits,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    total_tokens: int | None = None,
    now: datetime | None = None,
) -> list[tuple[str, int, int]]:
    """What a finished call adds to the token caps' counters, as `(key, amount, ttl)`;
    empty when no token cap applies."""
    if not any(limit.kind in TOKEN_KINDS for limit in limits):
        return []
    tokens = _tokens(input_tokens, output_tokens, total_tokens)
    return token_increments(model_api_id, limits, tokens, now or datetime.now(UTC))


def count_tokens(model_api_id: int, *, limits, now: datetime | None = None, **tokens) -> None:
    """Count a finished call's tokens now, synchronously (`tokens`: `input_tokens`,
    `output_tokens`, `total_tokens`). The gateway batches them instead
    (`call_token_increments`)."""
    increments = call_token_increments(model_api_id, limits, now=now, **tokens)
    if not increments:
        return
    if not redis.is_configured():
        counters.local.add(increments)
        return
    try:
        pipeline = redis.sync_client().pipeline(transaction=False)
        counters.add_pipelined(pipeline, increments)
        pipeline.execute()
    except redis.ERRORS:
        logger.warning("token count lost: Redis unreachable", exc_info=True)


def token_usage_in_window(model_api_id: int, limit: Limit, now: datetime | None = None) -> int:
    """How many tokens of `limit.kind` the current window has counted (for the screens)."""
    window_id, _ = window_bounds(limit.granularity, limit.step, now or datetime.now(UTC))
    return counters.get(token_key(model_api_id, limit.kind, window_id))


def reset_counters() -> None:
    """Forget every policy counter of this deployment (tests, operators after an
    incident)."""
    counters.clear(f"{counter_prefix()}:")
