"""Versioned invalidation of the processes' local copies (`blaxel_console.cache_versions`):
a write's bump reaches the shared cache only once the write is committed."""

import pytest
from django.db import transaction

from blaxel_console import cache_versions

pytestmark = pytest.mark.django_db

ACCESS, ROUTING = cache_versions.ACCESS, cache_versions.ROUTING


def test_bump_gives_the_namespace_a_new_version():
    before = cache_versions.current(ACCESS)
    cache_versions.bump(ACCESS)
    assert cache_versions.current(ACCESS) != before


def test_bump_on_commit_waits_for_the_commit(django_capture_on_commit_callbacks):
    before = cache_versions.current(ROUTING)
    with django_capture_on_commit_callbacks() as callbacks:
        cache_versions.bump_on_commit(ROUTING)
    # Not yet: another process would reload the rows as they were before the write.
    assert cache_versions.current(ROUTING) == before
    for callback in callbacks:  # the commit
        callback()
    assert cache_versions.current(ROUTING) != before


def test_bump_on_commit_bumps_only_its_namespace(django_capture_on_commit_callbacks):
    access_before = cache_versions.current(ACCESS)
    routing_before = cache_versions.current(ROUTING)
    with django_capture_on_commit_callbacks(execute=True):
        cache_versions.bump_on_commit(ROUTING)
    assert cache_versions.current(ROUTING) != routing_before
    assert cache_versions.current(ACCESS) == access_before


def test_a_rolled_back_write_bumps_nothing(django_capture_on_commit_callbacks):
    before = cache_versions.current(ACCESS)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        cache_versions.bump_on_commit(ACCESS)
        raise RuntimeError("the write failed")
    assert callbacks == []
    assert cache_versions.current(ACCESS) == before
