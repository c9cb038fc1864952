"""ASGI entry point: HTTP through Django, websockets through Channels.

Apps contribute websocket routes by exposing ``websocket_urlpatterns`` in ``<app>/routing.py``;
this module collects them so the project package never imports an AI app by name.
"""

import importlib
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")

# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.apps import apps  # noqa: E402


def _websocket_urlpatterns() -> list:
    patterns: list = []
    for config in apps.get_app_configs():
        try:
            routing = importlib.import_module(f"{config.name}.routing")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.routing":
                raise
            continue
        patterns.extend(getattr(routing, "websocket_urlpatterns", []))
    return patterns


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(_websocket_urlpatterns()))
        ),
    }
)
