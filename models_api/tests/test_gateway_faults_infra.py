"""Infrastructure faults the gateway survives: Redis stopped and restarted under load,
PostgreSQL stopped while the gateway is warm, the Celery worker killed while it drains
the usage queue, and SIGTERM with streams in flight.

Every outage is of a private instance (`blaxel_console.testing.private_services`): the
machine's shared PostgreSQL and Redis are never stopped. For each case: every call gets
the right answer, and leaves exactly one usage record with the right status — nothing
lost, nothing counted twice (the per-minute rollups add up to the calls)."""

import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import openai
import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import Sum

from blaxel_console.testing.load import PROMPT, CallLoad, call_once
from blaxel_console.testing.private_services import celery_worker_on, migrate, seed_workspace
from blaxel_console.testing.servers import run_asgi_server
from blaxel_console.testing.usage import usage, wait_for_usage_records
from blaxel_console.testing.waiting import wait_until
from models_api.usage import queue
from models_api.usage.models import UsageRecord, UsageRollup
from models_api.usage.storage import record_payload

pytestmark = [
    pytest.mark.faults,
    pytest.mark.live,
    pytest.mark.usefixtures("usage_written_before_teardown"),
]


def on_own_queues(redis_url: str, **overrides) -> dict:
    """The environment of a gateway or worker on `redis_url` with a Celery queue and a
    usage queue of its own (so no other process of the run drains them)."""
    name = uuid.uuid4().hex[:8]
    return {
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": f"faults-{name}",
        "USAGE_QUEUE_KEY": f"usage-faults-{name}",
        "USAGE_DRAIN_INTERVAL": "0.5",
        **overrides,
    }


def assert_one_record_per_call(outcomes, model_api_name="my-gpt"):
    """Exactly one usage record per call, with the status its client got, and rollups
    that count each call once. Generous wait: a worker reconnects to a Redis that came
    back with a backoff of a few seconds."""
    found = UsageRecord.objects.filter(model_api_name=model_api_name)
    try:
        records = wait_until(
            lambda: listed if len(listed := list(found.all())) >= len(outcomes) else None,
            timeout=90,
        )
    except AssertionError:
        stored = Counter((record.status_code, record.error_type) for record in found.all())
        calls = Counter((outcome.status, outcome.code) for outcome in outcomes)
        raise AssertionError(f"usage records {dict(stored)} for calls {dict(calls)}") from None
    assert len(records) == len(outcomes)
    assert Counter(record.status_code for record in records) == Counter(
        outcome.status for outcome in outcomes
    )
    forwarded = [outcome.request_id for outcome in outcomes if outcome.request_id]
    assert sorted(forwarded) == sorted(
        record.request_id for record in records if record.request_id in set(forwarded)
    )
    rollups = UsageRollup.objects.filter(model_api_name=model_api_name)
    assert rollups.aggregate(requests=Sum("requests"))["requests"] == len(outcomes)


@pytest.fixture
def rate_limited_model_api(acme_model_api, actor, fresh_counters):
    """`acme`'s "my-gpt" with a rate limit far above the test's calls: every call is
    checked against the policy counters in Redis."""
    from models_api.policies import services as policy_services

    policy_services.policy_create(
        workspace=acme_model_api.workspace,
        name="generous-rate",
        actor=actor,
        type="rateLimit",
        requests_per_minute=100_000,
    )
    policy_services.model_api_set_policies(
        model_api=acme_model_api, policy_names=["generous-rate"], actor=actor
    )
    return acme_model_api


# --- Redis stopped and restarted under load -----------------------------------------------


@pytest.mark.parametrize("failure_mode", ["open", "closed"])
def test_calls_and_their_records_survive_redis_stopped_and_restarted_under_load(
    failure_mode, rate_limited_model_api, member_key, openai_clients, private_redis
):
    env = on_own_queues(private_redis.url, POLICY_FAILURE_MODE=failure_mode)
    # Supervised, as in production: the worker may exit when Redis goes away (see
    # `CeleryWorker`); the queue keeps the records until its next run.
    with celery_worker_on(beat=True, supervised=True, **env), run_asgi_server(**env) as server:
        client, _ = openai_clients(server, member_key)
        with CallLoad(client) as load:
            load.wait_for(6, phase="before")
            with private_redis.stopped():
                load.phase = "down"
                if failure_mode == "open":
                    load.wait_for(10, phase="down")  # admitted: policies fail open
                else:
                    load.wait_for(6, phase="down", status=503)
            load.phase = "after"
            load.wait_for(10, phase="after")
            outcomes = load.stop()
        assert_one_record_per_call(outcomes)  # while the worker runs

    statuses = Counter(outcome.status for outcome in outcomes)
    if failure_mode == "open":
        assert set(statuses) == {200}
    else:
        assert set(statuses) == {200, 503}
        refused = [outcome for outcome in outcomes if outcome.status == 503]
        assert {outcome.code for outcome in refused} == {"policy_check_unavailable"}
        assert all(outcome.phase != "after" for outcome in refused)
    assert all(outcome.complete for outcome in outcomes if outcome.status == 200)


