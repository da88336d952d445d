"""Usage records, rollups and policies moved from `models_api` to the apps `usage` and
`policies`: a database filled on the schema before the move keeps every table and row."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from models_api.models import ModelAPI
from models_api.policies.models import ModelAPIPolicy, Policy
from models_api.usage.models import UsageRecord, UsageRollup

BEFORE_THE_MOVE = [("models_api", "0003_policies_rollups"), ("usage", None), ("policies", None)]
MINUTE = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def _fill_the_old_schema(apps) -> dict:
    """Rows through the historical models, as the code before the move wrote them."""
    User = apps.get_model("auth", "User")
    Workspace = apps.get_model("workspaces", "Workspace")
    OldModelAPI = apps.get_model("models_api", "ModelAPI")
    OldPolicy = apps.get_model("models_api", "Policy")
    user = User.objects.create(username="ada", email="ada@example.com")
    workspace = Workspace.objects.create(name="acme", display_name="Acme", created_by=user)
    model_api = OldModelAPI.objects.create(
        workspace=workspace, name="my-gpt", runtime_type="openai", runtime_model="gpt-4o"
    )
    policy = OldPolicy.objects.create(
        workspace=workspace, name="daily-cap", type="maxToken", max_total_tokens=500,
        created_by=user, created_by_label="ada@example.com",
    )  # fmt: skip
    apps.get_model("models_api", "ModelAPIPolicy").objects.create(
        model_api=model_api, policy=policy
    )
    apps.get_model("models_api", "UsageRecord").objects.create(
        request_id="req-1", time=MINUTE, workspace=workspace, model_api=model_api,
        model_api_name="my-gpt", caller="ada@example.com", path="v1/chat/completions",
        status_code=200, latency_ms=12.5, input_tokens=3, output_tokens=4, total_tokens=7,
    )  # fmt: skip
    apps.get_model("models_api", "UsageRollup").objects.create(
        workspace=workspace, model_api=model_api, model_api_name="my-gpt", minute=MINUTE,
        requests=1, requests_2xx=1, latency_sum_ms=12.5, total_tokens=7,
    )  # fmt: skip
    return {"model_api": model_api.pk, "policy": policy.pk}


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_every_row_and_its_content_types():
    from django.contrib.contenttypes.models import ContentType

    executor = _migrate(BEFORE_THE_MOVE)
    try:
        others = [
            node
            for node in executor.loader.graph.leaf_nodes()
            if node[0] not in ("models_api", "usage", "policies")
        ]
        old_apps = executor.loader.project_state([*others, BEFORE_THE_MOVE[0]]).apps
        ids = _fill_the_old_schema(old_apps)
        content_types = old_apps.get_model("contenttypes", "ContentType").objects
        # As in a database that never saw the new apps.
        content_types.filter(app_label__in=["usage", "policies"]).delete()
        old_type, _ = content_types.get_or_create(app_label="models_api", model="usagerecord")
    finally:
        executor = MigrationExecutor(connection)
        _migrate(executor.loader.graph.leaf_nodes())

    policy = Policy.objects.get(pk=ids["policy"])
    assert (policy.name, policy.max_total_tokens, policy.created_by_label) == (
        "daily-cap",
        500,
        "ada@example.com",
    )
    assert policy.updated_by is None  # the column the move added
    link = ModelAPIPolicy.objects.get()
    assert (link.model_api_id, link.policy_id) == (ids["model_api"], ids["policy"])
    record = UsageRecord.objects.get(request_id="req-1")
    assert (record.model_api_id, record.total_tokens, record.latency_ms) == (
        ids["model_api"],
        7,
        12.5,
    )
    rollup = UsageRollup.objects.get()
    assert (rollup.minute, rollup.requests, rollup.total_tokens) == (MINUTE, 1, 7)
    assert ModelAPI.objects.get(pk=ids["model_api"]).usage_records.count() == 1
    moved_type = ContentType.objects.get(pk=old_type.pk)
    assert (moved_type.app_label, moved_type.model) == ("usage", "usagerecord")
