"""What the gateway serves during the benchmark, created through the project's own
services, as an admin would: a workspace, a service account and its API key, an OpenAI
connection to the fake, a model API on it, and two policies (a rate limit and a token
cap, generous enough never to refuse) so the policy checks run on every call.

Runs inside Django (`django.setup()` done by the caller, on the bench database).
"""

import time
from dataclasses import dataclass

FAKE_KEY = "sk-bench-fake-upstream-key"
MODEL = "gpt-4o-mini"
MODEL_API_NAME = "bench-chat"
# Far above anything a benchmark sends, so the checks run but never refuse.
REQUESTS_PER_MINUTE_CAP = 1_000_000_000
TOKENS_PER_MINUTE_CAP = 10**15


@dataclass
class Provisioned:
    workspace_id: int
    workspace_name: str
    model_api_name: str
    api_key: str  # the service account's raw key: the benchmark's credential, never stored

    def endpoint_path(self) -> str:
        return f"/run/{self.workspace_name}/models/{self.model_api_name}/v1/chat/completions"


def forget_previous_runs() -> int:
    """Delete the workspaces (and so their usage records) of earlier runs in this database."""
    from django.contrib.auth import get_user_model

    from models_api.models import ModelAPI
    from workspaces.models import Workspace

    previous = Workspace.objects.filter(name__startswith="bench-run-")
    # Model APIs first: their links protect the connections a workspace delete cascades to.
    ModelAPI.objects.filter(workspace__in=previous).delete()
    deleted, _ = previous.delete()
    get_user_model().objects.filter(email__endswith="@bench.invalid").delete()
    return deleted


def provision(*, run_id: str, fake_base_url: str, timeout: float = 60.0) -> Provisioned:
    from django.contrib.auth import get_user_model

    from integrations.models import IntegrationConnection
    from integrations.services import integration_connection_create
    from models_api.models import ModelAPI
    from models_api.policies.models import Policy
    from models_api.policies.services import model_api_set_policies, policy_create
    from models_api.services import model_api_create
    from workspaces.principals import Principal
    from workspaces.services import (
        service_account_api_key_create,
        service_account_create,
        workspace_create,
    )

    email = f"bench-{run_id}@bench.invalid"
    admin = get_user_model().objects.create_user(username=f"bench-{run_id}", email=email)
    admin.set_unusable_password()
    admin.save(update_fields=["password"])
    actor = Principal.for_user(admin)
    workspace = workspace_create(
        name=f"bench-run-{run_id}", display_name="Gateway benchmark", creator=admin
    )
    service_account = service_account_create(
        workspace=workspace, name="benchmark", description="wrk", actor=actor
    )
    _, raw_key = service_account_api_key_create(
        service_account=service_account, name="benchmark", actor=actor
    )
    connection = integration_connection_create(
        workspace=workspace,
        name="fake-openai",
        integration="openai",
        config={"baseUrl": fake_base_url},
        secret={"apiKey": FAKE_KEY},
        actor=actor,
    )
    model_api = model_api_create(
        workspace=workspace,
        name=MODEL_API_NAME,
        connections=[connection],
        model=MODEL,
        actor=actor,
    )
    policy_create(
        workspace=workspace,
        name="bench-rate-limit",
        actor=actor,
        type=Policy.Type.RATE_LIMIT,
        requests_per_minute=REQUESTS_PER_MINUTE_CAP,
    )
    policy_create(
        workspace=workspace,
        name="bench-token-cap",
        actor=actor,
        type=Policy.Type.MAX_TOKEN,
        granularity=Policy.Granularity.MINUTE,
        max_total_tokens=TOKENS_PER_MINUTE_CAP,
    )
    model_api_set_policies(
        model_api=model_api, policy_names=["bench-rate-limit", "bench-token-cap"], actor=actor
    )

    # The connection check and the deploy check run as Celery tasks (on the bench's own
    # worker with Redis, eagerly otherwise): wait until both say the set-up works.
    deadline = time.monotonic() + timeout
    while True:
        connection.refresh_from_db()
        model_api.refresh_from_db()
        if (
            connection.status == IntegrationConnection.Status.VALID
            and model_api.status == ModelAPI.Status.DEPLOYED
        ):
            break
        if model_api.status == ModelAPI.Status.FAILED:
            raise RuntimeError(f"the bench model API failed to deploy: {model_api.events.last()}")
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"set-up not ready after {timeout:.0f}s: connection {connection.status}, "
                f"model API {model_api.status}"
            )
        time.sleep(0.2)
    return Provisioned(
        workspace_id=workspace.pk,
        workspace_name=workspace.name,
        model_api_name=model_api.name,
        api_key=raw_key,
    )


def usage_record_count(workspace_id: int) -> int:
    from django.db import close_old_connections

    from models_api.usage.models import UsageRecord

    close_old_connections()
    return UsageRecord.objects.filter(workspace_id=workspace_id).count()


def usage_status_counts(workspace_id: int) -> dict[str, int]:
    from django.db.models import Count

    from models_api.usage.models import UsageRecord

    rows = (
        UsageRecord.objects.filter(workspace_id=workspace_id)
        .values("status_code")
        .annotate(count=Count("id"))
    )
    return {str(row["status_code"]): row["count"] for row in rows}
