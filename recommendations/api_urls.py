"""Recommendations REST API, under /api/recommendations/."""

from django.urls import path

from recommendations import api
from recommendations.api_experiments import RecommendationClickView

# The list routes first and not behind a nested include(): they are the serving hot path,
# and each level Django resolves through costs a warm request measurably
# (bench/serve_recommendations.py).
urlpatterns = [
    *api.urlpatterns,
    path("clicks/", RecommendationClickView.as_view(), name="recommendations-click"),
]
