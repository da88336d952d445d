from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    """Usage policies of model APIs: token caps and rate limits, their screens, API and
    enforcement."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "models_api.policies"
    label = "policies"
