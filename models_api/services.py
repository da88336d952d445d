"""Writes for model APIs (DESIGN.md §6). Keyword-only, validated with `full_clean()`,
atomic, audited. Every write invalidates the gateway's cached routes on commit
(`cache_versions.bump(ROUTING)`), and every change that needs the model checked again
queues the deploy check (`tasks.model_api_deploy`) on commit.

Lifecycle: DEPLOYING → DEPLOYED | FAILED (set by the deploy check); `enabled=False` →
DEACTIVATED (the gateway refuses calls); re-enabling → DEPLOYING again.
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from blaxel_console import cache_versions
from integrations.models import IntegrationConnection
from workspaces.models import Workspace
from workspaces.principals import Principal
from workspaces.services import Conflict, audit_log_record, save_new_or_conflict

from .deployment import EventType, add_event, start_deploy_check
from .models import ModelAPI, ModelAPIConnection
from .policies.services import model_api_set_policies
from .validation import (
    validate_connections,
    validate_labels,
    validate_model,
    validate_model_in_catalog,
    validate_usable,
)

# Names that would collide with the console's own pages under /<workspace>/models/.
RESERVED_NAMES = frozenset({"new"})

Status = ModelAPI.Status


def _set_connections(model_api: ModelAPI, connections: Sequence[IntegrationConnection]) -> None:
    model_api.connection_links.all().delete()
    ModelAPIConnection.objects.bulk_create(
        ModelAPIConnection(model_api=model_api, connection=connection, position=position)
        for position, connection in enumerate(connections)
    )


# --- services ------------------------------------------------------------------------------


@transaction.atomic
def model_api_create(
    *,
    workspace: Workspace,
    name: str,
    display_name: str = "",
    labels: dict | None = None,
    enabled: bool = True,
    connections: Sequence[IntegrationConnection],
    model: str,
    actor: Principal,
    policy_names: Sequence[str] | None = None,
) -> ModelAPI:
    """Create a model API on `connections` (in order: the first serves, the others are
    fallbacks; all of one provider, which becomes the runtime type) calling `model`,
    with the policies `policy_names` attached (the caller checks that the actor may
    attach policies).

    Enabled: status DEPLOYING and the deploy check is queued. Disabled: DEACTIVATED.
    Raises ValidationError for bad input (an unknown policy leaves nothing behind),
    Conflict when the name is taken.
    """
    if name in RESERVED_NAMES:
        raise ValidationError({"name": f"“{name}” is reserved; choose another name."})
    provider_id = validate_connections(workspace=workspace, connections=connections)
    validate_usable(connections)
    validate_model_in_catalog(connections[0], validate_model(model))
    model_api = ModelAPI(
        workspace=workspace,
        name=name,
        display_name=(display_name or "").strip() or name,
        labels=validate_labels(labels),
        enabled=bool(enabled),
        runtime_type=provider_id,
        runtime_model=validate_model(model),
        status=Status.DEPLOYING if enabled else Status.DEACTIVATED,
    )
    model_api.stamp(actor, created=True)
    model_api.full_clean(validate_constraints=False)
    save_new_or_conflict(
        model_api,
        duplicates=ModelAPI.objects.for_workspace(workspace).filter(name=name),
        message=f"A model API named “{name}” already exists in this workspace.",
    )
    _set_connections(model_api, connections)
    if model_api.enabled:
        start_deploy_check(model_api, connections[0])
    else:
        add_event(
            model_api,
            type=EventType.DEACTIVATION,
            status=Status.DEACTIVATED,
            message="Created disabled: the endpoint refuses calls until it is enabled.",
        )
    audit_log_record(
        workspace=workspace,
        actor=actor,
        action="model_api.create",
        target_type="model_api",
        target_label=name,
        changes={
            "model": model_api.runtime_model,
            "connections": [connection.name for connection in connections],
            "enabled": model_api.enabled,
        },
    )
    if policy_names:
        model_api_set_policies(model_api=model_api, policy_names=policy_names, actor=actor)
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return model_api


def _current_connections(model_api: ModelAPI) -> list[IntegrationConnection]:
    return [
        link.connection
        for link in ModelAPIConnection.objects.filter(model_api=model_api)
        .select_related("connection")
        .order_by("position")
    ]


def _apply_changes(model_api: ModelAPI, *, display_name, labels, enabled, model) -> dict:
    """Set the given fields (None = unchanged) on `model_api`; returns what changed as
    `{field: [before, after]}`."""
    wanted = {}
    if display_name is not None:
        wanted["display_name"] = display_name.strip() or model_api.name
    if labels is not None:
        wanted["labels"] = validate_labels(labels)
    if model is not None:
        wanted["runtime_model"] = validate_model(model)
    if enabled is not None:
        wanted["enabled"] = bool(enabled)
    changes = {}
    for field, value in wanted.items():
        if value != getattr(model_api, field):
            name = "model" if field == "runtime_model" else field
            changes[name] = [getattr(model_api, field), value]
            setattr(model_api, field, value)
    return changes


def _apply_connections(model_api: ModelAPI, current: list, connections) -> dict:
    """Replace the model API's connections (the provider becomes its runtime type)."""
    provider_id = validate_connections(workspace=model_api.workspace, connections=connections)
    if [c.pk for c in connections] == [c.pk for c in current]:
        return {}
    validate_usable([c for c in connections if c.pk not in {known.pk for known in current}])
    model_api.runtime_type = provider_id
    _set_connections(model_api, connections)
    return {"connections": [[c.name for c in current], [c.name for c in connections]]}


