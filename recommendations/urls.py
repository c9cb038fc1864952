"""Merchant pages of the recommendations app (staff only), under /dashboard/recommendations/."""

from recommendations.views import urlpatterns

app_name = "recommendations"
__all__ = ["app_name", "urlpatterns"]
