"""Small display helpers for the console's templates."""

from django import template

from workspaces.audit import change_lines, label

register = template.Library()


@register.filter
def humanize_key(value: str) -> str:
    """`service_account` → `Service account`, `model_api` → `Model API` (audit-log target
    types)."""
    return label(value)


@register.filter
def audit_changes(entry) -> list:
    """An audit-log entry's changes as lines of "field: old → new" in words."""
    return change_lines(entry.action, entry.changes)
