"""Policies enforced by the live gateway (uvicorn), called with the official OpenAI SDK:
429 in OpenAI's shape with `retry-after`, token caps, the exact cutoff under 50 concurrent
calls spread over two gateway processes sharing Redis, and usage reaching Logs / Metrics
(also after the worker was down)."""

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import openai
import pytest

from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import run_asgi_server, subprocess_env
from blaxel_console.testing.usage import redis_required
from blaxel_console.testing.waiting import run_async, wait_until
from models_api.policies import enforcement
from models_api.policies import selectors as policy_selectors
from models_api.policies import services as policy_services
from models_api.usage import queue
from models_api.usage.models import UsageRecord
from workspaces.principals import Principal

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_counters"),
]

PROMPT = "Say hello to me"


@pytest.fixture
def attach(workspace, admin_user):
    """`attach(model_api, name, **policy fields)`: create a policy and attach it."""
    actor = Principal.for_user(admin_user)

    def make(model_api, name, **fields):
        policy = policy_services.policy_create(
            workspace=workspace, name=name, actor=actor, **fields
        )
        names = policy_selectors.policy_names_for_model_api(model_api=model_api)
        policy_services.model_api_set_policies(
            model_api=model_api, policy_names=[*names, name], actor=actor
        )
        return policy

    return make


def chat(client):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )


def wait_for_a_fresh_minute(margin: int = 15) -> None:
    """Rate limits count per calendar minute: start a burst early in one, so that it
    cannot straddle two windows."""
    second = datetime.now(UTC).second
    if second > 60 - margin:
        time.sleep(60 - second + 0.5)


def test_a_rate_limited_call_gets_openais_429_with_retry_after(
    acme_model_api, attach, member_key, openai_clients
):
    attach(acme_model_api, "three-a-minute", type="rateLimit", requests_per_minute=3)
    wait_for_a_fresh_minute()
    with run_asgi_server() as server:
        client, _ = openai_clients(server, member_key)
        for _ in range(3):
            assert chat(client).choices
        with pytest.raises(openai.RateLimitError) as refused:
            chat(client)

    response = refused.value.response
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert "three-a-minute" in error["message"]
    record = wait_until(
        lambda: UsageRecord.objects.filter(model_api=acme_model_api, status_code=429).first(),
        timeout=30,
    )
    assert record.error_type == "rate_limit_exceeded"


def test_a_token_cap_refuses_calls_once_reached(
    settings, acme_model_api, attach, member_key, openai_clients
):
    with run_asgi_server() as server:  # how many tokens one call uses on the fake
        per_call = chat(openai_clients(server, member_key)[0]).usage.total_tokens
    assert per_call > 0
    cap = per_call * 2 + 1  # two calls stay under it; the third crosses it
    policy = attach(
        acme_model_api, "daily-tokens", type="maxToken", granularity="day", max_total_tokens=cap
    )
    limit = policy_selectors.limits_for_policies([policy])[0]
    admitted = 0
    with run_asgi_server() as server:
        client, _ = openai_clients(server, member_key)
        with pytest.raises(openai.RateLimitError) as refused:
            while admitted < 10:
                assert chat(client).choices
                admitted += 1
                if settings.REDIS_URL:
                    # Counted right after the answer (a task on the server's loop): the
                    # spec tolerates a call racing it; this test makes calls in sequence.
                    wait_until(
                        lambda: (
                            enforcement.token_usage_in_window(acme_model_api.pk, limit)
                            >= admitted * per_call
                        )
                    )

    assert admitted == 3  # the third call crossed the cap and was the last one admitted
    error = refused.value.response.json()["error"]
    assert error["type"] == "tokens" and "daily-tokens" in error["message"]
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seconds_left = 86400 - (datetime.now(UTC) - midnight).total_seconds()
    assert abs(int(refused.value.response.headers["retry-after"]) - seconds_left) < 30


