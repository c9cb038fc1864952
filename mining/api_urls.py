"""Mining REST API, under /api/mining/."""

from django.urls import include, path

urlpatterns = [
    path("", include("mining.api.segmentation")),
    path("", include("mining.api.rules")),
    path("", include("mining.api.churn")),
]
