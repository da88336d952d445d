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


def test_model_apis_follow_their_connection_invalid_and_back(
    make_model_api, openai_connection, fake_openai, actor, member_api
):
    from integrations import tasks as integration_tasks
    from integrations.services import integration_connection_recheck

    model_api = make_model_api(model="gpt-4o")
    wait_until(lambda: status_of(model_api) == "DEPLOYED", timeout=30)
    # The provider revokes the key: the next check turns the connection invalid, and the
    # model API it serves FAILED with the reason (before: it still said DEPLOYED).
    fake_openai.configure(keys=["sk-some-other-key"])
    integration_tasks.refresh_catalog(openai_connection.pk)
    wait_until(lambda: status_of(model_api) == "FAILED", timeout=30)
    event = model_api.events.order_by("time", "id").last()
    assert event.type == "Connection" and "refused the key" in event.message
    assert "Incorrect API key provided" in event.message and fake_openai.key not in event.message
    listed = member_api.get("/v0/models/my-gpt").json()
    assert listed["status"] == "FAILED"
    # The key works again: the connection is valid, the model API is checked and deployed.
    fake_openai.configure(keys=[fake_openai.key])
    integration_connection_recheck(connection=openai_connection, actor=actor)
    wait_until(lambda: status_of(model_api) == "DEPLOYED", timeout=30)
    assert member_api.get("/v0/models/my-gpt").json()["status"] == "DEPLOYED"


def test_a_model_api_on_a_connection_whose_key_was_refused_is_refused(
    make_connection, fake_openai, workspace, actor
):
    from django.core.exceptions import ValidationError

    from integrations.models import IntegrationConnection
    from models_api.services import model_api_create

    connection = make_connection("bad-key", key="sk-wrong-key-0000", base_url=fake_openai.base_url)
    wait_until(
        lambda: IntegrationConnection.objects.get(pk=connection.pk).status == "invalid", timeout=30
    )
    connection.refresh_from_db()
    with pytest.raises(ValidationError, match="is Invalid") as refused:
        model_api_create(
            workspace=workspace, name="x", connections=[connection], model="gpt-4o", actor=actor
        )
    assert "connections" in refused.value.message_dict
    assert not ModelAPI.objects.exists()
