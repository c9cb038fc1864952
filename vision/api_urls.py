"""REST API of the vision app, under /api/vision/."""

from django.urls import path

from vision import api

urlpatterns = [
    path("search/", api.PhotoSearchView.as_view(), name="vision-photo-search"),
    path(
        "products/<int:product_id>/similar/",
        api.SimilarProductsView.as_view(),
        name="vision-similar-products",
    ),
    path("suggestions/", api.SuggestionListView.as_view(), name="vision-suggestions"),
    path(
        "suggestions/<int:suggestion_id>/accept/",
        api.SuggestionAcceptView.as_view(),
        name="vision-suggestion-accept",
    ),
    path(
        "suggestions/<int:suggestion_id>/correct/",
        api.SuggestionCorrectView.as_view(),
        name="vision-suggestion-correct",
    ),
    path(
        "suggestions/<int:suggestion_id>/dismiss/",
        api.SuggestionDismissView.as_view(),
        name="vision-suggestion-dismiss",
    ),
]
