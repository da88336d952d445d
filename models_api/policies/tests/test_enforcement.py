"""Policy enforcement: rate limits and token caps, windows and their reset, `retry-after`,
the strictest policy winning, and atomic counting under concurrency (in-process counters in
the embedded mode, the Lua script on Redis otherwise)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from blaxel_console import counters, redis
from blaxel_console.testing.usage import redis_required
from blaxel_console.testing.waiting import run_async
from models_api.policies.enforcement import check_limits, count_tokens
from models_api.policies.limits import (
    REQUESTS,
    Limit,
    PoliciesUnavailable,
    counter_prefix,
    window_bounds,
)
from workspaces.principals import Principal

pytestmark = pytest.mark.usefixtures("fresh_counters")

MODEL_API_ID = 987654  # counters are keyed by model API id; no database row is needed
NOON = datetime(2026, 11, 20, 12, 0, 10, tzinfo=UTC)  # 50 s before the minute ends


def caller(key_id: int) -> Principal:
    return Principal(label=f"user{key_id}@example.com", user_id=key_id, api_key_id=key_id)


def check(limits, principal=None, now=NOON):
    return run_async(check_limits(MODEL_API_ID, limits, principal or caller(1), now=now))


def rate(cap, per_caller=False, policy="rpm"):
    return Limit(policy=policy, kind=REQUESTS, cap=cap, per_caller=per_caller)


def tokens(kind, cap, granularity="day", step=1, policy="daily-cap"):
    return Limit(policy=policy, kind=kind, cap=cap, granularity=granularity, step=step)


def test_a_rate_limit_admits_exactly_its_cap_then_refuses_until_the_minute_ends():
    limits = (rate(3),)

    assert [check(limits) for _ in range(3)] == [None, None, None]
    denial = check(limits)

    assert denial is not None
    assert denial.retry_after == 50
    assert denial.headers() == {"retry-after": "50"}
    body = denial.openai_error()["error"]
    assert body["code"] == "rate_limit_exceeded" and body["type"] == "requests"
    assert "3 requests per minute" in body["message"] and "rpm" in body["message"]
    assert set(body) == {"message", "type", "param", "code"}


def test_the_window_resets_at_the_next_minute():
    limits = (rate(2),)
    check(limits), check(limits)
    assert check(limits, now=NOON + timedelta(seconds=49)) is not None

    next_minute = NOON + timedelta(seconds=50)
    assert check(limits, now=next_minute) is None
    assert check(limits, now=next_minute) is None
    assert check(limits, now=next_minute) is not None


def test_refused_calls_are_not_counted():
    limits = (rate(1),)
    assert check(limits) is None
    for _ in range(5):
        assert check(limits) is not None
    assert check(limits, now=NOON + timedelta(minutes=1)) is None


def test_per_caller_rate_limits_count_each_key_apart():
    limits = (rate(2, per_caller=True),)
    ada, max_ = caller(1), caller(2)

    assert [check(limits, ada) for _ in range(2)] == [None, None]
    assert check(limits, ada) is not None
    assert [check(limits, max_) for _ in range(2)] == [None, None]
    denial = check(limits, max_)
    assert "for your key" in denial.message


def test_the_strictest_policy_wins():
    limits = (rate(5, policy="loose"), rate(2, policy="strict"))

    admitted = sum(check(limits) is None for _ in range(6))

    assert admitted == 2
    assert check(limits).policy == "strict"


def test_a_token_cap_refuses_once_reached_and_tolerates_the_call_that_crossed_it():
    limits = (tokens("total", 100),)
    assert check(limits) is None
    count_tokens(MODEL_API_ID, input_tokens=40, output_tokens=20, limits=limits, now=NOON)
    assert check(limits) is None  # 60 < 100
    # The admitted call used 70: the cap is crossed (the tolerated in-flight call).
    count_tokens(MODEL_API_ID, input_tokens=50, output_tokens=20, limits=limits, now=NOON)

    denial = check(limits)

    assert denial is not None and denial.kind == "total"
    assert denial.openai_error()["error"]["type"] == "tokens"
    assert denial.retry_after == int((datetime(2026, 11, 21, tzinfo=UTC) - NOON).total_seconds())
    assert check(limits, now=datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC)) is None


def test_input_and_output_caps_are_checked_separately():
    limits = (tokens("input", 50), tokens("output", 1000))
    count_tokens(MODEL_API_ID, input_tokens=49, output_tokens=5, limits=limits, now=NOON)
    assert check(limits) is None
    count_tokens(MODEL_API_ID, input_tokens=1, output_tokens=0, limits=limits, now=NOON)
    assert check(limits).kind == "input"


def test_refusals_wait_for_the_last_window_that_refuses():
    limits = (rate(1), tokens("total", 10, granularity="hour"))
    check(limits)
    count_tokens(MODEL_API_ID, total_tokens=10, limits=limits, now=NOON)

    denial = check(limits)

    assert denial.retry_after == 3600 - 10  # the hour ends after the minute


@pytest.mark.parametrize(
    ("granularity", "step", "now", "end"),
    [
        ("minute", 1, NOON, datetime(2026, 11, 20, 12, 1, tzinfo=UTC)),
        ("minute", 5, NOON, datetime(2026, 11, 20, 12, 5, tzinfo=UTC)),
        ("hour", 1, NOON, datetime(2026, 11, 20, 13, tzinfo=UTC)),
        ("day", 1, NOON, datetime(2026, 11, 21, tzinfo=UTC)),
        ("month", 1, NOON, datetime(2026, 12, 1, tzinfo=UTC)),
        ("month", 1, datetime(2026, 12, 31, 23, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("month", 3, NOON, datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_windows_are_calendar_aligned_in_utc(granularity, step, now, end):
    assert window_bounds(granularity, step, now)[1] == end


def test_no_limits_means_no_counting():
    assert check(()) is None


def test_concurrent_calls_never_exceed_a_rate_limit():
    """50 calls at once (threads, each with its own event loop) against a cap of 10:
    exactly 10 are admitted, whichever backend counts."""
    limits = (rate(10),)
    results = []
    barrier = threading.Barrier(50)

    def call():
        barrier.wait()
        results.append(check(limits))

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(result is None for result in results) == 10
    assert len(results) == 50


@redis_required()
def test_counters_are_shared_through_redis(settings):
    limits = (rate(2),)
    check(limits)
    # Another process (same Redis) sees the same counter: forget this process's copies.
    counters.local.clear()
    check(limits)
    assert check(limits) is not None
    keys = list(redis.sync_client().scan_iter(match=f"{counter_prefix()}:*"))
    assert keys and all(b"{ma987654}" in key for key in keys)


@redis_required()
def test_redis_unreachable_admits_the_call(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert check((rate(1),)) is None
    assert check((rate(1),)) is None  # nothing counted, nothing refused


def test_redis_unreachable_refuses_the_call_when_policies_fail_closed(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.POLICY_FAILURE_MODE = "closed"
    with pytest.raises(PoliciesUnavailable):
        check((rate(1),))
    assert check(()) is None  # no policy: nothing to check, nothing refused
