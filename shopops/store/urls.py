"""REST API routes for the shop's data (mounted at ``/api/``)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from shopops.store.api import (
    CategoryViewSet,
    CustomerViewSet,
    EventBatchView,
    OrderViewSet,
    ProductViewSet,
)

router = DefaultRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
router.register("customers", CustomerViewSet, basename="customer")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("events/batch/", EventBatchView.as_view(), name="event-batch"),
    path("", include(router.urls)),
]
