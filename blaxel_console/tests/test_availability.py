"""The probes: `/healthz` (the process answers) and `/readyz` (the database and Redis
answer). Their answers while the database is down are in the fault suite
(`models_api/tests/test_gateway_faults_infra.py`)."""

import pytest
from django.conf import settings


@pytest.mark.django_db
def test_readyz_reports_each_dependency_and_healthz_the_process(client):
    ready = client.get("/readyz")

    assert ready.status_code == 200
    assert ready["Cache-Control"] == "no-store"
    redis_state = "ok" if settings.REDIS_URL else "not configured"
    assert ready.json() == {"status": "ready", "database": "ok", "redis": redis_state}
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_no_workspace_can_take_the_probe_s_path(admin_user):
    from django.core.exceptions import ValidationError

    from workspaces.services import workspace_create

    with pytest.raises(ValidationError, match="reserved"):
        workspace_create(name="readyz", display_name="Probe", creator=admin_user)
