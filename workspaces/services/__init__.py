"""Writes. Keyword-only, validated with `full_clean()`, atomic, audited for admin actions.

Services raise `django.core.exceptions.ValidationError` for bad input and `Conflict` for
a state conflict (HTTP 409); the HTML views and the REST API turn those into field errors /
JSON errors. `save_new_or_conflict` stores a new object whose name must be free, in any
app's services. One module per area; every service is importable from here."""

from .common import Conflict, audit_log_record, save_new_or_conflict
from .keys import (
    API_KEY_EXPIRY,
    LAST_USED_RESOLUTION,
    api_key_mark_used,
    api_key_revoke,
    personal_api_key_create,
    service_account_api_key_create,
    service_account_create,
    service_account_delete,
    service_account_update,
)
from .oauth import oauth_tokens_revoke, service_account_secret_rotate
from .team import (
    invitation_accept,
    invitation_create,
    invitation_resend,
    invitation_revoke,
    membership_change_role,
    membership_remove,
)
from .workspaces import workspace_create, workspace_delete, workspace_update

__all__ = [
    "API_KEY_EXPIRY",
    "LAST_USED_RESOLUTION",
    "Conflict",
    "api_key_mark_used",
    "api_key_revoke",
    "audit_log_record",
    "invitation_accept",
    "invitation_create",
    "invitation_resend",
    "invitation_revoke",
    "membership_change_role",
    "membership_remove",
    "oauth_tokens_revoke",
    "personal_api_key_create",
    "save_new_or_conflict",
    "service_account_api_key_create",
    "service_account_create",
    "service_account_delete",
    "service_account_secret_rotate",
    "service_account_update",
    "workspace_create",
    "workspace_delete",
    "workspace_update",
]