@redis_required()
def test_exact_cutoff_under_50_concurrent_calls_across_two_processes(
    workspace, acme_model_api, make_gateway_model_api, attach, member_key, gateway_url
):
    attach(acme_model_api, "ten-a-minute", type="rateLimit", requests_per_minute=10)
    make_gateway_model_api(workspace, "warm-up")  # no policy: warming it counts nothing

    async def burst(servers):
        async with httpx.AsyncClient(timeout=60) as http:

            async def one(index):
                response = await http.post(
                    f"{gateway_url(servers[index % 2])}/chat/completions",
                    headers={"Authorization": f"Bearer {member_key}"},
                    json={
                        "model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": PROMPT}],
                    },
                )
                return servers[index % 2], response.status_code, response.headers.get("retry-after")

            return await asyncio.gather(*(one(index) for index in range(50)))

    with run_asgi_server() as first, run_asgi_server() as second:
        for server in (first, second):  # warm both processes (auth, routing, pools)
            response = httpx.get(
                f"{gateway_url(server, model_api='warm-up')}/models",
                headers={"Authorization": f"Bearer {member_key}"},
            )
            assert response.status_code == 200
        wait_for_a_fresh_minute(margin=20)
        results = run_async(burst((first, second)))

    statuses = [status for _, status, _ in results]
    # Exactly the cap is admitted; everything else is refused by the policy.
    assert statuses.count(429) == 40, Counter(statuses)
    assert statuses.count(200) == 10, Counter(statuses)
    # Both processes refused calls: the counter is shared, not per process.
    assert {server for server, status, _ in results if status == 429} == {first, second}
    assert all(1 <= int(retry) <= 60 for _, status, retry in results if status == 429)


@redis_required()
def test_once_a_token_cap_is_reached_concurrent_calls_on_both_processes_are_refused(
    acme_model_api, attach, member_key, gateway_url, openai_clients
):
    policy = attach(acme_model_api, "tiny", type="maxToken", granularity="hour", max_total_tokens=1)
    limit = policy_selectors.limits_for_policies([policy])[0]
    with run_asgi_server() as first, run_asgi_server() as second:
        assert chat(openai_clients(first, member_key)[0]).choices  # crosses the cap
        wait_until(lambda: enforcement.token_usage_in_window(acme_model_api.pk, limit) >= 1)

        async def burst():
            async with httpx.AsyncClient(timeout=60) as http:
                requests = [
                    http.post(
                        f"{gateway_url(server)}/chat/completions",
                        headers={"Authorization": f"Bearer {member_key}"},
                        json={"messages": [{"role": "user", "content": PROMPT}]},
                    )
                    for server in (first, second) * 25
                ]
                return [response.status_code for response in await asyncio.gather(*requests)]

        statuses = run_async(burst())
    assert statuses == [429] * 50


def test_calls_show_up_in_logs_and_metrics_within_seconds(
    acme_model_api, member_key, openai_clients, member_api
):
    with run_asgi_server() as server:
        client, _ = openai_clients(server, member_key)
        answers = [chat(client) for _ in range(5)]
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
        )
        assert list(stream)

        logs = wait_until(
            lambda: (
                body
                if len((body := member_api.get("/v0/models/my-gpt/logs").json())["data"]) == 6
                else None
            ),
            timeout=30,
        )
    assert [item["streamed"] for item in logs["data"]] == [True] + [False] * 5  # newest first
    assert all(item["status"] == 200 for item in logs["data"])
    metrics = member_api.get("/v0/models/my-gpt/metrics?range=1h").json()["summary"]
    assert metrics["requests"] == 6 and metrics["requests2xx"] == 6
    plain_tokens = sum(answer.usage.total_tokens for answer in answers)
    assert metrics["tokens"]["total"] >= plain_tokens > 0
    assert metrics["tokens"]["total"] == sum(item["tokens"]["total"] for item in logs["data"])


@redis_required()
def test_gateway_calls_made_while_the_worker_is_down_arrive_exactly_once(
    acme_model_api, member_key, openai_clients, isolated_usage_queue
):
    celery_queue = f"usage-{uuid.uuid4().hex[:8]}"
    with run_asgi_server(USAGE_QUEUE_KEY=isolated_usage_queue) as server:
        client, _ = openai_clients(server, member_key)
        for _ in range(12):
            assert chat(client).choices
        # No worker drains this queue: every record waits in Redis.
        wait_until(lambda: queue.queue_depth() == 12, timeout=15)
        assert UsageRecord.objects.filter(model_api=acme_model_api).count() == 0

    log = (ROOT / "var" / f"celery-{celery_queue}.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "blaxel_console", "worker", "--beat",
         "--loglevel=INFO", "--pool=solo", "-Q", celery_queue,
         "--schedule", str(ROOT / "var" / f"beat-{celery_queue}"),
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=subprocess_env(
            USAGE_QUEUE_KEY=isolated_usage_queue, CELERY_QUEUE=celery_queue,
            USAGE_DRAIN_INTERVAL="1",
        ),
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(
            lambda: UsageRecord.objects.filter(model_api=acme_model_api).count() >= 12,
            timeout=60,
        )
        wait_until(lambda: queue.queue_depth() == 0)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        log.close()
    records = UsageRecord.objects.filter(model_api=acme_model_api)
    assert records.count() == 12
    assert len(set(records.values_list("request_id", flat=True))) == 12
