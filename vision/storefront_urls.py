"""Storefront search by photo, under /photo-search/."""

app_name = "vision_storefront"
urlpatterns: list = []
