"""This run of the suite: its id, and the names derived from it that keep its test
database, cache keys and Celery queue apart from any other run on the same machine (or
on the same PostgreSQL and Redis)."""

import uuid
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
# Child processes' logs and the SQLite test database (git-ignored).
VAR_DIR = ROOT / "var"
RUN_ID = uuid.uuid4().hex[:8]
CACHE_KEY_PREFIX = f"test-{RUN_ID}"
CELERY_QUEUE = f"test-{RUN_ID}"


def pytest_configure(config):
    settings.CACHES["default"]["KEY_PREFIX"] = CACHE_KEY_PREFIX
    from blaxel_console.celery import app

    app.conf.task_default_queue = CELERY_QUEUE
    database = settings.DATABASES["default"]
    test_settings = database.setdefault("TEST", {})
    if database["ENGINE"].endswith("sqlite3"):
        test_settings["NAME"] = str(VAR_DIR / f"test-db-{RUN_ID}.sqlite3")
    else:
        test_settings["NAME"] = f"test_{database['NAME']}_{RUN_ID}"


def on_production_services() -> bool:
    """This run uses PostgreSQL and Redis (CI's second leg), not the embedded default."""
    database = settings.DATABASES["default"]
    return bool(settings.REDIS_URL) and not database["ENGINE"].endswith("sqlite3")


def pytest_collection_modifyitems(config, items):
    """The fault suite stops, starts and starves real services and processes: it runs
    once, on the PostgreSQL + Redis leg, where those services are real."""
    if on_production_services():
        return
    skip = pytest.mark.skip(
        reason="the fault suite runs with DATABASE_URL (PostgreSQL) and REDIS_URL set"
    )
    for item in items:
        if "faults" in item.keywords:
            item.add_marker(skip)
