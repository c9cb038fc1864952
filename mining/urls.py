"""Merchant pages of the mining app (staff only), under /dashboard/mining/."""

from django.urls import include, path

app_name = "mining"
urlpatterns = [
    path("segments/", include("mining.views.segmentation")),
    path("rules/", include("mining.views.rules")),
    path("churn/", include("mining.views.churn")),
]
