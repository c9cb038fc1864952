"""The live chat console (staff only), ``chatbot:console`` at /dashboard/chat/live/.

The page is a shell: the list of live conversations, the open transcript and the take-over,
reply and hand-back actions all run over the staff websocket (``/ws/chat/staff/``, see
chatbot/consumers.py) from static/chatbot/console.js. It also shows the one-line snippet a
merchant pastes into any page to embed the customer widget.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import path

from shopops.dashboard.permissions import staff_required


@staff_required
def console(request: HttpRequest) -> HttpResponse:
    widget_url = request.build_absolute_uri(static("chatbot/widget.js"))
    return render(
        request,
        "chatbot/console.html",
        {"embed_snippet": f'<script src="{widget_url}" defer></script>'},
    )


urlpatterns = [
    path("live/", console, name="console"),
]
