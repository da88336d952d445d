"""Celery tasks of usage: drain the Redis usage queue, purge what is past retention.

Their names are kept from before usage was an app of its own, so that the beat schedule
and any task already queued keep working."""

from celery import shared_task
from django.utils.dateparse import parse_datetime

from . import queue, storage


@shared_task(name="models_api.drain_usage_queue", ignore_result=True)
def drain_usage_queue(max_batches: int = 50, requested: bool = False) -> int:
    """Write queued usage records (see `queue.drain`); returns how many were written."""
    return queue.drain(max_batches=max_batches, requested=requested)


@shared_task(name="models_api.purge_old_usage", ignore_result=True)
def purge_old_usage(now: str | None = None) -> dict:
    """Delete records and rollups past their retention (`USAGE_RETENTION_DAYS`,
    `USAGE_ROLLUP_RETENTION_DAYS`). `now`: an ISO 8601 time (tests)."""
    return storage.purge_old_usage(parse_datetime(now) if now else None)
