"""The deploy check's outcomes and a model API's status following its serving
connection: a connection whose key is refused (or whose provider cannot be reached)
turns the model APIs it serves FAILED with the reason; valid again, they are checked
again and come back DEPLOYED. Every status change bumps the gateway's cached routes."""

from django.db import transaction

from blaxel_console import cache_versions
from integrations.models import IntegrationConnection
from integrations.providers import get_provider

from .models import ModelAPI, ModelAPIConnection, ModelAPIEvent

Status = ModelAPI.Status
ConnectionStatus = IntegrationConnection.Status


class EventType:
    DEPLOYMENT = "Deployment"
    DEACTIVATION = "Deactivation"
    CONNECTION = "Connection"


def add_event(model_api: ModelAPI, *, type: str, status: str, message: str) -> ModelAPIEvent:
    return ModelAPIEvent.objects.create(
        model_api=model_api, type=type, status=status, message=message
    )


def start_deploy_check(model_api: ModelAPI, connection: IntegrationConnection) -> None:
    model_api.status = Status.DEPLOYING
    add_event(
        model_api,
        type=EventType.DEPLOYMENT,
        status=Status.DEPLOYING,
        message=f"Checking that the model “{model_api.runtime_model}” is available through "
        f"the connection “{connection.name}”.",
    )
    model_api_id = model_api.pk
    transaction.on_commit(lambda: _queue_deploy_check(model_api_id))


def _queue_deploy_check(model_api_id: int) -> None:
    from .tasks import model_api_deploy  # the task module imports this one

    model_api_deploy.delay(model_api_id)


@transaction.atomic
def model_api_record_deploy_result(
    *,
    model_api_id: int,
    checked_model: str,
    checked_connection_id: int,
    available: bool | None,
    reason: str = "",
) -> ModelAPI | None:
    """Store the outcome of a deploy check: DEPLOYED when the model is available, FAILED
    with an event saying why when it is not (`available=False`: not in the catalog;
    None: the provider could not be asked, `reason` says why).

    Ignored when the model API changed since the check started (a newer check is queued)
    or was deleted.
    """
    model_api = (
        ModelAPI.objects.select_for_update().select_related("workspace").filter(pk=model_api_id)
    ).first()
    if model_api is None or model_api.status != Status.DEPLOYING or not model_api.enabled:
        return None
    first_link = (
        ModelAPIConnection.objects.filter(model_api=model_api)
        .select_related("connection")
        .order_by("position")
        .first()
    )
    if (
        first_link is None
        or first_link.connection_id != checked_connection_id
        or model_api.runtime_model != checked_model
    ):
        return None
    connection = first_link.connection
    provider = get_provider(connection.integration)
    provider_name = provider.display_name if provider else connection.integration
    if available:
        model_api.status = Status.DEPLOYED
        message = (
            f"Deployed: the model “{checked_model}” is available through the connection "
            f"“{connection.name}”."
        )
    elif available is False:
        model_api.status = Status.FAILED
        message = (
            f"Unknown model: “{checked_model}” is not in the {provider_name} model catalog "
            f"of the connection “{connection.name}”. Choose a model from the catalog."
        )
    else:
        model_api.status = Status.FAILED
        message = (
            f"Provider unreachable: could not check the model “{checked_model}” with "
            f"{provider_name} through the connection “{connection.name}”"
            + (f" ({reason})." if reason else ".")
            + " Check the connection, then check again."
        )
    model_api.save(update_fields=["status", "updated_at"])
    add_event(model_api, type=EventType.DEPLOYMENT, status=model_api.status, message=message)
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return model_api


def _connection_failure_message(connection: IntegrationConnection) -> str:
    provider = get_provider(connection.integration)
    provider_name = provider.display_name if provider else connection.integration
    reason = connection.status_message or "rejected"
    if connection.is_unreachable:
        what = f"{provider_name} could not be reached through the connection “{connection.name}”"
    else:
        what = f"{provider_name} refused the key of the connection “{connection.name}”"
    return (
        f"Connection invalid: {what} ({reason}). Calls fail until the connection is valid "
        "again; this model API is then checked again by itself."
    )


@transaction.atomic
def model_apis_follow_connection(*, connection_id: int) -> list[ModelAPI]:
    """Bring the enabled model APIs that `connection_id` serves (their first connection)
    in line with its status: invalid → FAILED with the reason; valid → those that failed
    because of it, or waited for its check, are checked again (→ DEPLOYED). Returns the
    model APIs changed."""
    connection = IntegrationConnection.objects.filter(pk=connection_id).first()
    if connection is None or connection.status == ConnectionStatus.CHECKING:
        return []
    served = ModelAPI.objects.select_for_update().filter(
        pk__in=ModelAPIConnection.objects.filter(connection=connection, position=0).values(
            "model_api_id"
        ),
        enabled=True,
    )
    changed = []
    for model_api in served:
        if connection.status == ConnectionStatus.INVALID:
            if model_api.status in (Status.DEPLOYED, Status.DEPLOYING):
                model_api.status = Status.FAILED
                model_api.save(update_fields=["status", "updated_at"])
                add_event(
                    model_api,
                    type=EventType.CONNECTION,
                    status=Status.FAILED,
                    message=_connection_failure_message(connection),
                )
                changed.append(model_api)
        elif model_api.status == Status.DEPLOYING:
            # Its check waited for the connection's: run it now.
            model_api_id = model_api.pk
            transaction.on_commit(
                lambda model_api_id=model_api_id: _queue_deploy_check(model_api_id)
            )
        elif model_api.status == Status.FAILED and _failed_for_connection(model_api):
            start_deploy_check(model_api, connection)
            model_api.save(update_fields=["status", "updated_at"])
            changed.append(model_api)
    if changed:
        cache_versions.bump_on_commit(cache_versions.ROUTING)
    return changed


def _failed_for_connection(model_api: ModelAPI) -> bool:
    last = model_api.events.order_by("-time", "-id").first()
    return last is not None and last.type == EventType.CONNECTION
