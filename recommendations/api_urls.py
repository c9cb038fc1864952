"""Recommendations REST API, under /api/recommendations/."""

from django.urls import include, path

from recommendations.api_experiments import RecommendationClickView

urlpatterns = [
    path("clicks/", RecommendationClickView.as_view(), name="recommendations-click"),
    path("", include("recommendations.api")),
]
