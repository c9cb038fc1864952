"""Merchant pages of the vision app (staff only), under /dashboard/vision/."""

app_name = "vision"
urlpatterns: list = []
