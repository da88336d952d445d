"""A workspace that goes takes its model APIs and connections with it
(`models_api.services.workspace_model_apis_delete`, on `workspaces.signals.workspace_deleting`)."""

import pytest

from integrations.models import IntegrationConnection
from models_api.models import ModelAPI

pytestmark = pytest.mark.django_db


def test_deleting_a_workspace_deletes_its_model_apis_and_the_connections_they_use(
    make_model_api, workspace, openai_connection, admin_api, member_api
):
    """A model API's link protects its connection from deletion on its own; with the
    whole workspace (here through `/v0`), both go."""
    make_model_api("my-gpt")
    assert member_api.delete("/v0/workspaces/acme").status_code == 403
    response = admin_api.delete("/v0/workspaces/acme")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "acme"
    assert not ModelAPI.objects.filter(name="my-gpt").exists()
    assert not IntegrationConnection.objects.filter(pk=openai_connection.pk).exists()
