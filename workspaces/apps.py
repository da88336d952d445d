from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_save


class WorkspacesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workspaces"

    def ready(self):
        from . import signals

        post_save.connect(signals.user_saved, sender=settings.AUTH_USER_MODEL)
        post_delete.connect(signals.user_deleted, sender=settings.AUTH_USER_MODEL)
