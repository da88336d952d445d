"""Usage records, counters and the usage queue for the tests of usage and policies (usage
pipeline, policies, metrics, screens): fixtures, and helpers imported by name."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from .waiting import wait_until


@pytest.fixture
def fresh_counters():
    """Rate-limit and token counters outlive a test's database; start the test clean and
    leave nothing behind. Test modules that count take it for every test
    (`pytestmark = pytest.mark.usefixtures("fresh_counters")`)."""
    from models_api.policies import enforcement

    enforcement.reset_counters()
    yield
    enforcement.reset_counters()


@pytest.fixture
def usage_written_before_teardown(transactional_db):
    """With Redis, a Celery worker writes the server's usage records a moment after the
    call; a write racing the emptying of the database after the test deadlocks it. This
    fixture is torn down after the server stops and before the database is emptied: it
    writes whatever is still queued and waits for a running drain to end. Test modules
    calling a live gateway take it for every test
    (`pytest.mark.usefixtures("usage_written_before_teardown")`)."""
    yield
    from models_api.usage import services as usage_services

    usage_services.flush(timeout=30)


def wait_for_usage_records(count: int, **filters) -> list:
    """Wait until the server wrote `count` usage records (it writes after answering);
    returns them oldest first."""
    from models_api.usage.models import UsageRecord

    return wait_until(
        lambda: (
            found
            if len(found := list(UsageRecord.objects.filter(**filters).order_by("time", "id")))
            == count
            else None
        )
    )


@pytest.fixture
def recent_minute():
    """A whole minute well inside the retention window."""
    return (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)


@pytest.fixture
def isolated_usage_queue(settings):
    """A usage queue of this test only (the session's Celery worker never drains it)."""
    settings.USAGE_QUEUE_KEY = f"usage-test-{uuid.uuid4().hex[:8]}"
    yield settings.USAGE_QUEUE_KEY
    if settings.REDIS_URL:
        from blaxel_console import redis
        from models_api.usage.queue import lock_key, processing_key, queue_key

        redis.sync_client().delete(queue_key(), processing_key(), lock_key())


@pytest.fixture
def bare_model_api():
    """`bare_model_api(workspace, name=...)`: a deployed model API row, without connections
    (enough for usage, metrics and policies)."""
    from integrations.models import IntegrationConnection
    from models_api.models import ModelAPI, ModelAPIConnection

    def make(workspace, name="my-gpt", model="gpt-4o-mini", connected=False, **fields):
        model_api = ModelAPI.objects.create(
            workspace=workspace,
            name=name,
            display_name=fields.pop("display_name", name),
            runtime_type="openai",
            runtime_model=model,
            status=ModelAPI.Status.DEPLOYED,
            **fields,
        )
        if connected:  # a connection row only; nothing here calls a provider
            connection, _ = IntegrationConnection.objects.get_or_create(
                workspace=workspace,
                name="openai-main",
                defaults={
                    "integration": "openai",
                    "config": {"baseUrl": "http://127.0.0.1:9/v1"},
                    "secret": json.dumps({"apiKey": "sk-test-not-used"}),
                    "status": IntegrationConnection.Status.VALID,
                },
            )
            ModelAPIConnection.objects.create(
                model_api=model_api, connection=connection, position=0
            )
        return model_api

    return make


@pytest.fixture
def daily_cap(workspace, actor):
    """`acme`'s policy "daily-cap": 100,000 total tokens a day."""
    from models_api.policies import services as policy_services

    return policy_services.policy_create(
        workspace=workspace,
        name="daily-cap",
        actor=actor,
        type="maxToken",
        granularity="day",
        max_total_tokens=100000,
    )


def usage(model_api, *, when=None, status=200, latency=100.0, ttfb=None, tokens=(0, 0), **extra):
    """A usage record payload for `model_api` (what the gateway hands the pipeline)."""
    input_tokens, output_tokens = tokens
    return {
        "request_id": extra.pop("request_id", uuid.uuid4().hex),
        "time": when or datetime.now(UTC),
        "workspace_id": model_api.workspace_id,
        "model_api_id": model_api.pk,
        "model_api_name": model_api.name,
        "caller": extra.pop("caller", "ada@example.com"),
        "api_key_prefix": extra.pop("api_key_prefix", "bl_abcdefgh"),
        "path": extra.pop("path", "v1/chat/completions"),
        "status_code": status,
        "latency_ms": latency,
        "ttfb_ms": ttfb,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "streamed": extra.pop("streamed", False),
        "error_type": extra.pop("error_type", ""),
        "connection_name": extra.pop("connection_name", "openai-main"),
        "provider": extra.pop("provider", model_api.runtime_type),
        "model": extra.pop("model", model_api.runtime_model),
        "cached_input_tokens": extra.pop("cached_input_tokens", 0),
    }


def redis_required():
    """Mark a test that needs Redis (skipped in the embedded default)."""
    return pytest.mark.skipif(
        not settings.REDIS_URL,
        reason="needs Redis: the durable queue / shared counters are the point",
    )
