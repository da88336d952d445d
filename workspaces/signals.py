"""Receivers of the workspaces app, connected in `WorkspacesConfig.ready`, and the
signal it sends to the apps above it."""

from django.db import transaction
from django.dispatch import Signal

from blaxel_console import cache_versions


def user_saved(sender, instance, update_fields=None, using=None, **kwargs) -> None:
    """A deactivated user's keys stop working everywhere within seconds, as a revoked
    key does: the gateway keeps key answers in memory until the ACCESS version changes.

    Any save that leaves the user inactive bumps it (there is no cheap way to know the
    old value); that is rare, and costs only a reload of the gateway's caches."""
    if instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    transaction.on_commit(lambda: cache_versions.bump(cache_versions.ACCESS), using=using)


def user_deleted(sender, instance, using=None, **kwargs) -> None:
    """A deleted user's keys go with them; every process must forget them at once."""
    transaction.on_commit(lambda: cache_versions.bump(cache_versions.ACCESS), using=using)


# Sent by `workspace_delete` (keyword `workspace`) inside its transaction, before the
# workspace row goes: an app whose objects protect one another from deletion (a model
# API's link protects its connection) deletes them in an order that works. The apps are
# above this one, so they listen rather than being called.
workspace_deleting = Signal()
