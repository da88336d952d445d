"""Reads of usage policies. Every selector takes `workspace=` first (or an object that
already belongs to one); another workspace's policy is the same 404 as a missing one."""

from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from models_api.models import ModelAPI
from workspaces.models import Workspace

from .limits import REQUESTS, Limit
from .models import Policy


def policies_for_workspace(*, workspace: Workspace) -> QuerySet[Policy]:
    """The workspace's policies, each with `model_api_count`."""
    return Policy.objects.for_workspace(workspace).annotate(
        model_api_count=Count("model_api_links", distinct=True)
    )


def policy_get(*, workspace: Workspace, name: str) -> Policy:
    """A policy of this workspace; another workspace's is the same 404 as a missing one."""
    policy = policies_for_workspace(workspace=workspace).filter(name=name).first()
    if policy is None:
        raise Http404(f"No policy named “{name}” in this workspace.")
    return policy


def policies_for_model_api(*, model_api: ModelAPI) -> list[Policy]:
    """The policies attached to the model API (workspace defaults not included)."""
    return list(
        Policy.objects.for_workspace(model_api.workspace)
        .filter(model_api_links__model_api=model_api)
        .order_by("name")
    )


def policy_names_for_model_api(*, model_api: ModelAPI) -> list[str]:
    """For `spec.policies` of a model API's representation."""
    return [policy.name for policy in policies_for_model_api(model_api=model_api)]


def workspace_default_policies(*, workspace: Workspace) -> list[Policy]:
    """The policies that apply to every model API of the workspace."""
    return list(
        Policy.objects.for_workspace(workspace).filter(is_workspace_default=True).order_by("name")
    )


def policies_in_force(*, model_api: ModelAPI) -> list[Policy]:
    """Every policy that limits the model API: attached to it, or a workspace default."""
    return list(
        Policy.objects.for_workspace(model_api.workspace)
        .filter(Q(model_api_links__model_api=model_api) | Q(is_workspace_default=True))
        .distinct()
        .order_by("name")
    )


def policies_for_model_api_id(model_api_id: int) -> list[Policy]:
    """The gateway's lookup (it already resolved the model API within its workspace):
    the policies attached to the model API and its workspace's defaults."""
    return list(
        Policy.objects.filter(
            Q(model_api_links__model_api_id=model_api_id)
            | Q(is_workspace_default=True, workspace__model_apis__id=model_api_id)
        ).distinct()
    )


def model_api_has_attached_policies(*, model_api: ModelAPI) -> bool:
    """Whether removing the model API would lift limits an admin attached to it."""
    return Policy.objects.filter(model_api_links__model_api=model_api).exists()


def model_apis_for_policy(*, policy: Policy) -> QuerySet[ModelAPI]:
    return ModelAPI.objects.for_workspace(policy.workspace).filter(policy_links__policy=policy)


def model_api_names_for_policy(*, policy: Policy) -> list[str]:
    return list(model_apis_for_policy(policy=policy).values_list("name", flat=True))


def limits_for_policies(policies: Iterable[Policy]) -> tuple[Limit, ...]:
    """Policies → the plain caps the enforcement checks (0 = not checked, so dropped)."""
    limits = []
    for policy in policies:
        if policy.type == Policy.Type.RATE_LIMIT:
            limits.append(
                Limit(
                    policy=policy.name,
                    kind=REQUESTS,
                    cap=policy.requests_per_minute,
                    per_caller=policy.per_caller,
                )
            )
            continue
        for kind, cap in (
            ("input", policy.max_input_tokens),
            ("output", policy.max_output_tokens),
            ("total", policy.max_total_tokens),
        ):
            if cap > 0:
                limits.append(
                    Limit(
                        policy=policy.name,
                        kind=kind,
                        cap=cap,
                        granularity=policy.granularity,
                        step=policy.step,
                    )
                )
    return tuple(limits)
