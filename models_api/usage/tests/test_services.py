"""`models_api.usage.record_usage`: queued, written in the background, never raising."""

import logging
import uuid

import pytest
from django.conf import settings
from django.utils import timezone

from models_api.usage import services as usage
from models_api.usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)


def a_record(workspace, **fields) -> UsageRecord:
    values = {
        "request_id": uuid.uuid4().hex,
        "time": timezone.now(),
        "workspace_id": workspace.pk,
        "model_api_name": "my-gpt",
        "caller": "max@example.com",
        "path": "v1/chat/completions",
        "status_code": 200,
        "latency_ms": 12.5,
        "input_tokens": 3,
        "output_tokens": 4,
        "total_tokens": 7,
    }
    values.update(fields)
    return UsageRecord(**values)


def test_records_are_written_in_the_background(workspace):
    records = [a_record(workspace) for _ in range(25)]
    for record in records:
        usage.record_call(record)
    assert usage.flush()
    stored = UsageRecord.objects.for_workspace(workspace)
    assert stored.count() == 25
    assert {row.request_id for row in stored} == {record.request_id for record in records}


def test_the_same_call_is_stored_once(workspace):
    record = a_record(workspace)
    usage.record_call(record)
    usage.record_call(a_record(workspace, request_id=record.request_id))
    assert usage.flush()
    assert UsageRecord.objects.filter(request_id=record.request_id).count() == 1


def test_a_record_the_database_refuses_is_logged_and_the_others_kept(workspace, caplog):
    good = a_record(workspace)
    orphan = a_record(workspace, workspace_id=workspace.pk + 10_000)  # no such workspace
    with caplog.at_level(logging.WARNING):
        usage.record_call(orphan)  # must not raise
        usage.record_call(good)
        assert usage.flush()
    assert UsageRecord.objects.filter(request_id=good.request_id).exists()
    assert not UsageRecord.objects.filter(request_id=orphan.request_id).exists()
    if not settings.REDIS_URL:
        # Embedded: written in this process, so logged here. With Redis the pipeline's
        # drain may run in the Celery worker, which logs it there.
        assert orphan.request_id in caplog.text
