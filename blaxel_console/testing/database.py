"""The test database as other processes reach it, the connections this process leaves
on it, and the in-process cache that outlives each test's data."""

from urllib.parse import quote

import pytest
from django.conf import settings


def test_database_url() -> str:
    """A DATABASE_URL for the test database (valid once the test database exists)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    credentials = quote(database.get("USER") or "")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"])
    host = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
    return f"postgres://{credentials}@{host}/{database['NAME']}"


# A helper, not a test, despite its name (pytest collects `test_*` functions imported
# into a test module).
test_database_url.__test__ = False


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left_on_the_test_database(django_db_setup, django_db_blocker):
    """Threads of this process (the gateway's cache loader, the usage writer) keep their
    own database connections; on PostgreSQL they would stop the test database from being
    dropped at the end of the session."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _clear_local_cache():
    """The in-process cache outlives a test's database; clear it (Redis keys are
    namespaced per run instead)."""
    from django.core.cache import cache

    if not settings.REDIS_URL:
        cache.clear()
    yield
