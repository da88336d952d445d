"""ASGI entry point: `uvicorn blaxel_console.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blaxel_console.settings")

application = get_asgi_application()
