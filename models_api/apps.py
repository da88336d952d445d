from django.apps import AppConfig


class ModelsApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_api"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the signal receivers
