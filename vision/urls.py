"""Merchant pages of the vision app (staff only), under /dashboard/vision/."""

from django.urls import path

from vision import views

app_name = "vision"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("suggestions/", views.suggestions, name="suggestions"),
    path(
        "suggestions/<int:suggestion_id>/decide/",
        views.suggestion_decide,
        name="suggestion_decide",
    ),
    path("search/", views.search_tester, name="search"),
]
