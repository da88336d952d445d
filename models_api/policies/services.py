"""Writes of usage policies: admins create, edit and delete policies and attach them to
model APIs; members read them (DESIGN.md §3). Every write invalidates the gateway's
cached routes once committed, so every gateway process picks up the new caps within
seconds."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from blaxel_console import cache_versions
from models_api.models import ModelAPI
from workspaces.models import Workspace
from workspaces.principals import Principal
from workspaces.services import Conflict, audit_log_record, save_new_or_conflict

from .models import ModelAPIPolicy, Policy
from .selectors import model_apis_for_policy

# Fields a policy write may set (the service's keyword arguments).
POLICY_FIELDS = (
    "display_name",
    "labels",
    "type",
    "granularity",
    "step",
    "max_input_tokens",
    "max_output_tokens",
    "max_total_tokens",
    "requests_per_minute",
    "per_caller",
    "is_workspace_default",
)


def _describe(policy: Policy) -> dict:
    """What an audit row records about a policy (no secrets exist here)."""
    return {
        "type": policy.type,
        "summary": policy.summary,
        "workspace default": policy.is_workspace_default,
    }


def _normalize(policy: Policy) -> None:
    # Fields of the other type are meaningless; keep them at their defaults so a policy
    # never enforces something its screen does not show.
    if policy.type == Policy.Type.RATE_LIMIT:
        policy.max_input_tokens = policy.max_output_tokens = policy.max_total_tokens = 0
        policy.granularity, policy.step = Policy.Granularity.MINUTE, 1
    else:
        policy.requests_per_minute, policy.per_caller = 0, False


@transaction.atomic
def policy_create(*, workspace: Workspace, name: str, actor: Principal, **fields) -> Policy:
    """Create a policy. `fields` are among `POLICY_FIELDS`. A duplicate name is a
    `Conflict`; bad values are a `ValidationError`."""
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"Unknown policy fields: {', '.join(sorted(unknown))}")
    policy = Policy(workspace=workspace, name=name, **fields)
    policy.stamp(actor, created=True)
    _normalize(policy)
    policy.full_clean(validate_constraints=False)
    save_new_or_conflict(
        policy,
        duplicates=Policy.objects.for_workspace(workspace).filter(name=name),
        message=f"A policy named “{name}” already exists.",
    )
    audit_log_record(
        workspace=workspace,
        actor=actor,
        action="policy.create",
        target_type="policy",
        target_label=name,
        changes=_describe(policy),
    )
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return policy


@transaction.atomic
def policy_update(*, policy: Policy, actor: Principal, **fields) -> Policy:
    """Change a policy's settings (its name is immutable). Takes effect on every gateway
    process within seconds; counters of the current windows are kept."""
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"Unknown policy fields: {', '.join(sorted(unknown))}")
    before = _describe(policy)
    for field, value in fields.items():
        setattr(policy, field, value)
    _normalize(policy)
    policy.stamp(actor)
    policy.full_clean(validate_constraints=False)
    policy.save()
    after = _describe(policy)
    if after != before or "display_name" in fields or "labels" in fields:
        audit_log_record(
            workspace=policy.workspace,
            actor=actor,
            action="policy.update",
            target_type="policy",
            target_label=policy.name,
            changes={key: [before[key], after[key]] for key in after if before[key] != after[key]},
        )
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return policy


@transaction.atomic
def policy_delete(*, policy: Policy, actor: Principal) -> Policy:
    """Delete a policy. Refused (`Conflict`) while model APIs use it: detach it first, so
    a cap is never lifted by accident."""
    users = list(model_apis_for_policy(policy=policy).values_list("name", flat=True))
    if users:
        raise Conflict(
            f"The policy “{policy.name}” is attached to {', '.join(users)}; "
            "detach it from those model APIs first."
        )
    audit_log_record(
        workspace=policy.workspace,
        actor=actor,
        action="policy.delete",
        target_type="policy",
        target_label=policy.name,
        changes=_describe(policy),
    )
    policy.delete()
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return policy


@transaction.atomic
def model_api_set_policies(
    *, model_api: ModelAPI, policy_names: Iterable[str], actor: Principal
) -> list[Policy]:
    """Attach exactly `policy_names` (policies of the model API's workspace) to the model
    API. Unknown names are a `ValidationError` on `policies`. Only admins may call this:
    the caller checks `Action.MANAGE_POLICIES` (a member must not lift a cap)."""
    names = list(dict.fromkeys(policy_names))
    found = {
        policy.name: policy
        for policy in Policy.objects.for_workspace(model_api.workspace).filter(name__in=names)
    }
    missing = [name for name in names if name not in found]
    if missing:
        raise ValidationError({"policies": f"Unknown policy: {', '.join(missing)}."})
    current = set(
        ModelAPIPolicy.objects.filter(model_api=model_api).values_list("policy_id", flat=True)
    )
    wanted = {policy.pk for policy in found.values()}
    if current == wanted:
        return [found[name] for name in sorted(found)]
    ModelAPIPolicy.objects.filter(model_api=model_api).exclude(policy_id__in=wanted).delete()
    ModelAPIPolicy.objects.bulk_create(
        [ModelAPIPolicy(model_api=model_api, policy_id=pk) for pk in wanted - current]
    )
    audit_log_record(
        workspace=model_api.workspace,
        actor=actor,
        action="model_api.policies",
        target_type="model_api",
        target_label=model_api.name,
        changes={"policies": sorted(found)},
    )
    cache_versions.bump_on_commit(cache_versions.ROUTING)
    return [found[name] for name in sorted(found)]
