"""The project's URLs plus ``bench/trivial``: a fixed JSON answer through Django's full stack.

The baseline for ``bench/serve_recommendations.py``: same server, same middleware, no database,
no cache, so the ratio to it measures what the recommendations view itself costs.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

TRIVIAL_PAYLOAD = {"status": "ok", "results": [{"product_id": 1, "score": 1.0}]}


def trivial(request: HttpRequest) -> JsonResponse:
    return JsonResponse(TRIVIAL_PAYLOAD)


urlpatterns = [
    path("bench/trivial", trivial, name="bench-trivial"),
    path("", include("shopops.urls")),
]
