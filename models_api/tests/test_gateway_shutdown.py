"""A live gateway stopping (the ASGI lifespan shutdown) still sends the usage records
it held in its buffer to the Redis queue."""

import json
import time
import uuid

import pytest
from django.conf import settings as django_settings

from blaxel_console import redis
from blaxel_console.testing.servers import run_asgi_server
from models_api.usage import queue

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("usage_written_before_teardown")]

PROMPT = "Say hello to me"  # four words: four prompt tokens for the fake


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="needs Redis: the gateway buffers records for it"
)
def test_a_stopped_gateway_sends_the_usage_records_it_still_held(
    acme_model_api, member_key, openai_clients, settings
):
    settings.USAGE_QUEUE_KEY = f"usage-test-{uuid.uuid4().hex[:8]}"  # this test's queue
    server_env = {
        "USAGE_QUEUE_KEY": settings.USAGE_QUEUE_KEY,
        "GATEWAY_USAGE_FLUSH_SECONDS": "3600",  # the buffer is sent only at shutdown
    }
    try:
        with run_asgi_server(**server_env) as server:
            client, _ = openai_clients(server, member_key)
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
            )
            time.sleep(0.5)
            assert queue.queue_depth() == 0  # still in the gateway's buffer
        # Leaving the block stopped the server (SIGTERM: the ASGI lifespan shutdown).
        (queued,) = redis.sync_client().lrange(queue.queue_key(), 0, -1)
        assert json.loads(queued)["model_api_name"] == "my-gpt"
    finally:
        redis.sync_client().delete(queue.queue_key(), queue.trigger_key())
