"""Websocket routes of the chatbot; shopops/asgi.py collects ``websocket_urlpatterns``."""

from django.urls import path

from chatbot.consumers import ChatConsumer, StaffConsoleConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/chat/staff/", StaffConsoleConsumer.as_asgi()),
]
