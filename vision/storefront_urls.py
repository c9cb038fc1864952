"""Storefront search by photo, under /photo-search/."""

from django.urls import path

from vision import storefront

app_name = "vision_storefront"
urlpatterns = [
    path("", storefront.photo_search_page, name="search"),
]
