"""Celery tasks of model APIs."""

import logging

from celery import shared_task

from integrations.models import IntegrationConnection

from .models import ModelAPI, ModelAPIConnection

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def model_api_deploy(model_api_id: int) -> None:
    """The deploy check: is the model API's model in the catalog of its first (serving)
    connection? DEPLOYED if so, FAILED with an event saying why if not (unknown model, or
    the provider could not be reached)."""
    from integrations.catalog import catalog_snapshot, model_in_catalog

    from . import deployment

    model_api = ModelAPI.objects.filter(pk=model_api_id).first()
    if model_api is None or model_api.status != ModelAPI.Status.DEPLOYING:
        return
    link = (
        ModelAPIConnection.objects.filter(model_api=model_api)
        .select_related("connection")
        .order_by("position")
        .first()
    )
    if link is None:
        return
    if link.connection.status == IntegrationConnection.Status.INVALID:
        deployment.model_apis_follow_connection(connection_id=link.connection_id)
        return
    reason = ""
    try:
        available = model_in_catalog(link.connection, model_api.runtime_model)
        if available is None:
            # The catalog's error message is scrubbed of secrets and meant to be shown.
            reason = catalog_snapshot(link.connection).error
    except Exception as error:  # any failure to ask the provider counts as unreachable
        # The type only: a message could quote a URL or a header.
        logger.warning(
            "deploy check of model API %s failed: %s", model_api_id, type(error).__name__
        )
        available, reason = None, type(error).__name__
    deployment.model_api_record_deploy_result(
        model_api_id=model_api_id,
        checked_model=model_api.runtime_model,
        checked_connection_id=link.connection_id,
        available=available,
        reason=reason,
    )
