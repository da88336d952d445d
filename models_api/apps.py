from django.apps import AppConfig


class ModelsApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_api"

    def ready(self):
        from workspaces.signals import workspace_deleting

        from . import receivers  # noqa: F401 - connects the signal receivers
        from .services import workspace_model_apis_delete

        workspace_deleting.connect(workspace_model_apis_delete, dispatch_uid=__name__)
