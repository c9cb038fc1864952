"""Public chat endpoints, under /api/chat/.

``chat-widget-session`` (GET, 204): the widget calls it before its first websocket connection so
an anonymous visitor has a session cookie. A websocket handshake cannot set cookies (daphne
sends no headers with the accept), and ``conversation_open`` only resumes an anonymous
conversation within the same session, so without this the history would be lost on every page
load of a visitor with no session yet.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def widget_session(request: HttpRequest) -> HttpResponse:
    if not request.session.session_key:
        # A value, not just save(): the middleware sends the cookie only for a modified session.
        request.session["chat_widget"] = True
    return HttpResponse(status=204)


urlpatterns = [
    path("session/", widget_session, name="chat-widget-session"),
]