def _follow_lifecycle(model_api: ModelAPI, changes: dict, serving) -> None:
    """Disabled → DEACTIVATED; enabled with a new model or connections → a new check."""
    if not model_api.enabled:
        if "enabled" in changes:
            model_api.status = Status.DEACTIVATED
            add_event(
                model_api,
                type=EventType.DEACTIVATION,
                status=Status.DEACTIVATED,
                message="Disabled: the endpoint refuses calls until it is enabled again.",
            )
    elif changes.keys() & {"enabled", "model", "connections"}:
        start_deploy_check(model_api, serving)


@transaction.atomic
def model_api_update(
    *,
    model_api: ModelAPI,
    actor: Principal,
    display_name: str | None = None,
    labels: dict | None = None,
    enabled: bool | None = None,
    connections: Sequence[IntegrationConnection] | None = None,
    model: str | None = None,
    policy_names: Sequence[str] | None = None,
) -> ModelAPI:
    """Change what is given (None = unchanged); the name is immutable. `policy_names`:
    exactly these policies attached (the caller checks that the actor may).

    Disabling → DEACTIVATED (the endpoint refuses calls). Re-enabling, or changing the
    model or the connections of an enabled model API → DEPLOYING and a new check.
    """
    # Lock the row, then work on its current state: a deploy check finishing now (or a
    # concurrent edit) must neither be overwritten nor overwrite this change.
    ModelAPI.objects.select_for_update().filter(pk=model_api.pk).values("pk").get()
    model_api.refresh_from_db()
    if policy_names is not None:
        model_api_set_policies(model_api=model_api, policy_names=policy_names, actor=actor)
    current = _current_connections(model_api)
    changes = _apply_changes(
        model_api, display_name=display_name, labels=labels, enabled=enabled, model=model
    )
    if connections is not None:
        changes.update(_apply_connections(model_api, current, connections))
        current = list(connections)
    if not changes:
        return model_api
    if changes.keys() & {"model", "connections"}:
        validate_model_in_catalog(current[0], model_api.runtime_model)
    model_api.stamp(actor)
    model_api.full_clean(validate_constraints=False)
    _follow_lifecycle(model_api, changes, current[0])
    model_api.save()
    audit_log_record(
        workspace=model_api.workspace,
        actor=actor,
        action="model_api.update",
        target_type="model_api",
        target_label=model_api.name,
        changes=changes,
    )
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return model_api


@transaction.atomic
def model_api_check_again(*, model_api: ModelAPI, actor: Principal) -> ModelAPI:
    """Run the deploy check again (after a FAILED check, e.g. the provider was down)."""
    ModelAPI.objects.select_for_update().filter(pk=model_api.pk).values("pk").get()
    model_api.refresh_from_db()
    if not model_api.enabled:
        raise Conflict("This model API is disabled; enable it to check the model.")
    if model_api.status == Status.DEPLOYING:
        return model_api
    first_link = (
        ModelAPIConnection.objects.filter(model_api=model_api)
        .select_related("connection")
        .order_by("position")
        .first()
    )
    start_deploy_check(model_api, first_link.connection)
    model_api.stamp(actor)
    model_api.save(update_fields=["status", "updated_by", "updated_by_label", "updated_at"])
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return model_api


@transaction.atomic
def model_api_delete(*, model_api: ModelAPI, actor: Principal) -> None:
    """Delete the model API; its endpoint stops answering. Usage records are kept."""
    audit_log_record(
        workspace=model_api.workspace,
        actor=actor,
        action="model_api.delete",
        target_type="model_api",
        target_label=model_api.name,
        changes={"model": model_api.runtime_model},
    )
    model_api.delete()
    cache_versions.bump_on_commit(cache_versions.ROUTING)


def workspace_model_apis_delete(sender, *, workspace, **kwargs) -> None:
    """The model APIs of a workspace being deleted go first: their links protect the
    workspace's connections, which go with the workspace (`workspace_deleting`)."""
    ModelAPI.objects.for_workspace(workspace).delete()
    cache_versions.bump_on_commit(cache_versions.ROUTING)
