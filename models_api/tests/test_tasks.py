"""The deploy check as queued by the services: eagerly in the embedded mode, by a real
Celery worker when REDIS_URL is set (committed data, so transactional tests)."""

import pytest

from blaxel_console.testing.waiting import wait_until
from models_api.models import ModelAPI
from models_api.services import model_api_update

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("settled_background_work"),
]


def status_of(model_api) -> str:
    return ModelAPI.objects.values_list("status", flat=True).get(pk=model_api.pk)


def test_creating_queues_the_check_that_deploys_it(make_model_api):
    model_api = make_model_api(model="gpt-4o")
    wait_until(lambda: status_of(model_api) == "DEPLOYED", timeout=30)
    messages = list(model_api.events.values_list("status", "message"))
    assert messages[0][0] == "DEPLOYING"
    assert messages[-1][0] == "DEPLOYED" and "gpt-4o" in messages[-1][1]


def test_an_unknown_model_fails_with_an_event_saying_why(make_model_api, retiring_model, actor):
    retiring_model("gpt-unknown-1")
    model_api = make_model_api(model="gpt-unknown-1", enabled=False)
    retiring_model.retire()
    model_api_update(model_api=model_api, actor=actor, enabled=True)
    wait_until(lambda: status_of(model_api) == "FAILED", timeout=30)
    event = model_api.events.order_by("time", "id").last()
    assert event.status == "FAILED"
    assert "Unknown model" in event.message and "gpt-unknown-1" in event.message


def test_re_enabling_queues_a_new_check(make_model_api, actor):
    model_api = make_model_api(enabled=False)
    assert status_of(model_api) == "DEACTIVATED"
    model_api_update(model_api=model_api, actor=actor, enabled=True)
    wait_until(lambda: status_of(model_api) == "DEPLOYED", timeout=30)
