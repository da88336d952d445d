"""Template filters of usage screens."""

from django import template

from integrations.pricing import format_usd

register = template.Library()


@register.filter
def usd(nano_usd):
    """A cost in nano-dollars as "$0.000123" ("" when unknown)."""
    return format_usd(nano_usd)
