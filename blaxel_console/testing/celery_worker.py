"""A real Celery worker for the session when a broker is configured (the PostgreSQL +
Redis leg); in the embedded default, tasks run eagerly in the test process."""

import subprocess
import sys

import pytest
from django.conf import settings

from .run import CELERY_QUEUE, ROOT, VAR_DIR
from .servers import stop_process, subprocess_env


@pytest.fixture(scope="session", autouse=True)
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker on the test database when a broker is configured; nothing
    in the embedded default (tasks run eagerly)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        yield None
        return
    log = (VAR_DIR / "celery-worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "blaxel_console", "worker",
         "--loglevel=INFO", "--concurrency=2", "--pool=threads", "-Q", CELERY_QUEUE,
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield process
    finally:
        stop_process(process, timeout=15)
        log.close()
