from django.apps import AppConfig


class UsageConfig(AppConfig):
    """What every gateway call leaves behind: usage records, per-minute rollups, the
    pipeline that writes them, and the logs, metrics and usage screens and API."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "models_api.usage"
    label = "usage"
