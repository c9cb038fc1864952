"""Recommendations REST API, under /api/recommendations/."""

from django.urls import include, path

urlpatterns = [path("", include("recommendations.api"))]
