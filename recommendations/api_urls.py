"""Recommendations REST API, under /api/recommendations/."""

from django.urls import include, path

from recommendations.api_experiments import (
    ExperimentMyRecommendationsView,
    RecommendationClickView,
)

urlpatterns = [
    path("clicks/", RecommendationClickView.as_view(), name="recommendations-click"),
    # Ahead of the include so that, while an experiment runs, the list logs an impression.
    path(
        "customers/me/recommendations/",
        ExperimentMyRecommendationsView.as_view(),
        name="recommendations-mine-experiment",
    ),
    path("", include("recommendations.api")),
]
