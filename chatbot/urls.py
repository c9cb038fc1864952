"""Merchant pages of the chatbot app (staff only), under /dashboard/chat/."""

from chatbot.views.console import urlpatterns as console_urlpatterns
from chatbot.views.pages import urlpatterns as pages_urlpatterns

app_name = "chatbot"
urlpatterns = [*pages_urlpatterns, *console_urlpatterns]
