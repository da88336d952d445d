"""This run of the suite: its id, and the names derived from it that keep its test
database, cache keys and Celery queue apart from any other run on the same machine (or
on the same PostgreSQL and Redis)."""

import uuid
from pathlib import Path

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
