"""The Celery application. Embedded default: tasks run eagerly in-process (no broker)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blaxel_console.settings")

app = Celery("blaxel_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
