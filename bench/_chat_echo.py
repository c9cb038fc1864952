"""Bench-only ASGI application: the project's websocket stack plus an echo consumer.

``bench/chat_load.py`` runs its ASGI server on this module so the chat consumer (``/ws/chat/``)
and the baseline (``/ws/echo/``) are served by the same process, middleware and channel layer.
The echo consumer does everything the chat consumer does per message except the service call
(no database, no NLU): parse and check the frame, answer with the same three frames
(``typing``, ``sent``, ``message``), and tell the staff group, so the gap between the two is the
cost of the conversation service itself.
"""

import json
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopops.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from chatbot.consumers import STAFF_GROUP, _frame_parse, _text_field  # noqa: E402
from chatbot.routing import websocket_urlpatterns  # noqa: E402


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None) -> None:
        frame = _frame_parse(text_data, bytes_data)
        if frame["type"] == "hello":
            await self.send(text_data=json.dumps({"type": "welcome", "token": "", "history": []}))
            return
        text = _text_field(frame)
        message = {"sender": "bot", "text": text, "cards": [], "quick_replies": []}
        await self.send(text_data=json.dumps({"type": "typing"}))
        await self.send(text_data=json.dumps({"type": "sent", "message": {"text": text}}))
        await self.send(text_data=json.dumps({"type": "message", "message": message}))
        await self.channel_layer.group_send(
            STAFF_GROUP, {"type": "chat.live_changed", "conversation_id": 0}
        )


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter([path("ws/echo/", EchoConsumer.as_asgi()), *websocket_urlpatterns])
            )
        ),
    }
)
