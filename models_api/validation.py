"""Validation of a model API's fields beyond what the model declares: labels, its
connections (of this workspace, one provider), the model. Raise Django's
`ValidationError` keyed by the service's argument names."""

from collections.abc import Sequence

from django.core.exceptions import ValidationError

from integrations.models import IntegrationConnection
from integrations.providers import get_provider
from workspaces.models import Workspace

MAX_LABELS = 64
MAX_LABEL_KEY_LENGTH = 63
MAX_LABEL_VALUE_LENGTH = 255


def validate_labels(labels) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise ValidationError({"labels": "Labels must be an object of string keys and values."})
    if len(labels) > MAX_LABELS:
        raise ValidationError({"labels": f"At most {MAX_LABELS} labels."})
    for key, value in labels.items():
        if not isinstance(key, str) or not key or len(key) > MAX_LABEL_KEY_LENGTH:
            raise ValidationError(
                {"labels": f"Label keys are non-empty strings of at most {MAX_LABEL_KEY_LENGTH} "
                 "characters."}
            )  # fmt: skip
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE_LENGTH:
            raise ValidationError(
                {"labels": f"Label “{key}”: values are strings of at most "
                 f"{MAX_LABEL_VALUE_LENGTH} characters."}
            )  # fmt: skip
    return dict(labels)


def validate_connections(
    *, workspace: Workspace, connections: Sequence[IntegrationConnection]
) -> str:
    """Checks the connection list and returns the provider id they share."""
    if not connections:
        raise ValidationError({"connections": "Choose at least one integration connection."})
    seen: set[int] = set()
    for connection in connections:
        if connection.workspace_id != workspace.pk:
            # Never say that the connection exists elsewhere.
            raise ValidationError(
                {"connections": f"No integration connection “{connection.name}” in this workspace."}
            )
        if connection.pk in seen:
            raise ValidationError(
                {"connections": f"The connection “{connection.name}” is listed twice."}
            )
        seen.add(connection.pk)
    provider_ids = {connection.integration for connection in connections}
    if len(provider_ids) > 1:
        raise ValidationError(
            {"connections": "All connections of a model API must be of the same provider "
             f"(got {', '.join(sorted(provider_ids))})."}
        )  # fmt: skip
    provider_id = provider_ids.pop()
    if get_provider(provider_id) is None:
        raise ValidationError({"connections": f"Unknown provider “{provider_id}”."})
    return provider_id


def validate_model(model) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ValidationError({"model": "Choose the provider's model to call."})
    return model.strip()


def validate_usable(connections: Sequence[IntegrationConnection]) -> None:
    """A model API may not start using a connection whose key was refused (or whose
    provider cannot be reached): its calls would all fail."""
    for connection in connections:
        if not connection.is_usable:
            reason = connection.status_message or "its key was refused"
            raise ValidationError(
                {"connections": f"The connection “{connection.name}” is Invalid ({reason}). "
                 "Fix its key or choose another connection."}
            )  # fmt: skip


def validate_model_in_catalog(connection: IntegrationConnection, model: str) -> None:
    """The model must be in the connection's catalog; a close match is suggested ("did
    you mean gpt-4o?"). When the provider cannot be asked and the model is not in the
    built-in table, the model is let through: the deploy check decides."""
    from integrations.catalog import catalog_snapshot, model_in_catalog
    from integrations.catalog_search import closest_model_id

    if model_in_catalog(connection, model) is not False:
        return
    provider = get_provider(connection.integration)
    provider_name = provider.display_name if provider else connection.integration
    message = f"“{model}” is not in the {provider_name} catalog of “{connection.name}”."
    suggestion = closest_model_id(catalog_snapshot(connection).by_id, model)
    if suggestion:
        message += f" Did you mean {suggestion}?"
    else:
        message += " Search the catalog and pick a model from it."
    raise ValidationError({"model": message})
