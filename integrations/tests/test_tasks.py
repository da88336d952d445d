"""The validation task against the local fake OpenAI server (real wire format): a valid
key, a wrong key (the provider's message, without the key), the provider down (invalid,
then checked again after the backoff), and the periodic catalog refresh.

Transactional: with a broker configured the checks run in a real Celery worker, which
only sees committed rows; `wait_until` waits for it (in the embedded mode the task has
already run eagerly when the transaction committed)."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from blaxel_console.testing.waiting import wait_until
from integrations import catalog, services, tasks
from integrations.models import IntegrationConnection

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_KEY = "sk-proj-WrongKeyForTests000000000zz99"


def settled(connection_id: int) -> IntegrationConnection | None:
    connection = IntegrationConnection.objects.get(pk=connection_id)
    return connection if connection.status != IntegrationConnection.Status.CHECKING else None


def test_valid_key_becomes_valid_and_warms_the_catalog(make_connection, fake_openai, caplog):
    caplog.set_level(logging.DEBUG)
    connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
    checked = wait_until(lambda: settled(connection.pk))
    assert checked.status == "valid"
    assert checked.status_message == "12 models available"
    assert checked.validated_at is not None
    calls = fake_openai.requests("/v1/models")
    assert len(calls) == 1
    assert calls[0]["headers"]["authorization"] == f"Bearer {fake_openai.key}"
    # The check's list is the cached catalog: reading it asks the provider nothing more.
    assert "gpt-4o-mini" in [model.id for model in catalog.catalog_for_connection(checked)]
    assert len(fake_openai.requests("/v1/models")) == 1
    assert fake_openai.key not in caplog.text


def test_organization_and_project_are_sent(make_connection, fake_openai):
    connection = make_connection(
        key=fake_openai.key, base_url=fake_openai.base_url, organization="org-1", project="proj_2"
    )
    wait_until(lambda: settled(connection.pk))
    headers = fake_openai.requests("/v1/models")[0]["headers"]
    assert headers["openai-organization"] == "org-1"
    assert headers["openai-project"] == "proj_2"


def test_wrong_key_is_invalid_with_the_providers_message(make_connection, fake_openai):
    connection = make_connection(key=WRONG_KEY, base_url=fake_openai.base_url)
    checked = wait_until(lambda: settled(connection.pk))
    assert checked.status == "invalid"
    assert checked.status_message.startswith("Incorrect API key provided: sk-…zz99.")
    # OpenAI quotes the rejected key half-masked; not even that part is kept.
    assert WRONG_KEY[:8] not in checked.status_message
    assert checked.next_check_at is None  # a refused key is not retried


def test_provider_down_is_invalid_then_checked_again(make_connection, fake_openai):
    with fake_openai.stopped():
        connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
        checked = wait_until(lambda: settled(connection.pk))
        assert checked.status == "invalid"
        assert checked.status_message.startswith("unreachable")
        assert checked.check_attempts == 1
        assert checked.next_check_at > timezone.now()
        # Not due yet: nothing is queued.
        assert tasks.recheck_due_connections() == 0

    # The provider is back and the backoff has elapsed: the periodic task checks again.
    IntegrationConnection.objects.filter(pk=connection.pk).update(
        next_check_at=timezone.now() - timedelta(seconds=1)
    )
    assert tasks.recheck_due_connections() == 1
    wait_until(lambda: IntegrationConnection.objects.get(pk=connection.pk).status == "valid")
    rechecked = IntegrationConnection.objects.get(pk=connection.pk)
    assert rechecked.check_attempts == 0 and rechecked.next_check_at is None


def test_backoff_doubles_up_to_an_hour():
    assert [tasks.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert tasks.retry_delay(30) == timedelta(hours=1)


def test_second_unreachable_check_waits_longer(make_connection, fake_openai):
    with fake_openai.stopped():
        connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
        wait_until(lambda: settled(connection.pk))
        tasks.validate_connection(connection.pk, connection.secret_version)
        again = IntegrationConnection.objects.get(pk=connection.pk)
    assert again.check_attempts == 2
    assert again.next_check_at - timezone.now() > timedelta(seconds=45)


def test_an_outdated_check_does_not_overwrite_a_newer_key(make_connection, fake_openai, actor):
    connection = make_connection(key=WRONG_KEY, base_url=fake_openai.base_url)
    wait_until(lambda: settled(connection.pk))
    services.integration_connection_update(
        connection=connection, actor=actor, secret={"apiKey": fake_openai.key}
    )
    wait_until(lambda: IntegrationConnection.objects.get(pk=connection.pk).status == "valid")
    # A late check of version 1 (the wrong key) arrives now: ignored.
    tasks.validate_connection(connection.pk, 1)
    assert IntegrationConnection.objects.get(pk=connection.pk).status == "valid"


def pending_settled(connection_id: int) -> IntegrationConnection | None:
    connection = IntegrationConnection.objects.get(pk=connection_id)
    return connection if connection.pending_status != "checking" else None


def test_a_refused_new_key_never_replaces_the_working_one(make_connection, fake_openai, actor):
    connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
    wait_until(lambda: settled(connection.pk))
    services.integration_connection_update(
        connection=connection, actor=actor, secret={"apiKey": WRONG_KEY}
    )
    checked = wait_until(lambda: pending_settled(connection.pk))
    # Before, the wrong key replaced the working one at once and the connection turned
    # invalid; now the working key stays, and the page says why the new one was refused.
    assert (checked.status, checked.pending_status) == ("valid", "rejected")
    assert checked.secret_values == {"apiKey": fake_openai.key}
    assert checked.pending_message.startswith("Incorrect API key provided")
    assert WRONG_KEY not in checked.pending_message
    keys_seen = [r["headers"]["authorization"] for r in fake_openai.requests("/v1/models")]
    assert keys_seen == [f"Bearer {fake_openai.key}", f"Bearer {WRONG_KEY}"]


def test_an_accepted_new_key_replaces_the_old_one_and_warms_its_catalog(
    make_connection, fake_openai, actor
):
    connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
    wait_until(lambda: settled(connection.pk))
    services.integration_connection_update(
        connection=connection, actor=actor, secret={"apiKey": fake_openai.second_key}
    )
    replaced = wait_until(lambda: pending_settled(connection.pk))
    assert replaced.secret_values == {"apiKey": fake_openai.second_key}
    assert (replaced.status, replaced.pending_status, replaced.secret_version) == ("valid", "", 2)
    catalog.catalog_for_connection(replaced)
    assert len(fake_openai.requests("/v1/models")) == 2  # the check's list is the catalog


def test_periodic_refresh_fetches_again_and_notices_a_revoked_key(make_connection, fake_openai):
    connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
    wait_until(lambda: settled(connection.pk))
    fake_openai.configure(models=["gpt-4o", "gpt-5"])
    assert tasks.refresh_catalogs() == 1
    wait_until(lambda: len(fake_openai.requests("/v1/models")) == 2)
    wait_until(
        lambda: [m.id for m in catalog.catalog_for_connection(connection)] == ["gpt-4o", "gpt-5"]
    )
    # The key is revoked at the provider: the next refresh marks the connection invalid.
    fake_openai.configure(keys=["sk-some-other-key"])
    tasks.refresh_catalogs()
    wait_until(lambda: IntegrationConnection.objects.get(pk=connection.pk).status == "invalid")


def test_refresh_during_an_outage_keeps_status_and_list(make_connection, fake_openai):
    connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
    wait_until(lambda: settled(connection.pk))
    with fake_openai.stopped():
        tasks.refresh_catalog(connection.pk)
        assert IntegrationConnection.objects.get(pk=connection.pk).status == "valid"
        assert catalog.catalog_snapshot(connection).live


def test_unsafe_base_url_at_call_time_is_invalid(make_connection, fake_openai, settings):
    connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
    wait_until(lambda: settled(connection.pk))
    # The deployment stops allowing loopback: the next check refuses to call it.
    settings.UPSTREAM_ALLOWED_HOSTS = []
    tasks.validate_connection(connection.pk, connection.secret_version)
    checked = IntegrationConnection.objects.get(pk=connection.pk)
    assert checked.status == "invalid"
    assert "loopback" in checked.status_message
    assert len(fake_openai.requests("/v1/models")) == 1


def test_a_check_that_could_not_be_queued_is_picked_up_later(
    make_connection, fake_openai, monkeypatch, caplog
):
    def broker_down(*args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.validate_connection, "delay", broker_down)
    connection = make_connection(key=fake_openai.key, base_url=fake_openai.base_url)
    stuck = IntegrationConnection.objects.get(pk=connection.pk)
    assert stuck.status == "checking" and stuck.next_check_at is not None
    assert "could not queue the check" in caplog.text

    monkeypatch.undo()
    assert tasks.recheck_due_connections() == 1
    wait_until(lambda: IntegrationConnection.objects.get(pk=connection.pk).status == "valid")
