"""Small display helpers for the console's templates."""

from django import template

register = template.Library()


@register.filter
def humanize_key(value: str) -> str:
    """`service_account` → `Service account` (audit-log target types, change keys)."""
    return str(value).replace("_", " ").capitalize()


@register.filter
def format_change(value) -> str:
    """An audit-log change: `[old, new]` pairs read `old → new`; other values as they are."""
    if isinstance(value, list) and len(value) == 2:
        old, new = ("—" if item in (None, "") else item for item in value)
        return f"{old} → {new}"
    return str(value)