# --- the Celery worker killed while it drains the usage queue -----------------------------

ROLLUP_TABLE = UsageRollup._meta.db_table


@contextmanager
def rollups_locked():
    """The rollup table locked against writes by this test: a drain blocks inside its
    write transaction (records inserted, rollups not yet)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {ROLLUP_TABLE} IN EXCLUSIVE MODE")
        yield


def drain_blocked_on_rollups() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation"
            " WHERE NOT pg_locks.granted AND pg_class.relname = %s"
            " AND pg_locks.database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())",
            [ROLLUP_TABLE],
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_mid_batch_loses_nothing_and_counts_nothing_twice(
    workspace, bare_model_api, private_redis, settings
):
    env = on_own_queues(
        private_redis.url, USAGE_DRAIN_BATCH_SIZE="200", USAGE_DRAIN_LOCK_SECONDS="2"
    )
    settings.USAGE_QUEUE_KEY = env["USAGE_QUEUE_KEY"]  # the keys below are the workers'
    model_api = bare_model_api(workspace)
    payloads = [record_payload(usage(model_api)) for _ in range(1000)]
    redis_client = private_redis.client()
    redis_client.rpush(queue.queue_key(), *(json.dumps(payload) for payload in payloads))

    # Killed inside its write transaction: the batch it moved stays in the processing
    # list, and nothing of it is in the database.
    with rollups_locked(), celery_worker_on(beat=True, **env) as worker:
        wait_until(drain_blocked_on_rollups, timeout=60)
        worker.kill()
    assert redis_client.llen(queue.processing_key()) == 200
    assert redis_client.llen(queue.queue_key()) == 800

    # Killed after its transaction committed, before it dropped the processing list
    # (Redis pauses its writes meanwhile): that batch will be written again.
    with celery_worker_on(beat=True, **env) as worker:
        with rollups_locked():
            wait_until(drain_blocked_on_rollups, timeout=60)
            redis_client.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
        try:
            wait_until(lambda: UsageRecord.objects.count() == 200, timeout=60)
            worker.kill()
        finally:
            redis_client.execute_command("CLIENT", "UNPAUSE")
    assert redis_client.llen(queue.processing_key()) == 200  # stored, but still there

    # A new worker writes the rest, and skips the records already stored.
    with celery_worker_on(beat=True, **env):
        wait_until(
            lambda: UsageRecord.objects.count() == 1000 and queue_empty(redis_client),
            timeout=60,
        )
    stored = set(UsageRecord.objects.values_list("request_id", flat=True))
    assert stored == {payload["request_id"] for payload in payloads}
    rollups = UsageRollup.objects.filter(model_api_name=model_api.name)
    assert rollups.aggregate(requests=Sum("requests"))["requests"] == 1000


def queue_empty(redis_client) -> bool:
    return not redis_client.llen(queue.queue_key()) and not redis_client.llen(
        queue.processing_key()
    )


# --- PostgreSQL stopped while the gateway is warm -----------------------------------------

PASSWORD = "a long test password 42"


def signed_in_console(server: str, email: str, password: str) -> httpx.Client:
    console = httpx.Client(base_url=server, timeout=30)
    console.get("/accounts/login/")
    signed_in = console.post(
        "/accounts/login/",
        data={"login": email, "password": password},
        headers={"X-CSRFToken": console.cookies["csrftoken"], "Referer": server},
    )
    assert signed_in.status_code == 302
    return console


def usage_in(database_url: str) -> tuple[list[tuple[str, int]], int]:
    """The usage records (request id, status) of a private database, and the requests its
    rollups count."""
    with psycopg.connect(database_url) as database:
        records = database.execute(
            f"SELECT request_id, status_code FROM {UsageRecord._meta.db_table}"
        ).fetchall()
        (counted,) = database.execute(
            f"SELECT coalesce(sum(requests), 0) FROM {ROLLUP_TABLE}"
        ).fetchone()
    return records, counted


def test_a_warm_gateway_serves_known_keys_while_postgresql_is_down_and_the_console_says_503(
    private_postgres, private_redis, fake_openai, openai_clients
):
    database_url = private_postgres.create_database()
    migrate(database_url)
    key = seed_workspace(
        database_url,
        provider_base_url=fake_openai.base_url,
        provider_key=fake_openai.key,
        password=PASSWORD,
    )
    env = on_own_queues(private_redis.url, DATABASE_URL=database_url)
    api_headers = {"Authorization": f"Bearer {key}", "X-Blaxel-Workspace": "acme"}
    with celery_worker_on(beat=True, supervised=True, **env), run_asgi_server(**env) as server:
        client, _ = openai_clients(server, key)
        console = signed_in_console(server, "ada@example.com", PASSWORD)
        assert console.get("/acme/models/").status_code == 200
        with CallLoad(client) as load:
            load.wait_for(6, phase="before")
            with private_postgres.stopped():
                load.phase = "down"
                load.wait_for(10, phase="down")
                page = console.get("/acme/models/")
                api = httpx.get(f"{server}/v0/models", headers=api_headers, timeout=30)
                ready = httpx.get(f"{server}/readyz", timeout=30)
                alive = httpx.get(f"{server}/healthz", timeout=30)
                unknown_key, _ = openai_clients(server, "bl_" + "x" * 43)
                unknown = call_once(unknown_key, streamed=False)
            load.phase = "after"
            load.wait_for(6, phase="after")
            outcomes = load.stop()
        assert console.get("/acme/models/").status_code == 200
        assert httpx.get(f"{server}/readyz", timeout=30).json()["status"] == "ready"
        # Every call's record arrives once the database is back (while the worker runs).
        records, counted = wait_until(
            lambda: (found := usage_in(database_url))[1] >= len(outcomes) and found, timeout=90
        )

    assert all(outcome.status == 200 and outcome.complete for outcome in outcomes)
    # The console: its "temporarily unavailable" page, not a 500 or a traceback.
    assert page.status_code == 503
    assert page.headers["retry-after"] == "30"
    assert page.headers["content-type"].startswith("text/html")
    assert "The console is temporarily unavailable" in page.text
    assert "Traceback" not in page.text and "OperationalError" not in page.text
    assert api.status_code == 503 and api.headers["retry-after"] == "30"
    assert api.json()["error"] == "service_unavailable" and api.json()["code"] == 503
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "down", "redis": "ok"}
    assert alive.status_code == 200
    # A key the gateway has not seen cannot be checked: 503, retried by the SDKs.
    assert (unknown.status, unknown.code) == (503, "service_unavailable")
    # Each call's record once.
    assert counted == len(outcomes)
    assert sorted(request_id for request_id, _ in records) == sorted(
        outcome.request_id for outcome in outcomes
    )
    assert {status for _, status in records} == {200}


# --- SIGTERM with streams in flight --------------------------------------------------------


def stream_until_the_end(client, first_chunk: threading.Event) -> tuple[str, str, bool]:
    """A streamed call: (its request id, the text relayed, whether it ended normally)."""
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=PROMPT, stream=True
    )
    parts = []
    try:
        for chunk in raw.parse():
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
                first_chunk.set()
    except (openai.APIError, httpx.HTTPError):
        return raw.headers["x-blaxel-request-id"], "".join(parts), False
    return raw.headers["x-blaxel-request-id"], "".join(parts), True


def streams_through_sigterm(server_env: dict, client_for, streams: int):
    """Start `streams` streamed calls, stop the server (SIGTERM, then wait for it to
    exit) once each has received its first chunk; returns what each client got."""
    started = [threading.Event() for _ in range(streams)]
    with ThreadPoolExecutor(streams) as pool:
        with run_asgi_server(**server_env) as server:
            calls = [
                pool.submit(stream_until_the_end, client_for(server), event) for event in started
            ]
            for event in started:
                assert event.wait(timeout=60)
            assert not any(call.done() for call in calls)  # all in flight
            # Leaving the block: SIGTERM to the server, which must exit within 10 s.
        return [call.result(timeout=60) for call in calls]


def test_streams_in_flight_at_sigterm_finish_within_the_grace_period_and_are_recorded(
    acme_model_api, member_key, openai_clients, fake_openai
):
    fake_openai.configure(chunk_count=20, chunk_delay=0.15)  # each stream lasts about 3 s
    results = streams_through_sigterm(
        {"UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN": "8"},
        lambda server: openai_clients(server, member_key)[0],
        streams=4,
    )

    assert all(complete for _, _, complete in results)
    assert all(len(text.split()) == 20 for _, text, _ in results)  # every word relayed
    records = wait_for_usage_records(4, model_api_name="my-gpt")
    assert sorted(record.request_id for record in records) == sorted(
        request_id for request_id, _, _ in results
    )
    assert {(r.status_code, r.streamed, r.error_type, r.output_tokens) for r in records} == {
        (200, True, "", 20)
    }


def test_a_stream_longer_than_the_grace_period_is_cut_and_still_recorded(
    acme_model_api, member_key, openai_clients, fake_openai
):
    fake_openai.configure(chunk_count=60, chunk_delay=1.0)  # a minute: beyond the grace
    ((request_id, text, complete),) = streams_through_sigterm(
        {"UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN": "1"},
        lambda server: openai_clients(server, member_key)[0],
        streams=1,
    )

    assert not complete and 0 < len(text.split()) < 60
    (record,) = wait_for_usage_records(1, model_api_name="my-gpt")
    assert record.request_id == request_id
    assert (record.status_code, record.error_type) == (200, "server_shutdown")
    # Estimated: one token per text delta relayed (the last may not have reached the client).
    assert record.tokens_estimated
    assert len(text.split()) <= record.output_tokens <= len(text.split()) + 1
